package probes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reserved port ranges.
const (
	// RcmdLow and RcmdHigh bound the ports rcmd(3) and rshd use (rresvport).
	RcmdLow, RcmdHigh = 512, 1023
	// LPDLow and LPDHigh bound the source ports RFC 1179 asks LPD clients to use.
	LPDLow, LPDHigh = 721, 731
)

// ErrNotPrivileged is returned when binding a reserved port is refused: the
// process needs root or CAP_NET_BIND_SERVICE.
var ErrNotPrivileged = errors.New("binding a reserved port needs root or CAP_NET_BIND_SERVICE")

// ErrNoReservedPort is returned when every port of the range is taken.
var ErrNoReservedPort = errors.New("every port of the reserved range is in use")

// IsReserved reports whether port lies in [RcmdLow, RcmdHigh].
func IsReserved(port int) bool { return port >= RcmdLow && port <= RcmdHigh }

// reuseAddr sets SO_REUSEADDR so a reserved port whose last connection is in
// TIME_WAIT can be bound again; without it a benchmark runs out of the 512
// reserved ports within a minute.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}

// retryable reports whether another port of the range may succeed.
func retryable(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

// DialReserved connects to addr over TCP from a local port in [lo, hi] bound
// on localIP (nil means any), trying each port of the range at most once from
// a random start.
func DialReserved(ctx context.Context, localIP net.IP, addr string, lo, hi int) (*net.TCPConn, error) {
	if lo < 1 || hi < lo || hi > 65535 {
		return nil, fmt.Errorf("reserved range %d–%d: want 1 <= lo <= hi <= 65535", lo, hi)
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := lo + (start+i)%n
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: localIP, Port: port}, Control: reuseAddr}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.(*net.TCPConn), nil
		}
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("dial %s from port %d: %w", addr, port, ErrNotPrivileged)
		}
		if !retryable(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("dial %s: %w (%d–%d); wait for TIME_WAIT to pass or use an unprivileged port", addr, ErrNoReservedPort, lo, hi)
}

// ListenReserved listens on a TCP port in [lo, hi] of ip, trying each port of
// the range at most once from a random start.
func ListenReserved(ctx context.Context, ip net.IP, lo, hi int) (*net.TCPListener, error) {
	if lo < 1 || hi < lo || hi > 65535 {
		return nil, fmt.Errorf("reserved range %d–%d: want 1 <= lo <= hi <= 65535", lo, hi)
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	lc := net.ListenConfig{Control: reuseAddr}
	for i := range n {
		port := lo + (start+i)%n
		ln, err := lc.Listen(ctx, "tcp", (&net.TCPAddr{IP: ip, Port: port}).String())
		if err == nil {
			return ln.(*net.TCPListener), nil
		}
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("listen on port %d: %w", port, ErrNotPrivileged)
		}
		if !retryable(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("listen on %v: %w (%d–%d)", ip, ErrNoReservedPort, lo, hi)
}
