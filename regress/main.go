// Command regress is lvsperf's CI regression suite (make regress): it runs a
// quick netpipe sweep direct and through the embedded director in one run
// (a few rounds, pooled), and compares the director/direct ratio with the
// baseline committed in regress/baseline. A ratio measured inside one run
// holds on a machine of another speed, where absolute figures would not.
//
//	go run ./regress                 # measure, compare, exit 0/1/2
//	go run ./regress -update         # measure and write a new baseline
//	go run ./regress -measure 10     # false alarms and sensitivity (long)
//
// Exit status: 0 no regression, 1 a regression beyond tolerance, 2 the
// suite could not run or the runs cannot be compared.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/internal/cpuidle"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
)

// SuiteK is the gate's K for the suite: three standard errors, compare's
// default. With idle polling and 40 rounds per sample (README.md) it raised
// no false alarm in 90 clean pairs and caught 100 of 100 20% slowdowns; so
// did K=2, the tolerance sitting at the 10% floor either way.
const SuiteK = 3

// DefaultBaseline is the committed baseline, relative to the module root.
const DefaultBaseline = "regress/baseline/netpipe.msgpack"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	baseline string
	update   bool
	out      string
	slow     float64
	measure  int
	from     string
	sample   string
	timeout  time.Duration
	idlePoll string
	suite    Suite
	cmp      compare.Options
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("regress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.baseline, "baseline", DefaultBaseline, "baseline run to compare with")
	fs.BoolVar(&o.update, "update", false, "write the measured run as the new baseline instead of comparing")
	fs.StringVar(&o.out, "out", "out/regress", "directory for the new run and the overlay plot")
	fs.Float64Var(&o.slow, "slow", 0, "slow the director leg by this fraction (0.2 = 20%), to check the gate catches it")
	fs.IntVar(&o.measure, "measure", 0, "measure false alarms and sensitivity over N clean and N slowed runs instead (samples kept in -out)")
	fs.StringVar(&o.sample, "sample", "", "measure one sample and save it to this file (what -measure runs in a child process per sample)")
	fs.StringVar(&o.from, "from", "", "with -measure: re-analyse the samples kept in this directory instead of measuring")
	fs.DurationVar(&o.timeout, "timeout", 110*time.Second, "bound on the whole suite (per sample with -measure)")
	fs.StringVar(&o.idlePoll, "idle-poll", "auto", "keep idle CPUs polling while measuring (PM QoS cpu_dma_latency 0): on, off, or auto (on where "+cpuidle.QoSPath+" is writable)")
	fs.IntVar(&o.suite.Rounds, "rounds", DefaultRounds, "direct+director runs pooled into one sample")
	fs.DurationVar(&o.suite.TrialTime, "trial", 6*time.Millisecond, "one-way time of one trial (one trial per size per round)")
	fs.Float64Var(&o.cmp.K, "k", SuiteK, "standard deviations a change must pass")
	fs.Float64Var(&o.cmp.Floor, "floor", compare.DefaultFloor, "smallest relative change that counts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.cmp.Ratio = Ratio
	o.suite.Slow = o.slow
	switch o.idlePoll {
	case "on":
		o.suite.IdlePoll = true
	case "off":
	case "auto":
		o.suite.IdlePoll = canIdlePoll()
		if !o.suite.IdlePoll {
			fmt.Fprintf(stderr, "regress: note: cannot write %s (needs root): idle CPUs may halt, and a quiet machine then measures the director slower than the baseline did\n", cpuidle.QoSPath)
		}
	default:
		fmt.Fprintf(stderr, "regress: -idle-poll %q: want on, off or auto\n", o.idlePoll)
		return 2
	}
	o.suite.Progress = stderr
	if o.measure > 0 {
		return measure(ctx, o, stdout, stderr)
	}
	if o.sample != "" {
		return sampleOnly(ctx, o, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	var base *results.Run
	if !o.update {
		// Read the baseline first: a missing or unreadable baseline should
		// not cost a whole measurement to find out.
		b, err := results.LoadAny(o.baseline)
		if err != nil {
			fmt.Fprintf(stderr, "regress: cannot compare: baseline %v (write one with go run ./regress -update)\n", err)
			return 2
		}
		base = b
	}
	got, err := o.suite.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	if o.update {
		if err := os.MkdirAll(filepath.Dir(o.baseline), 0o755); err != nil {
			fmt.Fprintln(stderr, "regress:", err)
			return 2
		}
		if err := results.Save(o.baseline, got); err != nil {
			fmt.Fprintln(stderr, "regress:", err)
			return 2
		}
		fmt.Fprintf(stdout, "baseline written: %s (%v)\n", o.baseline, time.Since(start).Round(time.Second))
		return 0
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	newFile := filepath.Join(o.out, "netpipe-new"+results.Extension)
	if err := results.Save(newFile, got); err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	if base.Env.IdlePoll != got.Env.IdlePoll {
		fmt.Fprintf(stdout, "warning: the baseline was measured with idle polling %s and this run %s: on a VM whose idle CPUs halt the director ratio differs between the two; re-measure the baseline in the same mode (-update)\n",
			onOff(base.Env.IdlePoll), onOff(got.Env.IdlePoll))
	}
	res, err := compare.Runs(base, got, o.cmp)
	if err != nil {
		fmt.Fprintf(stderr, "regress: cannot compare %s with %s: %v\n", o.baseline, newFile, err)
		return 2
	}
	if err := res.WriteTable(stdout, false, false); err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	if p, err := plot.Draw(plot.Throughput, res.OverlaySeries()); err == nil {
		p.Title.Text = "regression suite: baseline vs new"
		file := filepath.Join(o.out, "overlay.png")
		if err := plot.Save(file, p); err == nil {
			fmt.Fprintln(stdout, "overlay:", file)
		}
	}
	fmt.Fprintf(stdout, "new run: %s; suite took %v\n", newFile, time.Since(start).Round(time.Second))
	if res.Regressed {
		return 1
	}
	return 0
}

// canIdlePoll says whether this process may hold the PM QoS request.
func canIdlePoll() bool {
	req, err := cpuidle.Hold()
	if err != nil {
		return false
	}
	req.Close()
	return true
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// measure runs n clean and n slowed samples, compares every pair of clean
// samples (false alarms) and every slowed sample against every clean one
// (sensitivity), and prints the counts.
func measure(ctx context.Context, o options, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	// Each sample is its own process, as each CI run is: a fresh process
	// places its threads, heap and connections anew, and that variation
	// belongs in a false-alarm count.
	sample := func(slow float64, file string) (*results.Run, error) {
		c, cancel := context.WithTimeout(ctx, o.timeout+10*time.Second)
		defer cancel()
		args := []string{"-sample", file, "-timeout", o.timeout.String(), "-idle-poll", onOff(o.suite.IdlePoll),
			"-rounds", strconv.Itoa(o.suite.Rounds), "-trial", o.suite.TrialTime.String(),
			"-slow", strconv.FormatFloat(slow, 'f', -1, 64)}
		cmd := exec.CommandContext(c, self, args...)
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("sample %s: %w", file, err)
		}
		return results.Load(file)
	}
	slow := o.slow
	if slow == 0 {
		slow = 0.2
	}
	var clean, slowed []*results.Run
	if o.from != "" {
		for i := range o.measure {
			for _, kind := range []string{"clean", "slow"} {
				r, err := results.Load(filepath.Join(o.from, fmt.Sprintf("%s-%d%s", kind, i, results.Extension)))
				if err != nil {
					fmt.Fprintln(stderr, "regress:", err)
					return 2
				}
				if kind == "clean" {
					clean = append(clean, r)
				} else {
					slowed = append(slowed, r)
				}
			}
		}
		return report(clean, slowed, o, slow, stdout, stderr)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	// Interleave clean and slowed samples so a change in the machine's
	// load over the measurement hits both alike.
	for i := range o.measure {
		for _, s := range []float64{0, slow} {
			kind := "clean"
			if s != 0 {
				kind = "slow"
			}
			r, err := sample(s, filepath.Join(o.out, fmt.Sprintf("%s-%d%s", kind, i, results.Extension)))
			if err != nil {
				fmt.Fprintln(stderr, "regress:", err)
				return 2
			}
			if s == 0 {
				clean = append(clean, r)
			} else {
				slowed = append(slowed, r)
			}
			fmt.Fprintf(stderr, "sample %d/%d (slowdown %v) done\n", i+1, o.measure, s)
		}
	}
	return report(clean, slowed, o, slow, stdout, stderr)
}

// sampleOnly measures one sample and saves it to o.sample.
func sampleOnly(ctx context.Context, o options, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r, err := o.suite.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	if err := results.Save(o.sample, r); err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	return 0
}

func report(clean, slowed []*results.Run, o options, slow float64, stdout, stderr io.Writer) int {
	m, err := Measure(clean, slowed, o.cmp)
	if err != nil {
		fmt.Fprintln(stderr, "regress:", err)
		return 2
	}
	m.Write(stdout, slow)
	if m.FalseAlarms > 0 || m.Caught < m.SlowPairs {
		return 1
	}
	return 0
}

// Measurement counts the gate's verdicts over clean and slowed samples.
type Measurement struct {
	// CleanPairs compared, FalseAlarms among them.
	CleanPairs, FalseAlarms int
	// SlowPairs (clean BASE, slowed NEW) compared, Caught among them.
	SlowPairs, Caught int
	// CleanChanges and SlowChanges are the ratio curve's changes seen.
	CleanChanges, SlowChanges []float64
	// Tolerances are the tolerances the gate derived, over all pairs.
	Tolerances []float64
}

// Measure compares every ordered pair of clean samples and every (clean,
// slowed) pair with the ratio gate.
func Measure(clean, slowed []*results.Run, o compare.Options) (Measurement, error) {
	var m Measurement
	cmp := func(a, b *results.Run) (compare.Metric, bool, error) {
		res, err := compare.Runs(a, b, o)
		if err != nil {
			return compare.Metric{}, false, err
		}
		return res.Metrics[0], res.Regressed, nil
	}
	for i, a := range clean {
		for j, b := range clean {
			if i == j {
				continue
			}
			mt, reg, err := cmp(a, b)
			if err != nil {
				return m, err
			}
			m.CleanPairs++
			if reg {
				m.FalseAlarms++
			}
			m.CleanChanges = append(m.CleanChanges, mt.Change)
			m.Tolerances = append(m.Tolerances, mt.Tolerance)
		}
		for _, b := range slowed {
			mt, reg, err := cmp(a, b)
			if err != nil {
				return m, err
			}
			m.SlowPairs++
			if reg {
				m.Caught++
			}
			m.SlowChanges = append(m.SlowChanges, mt.Change)
			m.Tolerances = append(m.Tolerances, mt.Tolerance)
		}
	}
	if m.CleanPairs+m.SlowPairs == 0 {
		return m, errors.New("measure: nothing to compare")
	}
	return m, nil
}

// Write prints the counts and the range of changes and tolerances.
func (m Measurement) Write(w io.Writer, slow float64) {
	fmt.Fprintf(w, "false alarms: %d of %d clean pairs flagged a regression\n", m.FalseAlarms, m.CleanPairs)
	fmt.Fprintf(w, "sensitivity: %d of %d pairs with a %.0f%% slower director leg caught\n", m.Caught, m.SlowPairs, 100*slow)
	fmt.Fprintf(w, "clean changes of the ratio curve: %s\n", span(m.CleanChanges))
	fmt.Fprintf(w, "slowed changes of the ratio curve: %s\n", span(m.SlowChanges))
	fmt.Fprintf(w, "tolerances derived: %s\n", span(m.Tolerances))
}

func span(v []float64) string {
	if len(v) == 0 {
		return "none"
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%+.1f%% to %+.1f%% (n=%d)", 100*lo, 100*hi, len(v))
}
