package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hasRawSockets: clients are accepted with acceptRaw and realservers
// dialled with dialRaw (except with CopyIOCopy, which uses the standard
// library throughout).
const hasRawSockets = true

// acceptRaw takes over ln: it returns an accept function that calls
// accept4 itself and hands each socket to the runtime poller through
// os.NewFile, and the closer that stops it. Compared with AcceptTCP it
// spares a getsockname and a TCP_NODELAY setsockopt per connection
// (accepted sockets inherit TCP_NODELAY from the listener, set here once)
// and the net package's address allocations. A net.Listener's RawConn
// cannot wait for reads, so the listening socket is kept as an *os.File
// (a duplicate descriptor; ln itself is closed).
func acceptRaw(ln *net.TCPListener) (func() (*leg, netip.AddrPort, error), io.Closer, error) {
	defer ln.Close()
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}); err != nil {
		return nil, nil, err
	}
	if serr != nil {
		return nil, nil, fmt.Errorf("set TCP_NODELAY on the listener: %w", serr)
	}
	lf, err := ln.File()
	if err != nil {
		return nil, nil, err
	}
	if rc, err = lf.SyscallConn(); err != nil {
		lf.Close()
		return nil, nil, err
	}
	var (
		nfd  int
		sa   syscall.Sockaddr
		aerr error
	)
	// syscall.Accept4, not unix.Accept4: the latter asks each new socket
	// its protocol with one more getsockopt to decode the address.
	accept := func(fd uintptr) bool {
		nfd, sa, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		return aerr != syscall.EAGAIN && aerr != syscall.EINTR
	}
	return func() (*leg, netip.AddrPort, error) {
		if err := rc.Read(accept); err != nil {
			return nil, netip.AddrPort{}, err
		}
		if aerr != nil {
			return nil, netip.AddrPort{}, fmt.Errorf("accept: %w", aerr)
		}
		var caddr netip.AddrPort
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			caddr = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		case *syscall.SockaddrInet6:
			caddr = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
		}
		f := os.NewFile(uintptr(nfd), "client")
		frc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return nil, netip.AddrPort{}, err
		}
		return &leg{rc: frc, c: f}, caddr, nil
	}, lf, nil
}

// dialRaw connects to dest with plain system calls and hands the socket to
// the runtime poller through os.NewFile. net.Dialer spends, per connection,
// a context and timer, an address parse, and getsockname, getpeername and
// getsockopt calls the relay has no use for. On loopback the handshake has
// normally completed by the time connect returns EINPROGRESS, so one
// getpeername confirms it without parking the goroutine for the poller.
// The leg is registered with the proxy's connection set (id) before any
// wait, so Close can abort a pending connect.
func (p *Proxy) dialRaw(ctx context.Context, dest netip.AddrPort, timeout time.Duration) (*leg, uint64, error) {
	var (
		sa     unix.Sockaddr
		family = unix.AF_INET
	)
	if a := dest.Addr(); a.Is4() || a.Is4In6() {
		sa = &unix.SockaddrInet4{Port: int(dest.Port()), Addr: a.Unmap().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(dest.Port()), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("socket: %w", err)
	}
	// TCP_NODELAY as on Go's own sockets: the relay forwards every read at
	// once, and Nagle would hold a small tail until the previous segment
	// is acknowledged.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("set TCP_NODELAY: %w", err)
	}
	cerr := unix.Connect(fd, sa)
	if cerr != nil && cerr != unix.EINPROGRESS && cerr != unix.EINTR {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("connect %s: %w", dest, cerr)
	}
	f := os.NewFile(uintptr(fd), "realserver")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	l := &leg{rc: rc, c: f}
	id, ok := p.conns.add(l)
	if !ok {
		f.Close()
		return nil, 0, ErrClosed
	}
	if cerr == nil {
		return l, id, nil
	}
	var (
		done bool
		derr error // the connect's outcome, once done
	)
	check := func(fd uintptr) bool {
		done, derr = connected(int(fd))
		return done
	}
	if err := rc.Control(func(fd uintptr) { check(fd) }); err != nil {
		return p.dialFailed(l, id, dest, err)
	}
	if done {
		if derr != nil {
			return p.dialFailed(l, id, dest, derr)
		}
		return l, id, nil
	}
	// Still connecting (a remote realserver): wait for writability.
	if ctx.Err() != nil {
		return p.dialFailed(l, id, dest, ctx.Err())
	}
	f.SetWriteDeadline(time.Now().Add(timeout))
	werr := rc.Write(check)
	switch {
	case werr == nil && derr == nil:
		f.SetWriteDeadline(time.Time{})
		return l, id, nil
	case os.IsTimeout(werr):
		derr = fmt.Errorf("no answer within %v: %w", timeout, werr)
	case werr != nil:
		derr = werr
	}
	return p.dialFailed(l, id, dest, derr)
}

func (p *Proxy) dialFailed(l *leg, id uint64, dest netip.AddrPort, err error) (*leg, uint64, error) {
	p.conns.remove(id)
	l.close()
	return nil, 0, fmt.Errorf("connect %s: %w", dest, err)
}

// connected reports whether a non-blocking connect on fd has finished, and
// its error if it failed.
func connected(fd int) (bool, error) {
	// syscall.Getpeername, not unix.Getpeername: the latter asks the socket
	// its protocol with one more getsockopt to decode the address.
	if _, err := syscall.Getpeername(fd); err == nil {
		return true, nil
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return true, err
	}
	switch e := syscall.Errno(soerr); e {
	case 0, unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return false, nil
	default:
		return true, e
	}
}

func sysShutdown(rc syscall.RawConn, how int) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), how) }); err != nil {
		return err
	}
	return serr
}

func sysLinger0(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) {
		unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	})
}
