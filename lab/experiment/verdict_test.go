package experiment

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lvsperf/lvsperf/timing"
)

// noisy is n samples of v with relative Gaussian noise sd (seeded).
func noisy(seed uint64, n int, v, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = v * (1 + sd*r.NormFloat64())
	}
	return out
}

func TestJudgeRatio(t *testing.T) {
	for _, c := range []struct {
		name string
		iv   Interval
		rel  Relation
		tol  float64
		want Outcome
	}{
		{"below yes", Interval{0.8, 0.7, 0.9, 3}, Below, 0, Reproduced},
		{"below no", Interval{1.2, 1.1, 1.3, 3}, Below, 0, NotReproduced},
		{"below wide", Interval{0.9, 0.6, 1.2, 3}, Below, 0, Inconclusive},
		{"atmost yes", Interval{1.02, 0.98, 1.04, 3}, AtMost, 0.05, Reproduced},
		{"atmost no", Interval{1.31, 1.2, 1.4, 3}, AtMost, 0.05, NotReproduced},
		{"about yes", Interval{1, 0.95, 1.05, 3}, About, 0.1, Reproduced},
		{"about no", Interval{1.5, 1.3, 1.7, 3}, About, 0.1, NotReproduced},
		{"about wide", Interval{1, 0.5, 1.5, 3}, About, 0.1, Inconclusive},
		{"atleast yes", Interval{2, 1.8, 2.2, 3}, AtLeast, 1.5, Reproduced},
		{"atleast no", Interval{1.1, 1, 1.2, 3}, AtLeast, 1.5, NotReproduced},
		{"above wide", Interval{1.1, 0.9, 1.3, 3}, Above, 0, Inconclusive},
		{"empty", Interval{}, Above, 0, Inconclusive},
	} {
		if got := judgeRatio(c.iv, c.rel, c.tol); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCI95(t *testing.T) {
	iv := ci95([]float64{1, 2, 3})
	// mean 2, sd 1, t(2)=4.303: half-width 4.303/sqrt(3)
	if math.Abs(iv.Mean-2) > 1e-9 || math.Abs(iv.Half()-4.303/math.Sqrt(3)) > 1e-6 {
		t.Errorf("ci95(1,2,3) = %+v", iv)
	}
	if one := ci95([]float64{5}); !math.IsInf(one.Hi, 1) {
		t.Errorf("one sample must give no interval: %+v", one)
	}
}

// paths builds per-round small-message times (µs) for each path.
func pathsSamples(seed uint64, n int, direct, dr, martian, nat, sd float64) map[string][]float64 {
	return map[string][]float64{
		"direct": noisy(seed, n, direct, sd), "dr": noisy(seed+1, n, dr, sd),
		"martian": noisy(seed+2, n, martian, sd), "nat": noisy(seed+3, n, nat, sd),
	}
}

func TestPathsVerdicts(t *testing.T) {
	for _, c := range []struct {
		name         string
		s            map[string][]float64
		order, penal Outcome
	}{
		{"seed order", pathsSamples(1, 6, 4.0, 4.2, 4.6, 5.0, 0.01), Reproduced, Reproduced},
		// The bug of issue 13: direct slower than DR must not pass.
		{"direct slower than dr", pathsSamples(2, 6, 5.66, 4.31, 4.6, 5.0, 0.01), NotReproduced, Reproduced},
		{"nat faster", pathsSamples(3, 6, 4.0, 4.6, 4.8, 4.2, 0.01), NotReproduced, NotReproduced},
		{"noise", pathsSamples(4, 3, 4.0, 4.2, 4.3, 4.4, 0.3), Inconclusive, Inconclusive},
	} {
		vs := pathsVerdicts(c.s)
		if len(vs) != 2 || vs[0].Outcome != c.order || vs[1].Outcome != c.penal {
			t.Errorf("%s: %+v, want order %v, penalty %v", c.name, vs, c.order, c.penal)
		}
	}
	// A TUN series joins the order when present.
	s := pathsSamples(5, 6, 4.0, 4.2, 4.6, 5.0, 0.01)
	s["tun"] = noisy(9, 6, 6.0, 0.01)
	if vs := pathsVerdicts(s); vs[0].Outcome != NotReproduced || !strings.Contains(vs[0].Seed, "TUN") {
		t.Errorf("tun far from dr: %+v", vs[0])
	}
	s["tun"] = noisy(9, 6, 4.2, 0.01)
	if vs := pathsVerdicts(s); vs[0].Outcome != Reproduced {
		t.Errorf("tun ≈ dr: %+v", vs[0])
	}
}

// TestPathsVerdictStable: two sets of rounds from the same quiet machine
// (the same means, independent realistic noise: 3% per round, as the
// lab's small-message times vary on an idle 2-CPU machine) give the same
// verdicts once the stop rule has settled.
func TestPathsVerdictStable(t *testing.T) {
	settle := func(seed uint64) ([]Verdict, int) {
		all := pathsSamples(seed, 8, 4.0, 4.3, 4.8, 5.2, 0.03)
		for n := 3; n <= 8; n++ {
			s := map[string][]float64{}
			for k, v := range all {
				s[k] = v[:n]
			}
			ms := []*measured{}
			for k, v := range s {
				m := &measured{label: k}
				for _, x := range v {
					m.small = append(m.small, time.Duration(x*1000))
				}
				ms = append(ms, m)
			}
			if ok, _ := headlineSettled("paths", ms); ok || n == 8 {
				return pathsVerdicts(s), n
			}
		}
		panic("unreachable")
	}
	a, na := settle(100)
	b, nb := settle(200)
	for i := range a {
		if a[i].Outcome != b[i].Outcome {
			t.Errorf("%s: run A %v after %d rounds (%s), run B %v after %d rounds (%s)", a[i].Claim, a[i].Outcome, na, a[i].Ours, b[i].Outcome, nb, b[i].Ours)
		}
	}
	if a[0].Outcome != Reproduced {
		t.Errorf("quiet machine with the seed's order: %v (%s)", a[0].Outcome, a[0].Ours)
	}
}

func curveWithDrops(drops int) timing.Series {
	var s timing.Series
	rate := 1e6
	for i := 0; i < 20; i++ {
		n := timing.Bytes(1) << i
		r := rate * float64(i+1)
		if i > 5 && i <= 5+drops {
			r *= 0.5
		}
		s.Points = append(s.Points, timing.Point{Bytes: n, Min: time.Duration(float64(n*8) / r * 1e9)})
	}
	return s
}

func TestJaggednessAndNICs(t *testing.T) {
	if j := jaggedness(curveWithDrops(0)); j != 0 {
		t.Errorf("smooth curve: %d steps", j)
	}
	if j := jaggedness(curveWithDrops(3)); j != 3 {
		t.Errorf("3 drops: %d steps", j)
	}
	for _, c := range []struct {
		name     string
		one, two []float64
		want     Outcome
	}{
		{"jaggy 1nic", []float64{5, 6, 5}, []float64{0, 1, 0}, Reproduced},
		{"both smooth", []float64{0, 0, 0}, []float64{0, 0, 0}, NotReproduced},
		{"2nic jaggier", []float64{0, 1, 0}, []float64{4, 5, 4}, NotReproduced},
		{"noisy", []float64{3, 0, 5}, []float64{2, 3, 0}, Inconclusive},
	} {
		if v := nicsVerdict(c.one, c.two); v.Outcome != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, v.Outcome, v.Ours, c.want)
		}
	}
}

func TestMultiVerdict(t *testing.T) {
	for _, c := range []struct {
		r    []float64
		want Outcome
	}{
		{noisy(1, 5, 0.7, 0.02), Reproduced},
		{noisy(2, 5, 1.1, 0.02), NotReproduced},
		{noisy(3, 3, 0.95, 0.2), Inconclusive},
	} {
		if v := multiVerdict("leg", c.r); v.Outcome != c.want {
			t.Errorf("%v: %v, want %v", c.r, v.Outcome, c.want)
		}
	}
	alone := map[timing.Bytes]float64{1 << 16: 10, 1 << 17: 20}
	tog := map[timing.Bytes]float64{1 << 16: 5, 1 << 18: 1}
	if r := pairedBySize(tog, alone); len(r) != 1 || r[0] != 0.5 {
		t.Errorf("pairedBySize: %v", r)
	}
}

func TestTPVerdicts(t *testing.T) {
	mk := func(tpTime, tpRate, bothTime, sd float64) ([]Verdict, int) {
		small := map[string][]float64{"vip devices": noisy(1, 4, 10, sd), "tp realserver": noisy(2, 4, tpTime, sd),
			"tp director": noisy(3, 4, tpTime, sd), "tp both": noisy(4, 4, bothTime, sd)}
		rate := map[string][]float64{"vip devices": noisy(5, 4, 100, sd), "tp realserver": noisy(6, 4, tpRate, sd), "tp director": noisy(7, 4, tpRate, sd)}
		vs := tpVerdicts(small, rate)
		return vs, len(vs)
	}
	for _, c := range []struct {
		name                     string
		tpTime, tpRate, bothTime float64
		sd                       float64
		want                     Outcome
	}{
		{"seed", 12.5, 90, 12.5, 0.01, Reproduced},
		{"no penalty", 9, 110, 20, 0.01, NotReproduced},
		{"noise", 10.5, 98, 10.5, 0.3, Inconclusive},
	} {
		vs, n := mk(c.tpTime, c.tpRate, c.bothTime, c.sd)
		if n != 5 {
			t.Fatalf("%d verdicts", n)
		}
		for _, v := range vs {
			if v.Outcome != c.want {
				t.Errorf("%s %s: %v (%s), want %v", c.name, v.Claim, v.Outcome, v.Ours, c.want)
			}
		}
	}
}

func TestHTTPVerdicts(t *testing.T) {
	mk := func(smallGain, largeGain, rsGain float64) httpFigures {
		h := httpFigures{}
		for i, rs := range []int{1, 2} {
			for j, c := range []int{1, httpSyncClients} {
				jit := 1 + 0.01*float64(i+2*j)
				g := 1.0
				if rs == 2 && c == 1 {
					g = rsGain
				}
				h[[4]int{1, rs, c, 0}] = 1000 * g
				h[[4]int{100, rs, c, 0}] = 1000 * g * smallGain * jit
				h[[4]int{1, rs, c, 20}] = 50
				h[[4]int{100, rs, c, 20}] = 50 * largeGain * jit
			}
		}
		return h
	}
	for _, c := range []struct {
		name      string
		h         httpFigures
		s, l, rsv Outcome
	}{
		{"seed", mk(2, 1, 1), Reproduced, Reproduced, Reproduced},
		{"opposite", mk(1, 1.8, 1.6), NotReproduced, NotReproduced, NotReproduced},
	} {
		vs := httpVerdicts(c.h, 0, 20, [2]time.Duration{time.Millisecond, 30 * time.Millisecond})
		if vs[0].Outcome != c.s || vs[1].Outcome != c.l || vs[2].Outcome != c.rsv {
			t.Errorf("%s: %v %v %v", c.name, vs[0].Outcome, vs[1].Outcome, vs[2].Outcome)
		}
		if !strings.Contains(vs[0].Ours, "max/min 30×") {
			t.Errorf("spread missing: %s", vs[0].Ours)
		}
	}
	// A noisy small-file gain straddling 1.5: inconclusive.
	h := httpFigures{}
	for i, v := range []float64{1.1, 2.2, 1.3, 2.0} {
		rs, c := 1+i%2, []int{1, httpSyncClients}[i/2]
		h[[4]int{1, rs, c, 0}], h[[4]int{100, rs, c, 0}] = 100, 100*v
	}
	if vs := httpVerdicts(h, 0, 20, [2]time.Duration{}); vs[0].Outcome != Inconclusive {
		t.Errorf("noisy: %v (%s)", vs[0].Outcome, vs[0].Ours)
	}
}

func TestBulkVerdicts(t *testing.T) {
	for _, c := range []struct {
		name string
		v    Verdict
		want Outcome
	}{
		{"stream same", streamVerdict("dr", noisy(1, 4, 100, 0.02), noisy(2, 4, 100, 0.02)), Reproduced},
		{"stream double", streamVerdict("dr", noisy(1, 4, 200, 0.02), noisy(2, 4, 100, 0.02)), NotReproduced},
		{"stream noisy", streamVerdict("dr", noisy(1, 3, 110, 0.3), noisy(2, 3, 100, 0.3)), Inconclusive},
		{"rsh disk slower", rshVerdict("real", noisy(1, 3, 12, 0.02), noisy(2, 3, 40, 0.02)), Reproduced},
		{"rsh disk same", rshVerdict("tmpfs", noisy(1, 3, 42, 0.01), noisy(2, 3, 40, 0.01)), NotReproduced},
		{"rsh noisy", rshVerdict("tmpfs", noisy(1, 3, 38, 0.3), noisy(2, 3, 40, 0.3)), Inconclusive},
		{"lpd flat", lpdVerdict(noisy(1, 3, 1.05, 0.02), 200*time.Millisecond), Reproduced},
		{"lpd steep", lpdVerdict(noisy(1, 3, 3, 0.02), time.Millisecond), NotReproduced},
		{"lpd noisy", lpdVerdict(noisy(1, 3, 1.4, 0.3), time.Millisecond), Inconclusive},
	} {
		if c.v.Outcome != c.want {
			t.Errorf("%s: %v (%s), want %v", c.name, c.v.Outcome, c.v.Ours, c.want)
		}
	}
	for _, c := range []struct {
		name     string
		rw, size float64
		sd       float64
		want     Outcome
	}{
		{"seed", 1, 1, 0.02, Reproduced},
		{"differ", 2, 4, 0.02, NotReproduced},
		{"noisy", 1.1, 1.1, 0.4, Inconclusive},
	} {
		vs := nfsVerdicts(noisy(1, 3, c.rw, c.sd), noisy(2, 3, 1, c.sd), noisy(3, 6, 1, c.sd), noisy(4, 6, c.size, c.sd))
		for _, v := range vs {
			if v.Outcome != c.want {
				t.Errorf("nfs %s %s: %v (%s), want %v", c.name, v.Claim, v.Outcome, v.Ours, c.want)
			}
		}
	}
}

func TestJudgeBulkSeries(t *testing.T) {
	pt := func(n timing.Bytes, d time.Duration) timing.Point { return timing.Point{Bytes: n, Min: d} }
	ser := func(label string, ps ...timing.Point) bulkSeries {
		var b bulkSeries
		b.ser.Label, b.ser.Points = label, ps
		b.path = strings.Fields(label)[0]
		return b
	}
	var got []bulkSeries
	for _, p := range []string{"direct", "nat", "dr"} {
		got = append(got, ser(p+" lpd", pt(1, 200*time.Millisecond), pt(4096, 210*time.Millisecond)))
	}
	if v := judgeLpd(got)[0]; v.Outcome != Reproduced || !strings.Contains(v.Ours, "200ms") {
		t.Errorf("lpd: %+v", v)
	}
	got = nil
	for _, p := range []string{"direct", "nat", "dr"} {
		null := ser(p+" rsh", pt(1<<20, 200*time.Millisecond))
		disk := ser(p+" disk real rsh", pt(1<<20, 700*time.Millisecond))
		disk.variant, disk.fsType = "disk real", "ext4"
		got = append(got, null, disk)
	}
	if vs := judgeRsh(got); len(vs) != 1 || vs[0].Outcome != Reproduced || !strings.Contains(vs[0].Claim, "ext4") {
		t.Errorf("rsh: %+v", vs)
	}
}

func TestVerdictTableFits(t *testing.T) {
	vs := pathsVerdicts(pathsSamples(1, 4, 4.0, 4.2, 4.6, 5.0, 0.01))
	vs = append(vs, failedRow("rsh", errorString("lvsperf probe rsh --host 10.0.0.1:514 --budget 30s --out /tmp/x: exit status 1: connection refused")))
	out := VerdictTable(vs)
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	for _, want := range []string{"paths: order", "failed", "reproduced", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestNewEntries(t *testing.T) {
	got := newEntries([]string{"link eth0", "namespace lvsperf-1-abc-client"},
		[]string{"link eth0", "link veth9", "link lvs-c0", "namespace lvsperf-1-abc-client", "namespace lvsperf-1-def-dir", "nft table inet lvsperf"})
	if strings.Join(got, ",") != "link lvs-c0,namespace lvsperf-1-def-dir,nft table inet lvsperf" {
		t.Errorf("newEntries: %v", got)
	}
}

func TestMTUVerdict(t *testing.T) {
	for _, c := range []struct {
		r    []float64
		want Outcome
	}{
		{noisy(1, 5, 0.5, 0.02), Reproduced},
		{noisy(2, 5, 0.95, 0.02), NotReproduced},
		{noisy(3, 3, 0.6, 0.4), Inconclusive},
	} {
		if v := mtuVerdict(c.r); v.Outcome != c.want {
			t.Errorf("%v: %v (%s), want %v", c.r, v.Outcome, v.Ours, c.want)
		}
	}
}

// A round whose fit put the max rate at +Inf (or whose figure is NaN) is
// no sample: the verdict comes from the other rounds, never from "+Inf×".
func TestNonFiniteRoundsDropped(t *testing.T) {
	stream := append(noisy(1, 4, 100, 0.02), math.Inf(1), math.NaN())
	pp := append(noisy(2, 4, 100, 0.02), 100, 100)
	if r := pairedRatios(stream, pp); len(r) != 4 {
		t.Fatalf("pairedRatios kept %d of 6 rounds (%v), want the 4 finite ones", len(r), r)
	}
	v := streamVerdict("dr", stream, pp)
	if v.Outcome != Reproduced || strings.Contains(v.Ours, "Inf") || strings.Contains(v.Ours, "NaN") {
		t.Errorf("stream verdict with non-finite rounds: %v %q", v.Outcome, v.Ours)
	}
	// The largest three sizes' median rate: the 8000-byte point has no
	// time and is skipped, the 16-byte one is not among the largest.
	large := largeRate(timing.Series{Points: []timing.Point{{Bytes: 16, Min: time.Nanosecond}, {Bytes: 1000, Min: time.Microsecond},
		{Bytes: 2000, Min: 4 * time.Microsecond}, {Bytes: 4000, Min: 2 * time.Microsecond}, {Bytes: 8000, Min: 0}}})
	if want := float64(timing.Rate(1000, time.Microsecond)); large != want {
		t.Errorf("largeRate %v, want %v (median of the rates at 1000, 2000 and 4000 bytes)", large, want)
	}
}
