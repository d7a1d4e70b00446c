package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// SockOptions are the socket options NetPIPE users expect.
type SockOptions struct {
	// Buffer sets SO_SNDBUF and SO_RCVBUF (NetPIPE's -b); 0 leaves the
	// kernel's autotuning alone.
	Buffer int
	// Delay leaves Nagle's algorithm on; by default TCP_NODELAY is set,
	// as NetPIPE always does.
	Delay bool
	// IOTimeout bounds how long one read or write may wait for the peer
	// (SO_RCVTIMEO/SO_SNDTIMEO). Default 30s.
	IOTimeout time.Duration
}

// DefaultIOTimeout is how long a read or write waits for a silent peer.
const DefaultIOTimeout = 30 * time.Second

// Conn is a TCP connection read and written with blocking system calls.
// Each call occupies its goroutine's thread until the data has moved, which
// keeps the runtime's poller off the timed path. It is used by one goroutine
// at a time; Close may be called from any goroutine and wakes a blocked call.
type Conn struct {
	tcp  *net.TCPConn
	fd   int
	stop func() bool
}

// Wrap takes over c: it applies opts, switches the socket to blocking mode
// and arranges for ctx's cancellation to shut the connection down.
func Wrap(ctx context.Context, c *net.TCPConn, opts SockOptions) (*Conn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if opts.IOTimeout == 0 {
		opts.IOTimeout = DefaultIOTimeout
	}
	var fd int
	var serr error
	err = raw.Control(func(f uintptr) {
		fd = int(f)
		serr = apply(fd, opts)
	})
	if err != nil || serr != nil {
		return nil, fmt.Errorf("socket options: %w", errors.Join(err, serr))
	}
	w := &Conn{tcp: c, fd: fd}
	w.stop = context.AfterFunc(ctx, func() { _ = unix.Shutdown(fd, unix.SHUT_RDWR) })
	return w, nil
}

func apply(fd int, o SockOptions) error {
	if o.Buffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, o.Buffer); err != nil {
			return fmt.Errorf("SO_SNDBUF %d: %w", o.Buffer, err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.Buffer); err != nil {
			return fmt.Errorf("SO_RCVBUF %d: %w", o.Buffer, err)
		}
	}
	nodelay := 1
	if o.Delay {
		nodelay = 0
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, nodelay); err != nil {
		return fmt.Errorf("TCP_NODELAY: %w", err)
	}
	tv := unix.NsecToTimeval(o.IOTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_RCVTIMEO: %w", err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_SNDTIMEO: %w", err)
	}
	return unix.SetNonblock(fd, false)
}

// ErrTimeout is returned when the peer neither sent nor accepted data within
// the I/O timeout.
var ErrTimeout = errors.New("peer silent past the I/O timeout")

// read is one read(2) that retries on EINTR and turns the I/O timeout and
// an orderly close into errors; it never returns 0 bytes without an error.
func (c *Conn) read(b []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrTimeout
		case err != nil:
			return 0, fmt.Errorf("read: %w", err)
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// ReadFull reads exactly len(b) bytes. A peer that closes first gives
// io.ErrUnexpectedEOF (io.EOF when nothing was read).
func (c *Conn) ReadFull(b []byte) error {
	for got := 0; got < len(b); {
		n, err := c.read(b[got:])
		if err == io.EOF && got > 0 {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

// WriteAll writes all of b.
func (c *Conn) WriteAll(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return ErrTimeout
		case err != nil:
			return fmt.Errorf("write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// Close shuts the connection down and releases it; it wakes a call blocked
// in another goroutine.
func (c *Conn) Close() error {
	c.stop()
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
	return c.tcp.Close()
}

// LocalAddr and RemoteAddr are the connection's ends.
func (c *Conn) LocalAddr() net.Addr  { return c.tcp.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.tcp.RemoteAddr() }

// Info reports the socket options in effect, as getsockopt sees them
// (Linux reports twice the buffer size asked for: socket(7)).
func (c *Conn) Info() map[string]string {
	info := map[string]string{}
	get := func(name string, level, opt int) {
		if v, err := unix.GetsockoptInt(c.fd, level, opt); err == nil {
			info[name] = fmt.Sprint(v)
		}
	}
	get("so_sndbuf", unix.SOL_SOCKET, unix.SO_SNDBUF)
	get("so_rcvbuf", unix.SOL_SOCKET, unix.SO_RCVBUF)
	get("tcp_nodelay", unix.IPPROTO_TCP, unix.TCP_NODELAY)
	get("tcp_maxseg", unix.IPPROTO_TCP, unix.TCP_MAXSEG)
	return info
}

// IsClosed reports whether err means the peer went away or the connection
// was shut down.
func IsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE) || errors.Is(err, os.ErrClosed) ||
		errors.Is(err, net.ErrClosed)
}
