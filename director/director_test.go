package director

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// fakeClock is an injectable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	vip  = netip.MustParseAddrPort("10.0.0.1:80")
	rip1 = netip.MustParseAddrPort("192.168.10.1:80")
	rip2 = netip.MustParseAddrPort("192.168.10.2:80")
)

func client(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i%20000))
}

func newTestDirector(t *testing.T, sched string, weights ...int) (*Director, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	d := New(Options{Now: clk.Now})
	if err := d.AddService(ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: sched}); err != nil {
		t.Fatal(err)
	}
	for i, w := range weights {
		rip := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 10, byte(i + 1)}), 80)
		if err := d.AddDest(dataplane.TCP, vip, DestConfig{Addr: rip, Weight: w, Forward: Masq}); err != nil {
			t.Fatal(err)
		}
	}
	return d, clk
}

func destRow(t *testing.T, d *Director, rip netip.AddrPort) DestSnapshot {
	t.Helper()
	for _, s := range d.Snapshot().Services {
		for _, ds := range s.Dests {
			if ds.Addr == rip {
				return ds
			}
		}
	}
	t.Fatalf("realserver %s not in snapshot", rip)
	return DestSnapshot{}
}

func TestConnectLifecycleActiveInactive(t *testing.T) {
	d, clk := newTestDirector(t, "rr", 1)
	f, err := d.Connect(dataplane.TCP, vip, client(1))
	if err != nil {
		t.Fatal(err)
	}
	if f.Dest() != rip1 {
		t.Fatalf("dest %s, want %s", f.Dest(), rip1)
	}
	row := destRow(t, d, rip1)
	if row.ActiveConns != 1 || row.InactConns != 0 {
		t.Fatalf("after accept (SYN_RECV): active %d inactive %d, want 1 0", row.ActiveConns, row.InactConns)
	}
	f.Event(dataplane.Established)
	f.Count(true, 100, 2)
	f.Count(false, 1000, 3)
	if st := f.(*Conn).State(); st != StateEstablished {
		t.Fatalf("state %s, want ESTABLISHED", st)
	}
	f.Event(dataplane.ClientFin)
	if st := f.(*Conn).State(); st != StateCloseWait {
		t.Fatalf("after client FIN: %s, want CLOSE_WAIT", st)
	}
	row = destRow(t, d, rip1)
	if row.ActiveConns != 0 || row.InactConns != 1 {
		t.Fatalf("CLOSE_WAIT: active %d inactive %d, want 0 1", row.ActiveConns, row.InactConns)
	}
	f.Event(dataplane.ServerFin)
	f.Event(dataplane.Closed)
	if st := f.(*Conn).State(); st != StateTimeWait {
		t.Fatalf("after both FINs: %s, want TIME_WAIT", st)
	}
	snap := d.Snapshot()
	want := Counters{Conns: 1, InPkts: 2, OutPkts: 3, InBytes: 100, OutBytes: 1000}
	if got := snap.Services[0].Stats; got != want {
		t.Fatalf("service stats %+v, want %+v", got, want)
	}
	if got := snap.Services[0].Dests[0].Stats; got != want {
		t.Fatalf("realserver stats %+v, want %+v", got, want)
	}
	conns := d.Conns()
	if len(conns) != 1 || conns[0].State != StateTimeWait || conns[0].Expires != 120*time.Second {
		t.Fatalf("conns %+v, want one TIME_WAIT entry expiring in 2:00", conns)
	}
	clk.Advance(119 * time.Second)
	d.Tick()
	if n := len(d.Conns()); n != 1 {
		t.Fatalf("after 119 s: %d entries, want 1", n)
	}
	clk.Advance(time.Second)
	d.Tick()
	if n := len(d.Conns()); n != 0 {
		t.Fatalf("after 120 s: %d entries, want 0", n)
	}
	if row := destRow(t, d, rip1); row.ActiveConns != 0 || row.InactConns != 0 {
		t.Fatalf("after expiry: active %d inactive %d, want 0 0", row.ActiveConns, row.InactConns)
	}
}

func TestUDPIsInactiveWithUDPTimeout(t *testing.T) {
	clk := newFakeClock()
	d := New(Options{Now: clk.Now})
	uvip := netip.MustParseAddrPort("10.0.0.1:53")
	if err := d.AddService(ServiceConfig{Proto: dataplane.UDP, Addr: uvip, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddDest(dataplane.UDP, uvip, DestConfig{Addr: netip.MustParseAddrPort("192.168.10.3:53"), Weight: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := d.Connect(dataplane.UDP, uvip, client(7))
	if err != nil {
		t.Fatal(err)
	}
	f.Event(dataplane.Established)
	f.Event(dataplane.Closed)
	row := d.Snapshot().Services[0].Dests[0]
	if row.ActiveConns != 0 || row.InactConns != 1 {
		t.Fatalf("UDP: active %d inactive %d, want 0 1", row.ActiveConns, row.InactConns)
	}
	c := d.Conns()
	if len(c) != 1 || c[0].State != StateUDP || c[0].Expires != 300*time.Second {
		t.Fatalf("UDP entry %+v, want state UDP expiring in 5:00", c)
	}
	clk.Advance(300 * time.Second)
	d.Tick()
	if len(d.Conns()) != 0 {
		t.Fatal("UDP entry did not expire after 300 s")
	}
}

func TestConnectErrors(t *testing.T) {
	d, _ := newTestDirector(t, "wlc", 0)
	if _, err := d.Connect(dataplane.TCP, netip.MustParseAddrPort("10.0.0.9:80"), client(1)); !errors.Is(err, dataplane.ErrNoService) {
		t.Fatalf("unknown VIP: %v, want ErrNoService", err)
	}
	if _, err := d.Connect(dataplane.TCP, vip, client(1)); !errors.Is(err, dataplane.ErrNoDestination) {
		t.Fatalf("only a quiesced realserver: %v, want ErrNoDestination", err)
	}
	if err := d.SetWeight(dataplane.TCP, vip, rip1, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Connect(dataplane.TCP, vip, client(1)); err != nil {
		t.Fatalf("after SetWeight 2: %v", err)
	}
}

func TestPersistenceTemplate(t *testing.T) {
	clk := newFakeClock()
	d := New(Options{Now: clk.Now})
	if err := d.AddService(ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: "rr", Persistence: 300 * time.Second, Netmask: 24}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []netip.AddrPort{rip1, rip2} {
		if err := d.AddDest(dataplane.TCP, vip, DestConfig{Addr: r, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	a := netip.MustParseAddrPort("10.1.1.7:1000")
	b := netip.MustParseAddrPort("10.1.1.99:2000") // same /24
	c := netip.MustParseAddrPort("10.1.2.7:3000")  // other /24
	fa, _ := d.Connect(dataplane.TCP, vip, a)
	fb, _ := d.Connect(dataplane.TCP, vip, b)
	fc, _ := d.Connect(dataplane.TCP, vip, c)
	if fa.Dest() != fb.Dest() {
		t.Fatalf("same /24 went to %s and %s, want the same realserver", fa.Dest(), fb.Dest())
	}
	if fc.Dest() == fa.Dest() {
		t.Fatalf("other /24 went to %s too, want the other realserver (rr)", fc.Dest())
	}
	var tmpl []ConnEntry
	for _, e := range d.Conns() {
		if e.Template {
			tmpl = append(tmpl, e)
		}
	}
	if len(tmpl) != 2 || tmpl[0].Client != netip.MustParseAddrPort("10.1.1.0:0") || tmpl[0].State != StateNone {
		t.Fatalf("templates %+v, want 10.1.1.0:0 and 10.1.2.0:0 in state NONE", tmpl)
	}
	for _, f := range []dataplane.Flow{fa, fb, fc} {
		f.Event(dataplane.Reset)
		f.Event(dataplane.Closed)
	}
	clk.Advance(10 * time.Second)
	d.Tick() // CLOSE entries (10 s) expire; templates remain
	clk.Advance(289 * time.Second)
	d.Tick()
	if f, _ := d.Connect(dataplane.TCP, vip, netip.MustParseAddrPort("10.1.1.8:1")); f.Dest() != fa.Dest() {
		t.Fatalf("within persistence: %s, want %s", f.Dest(), fa.Dest())
	}
	if got := destRow(t, d, fa.Dest()).PersistConns; got != 1 {
		t.Fatalf("PersistConns %d, want 1", got)
	}
}

func TestOverloadThresholdHysteresis(t *testing.T) {
	d, clk := newTestDirector(t, "rr", 1)
	if err := d.EditDest(dataplane.TCP, vip, DestConfig{Addr: rip1, Weight: 1, UpperThreshold: 4}); err != nil {
		t.Fatal(err)
	}
	var flows []dataplane.Flow
	for i := 0; i < 4; i++ {
		f, err := d.Connect(dataplane.TCP, vip, client(i))
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		flows = append(flows, f)
	}
	if _, err := d.Connect(dataplane.TCP, vip, client(9)); !errors.Is(err, dataplane.ErrNoDestination) {
		t.Fatalf("at -x 4 with 4 conns: %v, want ErrNoDestination (overloaded)", err)
	}
	// Clears only when total*4 < 4*3, i.e. below 3 connections.
	for i, f := range flows[:2] {
		f.Event(dataplane.Reset)
		f.Event(dataplane.Closed)
		clk.Advance(11 * time.Second)
		d.Tick()
		over := destRow(t, d, rip1).Overloaded
		if want := i == 0; over != want {
			t.Fatalf("after closing %d: overloaded=%v, want %v", i+1, over, want)
		}
	}
}

func TestPortReuseReplacesReleasedEntry(t *testing.T) {
	d, _ := newTestDirector(t, "rr", 1)
	c := client(3)
	for i := 0; i < 5; i++ {
		f, err := d.Connect(dataplane.TCP, vip, c)
		if err != nil {
			t.Fatal(err)
		}
		f.Event(dataplane.Established)
		f.Event(dataplane.ClientFin)
		f.Event(dataplane.ServerFin)
		f.Event(dataplane.Closed)
	}
	if n := len(d.Conns()); n != 1 {
		t.Fatalf("%d entries after 5 connections from one client port, want 1 (reused)", n)
	}
	row := destRow(t, d, rip1)
	if row.ActiveConns != 0 || row.InactConns != 1 || row.Stats.Conns != 5 {
		t.Fatalf("active %d inactive %d conns %d, want 0 1 5", row.ActiveConns, row.InactConns, row.Stats.Conns)
	}
	// A flow still held by the engine is never replaced.
	f1, _ := d.Connect(dataplane.TCP, vip, client(4))
	f2, _ := d.Connect(dataplane.TCP, vip, client(4))
	if n := len(d.Conns()); n != 3 {
		t.Fatalf("%d entries, want 3 (two live flows with one key kept)", n)
	}
	f1.Event(dataplane.Closed)
	f2.Event(dataplane.Closed)
}

func TestUDPEntryTimesOutFromLastDatagram(t *testing.T) {
	clk := newFakeClock()
	d := New(Options{Now: clk.Now})
	uvip := netip.MustParseAddrPort("10.0.0.1:53")
	d.AddService(ServiceConfig{Proto: dataplane.UDP, Addr: uvip, Scheduler: "rr"})
	d.AddDest(dataplane.UDP, uvip, DestConfig{Addr: netip.MustParseAddrPort("192.168.10.3:53"), Weight: 1})
	f, err := d.Connect(dataplane.UDP, uvip, client(7))
	if err != nil {
		t.Fatal(err)
	}
	f.Count(true, 60, 1)
	clk.Advance(time.Second)
	d.Tick() // sees the datagram: idle timer starts now
	clk.Advance(300 * time.Second)
	f.Event(dataplane.Closed) // the engine's own idle timeout fired
	if c := d.Conns(); len(c) != 1 || c[0].Expires != 0 {
		t.Fatalf("entries %+v, want one with nothing left", c)
	}
	d.Tick()
	if n := len(d.Conns()); n != 0 {
		t.Fatalf("%d UDP entries 300 s after the last datagram, want 0", n)
	}
}
