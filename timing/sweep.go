package timing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Options say how the core measures a series. The zero value of every field
// means its default; Normalize fills them in, and a result records the
// normalized options so two runs can be compared honestly.
type Options struct {
	// Sizes to measure, in order. Required.
	Sizes []Bytes `msgpack:"sizes" json:"sizes"`
	// TrialTime is the target time of one trial, summed over its transfers
	// (NetPIPE's RUNTM). Default 100ms.
	TrialTime time.Duration `msgpack:"trial_time" json:"trial_time_ns"`
	// Trials per size (NetPIPE's TRIALS). Default 3.
	Trials int `msgpack:"trials" json:"trials"`
	// MinReps and MaxReps bound the transfers in one trial. Defaults 3 and 1,000,000.
	MinReps int `msgpack:"min_reps" json:"min_reps"`
	MaxReps int `msgpack:"max_reps" json:"max_reps"`
	// Reps fixes the transfers per trial (NetPIPE's -n) instead of calibrating.
	Reps int `msgpack:"reps,omitempty" json:"reps,omitempty"`
	// Warmup is spent on transfers of the first size before anything is
	// measured, and a pilot batch of about a tenth of a trial warms up and
	// calibrates every size. Default 50ms; negative disables the first.
	Warmup time.Duration `msgpack:"warmup" json:"warmup_ns"`
	// StopTime ends the sweep after a size whose transfer took at least this
	// long (NetPIPE's STOPTM). Default 1s; negative never stops early.
	StopTime time.Duration `msgpack:"stop_time" json:"stop_time_ns"`
	// Budget, when set, scales TrialTime (and then Trials) so the whole
	// sweep fits in it, and stops the sweep once it is spent.
	Budget time.Duration `msgpack:"budget,omitempty" json:"budget_ns,omitempty"`
	// KeepSamples keeps every single transfer time of each size in the
	// progress callback's Sample field (for tests and raw exports).
	KeepSamples bool `msgpack:"-" json:"-"`
}

// Defaults for Options.
const (
	DefaultTrialTime = 100 * time.Millisecond
	DefaultTrials    = 3
	DefaultMinReps   = 3
	DefaultMaxReps   = 1_000_000
	DefaultWarmup    = 50 * time.Millisecond
	DefaultStopTime  = time.Second
	// pilotShare is the share of a trial spent on each size's pilot batch.
	pilotShare = 10
	// overheadShare estimates the share of a point's time spent outside
	// trials (pilot, calls, bookkeeping) when fitting a budget.
	overheadShare = 1.2
	// minTrialTime is the shortest trial a budget may scale to.
	minTrialTime = 2 * time.Millisecond
)

// Normalize returns o with defaults filled in and the budget applied, or an
// error saying which option makes no sense.
func (o Options) Normalize() (Options, error) {
	if len(o.Sizes) == 0 {
		return o, errors.New("no sizes to measure: give a size range")
	}
	for i, s := range o.Sizes {
		if s < 0 {
			return o, fmt.Errorf("size %d is negative", s)
		}
		if i > 0 && s < o.Sizes[i-1] {
			return o, fmt.Errorf("sizes must not decrease: %d follows %d", s, o.Sizes[i-1])
		}
	}
	if o.TrialTime < 0 || o.Trials < 0 || o.MinReps < 0 || o.MaxReps < 0 || o.Reps < 0 || o.Budget < 0 {
		return o, errors.New("trial time, trials, repeat counts and budget must not be negative")
	}
	if o.TrialTime == 0 {
		o.TrialTime = DefaultTrialTime
	}
	if o.Trials == 0 {
		o.Trials = DefaultTrials
	}
	if o.MinReps == 0 {
		o.MinReps = DefaultMinReps
	}
	if o.MaxReps == 0 {
		o.MaxReps = DefaultMaxReps
	}
	if o.MaxReps < o.MinReps {
		return o, fmt.Errorf("max repeats %d is below min repeats %d", o.MaxReps, o.MinReps)
	}
	if o.Warmup == 0 {
		o.Warmup = DefaultWarmup
	}
	if o.StopTime == 0 {
		o.StopTime = DefaultStopTime
	}
	if o.Budget > 0 {
		per := float64(o.Budget) / (float64(len(o.Sizes)) * overheadShare)
		for o.Trials > 1 && per/float64(o.Trials) < float64(minTrialTime) {
			o.Trials--
		}
		if t := time.Duration(per / float64(o.Trials)); t < o.TrialTime {
			o.TrialTime = max(t, minTrialTime)
		}
	}
	return o, nil
}

// Progress is reported after each measured size.
type Progress struct {
	Index, Total int
	Point        Point
	// Sample holds the size's single transfer times when Options.KeepSamples is set.
	Sample []time.Duration
	// Elapsed is the wall time since the sweep started.
	Elapsed time.Duration
}

// Series is a sweep's result: the points it finished and the fit.
type Series struct {
	Label  string  `msgpack:"label" json:"label"`
	Points []Point `msgpack:"points" json:"points"`
	Fit    *Fit    `msgpack:"fit,omitempty" json:"fit,omitempty"`
	// FitError says why there is no fit.
	FitError string `msgpack:"fit_err,omitempty" json:"fit_error,omitempty"`
	// Stopped says why the sweep ended before its last size ("" when it
	// completed the schedule).
	Stopped string `msgpack:"stopped,omitempty" json:"stopped,omitempty"`
	// ClockOverhead is the measured cost of reading the clock twice; single
	// transfers faster than 20× this are not given quantiles.
	ClockOverhead time.Duration `msgpack:"clock" json:"clock_overhead_ns"`
	Options       Options       `msgpack:"opts" json:"options"`
}

// Refit recomputes the series' fit from its points.
func (s *Series) Refit() {
	f, err := FitPoints(s.Points)
	s.Fit, s.FitError = nil, ""
	if err != nil {
		s.FitError = err.Error()
		return
	}
	s.Fit = &f
}

// Sweep measures every size of opts with p and returns the series. It calls
// onPoint (which may be nil) after each size, so a caller can save progress.
// On an error or a cancelled ctx it returns the points it finished, with
// Stopped saying why, together with the error.
func Sweep(ctx context.Context, p Probe, opts Options, onPoint func(Progress)) (Series, error) {
	o, err := opts.Normalize()
	if err != nil {
		return Series{}, err
	}
	s := Series{Options: o, ClockOverhead: ClockOverhead()}
	start := time.Now()
	finish := func(err error) (Series, error) {
		if err != nil {
			s.Stopped = err.Error()
		}
		s.Refit()
		return s, err
	}
	if o.Warmup > 0 {
		if err := warm(ctx, p, o.Sizes[0], o.Warmup); err != nil {
			return finish(fmt.Errorf("warm-up at %d bytes: %w", o.Sizes[0], err))
		}
	}
	trialTime := o.TrialTime
	var spentOnPoints time.Duration
	var plannedTrials float64
	for i, n := range o.Sizes {
		if o.Budget > 0 && time.Since(start) > o.Budget {
			s.Stopped = fmt.Sprintf("budget of %v spent after %d of %d sizes", o.Budget, i, len(o.Sizes))
			break
		}
		pointStart := time.Now()
		pt, sample, err := measure(ctx, p, n, o, trialTime, s.ClockOverhead)
		if err != nil {
			return finish(fmt.Errorf("at %d bytes: %w", n, err))
		}
		if o.Budget > 0 {
			// Scale the next trials to what the budget has left: the wall
			// time of a trial differs from its target (a ping-pong's is
			// twice its one-way time; overheads vary), so learn the ratio.
			spentOnPoints += time.Since(pointStart)
			plannedTrials += float64(o.Trials) * float64(trialTime)
			ratio := float64(spentOnPoints) / plannedTrials
			left := float64(o.Budget-time.Since(start)) / math.Max(float64(len(o.Sizes)-i-1), 1)
			trialTime = min(o.TrialTime, max(minTrialTime, time.Duration(left/ratio/float64(o.Trials))))
		}
		s.Points = append(s.Points, pt)
		if onPoint != nil {
			pr := Progress{Index: i, Total: len(o.Sizes), Point: pt, Elapsed: time.Since(start)}
			if o.KeepSamples {
				pr.Sample = sample
			}
			onPoint(pr)
		}
		if o.StopTime > 0 && pt.Min >= o.StopTime && i+1 < len(o.Sizes) {
			s.Stopped = fmt.Sprintf("a transfer of %d bytes took %v, past the stop time %v", n, pt.Min, o.StopTime)
			break
		}
	}
	return finish(nil)
}

// warm runs transfers of n bytes until d has passed.
func warm(ctx context.Context, p Probe, n Bytes, d time.Duration) error {
	deadline := time.Now().Add(d)
	each := make([]time.Duration, 1)
	for reps := 1; time.Now().Before(deadline); reps = min(reps*2, 1<<14) {
		each = slices.Grow(each[:0], reps)[:reps]
		if _, err := p.Run(ctx, n, each); err != nil {
			return err
		}
	}
	return nil
}

// measure runs the pilot and the trials of one size.
func measure(ctx context.Context, p Probe, n Bytes, o Options, trialTime, clock time.Duration) (Point, []time.Duration, error) {
	reps := o.Reps
	if reps == 0 {
		// A pilot batch warms the size up and tells how long one transfer takes.
		per, err := pilot(ctx, p, n, trialTime/pilotShare, trialTime)
		if err != nil {
			return Point{}, nil, err
		}
		reps = int(math.Min(float64(o.MaxReps), math.Max(float64(o.MinReps), float64(trialTime)/math.Max(float64(per), 1))))
	}
	pt := Point{Bytes: n, Reps: reps}
	trials := make([]time.Duration, 0, o.Trials)
	all := make([]time.Duration, 0, reps*o.Trials)
	timed := true
	for range o.Trials {
		if err := ctx.Err(); err != nil {
			return pt, nil, err
		}
		each := all[len(all) : len(all)+reps]
		b, err := p.Run(ctx, n, each)
		if err != nil {
			return pt, nil, err
		}
		timed = timed && b.Timed
		all = all[:len(all)+reps]
		trials = append(trials, b.Total/time.Duration(reps))
	}
	summarize(&pt, trials)
	if !timed {
		return pt, nil, nil
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	pt.Transfers = len(sorted)
	pt.Fastest, pt.Slowest = sorted[0], sorted[len(sorted)-1]
	if pt.Median >= 20*clock {
		pt.Quantiles = quantilesSorted(sorted, DefaultQuantiles())
	}
	return pt, all, nil
}

// pilotMin is how many transfers a pilot needs before one slow transfer (a
// stall, a scheduling hiccup) cannot set the repetitions of a whole size.
const pilotMin = 5

// pilot runs transfers of n bytes for about d and at least pilotMin of them,
// and returns the median time of one transfer. A first transfer slower than a
// whole trial ends the pilot at once: the size will run the minimum
// repetitions anyway.
func pilot(ctx context.Context, p Probe, n Bytes, d, trial time.Duration) (time.Duration, error) {
	each := make([]time.Duration, 1)
	var per time.Duration
	count := 0
	for spent := time.Duration(0); ; {
		b, err := p.Run(ctx, n, each)
		if err != nil {
			return 0, err
		}
		count += len(each)
		per = b.Total / time.Duration(len(each))
		if b.Timed {
			s := slices.Clone(each)
			slices.Sort(s)
			per = medianSorted(s)
		}
		spent += b.Total
		if (spent >= d && count >= pilotMin) || per >= trial {
			return per, nil
		}
		next := max(pilotMin-count, min(len(each)*4, int((d-spent)/max(per, 1))+1, 1<<16))
		each = make([]time.Duration, max(next, 1))
	}
}

// ClockOverhead measures the median cost of two consecutive clock readings.
func ClockOverhead() time.Duration {
	const n = 1001
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return max(d[n/2], 1)
}
