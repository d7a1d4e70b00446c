package rsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultAddr is where rshd listens: the "shell" port on loopback.
const DefaultAddr = "127.0.0.1:514"

// Server defaults.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultMaxConns         = 64
	DefaultMaxFileSize      = 4 * timing.GiB
	copyBuffer              = 128 << 10 // cat's buffer size
)

// Options configure a Server. The zero value listens on DefaultAddr, sends
// /dev/null copies through /dev/null, refuses file copies (no spool
// directory) and requires reserved source ports as BSD rshd does.
type Options struct {
	// Listen is the address to listen on (default DefaultAddr).
	Listen string
	// SpoolDir receives `cat > NAME` copies; empty refuses them.
	SpoolDir string
	// Null says what `cat > /dev/null` does (default NullDevNull).
	Null NullMode
	// Fsync syncs each spooled file before it is renamed into place.
	Fsync bool
	// AllowUnreserved accepts clients and stderr ports outside 512–1023.
	// BSD rshd refuses them; set it to test from an unprivileged client.
	AllowUnreserved bool
	// HandshakeTimeout bounds the time from accept to the status byte.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds each read of the client's data.
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections; more wait in the backlog.
	MaxConns int
	// MaxFileSize bounds one copy (default 4 GiB).
	MaxFileSize timing.Bytes
	// Logf, when set, receives one line per refused or failed connection.
	Logf func(format string, args ...any)
}

func (o Options) normalize() (Options, error) {
	if o.Listen == "" {
		o.Listen = DefaultAddr
	}
	if o.Null == "" {
		o.Null = NullDevNull
	}
	if o.Null != NullDevNull && o.Null != NullMemory {
		return o, fmt.Errorf("null mode %q: want %q or %q", o.Null, NullDevNull, NullMemory)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	return o, probes.CheckSpoolDir(o.SpoolDir)
}

// Stats counts what a server did.
type Stats struct {
	// Accepted connections, Completed copies, Refused requests (status 1)
	// and Failed copies (dropped or sink errors).
	Accepted, Completed, Refused, Failed int64
	// Bytes moved by completed copies: received into sinks, or sent by
	// rcp -f.
	Bytes timing.Bytes
}

// Server is an rshd that runs only copy sinks.
//
// rsh carries no length: the end of a copy is the client's half-close. A
// reset connection, a read timeout, or a client whose stderr channel closed
// before its data ended aborts the copy and removes its temporary file. A
// client that asked for no stderr channel ("0") and dies with a plain FIN is
// indistinguishable from a clean end, as it is for cat under BSD rshd.
type Server struct {
	opts Options
	acc  *probes.Acceptor
	// ctx is acc's: done when Close begins.
	ctx context.Context

	completed, refused, failed, bytes atomic.Int64
}

// NewServer listens on opts.Listen and serves until Close.
func NewServer(opts Options) (*Server, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("rsh server: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("rsh server: listen on %s: %w (port 514 needs root; give another address)", o.Listen, err)
	}
	acc := probes.NewAcceptor(ln, o.MaxConns)
	s := &Server{opts: o, acc: acc, ctx: acc.Context()}
	acc.Serve(func(c net.Conn) { s.handle(c.(*net.TCPConn)) }, func(err error) { s.logf("rshd: accept: %v", err) })
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.acc.Addr() }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted: s.acc.Accepted(), Completed: s.completed.Load(),
		Refused: s.refused.Load(), Failed: s.failed.Load(),
		Bytes: timing.Bytes(s.bytes.Load()),
	}
}

// Close stops accepting, drops open connections (their copies are
// aborted) and waits for every handler to return.
func (s *Server) Close() error { return s.acc.Close() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// refuse sends rshd's error byte and a message, as rshd's error() does.
func (s *Server) refuse(c net.Conn, err error) {
	s.refused.Add(1)
	s.logf("rshd: %v: refused: %v", c.RemoteAddr(), err)
	msg := err.Error()
	if len(msg) > maxMessageLen-2 {
		msg = msg[:maxMessageLen-2]
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append(append([]byte{statusError}, msg...), '\n'))
}

func (s *Server) handle(c *net.TCPConn) {
	c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	raddr := c.RemoteAddr().(*net.TCPAddr)
	if !s.opts.AllowUnreserved && !probes.IsReserved(raddr.Port) {
		s.refuse(c, fmt.Errorf("permission denied: source port %d is not reserved (512–1023); run the client as root", raddr.Port))
		return
	}
	br := bufio.NewReaderSize(c, copyBuffer)
	var errc *net.TCPConn
	defer func() {
		if errc != nil {
			errc.Close()
		}
	}()
	req, err := readRequest(br, func(port int) error {
		if port == 0 {
			return nil
		}
		if !s.opts.AllowUnreserved && !probes.IsReserved(port) {
			return fmt.Errorf("permission denied: stderr port %d is not reserved (512–1023)", port)
		}
		var err error
		errc, err = s.dialBack(raddr.IP, port, probes.IsReserved(raddr.Port))
		if err != nil {
			return fmt.Errorf("cannot connect back to stderr port %d: %w", port, err)
		}
		s.acc.Track(errc)
		return nil
	})
	if errc != nil {
		defer s.acc.Untrack(errc)
	}
	if err != nil {
		s.refuse(c, err)
		return
	}
	cmd, err := ParseCommand(req.Command)
	if err != nil {
		s.refuse(c, err)
		return
	}
	if cmd.Kind == KindRcp {
		s.handleRcp(c, br, req, cmd.Rcp)
		return
	}
	sk, err := s.open(cmd)
	if err != nil {
		s.refuse(c, err)
		return
	}
	if _, err := c.Write([]byte{statusOK}); err != nil {
		sk.Abort()
		s.failed.Add(1)
		return
	}
	c.SetDeadline(time.Time{})
	n, err := s.copy(sk, br, c)
	if err == nil && errc != nil && peerClosed(errc) {
		// rsh has no length: a killed client's FIN looks like the end of
		// its data. A live client keeps its stderr channel open until the
		// server closes it, so a closed one means the client went away.
		err = fmt.Errorf("the client closed its stderr channel before its data ended after %d bytes: it went away, so the copy may be partial", n)
	}
	if err == nil {
		err = sk.Commit()
	} else {
		sk.Abort()
	}
	if err != nil {
		s.failed.Add(1)
		s.logf("rshd: %v: %q from %s: %v", raddr, req.Command, req.RemoteUser, err)
		// cat's complaint goes to its stderr: the second channel, or the
		// main socket when the client asked for none.
		w := net.Conn(c)
		if errc != nil {
			w = errc
		}
		w.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(w, "lvsperf-rshd: %v\n", err)
		return
	}
	s.completed.Add(1)
	s.bytes.Add(n)
}

// handleRcp runs rcp's remote side. rcp speaks its errors in its own
// protocol, so after the status byte every failure goes to the client as
// rcp's \1 message (sent by serveRcp) and here only to the log.
func (s *Server) handleRcp(c *net.TCPConn, br *bufio.Reader, req Request, rc *RcpCommand) {
	if _, err := c.Write([]byte{statusOK}); err != nil {
		s.failed.Add(1)
		return
	}
	c.SetDeadline(time.Time{})
	n, err := s.serveRcp(c, br, rc)
	if err != nil {
		s.failed.Add(1)
		s.logf("rshd: %v: %q from %s: %v", c.RemoteAddr(), req.Command, req.RemoteUser, err)
		return
	}
	s.completed.Add(1)
	s.bytes.Add(n)
}

// dialBack opens the stderr channel to the client. A client on a reserved
// port is a BSD rsh, which refuses a back-connection from any other, so it
// gets one from a reserved port; a client on an unprivileged port (allowed
// by AllowUnreserved) gets one from an ephemeral port. Each back-connection
// leaves its server port in TIME_WAIT for a minute, and the reserved range
// has only 512 ports shared by the whole host.
func (s *Server) dialBack(ip net.IP, port int, reserved bool) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.HandshakeTimeout)
	defer cancel()
	addr := (&net.TCPAddr{IP: ip, Port: port}).String()
	if !reserved {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return nc.(*net.TCPConn), nil
	}
	c, err := probes.DialReserved(ctx, nil, addr, probes.RcmdLow, probes.RcmdHigh)
	if errors.Is(err, probes.ErrNotPrivileged) && s.opts.AllowUnreserved {
		var d net.Dialer
		nc, derr := d.DialContext(ctx, "tcp", addr)
		if derr != nil {
			return nil, derr
		}
		return nc.(*net.TCPConn), nil
	}
	return c, err
}

func (s *Server) open(cmd Command) (sink, error) {
	switch {
	case cmd.Kind == SinkNull && s.opts.Null == NullMemory:
		return memorySink{}, nil
	case cmd.Kind == SinkNull:
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open /dev/null: %w", err)
		}
		return devNullSink{f}, nil
	case s.opts.SpoolDir == "":
		return nil, fmt.Errorf("cat > %s refused: this server has no spool directory; start it with one or copy to /dev/null", cmd.Name)
	default:
		return newFileSink(s.opts.SpoolDir, cmd.Name, s.opts.Fsync)
	}
}

// copy moves the client's data into sk until a clean EOF (the client's
// half-close), with a deadline on each read and a bound on the total.
func (s *Server) copy(sk sink, r io.Reader, c net.Conn) (int64, error) {
	buf := make([]byte, copyBuffer)
	var n int64
	for {
		if err := s.ctx.Err(); err != nil {
			return n, fmt.Errorf("server closing after %d bytes: %w", n, err)
		}
		c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		m, err := r.Read(buf)
		if m > 0 {
			n += int64(m)
			if n > int64(s.opts.MaxFileSize) {
				return n, fmt.Errorf("copy larger than the server's limit of %v; raise MaxFileSize", s.opts.MaxFileSize)
			}
			if _, werr := sk.Write(buf[:m]); werr != nil {
				return n, fmt.Errorf("write: %w", werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("connection lost after %d bytes: %w", n, err)
		}
	}
}

// peerClosed reports, without blocking, whether the peer of c has closed its
// side. Bytes waiting on c (signal numbers a client sends on the stderr
// channel) are read and dropped: nothing runs here that could receive them.
func peerClosed(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	buf := make([]byte, 512)
	rerr := rc.Read(func(fd uintptr) bool {
		for range 128 {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil: // EAGAIN: still open; anything else: treat as closed below
				closed = err != unix.EAGAIN
				return true
			case n == 0:
				closed = true
				return true
			}
		}
		return true
	})
	return closed || rerr != nil
}
