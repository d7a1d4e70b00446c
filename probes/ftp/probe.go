package ftp

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
	// Get copies file.N from the server (RETR).
	Get Direction = "get"
	// Put copies file.N to the server (STOR).
	Put Direction = "put"
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

// Run implements timing.Probe: len(each) whole transfers of n bytes, each
// timed from the command (or the login, with LoginPerTransfer) to the final
// reply. Before the first get of a size it makes sure the server holds the
// file, untimed.
func (p *Probe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	name := probes.NameFor(n)
	if p.dir == Get && !p.ready[n] {
		if err := p.c.Ensure(ctx, name, n); err != nil {
			return timing.Batch{}, err
		}
		p.ready[n] = true
	}
	transfer := p.c.Put
	if p.dir == Get {
		transfer = p.c.Get
	}
	return timing.ProbeFunc(func(ctx context.Context, n timing.Bytes) (time.Duration, error) {
		return transfer(ctx, name, n)
	}).Run(ctx, n, each)
}
