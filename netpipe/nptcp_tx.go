package netpipe

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// NPTransmitter drives an NPtcp 3.7 receiver (or `lvsperf netpipe --serve
// --peer nptcp`) through its schedule. Each point is measured by the timing
// core: Point hands it a probe whose first batch announces the repetitions,
// as NPtcp's transmitter does before its trials.
type NPTransmitter struct {
	opts   NPOptions
	conn   *npConn
	groups []NPGroup
	// Latency is the one-way time of the 100 ping-pongs of the first size.
	Latency time.Duration
	info    map[string]string
}

// DialNP connects to an NPtcp receiver at addr and runs the protocol's
// opening: Sync, 100 ping-pongs of the first size, Sync.
func DialNP(ctx context.Context, addr string, o NPOptions) (*NPTransmitter, error) {
	groups, err := o.Groups()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: o.handshake()}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to NPtcp receiver %s: %w (is `NPtcp` or `lvsperf netpipe --serve --peer nptcp` running there?)", addr, err)
	}
	tc := c.(*net.TCPConn)
	nc, err := npHandshake(ctx, tc, o, "receiver")
	if err != nil {
		tc.Close()
		return nil, err
	}
	t := &NPTransmitter{opts: o, conn: nc, groups: groups, info: nc.c.Info()}
	t.info["peer_protocol"] = "nptcp-3.7"
	b := nc.buffer(o.Start)
	t0 := time.Now()
	for range npLatencyReps {
		if err := nc.exchange(b, true); err != nil {
			t.conn.c.Close()
			return nil, nc.ioError(ctx, "the latency estimate", err)
		}
	}
	t.Latency = time.Since(t0) / (2 * npLatencyReps)
	if err := nc.sync(); err != nil {
		t.conn.c.Close()
		return nil, nc.ioError(ctx, "the sync after the latency estimate", err)
	}
	return t, nil
}

// Groups is the schedule the transmitter follows.
func (t *NPTransmitter) Groups() []NPGroup { return t.groups }

// Info reports the socket options in effect.
func (t *NPTransmitter) Info() map[string]string { return t.info }

// Close ends the run as NPtcp does (QUIT both ways) and closes the connection.
func (t *NPTransmitter) Close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.quit(true, 5*time.Second)
	t.conn.c.Close()
	t.conn = nil
	return err
}

// Abort closes the connection without the QUIT exchange.
func (t *NPTransmitter) Abort() {
	if t.conn != nil {
		t.conn.c.Close()
		t.conn = nil
	}
}

// Point measures message size n (one size of the schedule, in order) with
// reps repetitions in each of NPtcp's 3 trials, through the timing core.
// With -2 the point's bytes are 2n, both directions, and its times are
// whole exchanges, as NPtcp's np.out reports them.
func (t *NPTransmitter) Point(ctx context.Context, n timing.Bytes, reps int) (timing.Point, error) {
	return t.point(ctx, n, reps, nil)
}

func (t *NPTransmitter) point(ctx context.Context, n timing.Bytes, reps int, g *npTrialGroup) (timing.Point, error) {
	if t.conn == nil {
		return timing.Point{}, fmt.Errorf("NPtcp transmitter is closed")
	}
	p := &npPointProbe{conn: t.conn, bidir: t.opts.Bidir, transmitter: true, announce: true, group: g}
	size := n
	if t.opts.Bidir {
		size = 2 * n
	}
	s, err := timing.Sweep(ctx, p, timing.Options{Sizes: []timing.Bytes{size}, Reps: reps, Trials: npTrials, Warmup: -1, StopTime: -1}, nil)
	if err != nil {
		return timing.Point{}, err
	}
	if len(s.Points) != 1 {
		return timing.Point{}, fmt.Errorf("NPtcp point at %d bytes: no measurement", n)
	}
	return s.Points[0], nil
}

// npPointProbe runs the trials of one NPtcp point: each batch is one trial
// (Sync, then the repetitions), and the first batch of a transmitter's
// point announces the repetition count before it.
type npPointProbe struct {
	conn               *npConn
	bidir, transmitter bool
	announce           bool
	// group, when set, starts each trial together with the other pairs'
	// and records its span; trial counts the trials run.
	group *npTrialGroup
	trial int
}

// npTrialGroup lines up the trials of pairs measuring one size at once: a
// barrier before each trial, and each trial's span from the first pair's
// start to the last pair's end.
type npTrialGroup struct {
	ctx   context.Context
	pairs int
	mu    sync.Mutex
	count []int
	open  []chan struct{}
	first []time.Time
	last  []time.Time
}

func newNPTrialGroup(ctx context.Context, pairs, trials int) *npTrialGroup {
	g := &npTrialGroup{ctx: ctx, pairs: pairs, count: make([]int, trials), first: make([]time.Time, trials), last: make([]time.Time, trials)}
	for range trials {
		g.open = append(g.open, make(chan struct{}))
	}
	return g
}

// arrive waits until every pair reached trial k, or the group's ctx ends
// (another pair failed).
func (g *npTrialGroup) arrive(k int) error {
	if k >= len(g.open) {
		return fmt.Errorf("trial %d of %d", k+1, len(g.open))
	}
	g.mu.Lock()
	g.count[k]++
	if g.count[k] == g.pairs {
		close(g.open[k])
	}
	g.mu.Unlock()
	select {
	case <-g.open[k]:
		return nil
	case <-g.ctx.Done():
		return fmt.Errorf("another pair failed: %w", context.Cause(g.ctx))
	}
}

func (g *npTrialGroup) record(k int, start, end time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.first[k].IsZero() || start.Before(g.first[k]) {
		g.first[k] = start
	}
	if end.After(g.last[k]) {
		g.last[k] = end
	}
}

// spans is each trial's wall time across the pairs.
func (g *npTrialGroup) spans() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]time.Duration, len(g.first))
	for k := range out {
		out[k] = g.last[k].Sub(g.first[k])
	}
	return out
}

// Run implements timing.Probe.
func (p *npPointProbe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	if err := ctx.Err(); err != nil {
		return timing.Batch{}, err
	}
	c := p.conn
	if p.announce {
		p.announce = false
		if err := c.sync(); err != nil {
			return timing.Batch{}, c.ioError(ctx, "the sync before a point", err)
		}
		if err := c.sendUint32(uint32(len(each))); err != nil {
			return timing.Batch{}, c.ioError(ctx, "sending the repeat count", err)
		}
	}
	msg := n
	if p.bidir {
		msg = n / 2
	}
	b := c.buffer(msg)
	k := p.trial
	p.trial++
	if p.group != nil {
		if err := p.group.arrive(k); err != nil {
			return timing.Batch{}, err
		}
	}
	if err := c.sync(); err != nil {
		return timing.Batch{}, c.ioError(ctx, "the sync before a trial", err)
	}
	start := time.Now()
	var total time.Duration
	sendFirst := p.transmitter || p.bidir
	for i := range each {
		t0 := time.Now()
		if err := c.exchange(b, sendFirst); err != nil {
			return timing.Batch{}, c.ioError(ctx, fmt.Sprintf("repetition %d of %d bytes", i, msg), err)
		}
		d := time.Since(t0)
		if !p.bidir {
			d /= 2 // half the round trip, as NetPIPE reports
		}
		each[i] = d
		total += d
	}
	if p.group != nil {
		p.group.record(k, start, time.Now())
	}
	return timing.Batch{Total: total, Timed: true}, nil
}
