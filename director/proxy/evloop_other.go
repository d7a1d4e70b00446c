//go:build !linux

package proxy

import (
	"errors"
	"net/netip"
)

// hasEventLoop: CopyEventLoop is Linux only.
const hasEventLoop = false

// evLoop is CopyEventLoop's event loop, which exists on Linux only.
type evLoop struct{}

func (p *Proxy) startLoops() error { return errors.New("event loops are Linux only") }

func (p *Proxy) stopLoops() {}

func (p *Proxy) listenEv(netip.AddrPort) (listener, netip.AddrPort, error) {
	return nil, netip.AddrPort{}, errors.New("event loops are Linux only")
}
