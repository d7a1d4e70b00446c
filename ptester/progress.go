package ptester

import (
	"context"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/internal/startat"
)

// DefaultProgressEvery is how often Options.Progress is called.
const DefaultProgressEvery = 250 * time.Millisecond

// Progress is a running hammer's counts so far.
type Progress struct {
	// Elapsed since the clients were released.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Requests answered successfully, and failed requests of every kind.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
}

// waitStart releases the clients at at; see startat.Wait.
func waitStart(ctx context.Context, at time.Time) (time.Time, time.Duration) {
	return startat.Wait(ctx, at)
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
