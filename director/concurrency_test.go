package director

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// TestConcurrentFlowsBalance runs flows from many goroutines while the
// ticker expires entries and weights change, then checks that every
// counter adds up and every entry expires.
func TestConcurrentFlowsBalance(t *testing.T) {
	d, clk := newTestDirector(t, "wlc", 1, 2, 3)
	const workers, per = 8, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var tickWG sync.WaitGroup
	tickWG.Add(1)
	go func() {
		defer tickWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.Tick()
			_ = d.Conns()
			_ = d.Snapshot()
			if err := d.SetWeight(dataplane.TCP, vip, rip1, i%3); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				f, err := d.Connect(dataplane.TCP, vip, client(w*per+i))
				if err != nil {
					t.Error(err)
					return
				}
				f.Event(dataplane.Established)
				f.Count(true, 10, 1)
				f.Count(false, 20, 2)
				if i%3 == 0 {
					f.Event(dataplane.Reset)
				} else {
					f.Event(dataplane.ClientFin)
					f.Event(dataplane.ServerFin)
				}
				f.Event(dataplane.Closed)
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	tickWG.Wait()
	snap := d.Snapshot()
	total := uint64(workers * per)
	want := Counters{Conns: total, InPkts: total, OutPkts: 2 * total, InBytes: 10 * total, OutBytes: 20 * total}
	if snap.Services[0].Stats != want || snap.Total != want {
		t.Fatalf("service %+v total %+v, want %+v", snap.Services[0].Stats, snap.Total, want)
	}
	var sum Counters
	for _, ds := range snap.Services[0].Dests {
		sum.Conns += ds.Stats.Conns
		sum.InBytes += ds.Stats.InBytes
		if ds.ActiveConns != 0 {
			t.Errorf("%s: %d active after every flow closed, want 0", ds.Addr, ds.ActiveConns)
		}
	}
	if sum.Conns != total || sum.InBytes != 10*total {
		t.Fatalf("realservers add up to %+v, want %d conns", sum, total)
	}
	clk.Advance(121 * time.Second)
	d.Tick()
	if n := len(d.Conns()); n != 0 {
		t.Fatalf("%d entries left after every timeout, want 0", n)
	}
	for _, ds := range d.Snapshot().Services[0].Dests {
		if ds.ActiveConns != 0 || ds.InactConns != 0 {
			t.Fatalf("%s: active %d inactive %d after expiry, want 0 0", ds.Addr, ds.ActiveConns, ds.InactConns)
		}
	}
}

func BenchmarkConnectClose(b *testing.B) {
	clk := newFakeClock()
	d := New(Options{Now: clk.Now})
	if err := d.AddService(ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: "wlc"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := d.AddDest(dataplane.TCP, vip, DestConfig{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 1)}), 80), Weight: 1}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			f, err := d.Connect(dataplane.TCP, vip, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1000))
			if err != nil {
				b.Fatal(err)
			}
			f.Event(dataplane.Established)
			f.Event(dataplane.Reset)
			f.Event(dataplane.Closed)
			if i%4096 == 0 {
				clk.Advance(11 * time.Second) // CLOSE entries expire, as they would in real time
				d.Tick()
			}
		}
	})
}

func BenchmarkCount(b *testing.B) {
	d, _ := newTestDirector(&testing.T{}, "rr", 1)
	f, err := d.Connect(dataplane.TCP, vip, client(1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Count(true, 1500, 1)
		}
	})
}
