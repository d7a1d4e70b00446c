// Package startat waits for an instant of the wall clock as precisely as
// the process may: the synchronised start of lvsperf's cluster agents.
package startat

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// spinBefore is how long before a start instant waitStart stops sleeping
// and polls the clock. Measured on a loaded 2-CPU VM (load average 6): a
// Go timer fired 200 µs late at the median and 850 µs at the 99th
// percentile, and the cluster's start-skew goal is 1 ms; a longer spin
// costs more CPU beside other agents on the same cores.
const spinBefore = time.Millisecond

// Wait returns at the instant at (at once when it is zero or past, or
// when ctx ends) and returns the time it actually released and how late
// that was: how far past at the call came, or, on a machine too loaded to
// wake it in time, how far past at it woke (under 1 ms counts as on time).
//
// Where the process may (root), the last stretch runs on a thread raised
// to SCHED_FIFO that sleeps in clock_nanosleep on the absolute instant:
// the kernel then wakes it ahead of every ordinary task, where a Go timer
// waits for the scheduler. Measured with 4 agents in namespaces of a
// loaded 2-CPU VM, the ordinary path spread the starts over 0.2-42 ms.
func Wait(ctx context.Context, at time.Time) (start time.Time, late time.Duration) {
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
			if l := now.Sub(at); l >= time.Millisecond {
				return now, l
			}
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
