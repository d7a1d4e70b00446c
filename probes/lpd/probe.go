package lpd

import (
	"context"
	"errors"
	"math/rand/v2"
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
	// renumbered counts retries with a new job number.
	renumbered int
}

// NewProbe returns a probe of the lpd at addr.
// The sequence starts at random, as rlpr's pid-based numbers do, so that
// two runs against one spooler do not reuse the numbers of queued jobs.
func NewProbe(addr string, opts ProbeOptions) *Probe {
	return &Probe{addr: addr, opts: opts, seq: rand.IntN(1000)}
}

// maxRenumber bounds how often one transfer retries with a new job number.
const maxRenumber = 3

// Transfer performs and times one job of n bytes.
//
// A spooler refuses a file whose job number is still queued, and 3-digit
// numbers wrap after 1000 jobs while a slow printer may still hold old ones.
// So a refusal after the queue accepted the job is retried with the next
// number, at most maxRenumber times; only the job that went through is
// timed, and Renumbered counts the retries.
func (p *Probe) Transfer(ctx context.Context, n timing.Bytes) (time.Duration, error) {
	for try := 0; ; try++ {
		job := Job{Queue: p.opts.Queue, Host: p.opts.Host, User: p.opts.User, Number: p.seq,
			Data: probes.NewPattern(n), Size: n, DataFirst: p.opts.DataFirst}
		p.seq = (p.seq + 1) % 1000
		t0 := time.Now()
		err := Send(ctx, p.addr, job, p.opts.Client)
		d := time.Since(t0)
		var r *refusal
		if err == nil || try+1 >= maxRenumber || !errors.As(err, &r) || r.step == stepQueue {
			return d, err
		}
		p.renumbered++
	}
}

// Renumbered is how many jobs were retried with a new number.
func (p *Probe) Renumbered() int { return p.renumbered }

// Run implements timing.Probe.
func (p *Probe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	return timing.ProbeFunc(p.Transfer).Run(ctx, n, each)
}
