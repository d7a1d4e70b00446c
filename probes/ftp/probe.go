package ftp

import (
	"context"
	"math/bits"
	"strconv"
	"time"

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

// NameFor returns the file a transfer of n bytes copies: file.N for n = 2^N
// (the seed's names), file.nB otherwise.
func NameFor(n timing.Bytes) string {
	if n > 0 && n&(n-1) == 0 {
		return FileName(bits.TrailingZeros64(uint64(n)))
	}
	return "file." + strconv.FormatInt(int64(n), 10) + "B"
}

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
	var b timing.Batch
	name := NameFor(n)
	if p.dir == Get && !p.ready[n] {
		if err := p.c.Ensure(ctx, name, n); err != nil {
			return b, err
		}
		p.ready[n] = true
	}
	for i := range each {
		var d time.Duration
		var err error
		if p.dir == Get {
			d, err = p.c.Get(ctx, name, n)
		} else {
			d, err = p.c.Put(ctx, name, n)
		}
		if err != nil {
			return b, err
		}
		each[i] = d
		b.Total += d
	}
	b.Timed = true
	return b, nil
}
