package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

type tcpListener struct {
	ln *net.TCPListener
}

func (l *tcpListener) close() error { return l.ln.Close() }

func (p *Proxy) listenTCP(addr netip.AddrPort) (listener, netip.AddrPort, error) {
	// No TCP keepalive: IPVS sends none, and Go's default costs four
	// setsockopt calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(p.ctx, "tcp", addr.String())
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	ln := l.(*net.TCPListener)
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
		p.spawn(func() { p.serveTCP(c, vip) })
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
	d := net.Dialer{Timeout: p.opts.DialTimeout, KeepAlive: -1}
	var bc net.Conn
	if dest := flow.Dest(); dest == vip || (vip.Addr().IsUnspecified() && dest.Port() == vip.Port() && dest.Addr().IsLoopback()) {
		// A realserver that is the virtual service itself would make the
		// proxy dial itself without end.
		err = fmt.Errorf("realserver %s is the virtual service %s itself", dest, vip)
	} else {
		bc, err = d.DialContext(p.ctx, "tcp", dest.String())
	}
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
	// Go sets TCP_NODELAY on both legs by default; nothing to do here.

	r := &relay{flow: flow}
	if p.opts.BlockingConns > 0 && p.opts.Copy == CopySplice {
		if p.blocking.Add(1) <= int64(p.opts.BlockingConns) {
			r.blocking = true
			defer p.blocking.Add(-1)
		} else {
			p.blocking.Add(-1)
		}
	}
	done := make(chan struct{})
	p.spawn(func() {
		defer close(done)
		p.direction(r, backend, client, true)
	})
	p.direction(r, client, backend, false)
	<-done
	// Only now, with both directions done, are the descriptors closed, so
	// a blocked splice never sees its descriptor reused.
	client.Close()
	backend.Close()
	flow.Event(dataplane.Closed)
}

// relay is one connection's shared state.
type relay struct {
	flow     dataplane.Flow
	blocking bool
	aborted  atomic.Bool
	ended    atomic.Int32 // directions that reached EOF
}

// direction relays src to dst until src's EOF, which it passes on as a
// half-close, or an error, which aborts both legs.
func (p *Proxy) direction(r *relay, dst, src *net.TCPConn, inbound bool) {
	count := func(bytes, packets int64) { r.flow.Count(inbound, bytes, packets) }
	var err error
	switch {
	case r.blocking:
		err = p.bpipes.spliceBlocking(dst, src, count)
	case p.opts.Copy == CopyIOCopy:
		err = p.ioCopy(dst, src, count)
	default:
		err = p.pipes.splice(dst, src, count)
	}
	if r.aborted.Load() {
		return
	}
	if err == nil {
		if inbound {
			r.flow.Event(dataplane.ClientFin)
		} else {
			r.flow.Event(dataplane.ServerFin)
		}
		if r.ended.Add(1) == 2 {
			// The other direction already ended: both legs are about to be
			// closed with empty receive queues, which sends the FIN; the
			// shutdown would be a wasted system call.
			return
		}
		if cerr := dst.CloseWrite(); cerr == nil {
			return
		}
		// dst is gone; abort.
	} else if !errors.Is(err, net.ErrClosed) {
		r.flow.Event(dataplane.Reset)
	}
	if r.aborted.Swap(true) {
		return
	}
	// Abort: reset the other leg as LVS-NAT would forward the RST, and wake
	// the opposite direction by shutting both sockets down.
	dst.SetLinger(0)
	shutdown(dst)
	shutdown(src)
}

// shutdown shuts both directions of c down, which wakes a read or splice
// blocked on it (closing would not, and could let the descriptor be reused).
func shutdown(c *net.TCPConn) {
	c.CloseRead()
	c.CloseWrite()
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
