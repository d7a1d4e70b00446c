package director

import (
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

func TestEstimatorFixedPoint(t *testing.T) {
	// Hand-computed with the kernel's integer arithmetic:
	//   conns 0→100 in 2 s: rate = 100<<9 = 51200, avg = 51200>>2 = 12800,
	//   CPS = (12800+511)>>10 = 12.
	//   conns →200: avg = 12800 + (51200-12800)>>2 = 22400, CPS = 22911>>10 = 22.
	//   bytes 0→10000: rate = 10000<<4 = 160000, avg = 40000, BPS = 40015>>5 = 1250.
	//   bytes →20000: avg = 40000 + 30000 = 70000, BPS = 70015>>5 = 2187.
	//   then idle: cps 22400-5600 = 16800 → 17311>>10 = 16; avg = 70000 + (0-70000)>>2 = 52500, BPS = 52515>>5 = 1641.
	var e Estimator
	steps := []struct {
		c    Counters
		want Rates
	}{
		{Counters{Conns: 100, InPkts: 1, InBytes: 10000}, Rates{CPS: 12, InPPS: 0, InBPS: 1250}},
		{Counters{Conns: 200, InPkts: 2, InBytes: 20000}, Rates{CPS: 22, InPPS: 0, InBPS: 2187}},
		{Counters{Conns: 200, InPkts: 2, InBytes: 20000}, Rates{CPS: 16, InPPS: 0, InBPS: 1641}},
	}
	for i, s := range steps {
		e.Sample(s.c)
		if got := e.Rates(); got != s.want {
			t.Fatalf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
	// InPPS: 1 packet per 2 s each step: avg 128 → (128+511)>>10 = 0;
	// 128 + (512-128)>>2 = 224 → 0. Check the raw state is as computed.
	if e.inpps != 168 { // 224 + (0-224)>>2 = 168
		t.Fatalf("inpps fixed-point %d, want 168", e.inpps)
	}
	// Arithmetic shift truncates toward -inf: avg 3, idle → 3 + (-3>>2) = 2.
	e2 := Estimator{cps: 3}
	e2.Sample(Counters{})
	if e2.cps != 2 {
		t.Fatalf("cps fixed-point %d after idle from 3, want 2 (floor shift)", e2.cps)
	}
	e.Reset(Counters{Conns: 200})
	e.Sample(Counters{Conns: 200})
	if got := e.Rates(); got != (Rates{}) {
		t.Fatalf("after Reset and an idle period: %+v, want zero", got)
	}
}

func TestEstimatorStepResponse(t *testing.T) {
	// A step to R reads ≈ 0.25R, 0.44R, 0.58R, 0.68R after 2/4/6/8 s.
	var e Estimator
	var c Counters
	want := []uint64{250, 437, 578, 684} // 448000+511>>10 = 437: half rounds down
	for i, w := range want {
		c.Conns += 2000 // 1000 conn/s
		e.Sample(c)
		if got := e.Rates().CPS; got != w {
			t.Fatalf("after %d s: CPS %d, want %d", 2*(i+1), got, w)
		}
	}
}

func TestDirectorTickEstimates(t *testing.T) {
	d, clk := newTestDirector(t, "rr", 1)
	for i := 0; i < 100; i++ {
		f, err := d.Connect(dataplane.TCP, vip, client(i))
		if err != nil {
			t.Fatal(err)
		}
		f.Count(true, 100, 1)
	}
	clk.Advance(time.Second)
	d.Tick()
	if r := d.Snapshot().Services[0].Rates; r.CPS != 0 {
		t.Fatalf("sampled after 1 s: %+v, want no sample yet", r)
	}
	clk.Advance(time.Second)
	d.Tick()
	snap := d.Snapshot()
	want := Rates{CPS: 12, InPPS: 12, InBPS: 1250}
	if r := snap.Services[0].Rates; r != want {
		t.Fatalf("service rates %+v, want %+v", r, want)
	}
	if r := snap.Services[0].Dests[0].Rates; r != want {
		t.Fatalf("realserver rates %+v, want %+v", r, want)
	}
	if err := d.Zero(nil); err != nil {
		t.Fatal(err)
	}
	snap = d.Snapshot()
	if snap.Services[0].Stats != (Counters{}) || snap.Services[0].Rates != (Rates{}) {
		t.Fatalf("after Zero: %+v %+v, want zero", snap.Services[0].Stats, snap.Services[0].Rates)
	}
}
