package rsh

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ProbeOptions configure a Probe.
type ProbeOptions struct {
	// Command is the remote command; default "cat > /dev/null". The
	// seed's disk copy is "(cd /usr; cat > file.N)".
	Command string
	Client  ClientOptions
}

// Probe copies n bytes with one rsh command per transfer and times the
// whole copy: connect, handshake, data, and the server closing both streams.
type Probe struct {
	addr string
	opts ProbeOptions
}

// NewProbe returns a probe of the rshd at addr.
func NewProbe(addr string, opts ProbeOptions) *Probe {
	if opts.Command == "" {
		opts.Command = "cat > /dev/null"
	}
	return &Probe{addr: addr, opts: opts}
}

// Transfer performs and times one copy of n bytes.
func (p *Probe) Transfer(ctx context.Context, n timing.Bytes) (time.Duration, error) {
	t0 := time.Now()
	res, err := Exec(ctx, p.addr, p.opts.Command, probes.NewPattern(n), p.opts.Client)
	d := time.Since(t0)
	if err != nil {
		return d, err
	}
	if res.Sent != n {
		return d, fmt.Errorf("rsh copy sent %d of %d bytes", res.Sent, n)
	}
	if len(res.Stderr) > 0 {
		return d, fmt.Errorf("rsh copy of %d bytes: the remote command complained: %q", n, res.Stderr)
	}
	return d, nil
}

// Run implements timing.Probe.
func (p *Probe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	return timing.ProbeFunc(p.Transfer).Run(ctx, n, each)
}
