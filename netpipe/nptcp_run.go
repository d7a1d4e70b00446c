package netpipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// NPRunConfig says how to run NPtcp-protocol pairs: one transmitter per
// address, in lock-step (every pair measures a size before any goes on).
type NPRunConfig struct {
	// Addrs are the receivers, one per pair.
	Addrs []string
	// Remote says the receivers are not in this process (recorded as the path).
	Remote bool
	NP     NPOptions
	// TrialTime is the target time of one trial; each size's repetitions
	// come from the previous size's time (the first size's from the
	// latency estimate), as NPtcp's transmitter sets them. Reps, when set,
	// fixes them (NPtcp's -n).
	TrialTime time.Duration
	Reps      int
	// Options, OutDir, Name, Progress, Pin and CPU are as in runner.Config.
	Options  map[string]string
	OutDir   string
	Name     string
	Progress io.Writer
	Pin      bool
	CPU      int
}

// nextReps is the transmitter's calibration: repetitions so a trial lasts
// about trial, from an estimate of one repetition's time, at least
// NetPIPE's TRIALS.
func nextReps(trial, est time.Duration) int {
	r := float64(trial) / math.Max(float64(est), 1)
	return int(math.Min(1_000_000, math.Max(npTrials, r)))
}

// RunNP measures the NPtcp schedule over every pair and returns the run:
// one series per pair and, with more than one pair, first an aggregate
// whose bytes are the pairs' sum and whose rate is the sum of their rates.
func RunNP(ctx context.Context, cfg NPRunConfig) (runner.Result, error) {
	if len(cfg.Addrs) == 0 {
		return runner.Result{}, errors.New("NPtcp run: no receiver address")
	}
	if cfg.TrialTime <= 0 {
		cfg.TrialTime = DefaultTrialTime
	}
	start := time.Now()
	probe := "netpipe"
	run := &results.Run{
		ID:      fmt.Sprintf("%s-%s-%d", probe, start.UTC().Format("20060102T150405Z"), os.Getpid()),
		Probe:   probe,
		Started: start,
		Options: maps.Clone(cfg.Options),
		Env:     results.CollectEnv("lo"),
	}
	res := runner.Result{Run: run}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return res, fmt.Errorf("output directory: %w", err)
		}
		name := cfg.Name
		if name == "" {
			name = probe + "-" + start.Format("20060102-150405")
		}
		res.File = filepath.Join(cfg.OutDir, name+results.Extension)
	}
	save := func() error {
		if res.File == "" {
			return nil
		}
		return results.Save(res.File, run)
	}
	if cfg.Pin {
		unpin, err := affinity.PinAll(cfg.CPU)
		if err != nil {
			return res, fmt.Errorf("--cpu %d: %w", cfg.CPU, err)
		}
		defer unpin()
	}
	before, sampleErr := results.SampleCPU()
	runErr := runNP(ctx, cfg, run, save)
	run.Finished = time.Now()
	run.Complete = runErr == nil
	if runErr != nil {
		run.Error = runErr.Error()
	}
	if after, err := results.SampleCPU(); err == nil && sampleErr == nil {
		results.Contention(before, after, runtime.NumCPU()).Apply(&run.Env)
	}
	for i := range run.Series {
		run.Series[i].Refit()
	}
	if len(run.Series) > 0 {
		run.Path = run.Series[0].Path
	}
	if err := save(); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

func runNP(ctx context.Context, cfg NPRunConfig, run *results.Run, save func() error) error {
	pairs := len(cfg.Addrs)
	txs := make([]*NPTransmitter, pairs)
	defer func() {
		for _, t := range txs {
			if t != nil {
				t.Close()
			}
		}
	}()
	// Every pair connects before any measures, as NetPIPE 5's multi-pair
	// mode starts its pairs together.
	errs := make([]error, pairs)
	var wg sync.WaitGroup
	for i, a := range cfg.Addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txs[i], errs[i] = DialNP(ctx, a, cfg.NP)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	path := "direct"
	if cfg.Remote {
		path = "remote"
	}
	kind := "netpipe nptcp"
	if cfg.NP.Bidir {
		kind += " -2"
	}
	first := 0
	if pairs > 1 {
		run.Series = append(run.Series, results.Series{Path: path, Info: map[string]string{"pairs": strconv.Itoa(pairs)}})
		run.Series[0].Label = fmt.Sprintf("%s aggregate of %d pairs", kind, pairs)
		first = 1
	}
	for i, t := range txs {
		info := maps.Clone(t.Info())
		info["target"] = cfg.Addrs[i]
		info["latency_estimate_ns"] = strconv.FormatInt(int64(t.Latency), 10)
		s := results.Series{Path: path, Info: info}
		s.Label = fmt.Sprintf("%s %s", kind, cfg.Addrs[i])
		if pairs > 1 {
			s.Label = fmt.Sprintf("%s pair %d %s", kind, i+1, cfg.Addrs[i])
		}
		run.Series = append(run.Series, s)
	}
	clock := timing.ClockOverhead()
	var sizes []timing.Bytes
	groups := txs[0].Groups()
	for _, g := range groups {
		sizes = append(sizes, g...)
	}
	topts := timing.Options{Sizes: sizes, Reps: cfg.Reps, Trials: npTrials, TrialTime: cfg.TrialTime, Warmup: -1, StopTime: npStopTime}
	if cfg.NP.Bidir {
		for i := range topts.Sizes {
			topts.Sizes[i] *= 2
		}
	}
	for i := range run.Series {
		run.Series[i].Options = topts
		run.Series[i].ClockOverhead = clock
	}
	if pairs > 1 {
		// The aggregate's points carry every pair's bytes.
		agg := topts
		agg.Sizes = make([]timing.Bytes, len(topts.Sizes))
		for i, n := range topts.Sizes {
			agg.Sizes[i] = n * timing.Bytes(pairs)
		}
		run.Series[0].Options = agg
	}
	// est is each pair's estimate of one repetition at the previous size.
	est := make([]time.Duration, pairs)
	prevN := groups[0][0]
	for i, t := range txs {
		est[i] = t.Latency
		if cfg.NP.Bidir {
			est[i] *= 2
		}
	}
	tlast := slices.Max(est)
	done, total := 0, len(sizes)
	for _, g := range groups {
		if tlast >= npStopTime {
			run.Series[0].Stopped = fmt.Sprintf("a transfer took %v, past NetPIPE's stop time %v", tlast, npStopTime)
			break
		}
		for _, n := range g {
			reps := cfg.Reps
			if reps == 0 {
				// One count for every pair, from the slowest, so their
				// trials overlap.
				scale := math.Max(1, float64(n)/float64(prevN))
				reps = nextReps(cfg.TrialTime, time.Duration(float64(slices.Max(est))*scale))
			}
			pts := make([]timing.Point, pairs)
			var group *npTrialGroup
			gctx, gcancel := context.WithCancelCause(ctx)
			if pairs > 1 {
				group = newNPTrialGroup(gctx, pairs, npTrials)
			}
			for i, t := range txs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pts[i], errs[i] = t.point(ctx, n, reps, group)
					if errs[i] != nil {
						gcancel(errs[i])
					}
				}()
			}
			wg.Wait()
			gcancel(nil)
			if err := errors.Join(errs...); err != nil {
				for _, t := range txs {
					t.Abort()
				}
				return err // timing.Sweep names the size
			}
			for i, p := range pts {
				run.Series[first+i].Points = append(run.Series[first+i].Points, p)
				est[i] = p.Min
			}
			if pairs > 1 {
				run.Series[0].Points = append(run.Series[0].Points, aggregate(pts, group.spans(), reps, cfg.NP.Bidir))
			}
			prevN = n
			tlast = 0
			for _, p := range pts {
				tlast = max(tlast, p.Min)
			}
			done++
			if cfg.Progress != nil {
				p := run.Series[0].Points[len(run.Series[0].Points)-1]
				fmt.Fprintf(cfg.Progress, "%s [%3d/%d] %10d B  %6d reps  %12v  %14v\n", run.Series[0].Label, done, total, p.Bytes, reps, p.Min, p.Rate())
			}
			if err := save(); err != nil && cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "warning: checkpoint not saved: %v\n", err)
			}
		}
	}
	// NPtcp's closing QUIT tells whether the receivers agreed on the schedule.
	for i, t := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// aggregate combines the pairs' points of one size, measured with their
// trials started together: bytes summed, and each trial's time the whole
// group's per transfer, span/reps (span/(2·reps) for ping-pong, whose
// transfer is half a round trip), so its rate is the bytes all pairs moved
// over the wall time they took together. Summing the pairs' own rates
// instead would count pairs that ran alone while others waited.
func aggregate(pts []timing.Point, spans []time.Duration, reps int, bidir bool) timing.Point {
	agg := timing.Point{Reps: reps}
	for _, p := range pts {
		agg.Bytes += p.Bytes
		agg.Transfers += p.Transfers
	}
	per := float64(reps)
	if !bidir {
		per *= 2
	}
	for _, s := range spans {
		agg.Trials = append(agg.Trials, time.Duration(float64(s)/per))
	}
	s := slices.Clone(agg.Trials)
	slices.Sort(s)
	agg.Min, agg.Max = s[0], s[len(s)-1]
	if len(s)%2 == 1 {
		agg.Median = s[len(s)/2]
	} else {
		agg.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var sum, sq float64
	for _, d := range s {
		sum += d.Seconds()
		sq += d.Seconds() * d.Seconds()
	}
	mean := sum / float64(len(s))
	agg.Mean = time.Duration(mean * 1e9)
	agg.Variance = sq/float64(len(s)) - mean*mean
	return agg
}

// PairAddrs is the receivers of n pairs at host: NPtcp serves one
// connection per process, so pair i goes to port+i.
func PairAddrs(host string, n int) ([]string, error) {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, strconv.Itoa(DefaultPort)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port+n-1 > 65535 {
		return nil, fmt.Errorf("host %q: want host[:port] with room for %d consecutive ports", host, n)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = net.JoinHostPort(h, strconv.Itoa(port+i))
	}
	return out, nil
}
