package director

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// mk builds a kernel-order list from specs "name:weight[:active[:inactive]]"
// given in the order they were added; the list is newest first, as IPVS's.
func mk(t *testing.T, specs ...string) (list []*Dest, byName map[string]*Dest, nameOf map[*Dest]string) {
	t.Helper()
	byName, nameOf = map[string]*Dest{}, map[*Dest]string{}
	for i, s := range specs {
		var name string
		var w, a, in int
		f := strings.Split(s, ":")
		name = f[0]
		fmt.Sscan(f[1], &w)
		if len(f) > 2 {
			fmt.Sscan(f[2], &a)
		}
		if len(f) > 3 {
			fmt.Sscan(f[3], &in)
		}
		d := NewDest(netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 0, byte(i + 1)}), 80), w)
		d.SetConns(int64(a), int64(in))
		byName[name], nameOf[d] = d, name
		list = append([]*Dest{d}, list...)
	}
	return list, byName, nameOf
}

func seq(t *testing.T, s Scheduler, list []*Dest, nameOf map[*Dest]string, n int, ci ConnInfo) string {
	t.Helper()
	s.Update(list)
	var out []string
	for i := 0; i < n; i++ {
		d := s.Schedule(list, ci)
		if d == nil {
			out = append(out, "-")
			continue
		}
		out = append(out, nameOf[d])
	}
	return strings.Join(out, " ")
}

var ci = ConnInfo{Client: netip.MustParseAddrPort("10.1.1.7:40000"), VIP: netip.MustParseAddrPort("10.0.0.1:80"), Now: time.Unix(0, 0)}

func TestSchedulerSequences(t *testing.T) {
	cases := []struct {
		name  string
		sched string
		added []string // in order of addition
		setup func(map[string]*Dest)
		n     int
		want  string
	}{
		// rr walks the newest-first list: C B A.
		{"rr cycles newest first", "rr", []string{"A:1", "B:1", "C:1"}, nil, 4, "C B A C"},
		{"rr skips weight 0", "rr", []string{"A:1", "B:0", "C:1"}, nil, 4, "C A C A"},
		{"rr skips overloaded", "rr", []string{"A:1", "B:1"}, func(m map[string]*Dest) { m["B"].SetOverloaded(true) }, 3, "A A A"},
		{"rr none eligible", "rr", []string{"A:0"}, nil, 2, "- -"},
		// The notes' worked example: A=3 added before B=1 gives A A B A.
		{"wrr A3 before B1", "wrr", []string{"A:3", "B:1"}, nil, 8, "A A B A A A B A"},
		{"wrr B1 before A3", "wrr", []string{"B:1", "A:3"}, nil, 8, "A A A B A A A B"},
		// di=2, mw=3: A(cw3) B(cw1) A(cw1) A(cw3) …
		{"wrr gcd 2", "wrr", []string{"A:4", "B:2"}, nil, 6, "A B A A B A"},
		{"wrr all zero", "wrr", []string{"A:0", "B:0"}, nil, 2, "- -"},
		// lc: overhead active*256+inactive; A=256 < B=300.
		{"lc overhead", "lc", []string{"A:1:1:0", "B:9:0:300"}, nil, 1, "A"},
		{"lc ignores weight but not 0", "lc", []string{"A:0:0:0", "B:1:0:5"}, nil, 1, "B"},
		{"lc tie takes first in list", "lc", []string{"A:1:0:3", "B:1:0:3"}, nil, 1, "B"},
		// wlc: A 256/1 vs B (2*256+88)/3=200 → B.
		{"wlc weighted", "wlc", []string{"A:1:1:0", "B:3:2:88"}, nil, 1, "B"},
		{"wlc equal ratio keeps first", "wlc", []string{"A:2:2:0", "B:1:1:0"}, nil, 1, "B"},
		// sed: (active+1)/weight: A 1/1, B 3/3 tie → first in list (B).
		{"sed tie", "sed", []string{"A:1:0:50", "B:3:2:0"}, nil, 1, "B"},
		{"sed ignores inactive", "sed", []string{"A:1:0:500", "B:1:1:0"}, nil, 1, "A"},
		// nq: first idle wins even against a better ratio.
		{"nq idle first", "nq", []string{"A:1:0:0", "B:100:1:0"}, nil, 1, "A"},
		{"nq no idle → sed", "nq", []string{"A:1:1:0", "B:4:2:0"}, nil, 1, "B"},
		{"fo highest weight, first of equals", "fo", []string{"A:2", "B:5", "C:5"}, nil, 2, "C C"},
		{"fo skips overloaded", "fo", []string{"A:2", "B:5"}, func(m map[string]*Dest) { m["B"].SetOverloaded(true) }, 1, "A"},
		{"ovf capacity", "ovf", []string{"A:3:3:0", "B:5:6:0"}, nil, 1, "A"},
		{"ovf highest weight under capacity", "ovf", []string{"A:3:0:0", "B:5:5:0"}, nil, 1, "B"},
		{"ovf none", "ovf", []string{"A:3:4:0"}, nil, 1, "-"},
		// sh: 10.1.1.7 → bucket (0x0A010107*2654435761)&255 = 215; list
		// [B(1), A(2)] tiles B A A B A A …, 215%3=2 → A.
		{"sh bucket", "sh", []string{"A:2", "B:1"}, nil, 2, "A A"},
		{"sh unusable, no fallback", "sh", []string{"A:2", "B:1"}, func(m map[string]*Dest) { m["A"].setWeight(0) }, 1, "-"},
		// dh: VIP 10.0.0.1 → bucket 177; round robin over [C B A]: 177%3=0 → C.
		{"dh bucket", "dh", []string{"A:1", "B:1", "C:1"}, nil, 2, "C C"},
		{"dh unusable", "dh", []string{"A:1", "B:1", "C:0"}, nil, 1, "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, by, nameOf := mk(t, tc.added...)
			if tc.setup != nil {
				tc.setup(by)
			}
			s, err := NewScheduler(tc.sched, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := seq(t, s, list, nameOf, tc.n, ci); got != tc.want {
				t.Fatalf("%s picked %q, want %q", tc.sched, got, tc.want)
			}
		})
	}
}

func TestSHFallback(t *testing.T) {
	list, by, nameOf := mk(t, "A:2", "B:1")
	by["A"].setWeight(0) // sh tiles by weight: B A B A …, bucket 215 is A's
	s := &SH{Fallback: true}
	// offset 0 probes roffset 215: (215 + 215) & 255 = 174, even → B.
	if got := seq(t, s, list, nameOf, 1, ci); got != "B" {
		t.Fatalf("sh-fallback picked %q, want B", got)
	}
}

func TestSHPortHashesPort(t *testing.T) {
	list, _, _ := mk(t, "A:1", "B:1", "C:1", "D:1")
	s := &SH{Port: true}
	s.Update(list)
	seen := map[*Dest]bool{}
	for p := 0; p < 64; p++ {
		c := ci
		c.Client = netip.AddrPortFrom(ci.Client.Addr(), uint16(1000+p))
		seen[s.Schedule(list, c)] = true
	}
	if len(seen) < 3 {
		t.Fatalf("sh-port spread one client over %d realservers, want several", len(seen))
	}
	plain := &SH{}
	plain.Update(list)
	a := plain.Schedule(list, ci)
	c := ci
	c.Client = netip.AddrPortFrom(ci.Client.Addr(), 1)
	if plain.Schedule(list, c) != a {
		t.Fatal("sh without sh-port depends on the client port")
	}
}

func TestMHTable(t *testing.T) {
	list, by, _ := mk(t, "A:1", "B:2", "C:1")
	s := &MH{}
	s.Update(list)
	counts := map[*Dest]int{}
	for _, d := range s.lookup {
		if d == nil {
			t.Fatal("mh lookup table has an empty slot")
		}
		counts[d]++
	}
	if len(s.lookup) != 4093 {
		t.Fatalf("table size %d, want 4093", len(s.lookup))
	}
	// B has twice the turns of A and C: about half the slots.
	if share := float64(counts[by["B"]]) / 4093; math.Abs(share-0.5) > 0.02 {
		t.Fatalf("B (weight 2 of 4) holds %.3f of the table, want 0.5±0.02", share)
	}
	before := append([]*Dest(nil), s.lookup...)
	by["C"].setWeight(0)
	s.Update(list)
	for i := range before {
		if before[i] != s.lookup[i] {
			t.Fatalf("quiescing C remapped slot %d", i)
		}
	}
	// Clients that hashed to C now get nothing, or another with fallback.
	fb := &MH{Fallback: true}
	fb.Update(list)
	var toC int
	for i := 0; i < 2000; i++ {
		c := ConnInfo{Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 1)}
		if before[mhKeyOf(netip.AddrPortFrom(c.Client.Addr(), 0), 0, mhKey1)%MHTableSize] != by["C"] {
			if got, want := s.Schedule(list, c), before[mhKeyOf(netip.AddrPortFrom(c.Client.Addr(), 0), 0, mhKey1)%MHTableSize]; got != want {
				t.Fatalf("client %s moved from its realserver", c.Client)
			}
			continue
		}
		toC++
		if s.Schedule(list, c) != nil {
			t.Fatal("mh without fallback returned a quiesced realserver's client to someone")
		}
		if d := fb.Schedule(list, c); d == nil || d == by["C"] {
			t.Fatalf("mh-fallback gave %v, want A or B", d)
		}
	}
	if toC == 0 {
		t.Fatal("no client hashed to C; the test proves nothing")
	}
}

func TestLBLCSticksUntilLocallyOverloaded(t *testing.T) {
	list, by, nameOf := mk(t, "A:1", "B:1")
	s := NewLBLC()
	first := s.Schedule(list, ci)
	if got := seq(t, s, list, nameOf, 3, ci); got != strings.Repeat(nameOf[first]+" ", 3)[:5] {
		t.Fatalf("lblc moved: %q", got)
	}
	// first has active 2 > weight 1 while the other has 0*2 < 1: overloaded.
	first.SetConns(2, 0)
	other := by["A"]
	if first == other {
		other = by["B"]
	}
	if d := s.Schedule(list, ci); d != other {
		t.Fatalf("lblc kept a locally overloaded realserver %s", nameOf[d])
	}
}

func TestLBLCRGrowsSet(t *testing.T) {
	list, _, _ := mk(t, "A:1", "B:1")
	s := NewLBLCR()
	first := s.Schedule(list, ci)
	first.SetConns(2, 0)
	second := s.Schedule(list, ci)
	if second == first {
		t.Fatal("lblcr did not add a realserver when the set's member was overloaded")
	}
	if n := len(s.table[ci.VIP.Addr()].set); n != 2 {
		t.Fatalf("set has %d members, want 2", n)
	}
	c := ci
	c.Now = ci.Now.Add(LBLCExpiration + time.Second)
	s.Schedule(list, c) // set not modified for 24 h: drop the most loaded
	if n := len(s.table[ci.VIP.Addr()].set); n != 1 {
		t.Fatalf("after expiration the set has %d members, want 1", n)
	}
}

func TestUnknownScheduler(t *testing.T) {
	_, err := NewScheduler("xx", 0)
	if err == nil || !strings.Contains(err.Error(), `"xx"`) || !strings.Contains(err.Error(), "wlc") {
		t.Fatalf("error %v, want it to name xx and list the schedulers", err)
	}
}

// TestDistributionByWeight shows wrr and wlc (and twos, statistically)
// hand out connections in proportion to weight.
func TestDistributionByWeight(t *testing.T) {
	for _, sched := range []string{"wrr", "wlc", "twos", "sed"} {
		t.Run(sched, func(t *testing.T) {
			d, _ := newTestDirector(t, sched, 1, 2, 3)
			const n = 6000
			for i := 0; i < n; i++ {
				f, err := d.Connect(dataplane.TCP, vip, client(i))
				if err != nil {
					t.Fatal(err)
				}
				f.Event(dataplane.Established) // kept open: wlc balances active conns
			}
			tol := 0.002
			if sched == "twos" {
				tol = 0.03
			}
			for i, ds := range d.Snapshot().Services[0].Dests {
				want := float64(i+1) / 6
				got := float64(ds.Stats.Conns) / n
				if math.Abs(got-want) > tol {
					t.Errorf("%s: weight %d got %.4f of connections, want %.4f±%.3f", ds.Addr, ds.Weight, got, want, tol)
				}
			}
		})
	}
}
