package experiment

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// Outcome is an experiment's verdict against the seed's finding.
type Outcome string

// The three outcomes a verdict can have.
const (
	// Reproduced: our data support the seed's claim, interval included.
	Reproduced Outcome = "reproduced"
	// NotReproduced: our data contradict the claim beyond the interval.
	NotReproduced Outcome = "not reproduced"
	// Inconclusive: the interval is too wide to say either way.
	Inconclusive Outcome = "inconclusive (CI too wide)"
)

// Verdict compares one experiment's figures with the seed's finding. It is
// computed from the data, never set by hand.
type Verdict struct {
	// Experiment is the experiment's name (paths, rsh, …); Claim names the
	// sub-claim when an experiment tests several (e.g. "null vs disk").
	Experiment, Claim string
	// Seed states the seed's finding as a testable comparison, with the
	// seed's figure (e.g. "NAT > DR: +30 µs per round trip").
	Seed string
	// Ours is our figure with its 95% interval, in the same terms.
	Ours string
	// Outcome is the verdict; Why says in a few words what decided it.
	Outcome Outcome
	Why     string
}

// tCrit95 is Student's two-sided 95% critical value for df degrees of
// freedom (df ≥ 30 uses the normal 1.96).
func tCrit95(df int) float64 {
	tab := []float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df < 1 {
		return math.Inf(1)
	}
	if df < len(tab) {
		return tab[df]
	}
	return 1.96
}

// Interval is a mean with its 95% confidence interval.
type Interval struct {
	Mean, Lo, Hi float64
	N            int
}

// Half is the interval's half-width.
func (iv Interval) Half() float64 { return (iv.Hi - iv.Lo) / 2 }

// ci95 is the mean of x with its Student-t 95% interval; one sample gives
// an infinitely wide interval.
func ci95(x []float64) Interval {
	n := len(x)
	if n == 0 {
		return Interval{Lo: math.Inf(-1), Hi: math.Inf(1)}
	}
	var sum float64
	for _, v := range x {
		sum += v
	}
	m := sum / float64(n)
	if n == 1 {
		return Interval{Mean: m, Lo: math.Inf(-1), Hi: math.Inf(1), N: 1}
	}
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	h := tCrit95(n-1) * math.Sqrt(ss/float64(n-1)/float64(n))
	return Interval{Mean: m, Lo: m - h, Hi: m + h, N: n}
}

// pairedRatios are a[i]/b[i] for the rounds both have.
func pairedRatios(a, b []float64) []float64 {
	var r []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		// A zero or non-finite figure (a failed fit's rate) is no sample.
		if b[i] != 0 && finite(a[i]) && finite(b[i]) {
			r = append(r, a[i]/b[i])
		}
	}
	return r
}

func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// Relation is a claim about a ratio a/b.
type Relation int

// The relations a claim can make about the ratio a/b, with a tolerance tol.
const (
	// Below: a < b, i.e. a/b < 1.
	Below Relation = iota
	// AtMost: a ≤ b within tol, i.e. a/b ≤ 1+tol.
	AtMost
	// About: a ≈ b within tol, i.e. 1-tol ≤ a/b ≤ 1+tol.
	About
	// AtLeast: a/b ≥ tol (tol is the threshold itself, e.g. 1.5).
	AtLeast
	// Above: a > b, i.e. a/b > 1.
	Above
)

// judgeRatio judges a claim on the interval of a ratio: reproduced when the
// whole interval satisfies it, not reproduced when none of it does,
// inconclusive when the interval straddles the boundary.
func judgeRatio(iv Interval, rel Relation, tol float64) Outcome {
	if iv.N == 0 || math.IsNaN(iv.Mean) {
		return Inconclusive
	}
	switch rel {
	case Below:
		return band(iv.Hi < 1, iv.Lo >= 1)
	case AtMost:
		return band(iv.Hi <= 1+tol, iv.Lo > 1+tol)
	case About:
		return band(iv.Lo >= 1-tol && iv.Hi <= 1+tol, iv.Hi < 1-tol || iv.Lo > 1+tol)
	case AtLeast:
		return band(iv.Lo >= tol, iv.Hi < tol)
	case Above:
		return band(iv.Lo > 1, iv.Hi <= 1)
	}
	return Inconclusive
}

func band(yes, no bool) Outcome {
	switch {
	case yes:
		return Reproduced
	case no:
		return NotReproduced
	}
	return Inconclusive
}

// combine is the outcome of a claim made of parts: not reproduced when
// any part is not, reproduced when all are, else inconclusive.
func combine(os ...Outcome) Outcome {
	all := len(os) > 0
	for _, o := range os {
		if o == NotReproduced {
			return NotReproduced
		}
		if o != Reproduced {
			all = false
		}
	}
	if all {
		return Reproduced
	}
	return Inconclusive
}

// fmtIv prints a ratio interval as "1.23× [1.10, 1.36]".
func fmtIv(iv Interval) string {
	if iv.N < 2 {
		return fmt.Sprintf("%.2f× (n=%d, no interval)", iv.Mean, iv.N)
	}
	return fmt.Sprintf("%.2f× [%.2f, %.2f]", iv.Mean, iv.Lo, iv.Hi)
}

// fmtPct prints a ratio interval as a percentage change "+12.3% [+5.0, +19.6]".
func fmtPct(iv Interval) string {
	if iv.N < 2 {
		return fmt.Sprintf("%+.1f%% (n=%d, no interval)", 100*(iv.Mean-1), iv.N)
	}
	return fmt.Sprintf("%+.1f%% [%+.1f, %+.1f]", 100*(iv.Mean-1), 100*(iv.Lo-1), 100*(iv.Hi-1))
}

func durs(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// orderStep is one comparison of the paths order.
type orderStep struct {
	a, b string
	rel  Relation
	tol  float64
}

// pathsVerdicts judges the seed's order direct ≤ DR ≈ TUN < martian < NAT
// on per-round small-message times (rounds interleaved, so paired), and
// the NAT penalty over DR against the seed's 15%. A "tun" series is
// judged when present and left out of the order otherwise.
func pathsVerdicts(small map[string][]float64) []Verdict {
	steps := []orderStep{{"direct", "dr", AtMost, 0.05}}
	if _, ok := small["tun"]; ok {
		steps = append(steps, orderStep{"tun", "dr", About, 0.10})
	}
	steps = append(steps, orderStep{"dr", "martian", Below, 0}, orderStep{"martian", "nat", Below, 0})
	var outs []Outcome
	var parts, why []string
	for _, s := range steps {
		a, b := small[s.a], small[s.b]
		if a == nil || b == nil {
			outs = append(outs, Inconclusive)
			why = append(why, fmt.Sprintf("%s or %s not measured", s.a, s.b))
			continue
		}
		iv := ci95(pairedRatios(a, b))
		o := judgeRatio(iv, s.rel, s.tol)
		outs = append(outs, o)
		parts = append(parts, fmt.Sprintf("%s/%s %s", s.a, s.b, fmtIv(iv)))
		if o != Reproduced {
			why = append(why, fmt.Sprintf("%s %s %s: %s", s.a, relSym[s.rel], s.b, o))
		}
	}
	order := "direct ≤ DR < martian < NAT"
	if _, ok := small["tun"]; ok {
		order = "direct ≤ DR ≈ TUN < martian < NAT"
	}
	w := "every step of the order holds over the whole 95% interval"
	if len(why) > 0 {
		w = strings.Join(why, "; ")
	}
	vs := []Verdict{{Experiment: "paths", Claim: "order",
		Seed: order + " (small-message time; the seed: direct lowest, martian between DR and NAT)",
		Ours: strings.Join(parts, ", "), Outcome: combine(outs...), Why: w}}
	if small["nat"] != nil && small["dr"] != nil {
		iv := ci95(pairedRatios(small["nat"], small["dr"]))
		vs = append(vs, Verdict{Experiment: "paths", Claim: "NAT penalty",
			Seed: "NAT > DR: +15% latency", Ours: "NAT/DR " + fmtPct(iv),
			Outcome: judgeRatio(iv, Above, 0),
			Why:     "the claim is NAT slower than DR (interval above 0%); its size beside the seed's 15%"})
	}
	return vs
}

var relSym = map[Relation]string{Below: "<", AtMost: "≤", About: "≈", AtLeast: "≥", Above: ">"}

// judgeDiff judges "a > b" on paired differences a[i]-b[i]: reproduced
// when the whole interval is above 0, not when none of it is.
func judgeDiff(a, b []float64) (Interval, Outcome) {
	var d []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		d = append(d, a[i]-b[i])
	}
	iv := ci95(d)
	if iv.N == 0 {
		return iv, Inconclusive
	}
	if iv.N == 1 {
		return iv, Inconclusive
	}
	return iv, band(iv.Lo > 0, iv.Hi <= 0)
}

// jaggedness counts the non-monotone steps of a throughput curve: points
// whose rate falls more than 5% below the best rate of the smaller
// messages before them.
func jaggedness(s timing.Series) int {
	var best float64
	n := 0
	for _, p := range s.Points {
		if p.Min <= 0 {
			continue
		}
		r := float64(timing.Rate(p.Bytes, p.Min))
		if r < 0.95*best {
			n++
		}
		best = max(best, r)
	}
	return n
}

// nicsVerdict judges "1 NIC is jaggier than 2 NICs" on per-round
// jaggedness counts of the LVS-DR curves.
func nicsVerdict(one, two []float64) Verdict {
	iv, o := judgeDiff(one, two)
	return Verdict{Experiment: "nics", Claim: "1 vs 2 NIC jaggies",
		Seed:    "1-NIC DR curve jaggy, 2-NIC smooth: non-monotone steps 1nic > 2nic",
		Ours:    fmt.Sprintf("steps 1nic %.1f, 2nic %.1f; diff %.1f [%.1f, %.1f]", mean(one), mean(two), iv.Mean, iv.Lo, iv.Hi),
		Outcome: o, Why: "per-round count of rate drops >5% below the running best; paired difference's 95% interval vs 0"}
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// largeRates are the rates of a curve's points of 64 KiB and more, by size.
func largeRates(s timing.Series) map[timing.Bytes]float64 {
	m := map[timing.Bytes]float64{}
	for _, p := range s.Points {
		if p.Bytes >= 64<<10 && p.Min > 0 {
			m[p.Bytes] = float64(timing.Rate(p.Bytes, p.Min))
		}
	}
	return m
}

// pairedBySize is together/alone for the sizes both curves reached.
func pairedBySize(together, alone map[timing.Bytes]float64) []float64 {
	var r []float64
	for sz, a := range alone {
		if t, ok := together[sz]; ok && a > 0 {
			r = append(r, t/a)
		}
	}
	sort.Float64s(r)
	return r
}

// multiVerdict judges "a netpipe is slowed by another one running at the
// same time": the rate ratio together/alone over the large sizes < 1.
func multiVerdict(leg string, ratios []float64) Verdict {
	iv := ci95(ratios)
	return Verdict{Experiment: "multi-netpipe", Claim: leg,
		Seed: "netpipes interfere: together/alone rate < 1", Ours: "together/alone " + fmtIv(iv),
		Outcome: judgeRatio(iv, Below, 0), Why: "rate ratio at each size ≥64KiB both sweeps reached"}
}

// tpVerdicts judges the seed's transparent-proxy penalties on per-round
// figures keyed by curve label: small-message times (low load: the seed's
// -25%) and max rates (high load: the seed's -10%), each TP curve against
// "vip devices"; and "tp both" ≈ "tp realserver" (no further penalty).
func tpVerdicts(small, rate map[string][]float64) []Verdict {
	var vs []Verdict
	base := "vip devices"
	for _, c := range []string{"tp realserver", "tp director"} {
		if small[c] == nil || small[base] == nil {
			continue
		}
		lo := ci95(pairedRatios(small[c], small[base]))
		hi := ci95(pairedRatios(rate[base], rate[c]))
		vs = append(vs, Verdict{Experiment: "tp", Claim: c + ", low load",
			Seed: "TP slower than VIP devices at low load: ca. +25% time", Ours: "time " + fmtPct(lo),
			Outcome: judgeRatio(lo, Above, 0), Why: "per-round ≤64B time ratio TP / VIP devices > 1"})
		vs = append(vs, Verdict{Experiment: "tp", Claim: c + ", high load",
			Seed: "TP slower at high load: ca. -10% rate", Ours: "VIP/TP rate " + fmtPct(hi),
			Outcome: judgeRatio(hi, Above, 0), Why: "per-round ratio VIP devices / TP of the rates at the 3 largest sizes > 1"})
	}
	if small["tp both"] != nil && small["tp realserver"] != nil {
		iv := ci95(pairedRatios(small["tp both"], small["tp realserver"]))
		vs = append(vs, Verdict{Experiment: "tp", Claim: "both vs realserver",
			Seed: "TP on both ≈ TP on one: no further penalty (±10%)", Ours: "time both/realserver " + fmtIv(iv),
			Outcome: judgeRatio(iv, About, 0.10), Why: "per-round ≤64B time ratio within ±10%"})
	}
	return vs
}

// httpFigures are the http experiment's hits/s for the verdicts: keyed
// by keep-alive, realservers, clients and file exponent.
type httpFigures map[[4]int]float64

// httpVerdicts judges persistent vs non-persistent (small files: the
// seed's 2×; large files: no difference) and the serial client's gain
// from a second realserver (none). Each cell is one measurement; the
// samples of a ratio are the cells that measure it (1 and 2 realservers,
// serial and synchronised clients).
func httpVerdicts(h httpFigures, small, large int, spread [2]time.Duration) []Verdict {
	ratio := func(f int) []float64 {
		var r []float64
		for _, rs := range []int{1, 2} {
			for _, c := range []int{1, httpSyncClients} {
				if a, b := h[[4]int{100, rs, c, f}], h[[4]int{1, rs, c, f}]; b > 0 && a > 0 {
					r = append(r, a/b)
				}
			}
		}
		return r
	}
	sm, lg := ci95(ratio(small)), ci95(ratio(large))
	spr := ""
	if spread[0] > 0 {
		spr = fmt.Sprintf("; file.%d request time max/min %.0f× (%v / %v)", small, float64(spread[1])/float64(spread[0]), spread[1].Round(time.Microsecond), spread[0].Round(time.Microsecond))
	}
	var gain []float64
	for _, k := range []int{1, 100} {
		if a, b := h[[4]int{k, 2, 1, small}], h[[4]int{k, 1, 1, small}]; a > 0 && b > 0 {
			gain = append(gain, a/b)
		}
	}
	return []Verdict{
		{Experiment: "http", Claim: "persistent, small file",
			Seed: fmt.Sprintf("persistent/non-persistent hits/s ≈ 2× at file.%d (≥1.5×)", small), Ours: fmtIv(sm) + spr,
			Outcome: judgeRatio(sm, AtLeast, 1.5), Why: "k100/k1 hits/s over the 1/2 rs × serial/sync cells"},
		{Experiment: "http", Claim: "persistent, large file",
			Seed: fmt.Sprintf("no persistence gain at file.%d (rate-bound; ±20%%)", large), Ours: fmtIv(lg),
			Outcome: judgeRatio(lg, About, 0.20), Why: "k100/k1 hits/s over the 1/2 rs × serial/sync cells"},
		{Experiment: "http", Claim: "serial client, 2nd rs",
			Seed: "one serial client: 2 rs / 1 rs ≈ 1.0× (no gain)", Ours: fmt.Sprintf("%v", roundFloats(gain)),
			Outcome: serialVerdict(gain), Why: "k1 and k100 ratios; ±10% median, ±20% each"},
	}
}

func roundFloats(x []float64) string {
	var s []string
	for _, v := range x {
		s = append(s, fmt.Sprintf("%.2f×", v))
	}
	return strings.Join(s, ", ")
}

// streamVerdict judges "streaming gives the same throughput as
// ping-pong": per-round max rate ratio within ±20%.
func streamVerdict(path string, streamRate, ppRate []float64) Verdict {
	iv := ci95(pairedRatios(streamRate, ppRate))
	return Verdict{Experiment: "stream", Claim: path + " stream vs ping-pong",
		Seed: "one-way stream rate ≈ two-way netpipe rate (±20%)", Ours: "stream/ping-pong " + fmtIv(iv),
		Outcome: judgeRatio(iv, About, 0.20), Why: "per-round ratio of the rates at the 3 largest sizes"}
}

// rshVerdict judges "copying to disk is slower than to /dev/null" (the
// seed: 12 vs 40 Mbps) on the max rates of the paths measured both ways.
func rshVerdict(where string, disk, null []float64) Verdict {
	iv := ci95(pairedRatios(disk, null))
	return Verdict{Experiment: "rsh", Claim: "null vs disk (" + where + ")",
		Seed: "disk/null rate < 1: 12 vs 40 Mbps (0.30×)", Ours: "disk/null " + fmtIv(iv),
		Outcome: judgeRatio(iv, Below, 0), Why: "max rate ratio per path (direct, NAT, DR)"}
}

// lpdVerdict judges "small jobs' time is set by connection setup": the
// time of a 4 KiB job is within 50% of a 1-byte job's, per path.
func lpdVerdict(ratios []float64, setup time.Duration) Verdict {
	iv := ci95(ratios)
	return Verdict{Experiment: "lpd", Claim: "setup-bound small jobs",
		Seed:    "small-job time flat, set by setup (0.2 s then): t(4KiB)/t(1B) ≤ 1.5",
		Ours:    fmt.Sprintf("t(4KiB)/t(1B) %s; setup %v", fmtIv(iv), setup.Round(10*time.Microsecond)),
		Outcome: judgeRatio(iv, AtMost, 0.5), Why: "ratio per path (direct, NAT, DR)"}
}

// nfsVerdicts judges read ≈ write (the seed: LVS has no preference for
// direction) and rsize/wsize 16k ≈ 1k (the seed: no difference 1-16k),
// on max rates per path.
func nfsVerdicts(read, write, small, big []float64) []Verdict {
	rw := ci95(pairedRatios(read, write))
	rs := ci95(pairedRatios(big, small))
	return []Verdict{
		{Experiment: "nfs", Claim: "read vs write",
			Seed: "no direction preference: read/write rate ≈ 1 (±20%)", Ours: "read/write " + fmtIv(rw),
			Outcome: judgeRatio(rw, About, 0.20), Why: "max rate ratio per path"},
		{Experiment: "nfs", Claim: "rsize/wsize 1k vs 16k",
			Seed: "no difference for rsize/wsize 1-16k: 16k/1k rate ≈ 1 (±20%)", Ours: "16k/1k " + fmtIv(rs),
			Outcome: judgeRatio(rs, About, 0.20), Why: "max rate ratio per path and direction"},
	}
}

// mtuVerdict judges "halving the MTU halves the latency-equivalent
// bytes": the per-round ratio MTU 750 / MTU 1500 within 0.4-0.6.
func mtuVerdict(ratios []float64) Verdict {
	iv := ci95(ratios)
	// 2×ratio ≈ 1 within ±20% is the band 0.4-0.6.
	dbl := Interval{Mean: 2 * iv.Mean, Lo: 2 * iv.Lo, Hi: 2 * iv.Hi, N: iv.N}
	return Verdict{Experiment: "mtu", Claim: "pole moves with MTU",
		Seed: "lat×rate at MTU 750 / at 1500 ≈ 0.5 (band 0.4-0.6)", Ours: "750/1500 " + fmtIv(iv),
		Outcome: judgeRatio(dbl, About, 0.20), Why: "per-round ratio of latency-equivalent bytes, interval within 0.4-0.6"}
}
