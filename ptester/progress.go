package ptester

import (
	"context"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultProgressEvery is how often Options.Progress is called.
const DefaultProgressEvery = 250 * time.Millisecond

// spinBefore is how long before a start instant waitStart stops sleeping
// and polls the clock. Measured on a loaded 2-CPU VM (load average 6): a
// Go timer fired 200 µs late at the median and 850 µs at the 99th
// percentile, and the cluster's start-skew goal is 1 ms; a longer spin
// costs more CPU beside other agents on the same cores.
const spinBefore = time.Millisecond

// Progress is a running hammer's counts so far.
type Progress struct {
	// Elapsed since the clients were released.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Requests answered successfully, and failed requests of every kind.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// waitStart returns at the instant at (at once when it is zero or past, or
// when ctx ends) and returns the time it actually released; late is how far
// past at the call came, 0 when it came in time.
func waitStart(ctx context.Context, at time.Time) (start time.Time, late time.Duration) {
	if now := time.Now(); at.IsZero() || !now.Before(at) {
		if !at.IsZero() {
			late = now.Sub(at)
		}
		return now, late
	}
	if d := time.Until(at) - spinBefore; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Now(), 0
		}
	}
	for {
		now := time.Now()
		if !now.Before(at) || ctx.Err() != nil {
			return now, 0
		}
	}
}

// startProgress calls o.Progress every o.ProgressEvery until the returned
// function is called, which also makes one last call.
func startProgress(o *Options, workers []*worker, start time.Time) func() {
	if o.Progress == nil {
		return func() {}
	}
	every := o.ProgressEvery
	if every <= 0 {
		every = DefaultProgressEvery
	}
	report := func() {
		p := Progress{Elapsed: time.Since(start)}
		for _, w := range workers {
			p.Requests += w.pubOK.Load()
			p.Errors += w.pubErrs.Load()
		}
		o.Progress(p)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-stop:
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		report()
	}
}

// LatencyHistogram returns the run's latency histogram (every successful
// request's time, as Latency summarises it) as a snapshot that merges
// exactly with other runs' (hdrhistogram.Import, then Merge). It is nil
// for a report that did not come from Run.
func (r *Report) LatencyHistogram() *hdrhistogram.Snapshot {
	if r.latency == nil {
		return nil
	}
	return r.latency.Export()
}

// Summarize describes the distribution in h as a Report's Latency does.
func Summarize(h *hdrhistogram.Histogram) Summary { return summarize(h) }

// NewLatencyHistogram returns an empty histogram of the configuration every
// Report's latency histogram has, so that merges are exact.
func NewLatencyHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, 3) }
