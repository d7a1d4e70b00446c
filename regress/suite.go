package main

import (
	"github.com/lvsperf/lvsperf/internal/cpuidle"

	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultRounds is how many direct+director runs one sample pools: 40,
// about 55 s on a 2-core machine. The sample's noise is the rounds' own
// scatter over √rounds (the spread between samples matched it), and at 24
// rounds clean samples still moved ±12%, at 40 ±5.5% (README.md).
const DefaultRounds = 40

// Ratio is the ratio the suite gates on: the director's curve over the
// direct curve, both measured in the same run.
const Ratio = "director/direct"

// Suite says how to measure one regression sample.
type Suite struct {
	// End is the largest message (default 64 KiB: past the director's
	// knee on loopback, short enough for many rounds).
	End timing.Bytes
	// TrialTime is the target one-way time of one trial (default 6ms).
	// Each round measures one trial per size; the rounds give the trials.
	TrialTime time.Duration
	// Rounds is how many short direct+director runs are made and merged,
	// trial by trial (default DefaultRounds). Many short rounds, alternating which leg
	// goes first, spread each leg's trials over the whole measurement: a
	// burst of load from another process then spoils some trials of both
	// legs, and the best trial of each size comes from a quiet moment.
	Rounds int
	// Slow, when above 0, slows the director leg so its rate is (1−Slow)
	// of what the path gives (0.2 = 20% slower), for sensitivity tests.
	Slow float64
	// IdlePoll holds a 0 µs CPU wake-up latency request for the whole
	// sample, so idle vCPUs poll instead of halting. Without it a quiet
	// machine measures the director's extra hops up to 2× slower than a
	// busy one (each hop can land on a halted vCPU), and by an amount that
	// changes between samples.
	IdlePoll bool
	// Progress receives a line per round; nil is silent.
	Progress io.Writer
}

func (s Suite) normalize() (Suite, error) {
	if s.End == 0 {
		s.End = 64 * timing.KiB
	}
	if s.TrialTime == 0 {
		s.TrialTime = 6 * time.Millisecond
	}
	if s.Rounds == 0 {
		s.Rounds = DefaultRounds
	}
	if s.Slow < 0 || s.Slow >= 0.9 {
		return s, fmt.Errorf("slowdown %v: want 0 (off) to 0.9", s.Slow)
	}
	if s.Rounds < 1 || s.Rounds > 200 {
		return s, fmt.Errorf("rounds %d: want 1 to 200", s.Rounds)
	}
	if s.TrialTime < time.Millisecond || s.TrialTime > time.Second {
		return s, fmt.Errorf("trial time %v: want 1ms to 1s", s.TrialTime)
	}
	return s, nil
}

// Run measures the suite: Rounds runs of netpipe direct and through the
// embedded director (one run, two series, each), merged into one run.
func (s Suite) Run(ctx context.Context) (*results.Run, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	if s.IdlePoll {
		req, err := cpuidle.Hold()
		if err != nil {
			return nil, err
		}
		defer req.Close()
	}
	var runs []*results.Run
	for i := range s.Rounds {
		via := []string{string(paths.Direct), string(paths.Director)}
		if i%2 == 1 {
			// Alternate which leg goes first, so a drift in the machine's
			// load over a round does not always favour the same leg.
			via[0], via[1] = via[1], via[0]
		}
		cfg, err := netpipe.RunOptions{
			Via:            via,
			NoPerturbation: true,
			End:            s.End,
			Trials:         1,
			TrialTime:      s.TrialTime,
			Warmup:         20 * time.Millisecond,
		}.Config("netpipe", netpipe.DialProbe)
		if err != nil {
			return nil, err
		}
		if s.Slow > 0 {
			slowDirector(&cfg, s.Slow)
		}
		start := time.Now()
		res, err := runner.Run(ctx, cfg)
		if err != nil && ctx.Err() == nil {
			// A round that fails to run (a connection torn down under
			// load) is not a verdict on the path: say so and run it again
			// once, then give up.
			if s.Progress != nil {
				fmt.Fprintf(s.Progress, "round %d/%d failed, running it again: %v\n", i+1, s.Rounds, err)
			}
			res, err = runner.Run(ctx, cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("regression round %d of %d: %w", i+1, s.Rounds, err)
		}
		runs = append(runs, res.Run)
		if s.Progress != nil {
			fmt.Fprintf(s.Progress, "round %d/%d: %d series in %v\n", i+1, s.Rounds, len(res.Run.Series), time.Since(start).Round(100*time.Millisecond))
		}
	}
	m, err := merge(runs)
	if err != nil {
		return nil, err
	}
	m.Options["suite_rounds"] = strconv.Itoa(s.Rounds)
	if s.IdlePoll {
		m.Options["idle_poll"] = "true"
		m.Env.IdlePoll = true
	}
	if s.Slow > 0 {
		m.Options["suite_slowdown"] = strconv.FormatFloat(s.Slow, 'f', -1, 64)
	}
	return m, nil
}

// slowDirector makes the director leg of cfg slower by the fraction slow:
// every batch of transfers is followed by as many real transfers again,
// and a share of their measured times, f = 1/(1−slow) − 1, is added to the
// batch. The added time is measured on the same path, so it carries the
// path's own noise; on average the leg's times grow by 1/(1−slow) and its
// rate drops by slow.
func slowDirector(cfg *runner.Config, slow float64) {
	f := 1/(1-slow) - 1
	var armed atomic.Bool
	for i, leg := range cfg.Legs {
		if leg.Spec.Via != paths.Director {
			continue
		}
		start := leg.Start
		cfg.Legs[i].Start = func(ctx context.Context) (string, func() error, error) {
			// The runner starts a leg's server, then dials that leg: the
			// next dial is the director leg's.
			armed.Store(true)
			return start(ctx)
		}
	}
	dial := cfg.Dial
	cfg.Dial = func(ctx context.Context, target string) (runner.Probe, error) {
		p, err := dial(ctx, target)
		if err != nil || !armed.Swap(false) {
			return p, err
		}
		return &slowProbe{Probe: p, f: f}, nil
	}
	cfg.Options["suite_slowdown"] = strconv.FormatFloat(slow, 'f', -1, 64)
}

// slowProbe adds f × the time of a second, real batch of transfers to each
// batch it runs.
type slowProbe struct {
	runner.Probe
	f float64
}

func (p *slowProbe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	b, err := p.Probe.Run(ctx, n, each)
	if err != nil {
		return b, err
	}
	extra := make([]time.Duration, len(each))
	e, err := p.Probe.Run(ctx, n, extra)
	if err != nil {
		return b, err
	}
	b.Total += time.Duration(p.f * float64(e.Total))
	if b.Timed && e.Timed {
		for i := range each {
			each[i] += time.Duration(p.f * float64(extra[i]))
		}
	} else if b.Timed {
		per := time.Duration(p.f * float64(e.Total) / float64(len(each)))
		for i := range each {
			each[i] += per
		}
	}
	return b, nil
}

func (p *slowProbe) Info() map[string]string {
	info := p.Probe.Info()
	if info == nil {
		info = map[string]string{}
	}
	info["slowdown_factor"] = strconv.FormatFloat(p.f, 'f', 4, 64)
	return info
}

// merge pools the rounds: series by series (matched by label) and size by
// size, the trials of every round go into one point, summarised again, and
// the series is refitted. Quantiles of single transfers cannot be pooled
// from their summaries and are dropped.
func merge(runs []*results.Run) (*results.Run, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("merge: no runs")
	}
	first := *runs[0]
	out := &first
	out.Series = nil
	out.Options = map[string]string{}
	for k, v := range runs[0].Options {
		out.Options[k] = v
	}
	for _, r := range runs[1:] {
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
		out.Env.Contended = out.Env.Contended || r.Env.Contended
		if r.Env.Note != "" {
			out.Env.Note = r.Env.Note
		}
		out.Env.LoadAfter = r.Env.LoadAfter
		out.Complete = out.Complete && r.Complete
	}
	for _, s := range runs[0].Series {
		ms := s
		ms.Info = map[string]string{}
		for k, v := range s.Info {
			ms.Info[k] = v
		}
		ms.Info["merged_rounds"] = strconv.Itoa(len(runs))
		ms.Points = nil
		for _, p := range s.Points {
			trials := slices.Clone(p.Trials)
			for _, r := range runs[1:] {
				for _, rs := range r.Series {
					if rs.Label != s.Label {
						continue
					}
					for _, q := range rs.Points {
						if q.Bytes == p.Bytes {
							trials = append(trials, q.Trials...)
						}
					}
				}
			}
			ms.Points = append(ms.Points, summarize(p.Bytes, p.Reps, trials))
		}
		ms.Refit()
		out.Series = append(out.Series, ms)
	}
	return out, nil
}

// summarize builds a point from pooled trial means.
func summarize(n timing.Bytes, reps int, trials []time.Duration) timing.Point {
	s := slices.Clone(trials)
	slices.Sort(s)
	p := timing.Point{Bytes: n, Reps: reps, Trials: trials}
	if len(s) == 0 {
		return p
	}
	p.Min, p.Max = s[0], s[len(s)-1]
	if len(s)%2 == 1 {
		p.Median = s[len(s)/2]
	} else {
		p.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var sum float64
	for _, t := range s {
		sum += t.Seconds()
	}
	mean := sum / float64(len(s))
	var v float64
	for _, t := range s {
		v += (t.Seconds() - mean) * (t.Seconds() - mean)
	}
	p.Mean = time.Duration(math.Round(mean * 1e9))
	p.Variance = v / float64(len(s))
	return p
}
