package health

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// server is a realserver that accepts and closes; it can be killed and
// brought back on the same port.
type server struct {
	t    *testing.T
	addr netip.AddrPort
	ln   net.Listener
	wg   sync.WaitGroup
}

func newServer(t *testing.T, addr string) *server {
	s := &server{t: t}
	s.start(addr)
	t.Cleanup(s.kill)
	return s
}

func (s *server) start(addr string) {
	s.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("realserver listen %s: %v", addr, err)
	}
	s.ln, s.addr = ln, ln.Addr().(*net.TCPAddr).AddrPort()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func (s *server) kill() {
	if s.ln != nil {
		s.ln.Close()
		s.wg.Wait()
		s.ln = nil
	}
}

func weightOf(d *director.Director, rip netip.AddrPort) (int, bool) {
	for _, svc := range d.Snapshot().Services {
		for _, dst := range svc.Dests {
			if dst.Addr == rip {
				return dst.Weight, true
			}
		}
	}
	return 0, false
}

// waitFor polls cond until it holds or limit passes; it returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func setup(t *testing.T, remove bool) (*director.Director, [2]*server, *Checker, time.Duration) {
	t.Helper()
	const interval = 200 * time.Millisecond
	d := director.New(director.Options{})
	vip := netip.MustParseAddrPort("127.0.0.1:9")
	if err := d.AddService(director.ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	srv := [2]*server{newServer(t, "127.0.0.1:0"), newServer(t, "127.0.0.1:0")}
	var targets []Target
	for i, s := range srv {
		w := i + 2
		if err := d.AddDest(dataplane.TCP, vip, director.DestConfig{Addr: s.addr, Weight: w, Forward: director.Masq}); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, Target{Proto: dataplane.TCP, VIP: vip, RIP: s.addr, Weight: w})
	}
	c, err := Start(context.Background(), d, targets, Options{Interval: interval, Remove: remove})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return d, srv, c, interval
}

func TestQuiesceAndRestore(t *testing.T) {
	d, srv, c, interval := setup(t, false)
	time.Sleep(interval / 2)
	srv[0].kill()
	took := waitFor(t, 2*interval, "killed realserver quiesced (weight 0)", func() bool {
		w, _ := weightOf(d, srv[0].addr)
		return w == 0
	})
	t.Logf("quiesced %v after the kill (interval %v)", took, interval)
	if w, _ := weightOf(d, srv[1].addr); w != 3 {
		t.Errorf("healthy realserver's weight: want 3, got %d", w)
	}
	st := c.Status()
	if st[0].Up || st[0].LastErr == nil || st[0].Failures == 0 || !st[1].Up {
		t.Errorf("status: want [0] down with an error and [1] up, got %+v", st)
	}
	srv[0].start(srv[0].addr.String())
	waitFor(t, 2*interval, "revived realserver gets weight 2 back", func() bool {
		w, _ := weightOf(d, srv[0].addr)
		return w == 2
	})
	if st := c.Status(); !st[0].Up || st[0].Changes != 2 {
		t.Errorf("status after revival: want up with 2 changes, got %+v", st[0])
	}
}

func TestRemoveAndAddBack(t *testing.T) {
	d, srv, _, interval := setup(t, true)
	time.Sleep(interval / 2)
	srv[1].kill()
	waitFor(t, 2*interval, "killed realserver removed", func() bool {
		_, ok := weightOf(d, srv[1].addr)
		return !ok
	})
	srv[1].start(srv[1].addr.String())
	waitFor(t, 2*interval, "revived realserver added back with weight 3", func() bool {
		w, ok := weightOf(d, srv[1].addr)
		return ok && w == 3
	})
}

func TestFallNeedsConsecutiveFailures(t *testing.T) {
	d := director.New(director.Options{})
	vip := netip.MustParseAddrPort("127.0.0.1:9")
	d.AddService(director.ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: "rr"})
	s := newServer(t, "127.0.0.1:0")
	d.AddDest(dataplane.TCP, vip, director.DestConfig{Addr: s.addr, Weight: 1})
	s.kill()
	var mu sync.Mutex
	var changes []Change
	start := time.Now()
	c, err := Start(context.Background(), d, []Target{{Proto: dataplane.TCP, VIP: vip, RIP: s.addr, Weight: 1}},
		Options{Interval: 50 * time.Millisecond, Fall: 3, OnChange: func(ch Change) {
			mu.Lock()
			changes = append(changes, ch)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	took := waitFor(t, 2*time.Second, "dead realserver quiesced", func() bool { w, _ := weightOf(d, s.addr); return w == 0 })
	// Checks at 0, 50 and 100 ms: the third failure is at least 2 intervals in.
	if took < 100*time.Millisecond {
		t.Errorf("with Fall 3: want out after the third failure (>= 100ms), out after %v", time.Since(start))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0].Up || changes[0].Err == nil || changes[0].ActErr != nil {
		t.Errorf("changes: want one down change with the check error, got %+v", changes)
	}
}

func TestOptionsRejected(t *testing.T) {
	d := director.New(director.Options{})
	for _, o := range []Options{
		{Interval: time.Second, Timeout: 2 * time.Second},
		{Interval: -time.Second},
		{Fall: -1},
	} {
		if _, err := Start(context.Background(), d, nil, o); err == nil {
			t.Errorf("options %+v: want an error, got nil", o)
		}
	}
}
