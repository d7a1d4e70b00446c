package netpipe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// NPServer answers NPtcp 3.7 transmitters (`NPtcp -h host`, or lvsperf
// netpipe --peer nptcp) on one port, any number of connections at once,
// each with the schedule of its options. It obeys the repetitions the
// transmitter sends; its own times go through the timing core and are
// kept per connection in Last.
type NPServer struct {
	ln     net.Listener
	opts   NPOptions
	groups []NPGroup
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*npConn]struct{}
	last   []timing.Point
	errs   atomic.Int64
	done   atomic.Int64
	errMu  sync.Mutex
	err    error
}

// NewNPServer listens on addr (default 127.0.0.1:5002, NPtcp's port).
func NewNPServer(ctx context.Context, addr string, o NPOptions) (*NPServer, error) {
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", DefaultPort)
	}
	groups, err := o.Groups()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("NPtcp receiver: listen on %s: %w (is another receiver running? pick another port)", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &NPServer{ln: ln, opts: o, groups: groups, cancel: cancel, conns: map[*npConn]struct{}{}}
	context.AfterFunc(ctx, func() { ln.Close() })
	s.wg.Add(1)
	go s.accept(ctx)
	return s, nil
}

// Addr is the address the receiver listens on.
func (s *NPServer) Addr() string { return s.ln.Addr().String() }

// Errors counts connections that ended with an error; Err is the last one.
func (s *NPServer) Errors() int64 { return s.errs.Load() }

// Err is the last connection's error, nil when none failed.
func (s *NPServer) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Done counts runs that finished with NPtcp's QUIT exchange.
func (s *NPServer) Done() int64 { return s.done.Load() }

// Last is the receiver's own view of the last finished run, one point per size.
func (s *NPServer) Last() []timing.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Close stops accepting, closes every connection and waits for them.
func (s *NPServer) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *NPServer) accept(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			pts, err := s.serve(ctx, c.(*net.TCPConn))
			if err != nil {
				s.errs.Add(1)
				s.errMu.Lock()
				s.err = err
				s.errMu.Unlock()
				return
			}
			s.done.Add(1)
			s.mu.Lock()
			s.last = pts
			s.mu.Unlock()
		}()
	}
}

func (s *NPServer) serve(ctx context.Context, tc *net.TCPConn) ([]timing.Point, error) {
	c, err := npHandshake(ctx, tc, s.opts, "transmitter")
	if err != nil {
		tc.Close()
		return nil, err
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.c.Close()
	}()
	return answerNP(ctx, c, s.groups, s.opts.Bidir)
}

// answerNP is NPtcp's receiver after the first Sync.
func answerNP(ctx context.Context, c *npConn, groups []NPGroup, bidir bool) ([]timing.Point, error) {
	b := c.buffer(groups[0][0])
	t0 := time.Now()
	for range npLatencyReps {
		if err := c.exchange(b, false); err != nil {
			return nil, c.ioError(ctx, "the latency estimate", err)
		}
	}
	tlast := time.Since(t0) / (2 * npLatencyReps)
	if err := c.sync(); err != nil {
		return nil, c.ioError(ctx, "the sync after the latency estimate", err)
	}
	var pts []timing.Point
	for _, g := range groups {
		if tlast >= npStopTime {
			break
		}
		for _, n := range g {
			if err := c.sync(); err != nil {
				return pts, c.ioError(ctx, "the sync before a point", err)
			}
			reps, err := c.recvUint32()
			if err != nil {
				return pts, c.ioError(ctx, "reading the repeat count", err)
			}
			if reps < 1 || reps > 1<<26 {
				return pts, fmt.Errorf("NPtcp transmitter %s sent a repeat count of %d at %d bytes: not NPtcp's protocol", c.peer, reps, n)
			}
			size := n
			if bidir {
				size = 2 * n
			}
			p := &npPointProbe{conn: c, bidir: bidir}
			sr, err := timing.Sweep(ctx, p, timing.Options{Sizes: []timing.Bytes{size}, Reps: int(reps), Trials: npTrials, Warmup: -1, StopTime: -1}, nil)
			if err != nil {
				return pts, err
			}
			pts = append(pts, sr.Points...)
			tlast = sr.Points[0].Min
		}
	}
	if err := c.quit(false, 5*time.Second); err != nil {
		return pts, c.ioError(ctx, "the closing QUIT", err)
	}
	return pts, nil
}
