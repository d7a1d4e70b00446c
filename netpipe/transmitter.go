package netpipe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/timing"
)

// Options configure a transmitter.
type Options struct {
	// Addr is the receiver's host:port.
	Addr string
	// Sock are the socket options (buffer size, TCP_NODELAY, I/O timeout).
	Sock wire.SockOptions
	// Reconnect opens a new connection for every size (NetPIPE's -r
	// resets per trial; per size keeps calibration on one connection).
	Reconnect bool
	// Verify fills every message with a pattern that both ends check.
	Verify bool
	// DialTimeout bounds connecting to the receiver. Default 5s.
	DialTimeout time.Duration
}

// Transmitter sends messages to a receiver and times them. It implements
// timing.Probe; use it from one goroutine.
type Transmitter struct {
	opts Options
	conn *wire.Conn
	ctx  context.Context
	buf  []byte
	last timing.Bytes
	info map[string]string
}

// Dial connects to the receiver at opts.Addr. ctx bounds the whole life of
// the transmitter: cancelling it shuts the connection down.
func Dial(ctx context.Context, opts Options) (*Transmitter, error) {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	t := &Transmitter{opts: opts, ctx: ctx, last: -1}
	if err := t.connect(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Transmitter) connect(ctx context.Context) error {
	d := net.Dialer{Timeout: t.opts.DialTimeout}
	c, err := d.DialContext(ctx, "tcp", t.opts.Addr)
	if err != nil {
		return fmt.Errorf("connect to receiver %s: %w", t.opts.Addr, err)
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetDeadline(time.Now().Add(t.opts.DialTimeout))
	if _, err := tc.Write([]byte(wire.Magic)); err != nil {
		tc.Close()
		return fmt.Errorf("greet receiver %s: %w", t.opts.Addr, err)
	}
	greet := make([]byte, len(wire.Magic))
	if _, err := readFullConn(tc, greet); err != nil || string(greet) != wire.Magic {
		tc.Close()
		return fmt.Errorf("receiver %s did not answer as an lvsperf netpipe receiver (wrong port or program?)", t.opts.Addr)
	}
	_ = tc.SetDeadline(time.Time{})
	w, err := wire.Wrap(t.ctx, tc, t.opts.Sock)
	if err != nil {
		tc.Close()
		return err
	}
	t.conn = w
	t.info = w.Info()
	return nil
}

// Info reports the socket options in effect on the transmitter's side.
func (t *Transmitter) Info() map[string]string { return t.info }

// Close tells the receiver the run is over and closes the connection.
func (t *Transmitter) Close() error {
	if t.conn == nil {
		return nil
	}
	var hb [wire.HeaderLen]byte
	wire.Header{Op: wire.OpQuit}.Encode(hb[:])
	_ = t.conn.WriteAll(hb[:])
	err := t.conn.Close()
	t.conn = nil
	return err
}

// Run bounces len(each) messages of n bytes and stores half of each round
// trip in each, as NetPIPE reports.
func (t *Transmitter) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	if err := t.begin(ctx, wire.OpPingPong, n, len(each)); err != nil {
		return timing.Batch{}, err
	}
	b := t.buf[:n]
	var total time.Duration
	for i := range each {
		if t.opts.Verify {
			wire.Fill(b, uint32(i))
		}
		t0 := time.Now()
		if err := t.conn.WriteAll(b); err != nil {
			return timing.Batch{}, t.ioError(ctx, err)
		}
		if err := t.conn.ReadFull(b); err != nil {
			return timing.Batch{}, t.ioError(ctx, err)
		}
		d := time.Since(t0) / 2
		each[i] = d
		total += d
		if t.opts.Verify {
			if off := wire.Check(b, uint32(i)); off >= 0 {
				return timing.Batch{}, fmt.Errorf("integrity: echo %d of %d bytes differs at offset %d", i, n, off)
			}
		}
	}
	return timing.Batch{Total: total, Timed: true}, nil
}

// Stream sends reps messages of n bytes one way and returns the receiver's
// time from the first byte to the last (NetPIPE's stream mode).
func (t *Transmitter) Stream(ctx context.Context, n timing.Bytes, reps int) (time.Duration, error) {
	if err := t.begin(ctx, wire.OpStream, n, reps); err != nil {
		return 0, err
	}
	b := t.buf[:n]
	for i := range reps {
		if t.opts.Verify {
			wire.Fill(b, uint32(i))
		}
		if err := t.conn.WriteAll(b); err != nil {
			return 0, t.ioError(ctx, err)
		}
	}
	var ack [8]byte
	if err := t.conn.ReadFull(ack[:]); err != nil {
		return 0, t.ioError(ctx, err)
	}
	return time.Duration(beUint64(ack[:])), nil
}

// begin validates a batch, reconnects if asked, and sends its header.
func (t *Transmitter) begin(ctx context.Context, op wire.Op, n timing.Bytes, reps int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.conn == nil {
		return errors.New("transmitter is closed")
	}
	if n < 1 || n > wire.MaxSize {
		return fmt.Errorf("message size %d: want 1 to %d bytes", n, wire.MaxSize)
	}
	if reps < 1 || reps > wire.MaxReps {
		return fmt.Errorf("%d repetitions: want 1 to %d", reps, wire.MaxReps)
	}
	if t.opts.Reconnect && n != t.last && t.last >= 0 {
		if err := t.Close(); err != nil && !wire.IsClosed(err) {
			return fmt.Errorf("reconnect: %w", err)
		}
		if err := t.connect(ctx); err != nil {
			return err
		}
	}
	t.last = n
	if timing.Bytes(cap(t.buf)) < n {
		t.buf = make([]byte, n)
		for i := range t.buf {
			t.buf[i] = 'a' // NetPIPE's fill
		}
	}
	var hb [wire.HeaderLen]byte
	var flags byte
	if t.opts.Verify {
		flags = wire.FlagVerify
	}
	wire.Header{Op: op, Flags: flags, Reps: uint32(reps), Size: uint64(n)}.Encode(hb[:])
	if err := t.conn.WriteAll(hb[:]); err != nil {
		return t.ioError(ctx, err)
	}
	return nil
}

func (t *Transmitter) ioError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if wire.IsClosed(err) {
		return fmt.Errorf("receiver %s closed the connection mid-run (did it die or refuse the batch?): %w", t.opts.Addr, err)
	}
	if errors.Is(err, wire.ErrTimeout) {
		return fmt.Errorf("receiver %s: %w (%v); is it alive?", t.opts.Addr, err, t.opts.Sock.IOTimeout)
	}
	return err
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
