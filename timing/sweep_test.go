package timing

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// modelProbe reports latency + n/rate per transfer without waiting, with a
// little deterministic jitter; failAt makes it fail at one size.
type modelProbe struct {
	latency time.Duration
	rate    BitsPerSecond
	failAt  Bytes
	sleep   bool
	calls   int
}

func (m *modelProbe) Run(ctx context.Context, n Bytes, each []time.Duration) (Batch, error) {
	if n == m.failAt {
		return Batch{}, errors.New("receiver went away")
	}
	var b Batch
	for i := range each {
		m.calls++
		d := m.latency + time.Duration(float64(n.Bits())/float64(m.rate)*1e9) + time.Duration(m.calls%7)*time.Nanosecond*10
		each[i] = d
		b.Total += d
	}
	if m.sleep {
		time.Sleep(b.Total)
	}
	b.Timed = true
	return b, nil
}

func TestSweepCalibratesAndFits(t *testing.T) {
	sizes, _ := NetPIPESizes(1, 1*MiB, 3)
	p := &modelProbe{latency: 20 * time.Microsecond, rate: 1e9}
	var seen []Progress
	s, err := Sweep(context.Background(), p, Options{Sizes: sizes, KeepSamples: true, Warmup: -1}, func(pr Progress) { seen = append(seen, pr) })
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != len(sizes) || len(seen) != len(sizes) || s.Stopped != "" {
		t.Fatalf("%d points, %d callbacks, stopped %q; want %d", len(s.Points), len(seen), s.Stopped, len(sizes))
	}
	for i, pt := range s.Points {
		if len(pt.Trials) != DefaultTrials || pt.Reps < DefaultMinReps {
			t.Fatalf("size %d: %d trials of %d reps", pt.Bytes, len(pt.Trials), pt.Reps)
		}
		// Repetitions are calibrated to the target trial time, not fixed.
		trial := time.Duration(pt.Reps) * pt.Median
		if pt.Reps > DefaultMinReps && (trial < DefaultTrialTime/2 || trial > 2*DefaultTrialTime) {
			t.Errorf("size %d: %d reps × %v = %v per trial, want about %v", pt.Bytes, pt.Reps, pt.Median, trial, DefaultTrialTime)
		}
		// Quantiles agree with a brute-force sort of the recorded samples.
		sample := slices.Clone(seen[i].Sample)
		slices.Sort(sample)
		for _, q := range pt.Quantiles {
			idx := int(float64(len(sample))*q.Q+0.999999) - 1
			if q.Time != sample[idx] {
				t.Errorf("size %d: q%.3f = %v, brute force %v", pt.Bytes, q.Q, q.Time, sample[idx])
			}
		}
		if pt.Fastest != sample[0] || pt.Slowest != sample[len(sample)-1] || pt.Transfers != len(sample) {
			t.Errorf("size %d: fastest/slowest/transfers disagree with the samples", pt.Bytes)
		}
	}
	if s.Fit == nil || !s.Fit.OK {
		t.Fatalf("no clean fit: %+v %s", s.Fit, s.FitError)
	}
	if d := s.Fit.Latency - 20*time.Microsecond; d < -200*time.Nanosecond || d > 200*time.Nanosecond {
		t.Errorf("fitted latency %v, want 20µs", s.Fit.Latency)
	}
}

func TestSweepKeepsFinishedPointsOnError(t *testing.T) {
	sizes, _ := PowersOfTwo(0, 10)
	p := &modelProbe{latency: 10 * time.Microsecond, rate: 1e9, failAt: 64}
	s, err := Sweep(context.Background(), p, Options{Sizes: sizes, Warmup: -1, TrialTime: time.Millisecond}, nil)
	if err == nil {
		t.Fatal("no error from a failing probe")
	}
	if len(s.Points) != 6 || s.Stopped == "" {
		t.Errorf("kept %d points (want 6: 1…32 bytes), stopped %q", len(s.Points), s.Stopped)
	}
}

func TestSweepStopsOnCancel(t *testing.T) {
	sizes, _ := PowersOfTwo(0, 20)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	s, err := Sweep(ctx, &modelProbe{latency: time.Microsecond, rate: 1e9}, Options{Sizes: sizes, Warmup: -1, TrialTime: time.Millisecond},
		func(Progress) {
			if n++; n == 3 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) || len(s.Points) != 3 {
		t.Errorf("err %v, %d points; want context.Canceled after 3", err, len(s.Points))
	}
}

func TestSweepStopTime(t *testing.T) {
	sizes, _ := PowersOfTwo(0, 30)
	s, err := Sweep(context.Background(), &modelProbe{latency: time.Millisecond, rate: 8e6}, Options{Sizes: sizes, Warmup: -1, Reps: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MB/s: 2^20 bytes take about 1 s, which ends the sweep as NetPIPE's STOPTM does.
	last := s.Points[len(s.Points)-1]
	if last.Bytes != 1<<20 || s.Stopped == "" {
		t.Errorf("stopped after %d bytes (%q), want after 1048576", last.Bytes, s.Stopped)
	}
}

func TestSweepFitsBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for its budget")
	}
	sizes, _ := PowersOfTwo(0, 12)
	budget := 600 * time.Millisecond
	start := time.Now()
	s, err := Sweep(context.Background(), &modelProbe{latency: 20 * time.Microsecond, rate: 1e9, sleep: true}, Options{Sizes: sizes, Budget: budget}, nil)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if el > budget*3/2 || el < budget/3 {
		t.Errorf("sweep with a %v budget took %v", budget, el)
	}
	if len(s.Points) < len(sizes)-2 {
		t.Errorf("budget cut the sweep to %d of %d sizes", len(s.Points), len(sizes))
	}
}

func TestOptionsNormalize(t *testing.T) {
	if _, err := (Options{}).Normalize(); err == nil {
		t.Error("no sizes: no error")
	}
	if _, err := (Options{Sizes: []Bytes{8, 4}}).Normalize(); err == nil {
		t.Error("decreasing sizes: no error")
	}
	if _, err := (Options{Sizes: []Bytes{1}, MinReps: 10, MaxReps: 5}).Normalize(); err == nil {
		t.Error("max reps below min reps: no error")
	}
	o, err := (Options{Sizes: make([]Bytes, 100), Budget: time.Second}).Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if est := time.Duration(len(o.Sizes)*o.Trials) * o.TrialTime; est > time.Second {
		t.Errorf("budget of 1s normalized to %d trials of %v for 100 sizes (%v)", o.Trials, o.TrialTime, est)
	}
}

func TestQuantilesOf(t *testing.T) {
	var s []time.Duration
	for i := 1000; i >= 1; i-- {
		s = append(s, time.Duration(i))
	}
	q := QuantilesOf(s, []float64{0, 0.5, 0.99, 1})
	want := []time.Duration{1, 500, 990, 1000}
	for i := range want {
		if q[i].Time != want[i] {
			t.Errorf("q%.2f = %v, want %v", q[i].Q, q[i].Time, want[i])
		}
	}
	if QuantilesOf(nil, []float64{0.5}) != nil {
		t.Error("quantiles of nothing")
	}
}
