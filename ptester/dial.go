package ptester

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// conn is what the hammer needs of a connection; *net.TCPConn and *os.File
// both have it.
type conn interface {
	io.ReadWriteCloser
	SetDeadline(t time.Time) error
}

// rawDialer connects to an IPv4 address with plain socket calls and hands
// the descriptor to Go's poller as an *os.File. Against a loopback server
// that closes after every GET the connect path is the client's main cost,
// and net.Dialer's (address conversions, getsockname/getpeername, keep-alive
// options, a dozen allocations) is about a third of it.
type rawDialer struct {
	dst     unix.RawSockaddrInet4 // ready for connect(2)
	src     *unix.SockaddrInet4   // nil: the kernel picks
	linger0 bool
	nodelay bool // set TCP_NODELAY (connections that carry more than one request)
	timeout time.Duration
	// selfRisk is set when the target port lies in the ephemeral range, so
	// a connect to a closed local port can meet itself (TCP simultaneous
	// open with the same port), as net.Dial also guards against.
	selfRisk bool
	port     int
}

// errSelfConnect is what a connection to itself counts as: nothing listened.
var errSelfConnect = fmt.Errorf("connected to itself (nothing listens on the port, which lies in the ephemeral range): %w", unix.ECONNREFUSED)

// selfConnected says whether fd's connection met itself.
func (d *rawDialer) selfConnected(fd int) bool {
	if !d.selfRisk {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	in, ok := sa.(*unix.SockaddrInet4)
	return ok && in.Port == d.port && in.Addr == d.dst.Addr
}

// inEphemeralRange reads the kernel's ip_local_port_range; unreadable
// counts as inside.
func inEphemeralRange(port int) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return true
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return true
	}
	return port >= lo && port <= hi
}

func newRawDialer(target string, src net.IP, linger0, nodelay bool, timeout time.Duration) (*rawDialer, bool) {
	ap, err := net.ResolveTCPAddr("tcp4", target)
	if err != nil || ap.IP.To4() == nil {
		return nil, false
	}
	d := &rawDialer{linger0: linger0, nodelay: nodelay, timeout: timeout, port: ap.Port, selfRisk: inEphemeralRange(ap.Port)}
	d.dst.Family = unix.AF_INET
	// Port is in network byte order: its bytes as stored, high first.
	p := (*[2]byte)(unsafe.Pointer(&d.dst.Port))
	p[0], p[1] = byte(ap.Port>>8), byte(ap.Port)
	copy(d.dst.Addr[:], ap.IP.To4())
	if src != nil {
		d.src = &unix.SockaddrInet4{}
		copy(d.src.Addr[:], src.To4())
	}
	return d, true
}

// dialError wraps a socket call's errno so kindOf can classify it.
func dialError(op string, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError(op, err)}
}

// open makes a non-blocking socket and starts connecting it: err is nil
// when connect(2) finished or is in progress (inProgress), and the socket is
// closed when err is not nil.
func (d *rawDialer) open() (fd int, inProgress bool, err error) {
	// socket(2) and a non-blocking connect(2) do not block: raw calls
	// skip the scheduler hand-off of a system call, which costs time on
	// every connection and keeps sysmon polling (see rawEpollWait).
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, false, dialError("socket", e)
	}
	fd = int(r)
	fail := func(op string, err error) (int, bool, error) {
		unix.Close(fd)
		return -1, false, dialError(op, err)
	}
	// A connection that carries one request never has unacknowledged data
	// when it writes, so Nagle's algorithm cannot delay it: skip the call.
	if d.nodelay {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if d.linger0 {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
			return fail("setsockopt", err)
		}
	}
	if d.src != nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return fail("setsockopt", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
		if err := unix.Bind(fd, d.src); err != nil {
			return fail("bind", err)
		}
	}
	_, _, e = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&d.dst)), unsafe.Sizeof(d.dst))
	if e != 0 && e != unix.EINPROGRESS {
		return fail("connect", e)
	}
	return fd, e != 0, nil
}

func (d *rawDialer) dial() (conn, error) {
	fd, inProgress, err := d.open()
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "tcp")
	if f == nil {
		unix.Close(fd)
		return nil, dialError("newfile", unix.EBADF)
	}
	if !inProgress {
		return d.checkSelf(f, fd)
	}
	// On loopback the handshake has usually completed inside connect(2):
	// one getpeername says so, without a poll or a deadline timer.
	if _, err := unix.Getpeername(fd); err == nil {
		return d.checkSelf(f, fd)
	}
	// In progress (or failed): wait until writable, then read the outcome.
	_ = f.SetWriteDeadline(time.Now().Add(d.timeout))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
			return true
		case v != 0:
			cerr = syscall.Errno(v)
			return true
		}
		if _, err := unix.Getpeername(int(fd)); err != nil {
			if errors.Is(err, unix.ENOTCONN) {
				return false // still connecting
			}
			cerr = err
		}
		return true
	})
	if werr != nil {
		f.Close()
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return nil, dialError("connect", fmt.Errorf("no answer within %v: %w", d.timeout, os.ErrDeadlineExceeded))
		}
		return nil, dialError("connect", werr)
	}
	if cerr != nil {
		f.Close()
		return nil, dialError("connect", cerr)
	}
	return d.checkSelf(f, fd)
}

// checkSelf closes and refuses a connection that met itself.
func (d *rawDialer) checkSelf(f *os.File, fd int) (conn, error) {
	if d.selfConnected(fd) {
		f.Close()
		return nil, dialError("connect", errSelfConnect)
	}
	return f, nil
}
