package lpd

import (
	"context"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ProbeOptions configure a Probe.
type ProbeOptions struct {
	// Queue, Host and User of each job (see Job).
	Queue, Host, User string
	// DataFirst sends the data file first.
	DataFirst bool
	Client    ClientOptions
}

// Probe prints one job of n bytes per transfer and times the whole job:
// connect, the receive-job command, both files and the server's last ack.
// Job numbers cycle 0…999 per probe, as a spooler's sequence file does.
type Probe struct {
	addr string
	opts ProbeOptions
	seq  int
}

// NewProbe returns a probe of the lpd at addr.
func NewProbe(addr string, opts ProbeOptions) *Probe { return &Probe{addr: addr, opts: opts} }

// Transfer performs and times one job of n bytes.
func (p *Probe) Transfer(ctx context.Context, n timing.Bytes) (time.Duration, error) {
	job := Job{Queue: p.opts.Queue, Host: p.opts.Host, User: p.opts.User, Number: p.seq,
		Data: probes.NewPattern(n), Size: n, DataFirst: p.opts.DataFirst}
	p.seq = (p.seq + 1) % 1000
	t0 := time.Now()
	err := Send(ctx, p.addr, job, p.opts.Client)
	return time.Since(t0), err
}

// Run implements timing.Probe.
func (p *Probe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	return timing.ProbeFunc(p.Transfer).Run(ctx, n, each)
}
