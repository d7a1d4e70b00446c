package timing

import (
	"context"
	"time"
)

// Batch is what a probe reports for one batch of transfers.
type Batch struct {
	// Total is the time the whole batch took, counted the way the probe
	// defines one transfer (half the round trip for ping-pong, the
	// receiver's time for one-way streams, one whole copy for bulk copies).
	Total time.Duration
	// Timed is true when the probe timed each transfer on its own and
	// stored the times in the slice it was given.
	Timed bool
}

// Probe is the unit of work a probe offers the core.
//
// Run performs len(each) transfers of n bytes back to back. When it can
// time each transfer on its own it stores the times in each and reports
// Timed; otherwise it leaves each alone. A Probe is used by one goroutine.
type Probe interface {
	Run(ctx context.Context, n Bytes, each []time.Duration) (Batch, error)
}

// ProbeFunc adapts a function that performs and times one transfer into a
// Probe that times each transfer.
type ProbeFunc func(ctx context.Context, n Bytes) (time.Duration, error)

// Run implements Probe.
func (f ProbeFunc) Run(ctx context.Context, n Bytes, each []time.Duration) (Batch, error) {
	var b Batch
	for i := range each {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		d, err := f(ctx, n)
		if err != nil {
			return b, err
		}
		each[i] = d
		b.Total += d
	}
	b.Timed = true
	return b, nil
}
