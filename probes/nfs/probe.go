package nfs

import (
	"context"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// Direction says which way a probe copies.
type Direction string

// Directions.
const (
	// Read copies file.N from the server (cp /mnt/file.N /dev/null).
	Read Direction = "read"
	// Write copies file.N to the server (cp file.N /mnt/).
	Write Direction = "write"
)

// Probe is a timing.Probe that copies file.N one way per transfer.
type Probe struct {
	c     *Client
	dir   Direction
	ready map[timing.Bytes]bool
}

// NewProbe returns a probe copying in direction d over c.
func NewProbe(c *Client, d Direction) *Probe {
	return &Probe{c: c, dir: d, ready: map[timing.Bytes]bool{}}
}

// Run implements timing.Probe: len(each) whole copies of n bytes, each
// timed from open to the last reply (COMMIT for writes). Before the first
// read of a size it makes sure the server holds the file, untimed.
func (p *Probe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	name := probes.NameFor(n)
	if p.dir == Read && !p.ready[n] {
		if err := p.c.Ensure(ctx, name, n); err != nil {
			return timing.Batch{}, err
		}
		p.ready[n] = true
	}
	transfer := p.c.Write
	if p.dir == Read {
		transfer = p.c.Read
	}
	return timing.ProbeFunc(func(ctx context.Context, n timing.Bytes) (time.Duration, error) {
		return transfer(ctx, name, n)
	}).Run(ctx, n, each)
}
