package netpipe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/internal/wire"
)

// DefaultPort is NetPIPE's port.
const DefaultPort = 5002

// ServerOptions configure a receiver.
type ServerOptions struct {
	// Listen is the address to listen on; default 127.0.0.1:5002. Use
	// port 0 for any free port.
	Listen string
	// Sock are the socket options of accepted connections.
	Sock wire.SockOptions
	// HandshakeTimeout bounds how long a new connection may take to send
	// its greeting. Default 10s.
	HandshakeTimeout time.Duration
}

// Server is a NetPIPE receiver: it answers ping-pong batches and sinks
// streams, one goroutine per connection.
type Server struct {
	ln     net.Listener
	opts   ServerOptions
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[*wire.Conn]struct{}
	errs   atomic.Int64
	served atomic.Int64
}

// NewServer listens and starts serving until ctx ends or Close is called.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = fmt.Sprintf("127.0.0.1:%d", DefaultPort)
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("netpipe receiver: listen on %s: %w (is another receiver running? pick another port)", opts.Listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{ln: ln, opts: opts, cancel: cancel, conns: map[*wire.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept(ctx)
	context.AfterFunc(ctx, func() { ln.Close() })
	return s, nil
}

// Addr is the address the receiver listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Errors counts connections that ended with a protocol or I/O error.
func (s *Server) Errors() int64 { return s.errs.Load() }

// Served counts connections that were accepted.
func (s *Server) Served() int64 { return s.served.Load() }

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) accept(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: back off, keep serving
			continue
		}
		s.served.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.serve(ctx, c.(*net.TCPConn)); err != nil {
				s.errs.Add(1)
			}
		}()
	}
}

func (s *Server) serve(ctx context.Context, tc *net.TCPConn) error {
	// The greeting is read through the poller with a deadline, so a silent
	// client cannot hold the goroutine; after it the connection turns blocking.
	_ = tc.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	greet := make([]byte, len(wire.Magic))
	if _, err := readFullConn(tc, greet); err != nil || string(greet) != wire.Magic {
		tc.Close()
		return fmt.Errorf("greeting: not an lvsperf netpipe transmitter")
	}
	_ = tc.SetDeadline(time.Time{})
	c, err := wire.Wrap(ctx, tc, s.opts.Sock)
	if err != nil {
		tc.Close()
		return err
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if err := c.WriteAll([]byte(wire.Magic)); err != nil {
		return err
	}
	var hb [wire.HeaderLen]byte
	var buf []byte
	for {
		if err := c.ReadFull(hb[:]); err != nil {
			if wire.IsClosed(err) {
				return nil
			}
			return err
		}
		h, err := wire.DecodeHeader(hb[:])
		if err != nil {
			return err
		}
		if h.Op == wire.OpQuit {
			return nil
		}
		if uint64(cap(buf)) < h.Size {
			buf = make([]byte, h.Size)
		}
		b := buf[:h.Size]
		switch h.Op {
		case wire.OpPingPong:
			err = pong(c, h, b)
		case wire.OpStream:
			err = sink(c, h, b)
		}
		if err != nil {
			return err
		}
	}
}

// pong answers one ping-pong batch.
func pong(c *wire.Conn, h wire.Header, b []byte) error {
	verify := h.Flags&wire.FlagVerify != 0
	for rep := range h.Reps {
		if err := c.ReadFull(b); err != nil {
			return err
		}
		if verify {
			if off := wire.Check(b, rep); off >= 0 {
				return fmt.Errorf("integrity: repetition %d of %d bytes differs at offset %d", rep, len(b), off)
			}
		}
		if err := c.WriteAll(b); err != nil {
			return err
		}
	}
	return nil
}

// sink reads one stream batch and acknowledges it with the time it took,
// from the first byte to the last, in nanoseconds.
func sink(c *wire.Conn, h wire.Header, b []byte) error {
	verify := h.Flags&wire.FlagVerify != 0
	start := time.Now()
	for rep := range h.Reps {
		rest := b
		if rep == 0 && len(b) > 0 {
			// The clock starts when the first byte arrives.
			if err := c.ReadFull(b[:1]); err != nil {
				return err
			}
			start, rest = time.Now(), b[1:]
		}
		if err := c.ReadFull(rest); err != nil {
			return err
		}
		if verify {
			if off := wire.Check(b, rep); off >= 0 {
				return fmt.Errorf("integrity: message %d of %d bytes differs at offset %d", rep, len(b), off)
			}
		}
	}
	var ack [8]byte
	binary.BigEndian.PutUint64(ack[:], uint64(time.Since(start)))
	return c.WriteAll(ack[:])
}

func readFullConn(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
