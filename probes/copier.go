package probes

import (
	"context"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// CopyFunc copies n bytes to or from the file name on a server and returns
// how long the whole copy took.
type CopyFunc func(ctx context.Context, name string, n timing.Bytes) (time.Duration, error)

// Copier is a timing.Probe that copies file.N (NameFor) one way per
// transfer, timing each whole copy.
type Copier struct {
	fetch    bool
	ensure   func(ctx context.Context, name string, n timing.Bytes) error
	transfer CopyFunc
	ready    map[timing.Bytes]bool
}

// NewCopier returns a Copier that copies with transfer. With fetch set the
// copies come from the server, and before the first copy of a size ensure
// makes sure, untimed, that the server holds the file.
func NewCopier(fetch bool, ensure func(ctx context.Context, name string, n timing.Bytes) error, transfer CopyFunc) *Copier {
	return &Copier{fetch: fetch, ensure: ensure, transfer: transfer, ready: map[timing.Bytes]bool{}}
}

// Run implements timing.Probe: len(each) whole copies of n bytes.
func (c *Copier) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	name := NameFor(n)
	if c.fetch && !c.ready[n] {
		if err := c.ensure(ctx, name, n); err != nil {
			return timing.Batch{}, err
		}
		c.ready[n] = true
	}
	return timing.ProbeFunc(func(ctx context.Context, n timing.Bytes) (time.Duration, error) {
		return c.transfer(ctx, name, n)
	}).Run(ctx, n, each)
}
