package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

type tcpListener struct {
	ln *net.TCPListener
}

func (l *tcpListener) close() error { return l.ln.Close() }

func (p *Proxy) listenTCP(addr netip.AddrPort) (listener, netip.AddrPort, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	bound := ln.Addr().(*net.TCPAddr).AddrPort()
	if addr.Addr().IsUnspecified() {
		// Keep the service's own (wildcard) address as the VIP.
		bound = netip.AddrPortFrom(addr.Addr(), bound.Port())
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop(ln, bound)
	}()
	return &tcpListener{ln: ln}, bound, nil
}

func (p *Proxy) acceptLoop(ln *net.TCPListener, vip netip.AddrPort) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: keep serving the connections we
				// have rather than spinning; the listener stays open.
				continue
			}
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serveTCP(c, vip)
		}()
	}
}

// serveTCP schedules, dials and relays one client connection.
func (p *Proxy) serveTCP(client *net.TCPConn, vip netip.AddrPort) {
	cid, ok := p.conns.add(client)
	if !ok {
		client.Close()
		return
	}
	defer p.conns.remove(cid)
	caddr := client.RemoteAddr().(*net.TCPAddr).AddrPort()
	flow, err := p.picker.Connect(dataplane.TCP, vip, caddr)
	if err != nil {
		// No service or no realserver: refuse with a reset, the nearest a
		// socket-terminating proxy gets to IPVS's ICMP port unreachable.
		p.stats.refused.Add(1)
		client.SetLinger(0)
		client.Close()
		return
	}
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	bc, err := d.DialContext(p.ctx, "tcp", flow.Dest().String())
	if err != nil {
		p.stats.dialFailed.Add(1)
		flow.Event(dataplane.DialFailed)
		flow.Event(dataplane.Closed)
		client.SetLinger(0)
		client.Close()
		return
	}
	backend := bc.(*net.TCPConn)
	bid, ok := p.conns.add(backend)
	if !ok {
		backend.Close()
		client.Close()
		flow.Event(dataplane.Closed)
		return
	}
	defer p.conns.remove(bid)
	p.stats.accepted.Add(1)
	p.stats.active.Add(1)
	defer p.stats.active.Add(-1)
	flow.Event(dataplane.Established)
	client.SetNoDelay(true)
	backend.SetNoDelay(true)

	done := make(chan struct{})
	go func() {
		defer close(done)
		p.direction(backend, client, flow, true)
	}()
	p.direction(client, backend, flow, false)
	<-done
	client.Close()
	backend.Close()
	flow.Event(dataplane.Closed)
}

// direction relays src to dst until src's EOF, which it passes on as a
// half-close, or an error, which aborts both legs.
func (p *Proxy) direction(dst, src *net.TCPConn, flow dataplane.Flow, inbound bool) {
	count := func(bytes, packets int64) { flow.Count(inbound, bytes, packets) }
	var err error
	if p.opts.Copy == CopyIOCopy {
		err = p.ioCopy(dst, src, count)
	} else {
		err = p.pipes.splice(dst, src, count)
	}
	if err == nil {
		if inbound {
			flow.Event(dataplane.ClientFin)
		} else {
			flow.Event(dataplane.ServerFin)
		}
		if cerr := dst.CloseWrite(); cerr == nil {
			return
		}
		// dst is gone; fall through and abort.
	} else if !errors.Is(err, net.ErrClosed) {
		flow.Event(dataplane.Reset)
	}
	// Abort: reset the other leg as LVS-NAT would forward the RST, and
	// unblock the opposite direction.
	dst.SetLinger(0)
	dst.Close()
	src.Close()
}

// ioCopy moves src to dst with io.Copy on the raw connections (splice on
// Linux) in chunks, counting one packet per chunk.
func (p *Proxy) ioCopy(dst, src *net.TCPConn, count func(bytes, packets int64)) error {
	lr := &io.LimitedReader{R: src}
	for {
		lr.N = int64(p.opts.PipeBytes)
		n, err := io.Copy(dst, lr)
		if n > 0 {
			count(n, 1)
		}
		if err != nil {
			return err
		}
		if lr.N > 0 {
			return nil // EOF before the chunk was full
		}
	}
}
