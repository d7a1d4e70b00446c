//go:build !linux

package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// dialRaw is Linux only; elsewhere the proxy uses the standard library.
func (p *Proxy) dialRaw(context.Context, netip.AddrPort, time.Duration) (*leg, uint64, error) {
	return nil, 0, errors.New("raw dial is Linux only")
}

// acceptRaw is Linux only.
func acceptRaw(*net.TCPListener) (func() (*leg, netip.AddrPort, error), io.Closer, error) {
	return nil, nil, errors.New("raw accept is Linux only")
}

const hasRawSockets = false

// Legs are *net.TCPConn off Linux, so these are never reached.
func sysShutdown(syscall.RawConn, int) error { return errors.ErrUnsupported }
func sysLinger0(syscall.RawConn)             {}
