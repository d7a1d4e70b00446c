package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// testPicker is a round-robin picker over fixed realservers that records
// what the engine reports, standing in for the director model.
type testPicker struct {
	dests   []netip.AddrPort
	next    atomic.Uint64
	none    bool
	discard bool // keep no flows (benchmarks)

	mu    sync.Mutex
	flows []*testFlow
}

func (p *testPicker) Connect(proto dataplane.Protocol, vip, client netip.AddrPort) (dataplane.Flow, error) {
	p.mu.Lock()
	dests := p.dests
	p.mu.Unlock()
	if p.none || len(dests) == 0 {
		return nil, dataplane.ErrNoDestination
	}
	d := dests[(p.next.Add(1)-1)%uint64(len(dests))]
	f := &testFlow{dest: d, proto: proto, vip: vip, client: client}
	if p.discard {
		return f, nil
	}
	p.mu.Lock()
	p.flows = append(p.flows, f)
	p.mu.Unlock()
	return f, nil
}

func (p *testPicker) setDests(d ...netip.AddrPort) {
	p.mu.Lock()
	p.dests = d
	p.mu.Unlock()
}

func (p *testPicker) all() []*testFlow {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*testFlow(nil), p.flows...)
}

type testFlow struct {
	dest, vip, client netip.AddrPort
	proto             dataplane.Protocol

	mu     sync.Mutex
	events []dataplane.Event
	late   int // calls after Closed

	inBytes, outBytes, inPkts, outPkts atomic.Int64
}

func (f *testFlow) Dest() netip.AddrPort { return f.dest }

func (f *testFlow) Event(e dataplane.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closedLocked() {
		f.late++
	}
	f.events = append(f.events, e)
}

func (f *testFlow) closedLocked() bool {
	return len(f.events) > 0 && f.events[len(f.events)-1] == dataplane.Closed
}

func (f *testFlow) Count(inbound bool, bytes, packets int64) {
	f.mu.Lock()
	if f.closedLocked() {
		f.late++
	}
	f.mu.Unlock()
	if inbound {
		f.inBytes.Add(bytes)
		f.inPkts.Add(packets)
	} else {
		f.outBytes.Add(bytes)
		f.outPkts.Add(packets)
	}
}

func (f *testFlow) evs() []dataplane.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dataplane.Event(nil), f.events...)
}

// waitClosed waits until every flow reported Closed.
func waitClosed(t *testing.T, p *testPicker, want int) []*testFlow {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fl := p.all()
		closed := 0
		for _, f := range fl {
			f.mu.Lock()
			if f.closedLocked() {
				closed++
			}
			f.mu.Unlock()
		}
		if len(fl) == want && closed == want {
			return fl
		}
		if time.Now().After(deadline) {
			t.Fatalf("flows: want %d, all closed; got %d, %d closed", want, len(fl), closed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startEcho starts a TCP server on loopback that echoes until EOF, then
// half-closes.
func startEcho(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Hide ReadFrom: io.Copy between two TCPConns splices
				// through Go's own pipe pool, whose pipes live until a GC
				// and would blur the descriptor count of the leak test.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// startProxy starts a proxy in front of p on a free loopback port.
func startProxy(t *testing.T, p dataplane.Picker, proto dataplane.Protocol, o Options) (*Proxy, netip.AddrPort) {
	t.Helper()
	px, err := New(context.Background(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	vip, err := px.Listen(proto, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	return px, vip
}

func isResetOrEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}
