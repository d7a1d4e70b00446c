package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

type tcpListener struct {
	ln io.Closer
}

func (l *tcpListener) close() error { return l.ln.Close() }

func (p *Proxy) listenTCP(addr netip.AddrPort) (listener, netip.AddrPort, error) {
	if p.opts.Copy == CopyEventLoop {
		return p.listenEv(addr)
	}
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
	accept, closer := acceptStd(ln), io.Closer(ln)
	if hasRawSockets && p.opts.Copy != CopyIOCopy {
		if accept, closer, err = acceptRaw(ln); err != nil {
			return nil, netip.AddrPort{}, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop(accept, bound)
	}()
	return &tcpListener{ln: closer}, bound, nil
}

// Accept pauses when the process is out of descriptors: the listener stays
// readable while clients wait, so accepting again at once would spin. The
// pause doubles from acceptPauseMin to acceptPauseMax while accept keeps
// failing (as net/http's server does).
const (
	acceptPauseMin = 5 * time.Millisecond
	acceptPauseMax = 100 * time.Millisecond
)

func (p *Proxy) acceptLoop(accept func() (*leg, netip.AddrPort, error), vip netip.AddrPort) {
	var pause time.Duration
	for {
		c, caddr, err := accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, syscall.ECONNABORTED) {
				continue // a client gone before its turn
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: the listener stays open and its
				// clients wait in its queue until descriptors free up.
				p.stats.acceptPaused.Add(1)
				pause = min(max(2*pause, acceptPauseMin), acceptPauseMax)
				select {
				case <-p.ctx.Done():
					return
				case <-time.After(pause):
				}
				continue
			}
			return
		}
		pause = 0
		p.spawn(func() { p.serveTCP(c, caddr, vip) })
	}
}

// acceptStd accepts with the standard library (CopyIOCopy, and off Linux).
func acceptStd(ln *net.TCPListener) func() (*leg, netip.AddrPort, error) {
	return func() (*leg, netip.AddrPort, error) {
		c, err := ln.AcceptTCP()
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		l, err := tcpLeg(c)
		if err != nil {
			c.Close()
			return nil, netip.AddrPort{}, err
		}
		return l, c.RemoteAddr().(*net.TCPAddr).AddrPort(), nil
	}
}

// serveTCP schedules, dials and relays one client connection.
func (p *Proxy) serveTCP(client *leg, caddr netip.AddrPort, vip netip.AddrPort) {
	cid, ok := p.conns.add(client)
	if !ok {
		client.close()
		return
	}
	defer p.conns.remove(cid)
	flow, err := p.picker.Connect(dataplane.TCP, vip, caddr)
	if err != nil {
		// No service or no realserver: refuse with a reset, the nearest a
		// socket-terminating proxy gets to IPVS's ICMP port unreachable.
		p.stats.refused.Add(1)
		client.resetOnClose()
		client.close()
		return
	}
	backend, bid, err := p.dial(flow.Dest(), vip)
	if err != nil {
		p.stats.dialFailed.Add(1)
		flow.Event(dataplane.DialFailed)
		flow.Event(dataplane.Closed)
		client.resetOnClose()
		client.close()
		return
	}
	defer p.conns.remove(bid)
	p.stats.accepted.Add(1)
	p.stats.active.Add(1)
	defer p.stats.active.Add(-1)
	flow.Event(dataplane.Established)
	// Both legs have TCP_NODELAY: set by Go, or inherited from the listener
	// (acceptRaw) and set by dialRaw.

	r := &relay{flow: flow, client: client, backend: backend}
	if p.opts.BlockingConns > 0 && p.opts.Copy == CopySplice {
		if p.blocking.Add(1) <= int64(p.opts.BlockingConns) {
			r.blocking = true
			defer p.blocking.Add(-1)
		} else {
			p.blocking.Add(-1)
		}
	}
	r.done = make(chan struct{})
	p.spawn(func() {
		defer close(r.done)
		p.direction(r, client, backend, false)
	})
	p.direction(r, backend, client, true)
	<-r.done
	// Only now, with both directions done, are the descriptors closed, so
	// a blocked splice never sees its descriptor reused.
	client.close()
	backend.close()
	flow.Event(dataplane.Closed)
}

// dial connects to the realserver dest and registers the leg with the
// connection set.
func (p *Proxy) dial(dest, vip netip.AddrPort) (*leg, uint64, error) {
	if dest == vip || (vip.Addr().IsUnspecified() && dest.Port() == vip.Port() && dest.Addr().IsLoopback()) {
		// A realserver that is the virtual service itself would make the
		// proxy dial itself without end.
		return nil, 0, fmt.Errorf("realserver %s is the virtual service %s itself", dest, vip)
	}
	if hasRawSockets && p.opts.Copy != CopyIOCopy {
		return p.dialRaw(p.ctx, dest, p.opts.DialTimeout)
	}
	d := net.Dialer{Timeout: p.opts.DialTimeout, KeepAlive: -1}
	bc, err := d.DialContext(p.ctx, "tcp", dest.String())
	if err != nil {
		return nil, 0, err
	}
	l, err := tcpLeg(bc.(*net.TCPConn))
	if err != nil {
		bc.Close()
		return nil, 0, err
	}
	id, ok := p.conns.add(l)
	if !ok {
		bc.Close()
		return nil, 0, ErrClosed
	}
	return l, id, nil
}

// relay is one connection's shared state.
type relay struct {
	flow            dataplane.Flow
	client, backend *leg
	done            chan struct{} // closed when the outbound direction ends
	blocking        bool
	aborted         atomic.Bool
	ended           atomic.Int32 // directions that reached EOF
}

// direction relays src to dst until src's EOF, which it passes on as a
// half-close, or an error, which aborts both legs.
func (p *Proxy) direction(r *relay, dst, src *leg, inbound bool) {
	count := func(bytes, packets int64) { r.flow.Count(inbound, bytes, packets) }
	var err error
	switch {
	case r.blocking:
		err = p.bpipes.spliceBlocking(dst, src, count)
	case p.opts.Copy == CopyIOCopy:
		err = p.ioCopy(dst.tcp, src.tcp, count)
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
		if cerr := dst.closeWrite(); cerr == nil {
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
	// the opposite direction. dst is only shut down for reading: shutting
	// its sending side would send a FIN ahead of the reset, and its peer
	// would read a clean end of stream.
	dst.resetOnClose()
	dst.shutdownRead()
	src.shutdown()
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
