package ptester

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

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
//
// Where the process may (root), the last stretch runs on a thread raised
// to SCHED_FIFO that sleeps in clock_nanosleep on the absolute instant:
// the kernel then wakes it ahead of every ordinary task, where a Go timer
// waits for the scheduler. Measured with 4 agents in namespaces of a
// loaded 2-CPU VM, the ordinary path spread the starts over 0.2-42 ms.
func waitStart(ctx context.Context, at time.Time) (start time.Time, late time.Duration) {
	if now := time.Now(); at.IsZero() || !now.Before(at) {
		if !at.IsZero() {
			late = now.Sub(at)
		}
		return now, late
	}
	// The Go timer covers the long part, so ctx can end the wait.
	if d := time.Until(at) - 100*time.Millisecond; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Now(), 0
		}
	}
	runtime.LockOSThread()
	restore, ok := schedFIFO()
	defer func() {
		// A thread whose policy could not be restored ends with this
		// goroutine rather than run others.
		if restore() {
			runtime.UnlockOSThread()
		}
	}()
	spin := spinBefore
	if ok {
		spin = fifoSpin
	}
	if wake := at.Add(-spin); time.Now().Before(wake) {
		if ok {
			ts := unix.NsecToTimespec(wake.UnixNano())
			for unix.ClockNanosleep(unix.CLOCK_REALTIME, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
			}
		} else {
			time.Sleep(time.Until(wake))
		}
	}
	for {
		now := time.Now()
		if !now.Before(at) || ctx.Err() != nil {
			return now, 0
		}
	}
}

// fifoSpin is the spin after a SCHED_FIFO thread's clock_nanosleep, which
// wakes 50-300 µs late where an idle vCPU halts (less with idle polling).
const fifoSpin = 300 * time.Microsecond

// schedFIFO raises the calling thread, which must be locked, to SCHED_FIFO
// priority 1; ok is false when it may not.
func schedFIFO() (restore func() bool, ok bool) {
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return func() bool { return true }, false
	}
	fifo := *old
	fifo.Policy, fifo.Priority, fifo.Nice = unix.SCHED_FIFO, 1, 0
	if unix.SchedSetAttr(0, &fifo, 0) != nil {
		return func() bool { return true }, false
	}
	return func() bool { return unix.SchedSetAttr(0, old, 0) == nil }, true
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
