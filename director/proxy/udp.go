package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

type udpListener struct {
	pc *net.UDPConn
}

func (l *udpListener) close() error { return l.pc.Close() }

// udpFlow is one client's flow: a connected socket to its realserver and a
// goroutine relaying the realserver's answers back to the client.
type udpFlow struct {
	client netip.AddrPort
	flow   dataplane.Flow
	back   *net.UDPConn
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
	dead   atomic.Bool  // set by the answer goroutine when its socket fails
	done   chan struct{}
}

func (p *Proxy) listenUDP(addr netip.AddrPort) (listener, netip.AddrPort, error) {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	bound := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if addr.Addr().IsUnspecified() {
		bound = netip.AddrPortFrom(addr.Addr(), bound.Port())
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.udpLoop(pc, bound)
	}()
	return &udpListener{pc: pc}, bound, nil
}

// udpLoop owns the listener's flow table: only this goroutine touches the
// map, so datagrams take no lock.
func (p *Proxy) udpLoop(pc *net.UDPConn, vip netip.AddrPort) {
	flows := map[netip.AddrPort]*udpFlow{}
	idle := p.opts.UDPIdleTimeout
	sweepEvery := min(max(idle/4, 10*time.Millisecond), time.Second)
	end := func(f *udpFlow) {
		delete(flows, f.client)
		f.back.Close()
		<-f.done
		f.flow.Event(dataplane.Closed)
		p.stats.active.Add(-1)
	}
	defer func() {
		for _, f := range flows {
			end(f)
		}
	}()
	sweep := func(now time.Time) {
		for _, f := range flows {
			if f.dead.Load() || now.UnixNano()-f.last.Load() > int64(idle) {
				end(f)
			}
		}
	}
	buf := make([]byte, p.opts.UDPDatagramBytes)
	nextSweep := time.Now().Add(sweepEvery)
	pc.SetReadDeadline(nextSweep)
	for {
		n, caddr, err := pc.ReadFromUDPAddrPort(buf)
		now := time.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				sweep(now)
				nextSweep = now.Add(sweepEvery)
				pc.SetReadDeadline(nextSweep)
				continue
			}
			return // closed
		}
		if now.After(nextSweep) {
			sweep(now)
			nextSweep = now.Add(sweepEvery)
			pc.SetReadDeadline(nextSweep)
		}
		caddr = netip.AddrPortFrom(caddr.Addr().Unmap(), caddr.Port())
		f := flows[caddr]
		if f != nil && f.dead.Load() {
			end(f)
			f = nil
		}
		if f == nil {
			if len(flows) >= p.opts.UDPMaxFlows {
				p.stats.udpDropped.Add(1)
				continue
			}
			if f = p.newUDPFlow(pc, vip, caddr); f == nil {
				continue
			}
			flows[caddr] = f
		}
		f.last.Store(now.UnixNano())
		if _, err := f.back.Write(buf[:n]); err != nil {
			// ECONNREFUSED from an earlier ICMP port unreachable: the
			// realserver is down; the datagram is lost as IPVS would lose it.
			p.stats.udpDropped.Add(1)
			continue
		}
		f.flow.Count(true, int64(n), 1)
	}
}

func (p *Proxy) newUDPFlow(pc *net.UDPConn, vip, caddr netip.AddrPort) *udpFlow {
	flow, err := p.picker.Connect(dataplane.UDP, vip, caddr)
	if err != nil {
		p.stats.refused.Add(1)
		p.stats.udpDropped.Add(1)
		return nil
	}
	back, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(flow.Dest()))
	if err != nil {
		p.stats.dialFailed.Add(1)
		p.stats.udpDropped.Add(1)
		flow.Event(dataplane.DialFailed)
		flow.Event(dataplane.Closed)
		return nil
	}
	f := &udpFlow{client: caddr, flow: flow, back: back, done: make(chan struct{})}
	p.stats.accepted.Add(1)
	p.stats.active.Add(1)
	flow.Event(dataplane.Established)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(f.done)
		p.udpAnswers(pc, f)
	}()
	return f
}

// udpAnswers relays the realserver's datagrams back to the client from the
// virtual service's address.
func (p *Proxy) udpAnswers(pc *net.UDPConn, f *udpFlow) {
	buf := make([]byte, p.opts.UDPDatagramBytes)
	for {
		n, err := f.back.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A refused earlier send surfaces here; keep the flow, the
			// client may retry and health checks decide about the server.
			if errors.Is(err, syscall.ECONNREFUSED) {
				p.stats.udpDropped.Add(1)
				continue
			}
			f.dead.Store(true)
			return
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := pc.WriteToUDPAddrPort(buf[:n], f.client); err != nil {
			p.stats.udpDropped.Add(1)
			continue
		}
		f.flow.Count(false, int64(n), 1)
	}
}
