package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/streamer"
	"github.com/lvsperf/lvsperf/timing"
)

// Options configure an experiment run. The zero value of each field means
// its default.
type Options struct {
	// OutDir receives results (<name>.msgpack), plots and the finding
	// (<name>.txt). Default "results/experiments".
	OutDir string
	// Budget bounds one experiment's measuring time (default 90s); `all`
	// splits its budget (default 11 minutes) among the experiments it can run.
	Budget time.Duration
	// MaxSize is the largest netpipe message (default 1 MiB).
	MaxSize timing.Bytes
	// Progress receives one line per finished curve (default io.Discard).
	Progress io.Writer
	// Self is the lvsperf binary. Experiments run some of its commands as
	// processes inside a lab host, so that every socket they open stays in
	// that namespace: `lvsperf director` (the userspace proxy engine, for
	// the paths experiment's proxy curve) and `lvsperf ptester` (the http
	// experiment's clients). Empty leaves those out and says so.
	Self string
}

// Default budgets.
const (
	DefaultBudget    = 90 * time.Second
	DefaultAllBudget = 11 * time.Minute
)

func (o Options) normalize() Options {
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "experiments")
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxSize == 0 {
		o.MaxSize = 1 << 20
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Report is what an experiment found.
type Report struct {
	Name string
	// Finding is the text written beside the seed's finding.
	Finding string
	// Files written (results, plots, finding).
	Files []string
	// Latency lists each curve's fitted latency, for the `all` table.
	Latency []LatencyRow
	// Verdicts compare the figures with the seed's findings, one per claim.
	Verdicts []Verdict
}

// LatencyRow is one curve's fitted latency and rate.
type LatencyRow struct {
	Experiment, Series string
	Latency            time.Duration
	MaxRate            timing.BitsPerSecond
	LatencyBytes       timing.Bytes
}

type experiment struct {
	name, about string
	run         func(ctx context.Context, o Options) (*Report, error)
	// notYet marks an experiment that only returns "not implemented yet".
	notYet bool
}

func registry() []experiment {
	return []experiment{
		{"paths", "netpipe direct / forward / NAT / DR / martian (seed §2.1)", runPaths, false},
		{"mtu", "netpipe at MTU 1500, 750, 400, 200, offloads off: the pole moves with the MTU (seed §1.4)", runMTU, false},
		{"nics", "one-NIC vs two-NIC director (seed §1.5.4)", runNICs, false},
		{"multi-netpipe", "two simultaneous netpipes from the director (seed §1.5.2-3)", runMultiNetpipe, false},
		{"tp", "transparent proxy on realserver, director, both (seed §3)", runTP, false},
		{"http", "persistent vs non-persistent HTTP, 1 vs 2 realservers, serial vs synchronised clients (seed §4)", runHTTP, false},
		{"stream", "netpipe streaming over the same paths (seed §5.1)", runStream, false},
		{"scale", "synchronised clients on 1, 2, 4 hosts × 1, 2, 4 rate-limited realservers, NAT and DR (seed §4.4)", runScale, false},
		{"rsh", "rsh copy through the lab (seed §5.2)", bulk{proto: "rsh", port: 514, probe: []string{"--no-stderr", "--max-exp", "20"},
			seed: "\"The throughput for small (<128k) files is set by a 1.1sec minimum transfer time [...] Throughput reaches 40Mbps for\n" +
				"copy to /dev/null on the realserver by forwarding and [...] by lvs.\""}.run, false},
		{"lpd", "lpd printing through the lab (seed §5.3)", bulk{proto: "lpd", port: 515, probe: []string{"--max-exp", "20"},
			seed: "\"The throughput for small jobs is determined by the minimum time to setup and pulldown the connection, about 0.2sec.\""}.run, false},
		{"nfs", "NFS copy through the lab (seed §6)", bulk{proto: "nfs", port: 2049, probe: []string{"--max-exp", "20"},
			seed: "NFS over UDP through VS-DR; \"no difference was seen in latency or throughput\" for rsize/wsize 1-16k (NFS here is TCP: go-nfs serves TCP only)."}.run, false},
	}
}

func notYet(name string) func(context.Context, Options) (*Report, error) {
	return func(context.Context, Options) (*Report, error) {
		return nil, fmt.Errorf("not implemented yet: experiment %q (the lab and nft engine it needs exist; its probe wiring does not); run paths or mtu", name)
	}
}

// Names lists the experiments with a one-line description each, "all" last.
func Names() [][2]string {
	var out [][2]string
	for _, e := range registry() {
		out = append(out, [2]string{e.name, e.about})
	}
	return append(out, [2]string{"all", "every experiment above within one budget, then the latency table"})
}

// Run runs the named experiment ("all" runs every implemented one).
func Run(ctx context.Context, name string, o Options) ([]*Report, error) {
	o = o.normalize()
	var exp *experiment
	for _, e := range registry() {
		if e.name == name {
			exp = &e
		}
	}
	if exp == nil && name != "all" {
		var names []string
		for _, n := range Names() {
			names = append(names, n[0])
		}
		return nil, fmt.Errorf("unknown experiment %q: want one of %s", name, strings.Join(names, ", "))
	}
	if exp != nil && exp.notYet {
		_, err := exp.run(ctx, o)
		return nil, err
	}
	if err := lab.CheckRoot(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if exp == nil {
		if o.Budget == DefaultBudget {
			o.Budget = DefaultAllBudget
		}
		return runAll(ctx, o)
	}
	r, err := exp.run(ctx, o)
	if err != nil {
		return nil, err
	}
	return []*Report{r}, nil
}

func runAll(ctx context.Context, o Options) ([]*Report, error) {
	var reps []*Report
	var skipped []string
	var failed []error
	exps := registry()
	n := 0
	for _, e := range exps {
		if !e.notYet {
			n++
		}
	}
	per := o.Budget / time.Duration(n)
	start := time.Now()
	for i, e := range exps {
		if e.notYet {
			skipped = append(skipped, e.name)
			continue
		}
		fmt.Fprintf(o.Progress, "[%d/%d, %v elapsed] ", i+1, len(exps), time.Since(start).Round(time.Second))
		eo := o
		eo.Budget = per
		fmt.Fprintf(o.Progress, "== experiment %s (budget %v)\n", e.name, per.Round(time.Second))
		r, err := e.run(ctx, eo)
		if err != nil {
			// One failed experiment (a sweep without a fit on a busy
			// machine) must not cost the others' results.
			failed = append(failed, fmt.Errorf("experiment %s: %w", e.name, err))
			fmt.Fprintf(o.Progress, "   failed: %v\n", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		reps = append(reps, r)
	}
	var rows []LatencyRow
	for _, r := range reps {
		rows = append(rows, r.Latency...)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %-28s %12s %14s %12s\n", "experiment", "series", "latency", "max rate", "lat×rate")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-13s %-28s %12v %14v %12v\n", r.Experiment, r.Series, r.Latency.Round(10*time.Nanosecond), r.MaxRate, r.LatencyBytes)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "not implemented yet, skipped: %s\n", strings.Join(skipped, ", "))
	}
	fmt.Fprintf(&b, "total time %v\n", time.Since(start).Round(time.Second))
	path := filepath.Join(o.OutDir, "all.txt")
	if err := results.WriteFileAtomic(path, []byte(b.String())); err != nil {
		return reps, err
	}
	for _, err := range failed {
		fmt.Fprintf(&b, "FAILED: %v\n", err)
	}
	reps = append(reps, &Report{Name: "all", Finding: b.String(), Files: []string{path}})
	return reps, errors.Join(failed...)
}

// probeKind says which netpipe probe a curve runs.
type probeKind int

const (
	pingPong probeKind = iota // NetPIPE's default: a reply as big as the message
	stream                    // NetPIPE's -s: one-way, a small acknowledgement
)

// netpipeOver measures one netpipe curve: a receiver in server listening
// on port, a transmitter (or stream sender) in client dialing target.
func netpipeOver(ctx context.Context, server, client *lab.HostNS, target string, port int, topt timing.Options, kind ...probeKind) (timing.Series, map[string]string, error) {
	var srv *netpipe.Server
	if err := server.Do(func() (err error) {
		srv, err = netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: fmt.Sprintf(":%d", port)})
		return err
	}); err != nil {
		return timing.Series{}, nil, err
	}
	defer srv.Close()
	type probe interface {
		timing.Probe
		Info() map[string]string
		Close() error
	}
	var tx probe
	opts := netpipe.Options{Addr: net.JoinHostPort(target, fmt.Sprint(port)), DialTimeout: 3 * time.Second}
	if err := client.Do(func() (err error) {
		if len(kind) > 0 && kind[0] == stream {
			tx, err = streamer.Dial(ctx, opts)
		} else {
			tx, err = netpipe.Dial(ctx, opts)
		}
		return err
	}); err != nil {
		return timing.Series{}, nil, err
	}
	s, err := timing.Sweep(ctx, tx, topt, nil)
	info := tx.Info()
	if cerr := tx.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return s, info, err
}

// curve is one netpipe curve an experiment compares.
type curve struct {
	label          string
	server, client *lab.HostNS
	target         string
	// setup installs what the curve needs (director rules) and returns its undo.
	setup func() (func() error, error)
	// optional curves are dropped, with the reason kept in dropped, when
	// they fail; any other curve's failure ends the experiment.
	optional bool
}

// measured is a curve's rounds and its representative series.
type measured struct {
	label  string
	rounds []timing.Series
	small  []time.Duration
	fitLat []time.Duration
	// rep is the round with the median small-message time.
	rep results.Series
	// dropped says why an optional curve was left out.
	dropped error
}

// measureRounds runs every curve once per round, interleaving the curves
// so that the shared machine's load falls on all of them alike.
func measureRounds(ctx context.Context, o Options, exp string, curves []curve, rounds int, topt timing.Options, kind probeKind) ([]*measured, []string, error) {
	out := make([]*measured, len(curves))
	for i, c := range curves {
		out[i] = &measured{label: c.label}
	}
	for r := 1; r <= rounds; r++ {
		for i, c := range curves {
			if out[i].dropped != nil {
				continue
			}
			ser, info, err := measureOnce(ctx, c, topt, kind)
			if err != nil && c.optional && ctx.Err() == nil {
				out[i].dropped = fmt.Errorf("round %d: %w", r, err)
				fmt.Fprintf(o.Progress, "%s: %s left out: %v\n", exp, c.label, err)
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s, round %d: %w", c.label, r, err)
			}
			if out[i].rep.Info == nil {
				out[i].rep.Info = info
			}
			if err := out[i].add(o, exp, r, rounds, ser); err != nil {
				return nil, nil, err
			}
		}
	}
	var kept []*measured
	for _, m := range out {
		if m.dropped == nil {
			m.finish()
			kept = append(kept, m)
		}
	}
	return kept, dropped(out), nil
}

// dropped lists the optional curves left out, with why.
func dropped(ms []*measured) []string {
	var d []string
	for _, m := range ms {
		if m.dropped != nil {
			d = append(d, fmt.Sprintf("%s left out: %v", m.label, m.dropped))
		}
	}
	return d
}

func measureOnce(ctx context.Context, c curve, topt timing.Options, kind probeKind) (timing.Series, map[string]string, error) {
	undo := func() error { return nil }
	if c.setup != nil {
		u, err := c.setup()
		if err != nil {
			return timing.Series{}, nil, err
		}
		undo = u
	}
	ser, info, err := netpipeOver(ctx, c.server, c.client, c.target, netpipePort, topt, kind)
	if uerr := undo(); err == nil {
		err = uerr
	}
	return ser, info, err
}

// add records one round's series.
func (m *measured) add(o Options, exp string, r, rounds int, ser timing.Series) error {
	if ser.Fit == nil {
		return fmt.Errorf("%s, round %d: no fit: %s", m.label, r, ser.FitError)
	}
	ser.Label = m.label
	m.rounds = append(m.rounds, ser)
	m.small = append(m.small, smallLatency(ser))
	m.fitLat = append(m.fitLat, ser.Fit.Latency)
	fmt.Fprintf(o.Progress, "%s: round %d/%d %-16s ≤64B time %v  fitted latency %v  max rate %v\n", exp, r, rounds, m.label,
		smallLatency(ser).Round(10*time.Nanosecond), ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate)
	return nil
}

// finish picks the round with the median small-message time as the curve.
func (m *measured) finish() {
	idx := make([]int, len(m.rounds))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return m.small[idx[a]] < m.small[idx[b]] })
	m.rep.Series = m.rounds[idx[len(idx)/2]]
	m.rep.Path = "lab/" + m.label
}

// table writes the usual per-curve summary.
func table(b *strings.Builder, ms []*measured) {
	fmt.Fprintf(b, "%-18s %14s %14s %12s %10s\n", "curve", "≤64B time(med)", "fit lat(med)", "max rate", "lat×rate")
	for _, m := range ms {
		f := m.rep.Fit
		fmt.Fprintf(b, "%-18s %14v %14v %12v %10v\n", m.label, medianDur(m.small).Round(10*time.Nanosecond),
			medianDur(m.fitLat).Round(10*time.Nanosecond), f.MaxRate, f.LatencyBytes)
	}
}

// sweepOptions fits a netpipe sweep of sizes up to max into budget. A
// ping-pong trial takes about twice its calibrated time (the probe reports
// half the round trip), so the trial time is set from the budget with that
// factor rather than left to Options.Budget alone, which would spend the
// budget on the small sizes and never reach the rate limit.
func sweepOptions(largest timing.Bytes, budget time.Duration) timing.Options {
	sz := sizes(largest)
	const trials = 3
	tt := budget / time.Duration(len(sz)*trials*3)
	tt = min(max(tt, 2*time.Millisecond), 100*time.Millisecond)
	return timing.Options{Sizes: sz, Trials: trials, TrialTime: tt, Budget: budget, StopTime: 200 * time.Millisecond, Warmup: 20 * time.Millisecond}
}

// sizes is the netpipe schedule of the experiments: NetPIPE's sizes
// without perturbation, 1 byte to max.
func sizes(max timing.Bytes) []timing.Bytes {
	s, err := timing.NetPIPESizes(1, max, 0)
	if err != nil {
		panic(err) // constant arguments
	}
	return s
}

// save writes the run, the plots and the finding.
func save(o Options, name string, run *results.Run, finding string) ([]string, error) {
	run.Finished = time.Now()
	run.Complete = true
	path := filepath.Join(o.OutDir, name+results.Extension)
	if err := results.Save(path, run); err != nil {
		return nil, err
	}
	files := []string{path}
	pf, err := plot.WriteAll(o.OutDir, name, run.Series)
	files = append(files, pf...)
	if err != nil {
		return files, fmt.Errorf("plots of %s: %w", name, err)
	}
	tp := filepath.Join(o.OutDir, name+".txt")
	if err := results.WriteFileAtomic(tp, []byte(finding)); err != nil {
		return files, err
	}
	return append(files, tp), nil
}

func newRun(name string) *results.Run {
	now := time.Now()
	return &results.Run{Format: results.Format, Schema: results.Schema,
		ID:    fmt.Sprintf("%s-%s-%d", name, now.UTC().Format("20060102T150405"), os.Getpid()),
		Probe: "netpipe", Path: "lab/" + name, Started: now, Env: results.CollectEnv(),
		Options: map[string]string{}}
}

func latencyRows(exp string, ss []results.Series) []LatencyRow {
	var rows []LatencyRow
	for _, s := range ss {
		if s.Fit == nil {
			continue
		}
		rows = append(rows, LatencyRow{Experiment: exp, Series: s.Label, Latency: s.Fit.Latency, MaxRate: s.Fit.MaxRate, LatencyBytes: s.Fit.LatencyBytes})
	}
	return rows
}

// smallLatency is the best time of the messages of 64 bytes or less (the
// way notes/lab.md reads NPtcp's latency), which the large sizes cannot
// pull around the way they pull the fitted intercept.
func smallLatency(s timing.Series) time.Duration {
	var best time.Duration
	for _, p := range s.Points {
		if p.Bytes <= 64 && (best == 0 || p.Min < best) {
			best = p.Min
		}
	}
	return best
}

func seriesOf(s timing.Series, path string) results.Series {
	return results.Series{Series: s, Path: path}
}

func medianDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
