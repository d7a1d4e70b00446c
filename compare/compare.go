package compare

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// ErrIncomparable is returned when two runs cannot be compared: different
// probes, no series in common, or too few sizes in common.
var ErrIncomparable = errors.New("the runs cannot be compared")

// Defaults for Options.
const (
	// DefaultK is how many combined standard deviations a change must pass
	// to count as beyond noise.
	DefaultK = 3
	// DefaultFloor is the smallest relative change (10%) that can count as
	// a regression however quiet the runs were: a gate that fails on a 2%
	// shift fails on every kernel update and every busy neighbour.
	DefaultFloor = 0.10
	// minSizes is the fewest sizes in common a curve comparison needs.
	minSizes = 3
)

// Options say how strict the gate is. The zero value of each field means
// its default.
type Options struct {
	// K is the number of combined standard deviations a change must pass
	// to be beyond noise. Default 3.
	K float64
	// Floor is the smallest relative change that counts (0.10 = 10%).
	// Default DefaultFloor.
	Floor float64
	// GateFits lets the fitted latency and max_rate fail the run too. Off
	// by default: a fit's confidence interval describes the scatter of
	// the points around the model within one run, not how much the fitted
	// figure moves from run to run, and on a shared machine the fitted
	// latency ratio moved by more than its interval between clean runs
	// (regress/README.md). The curve, whose noise is measured per size,
	// gates either way.
	GateFits bool
	// Ratio, when set ("NUM/DEN", series labels or paths such as
	// "director/direct"), compares NUM÷DEN measured inside BASE with the
	// same ratio inside NEW, instead of comparing absolute figures.
	Ratio string
}

func (o Options) normalize() (Options, error) {
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.Floor == 0 {
		o.Floor = DefaultFloor
	}
	if o.K < 0 || math.IsNaN(o.K) || math.IsInf(o.K, 0) {
		return o, fmt.Errorf("k %v: want a positive number of standard deviations, e.g. 3", o.K)
	}
	if o.Floor < 0 || o.Floor >= 1 || math.IsNaN(o.Floor) {
		return o, fmt.Errorf("floor %v: want a relative change between 0 and 1, e.g. 0.1 for 10%%", o.Floor)
	}
	return o, nil
}

// Verdict says whether a change is beyond the noise and which way.
type Verdict string

// Verdicts.
const (
	Within    Verdict = "within noise"
	Regressed Verdict = "REGRESSED"
	Improved  Verdict = "improved"
	// Unknown is given when the data cannot bound the noise (a fit whose
	// confidence interval is unbounded, a fit that failed).
	Unknown Verdict = "unknown"
)

// Metric is one figure compared between BASE and NEW.
type Metric struct {
	// Series names the series (or "NUM / DEN" in ratio mode).
	Series string
	// Measure is "throughput", "latency (fit)" or "max_rate (fit)".
	Measure string
	// Base and New are the figures in Unit.
	Base, New float64
	Unit      string
	// Change is New/Base − 1.
	Change float64
	// Tolerance is the relative change (in the worsening direction) the
	// data allow as noise: a change worse than this is a regression.
	Tolerance float64
	Verdict   Verdict
	// Gated is false for figures shown but not allowed to fail the run
	// (a fit the model does not describe); Note says why.
	Gated bool
	Note  string
}

// SizeRow is one size of a compared curve.
type SizeRow struct {
	Series string
	Bytes  timing.Bytes
	// Base and New are throughputs in Mbit/s, or ratios in ratio mode.
	Base, New float64
	// Change is New/Base − 1; Noise the relative change this size's trial
	// spreads allow (K combined standard deviations, at least the floor).
	Change, Noise float64
	Verdict       Verdict
}

// Result is what Runs found.
type Result struct {
	// Mode is "absolute" or "ratio NUM/DEN".
	Mode    string
	Metrics []Metric
	Sizes   []SizeRow
	// Regressed is true when a gated metric regressed beyond tolerance.
	Regressed bool
	// Warnings say what makes the comparison weaker (a contended machine,
	// different options or hosts, series without a match).
	Warnings []string
	// Pairs are the series compared, BASE then NEW, for an overlay plot.
	Pairs [][2]results.Series
	opts  Options
}

// Runs compares NEW against BASE. It returns ErrIncomparable (wrapped, with
// the reason) when the runs measure different things.
func Runs(base, next *results.Run, o Options) (*Result, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if base.Probe != next.Probe {
		return nil, fmt.Errorf("%w: BASE measured probe %q and NEW probe %q; compare runs of the same probe", ErrIncomparable, base.Probe, next.Probe)
	}
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{"BASE", base}, {"NEW", next}} {
		if r.run.Intervals() {
			return nil, fmt.Errorf("%w: %s is a timed run (probe %s: its points are intervals, not sizes); compare judges size sweeps — "+
				"for a timed stream put both runs in one report (lvsperf report BASE NEW), or sweep sizes with lvsperf stream -u SIZE", ErrIncomparable, r.name, r.run.Probe)
		}
	}
	res := &Result{Mode: "absolute", opts: o}
	res.Warnings = warnings(base, next, o.Ratio != "")
	if o.Ratio != "" {
		err = compareRatio(res, base, next, o)
	} else {
		err = compareAbsolute(res, base, next, o)
	}
	if err != nil {
		return nil, err
	}
	for _, m := range res.Metrics {
		if m.Gated && m.Verdict == Regressed {
			res.Regressed = true
		}
	}
	return res, nil
}

func warnings(base, next *results.Run, ratio bool) []string {
	var w []string
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{"BASE", base}, {"NEW", next}} {
		if r.run.Env.Contended {
			w = append(w, fmt.Sprintf("%s was measured on a busy machine (%s)", r.name, r.run.Env.Note))
		}
		if !r.run.Complete {
			w = append(w, fmt.Sprintf("%s ended early (%s); only the sizes it finished are compared", r.name, orNone(r.run.Error)))
		}
	}
	if !ratio && (base.Env.CPU != next.Env.CPU || base.Env.Host != next.Env.Host) {
		w = append(w, fmt.Sprintf("the runs come from different machines (%s on %s, %s on %s): absolute figures differ by machine; use --ratio for a comparison that holds across machines",
			orNone(base.Env.Host), orNone(base.Env.CPU), orNone(next.Env.Host), orNone(next.Env.CPU)))
	}
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]string{base.Options, next.Options} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		bv, bok := base.Options[k]
		nv, nok := next.Options[k]
		switch {
		case bok && nok && bv != nv:
			w = append(w, fmt.Sprintf("option %s differs: BASE %q, NEW %q", k, bv, nv))
		case bok != nok:
			w = append(w, fmt.Sprintf("option %s is set in one run only: BASE %q, NEW %q", k, bv, nv))
		}
	}
	return w
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func compareAbsolute(res *Result, base, next *results.Run, o Options) error {
	used := map[int]bool{}
	for i, bs := range base.Series {
		j := matchSeries(bs, next.Series, used)
		if j < 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("series %q (%s) of BASE has no match in NEW", name(bs, i), bs.Path))
			continue
		}
		used[j] = true
		ns := next.Series[j]
		label := name(bs, i)
		m, rows, err := compareCurve(label, samples(bs), samples(ns), "Mbit/s", o)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
			continue
		}
		res.Pairs = append(res.Pairs, [2]results.Series{bs, ns})
		res.Metrics = append(res.Metrics, m)
		res.Sizes = append(res.Sizes, rows...)
		res.Metrics = append(res.Metrics, compareFits(label, bs.Fit, ns.Fit, o)...)
	}
	if len(res.Metrics) == 0 {
		return fmt.Errorf("%w: no series of BASE (%s) has a match in NEW (%s) with %d or more sizes in common",
			ErrIncomparable, seriesNames(base.Series), seriesNames(next.Series), minSizes)
	}
	return nil
}

func compareRatio(res *Result, base, next *results.Run, o Options) error {
	res.Mode = "ratio " + o.Ratio
	bn, bd, err := splitRatio(o.Ratio, base.Series)
	if err != nil {
		return fmt.Errorf("%w: BASE: %w", ErrIncomparable, err)
	}
	nn, nd, err := splitRatio(o.Ratio, next.Series)
	if err != nil {
		return fmt.Errorf("%w: NEW: %w", ErrIncomparable, err)
	}
	B := func(i int) results.Series { return base.Series[i] }
	N := func(i int) results.Series { return next.Series[i] }
	label := name(B(bn), bn) + " / " + name(B(bd), bd)
	m, rows, err := compareCurve(label, ratioSamples(B(bn), B(bd)), ratioSamples(N(nn), N(nd)), "ratio", o)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIncomparable, err)
	}
	res.Metrics = append(res.Metrics, m)
	res.Sizes = rows
	res.Pairs = [][2]results.Series{{B(bn), N(nn)}, {B(bd), N(nd)}}
	bl, bok := fitRatio(B(bn).Fit, B(bd).Fit)
	nl, nok := fitRatio(N(nn).Fit, N(nd).Fit)
	note := fitNote(bok && nok, o)
	res.Metrics = append(res.Metrics,
		scalar(label, "latency (fit)", "ratio", bl.lat, nl.lat, false, bok && nok && o.GateFits, note, o),
		scalar(label, "max_rate (fit)", "ratio", bl.rate, nl.rate, true, bok && nok && o.GateFits, note, o))
	return nil
}

// splitRatio finds the two series "NUM/DEN" names. Paths contain slashes
// themselves ("director/proxy/rr"), so every split point is tried and the
// one where both sides name exactly one series wins.
func splitRatio(spec string, ss []results.Series) (int, int, error) {
	var found [][2]int
	for i := 0; i < len(spec); i++ {
		if spec[i] != '/' {
			continue
		}
		a, b := findOne(spec[:i], ss), findOne(spec[i+1:], ss)
		if a >= 0 && b >= 0 && a != b {
			found = append(found, [2]int{a, b})
		}
	}
	switch len(found) {
	case 0:
		return -1, -1, fmt.Errorf("ratio %q: want NUM/DEN naming two series by label or path; the run has %s", spec, seriesNames(ss))
	case 1:
		return found[0][0], found[0][1], nil
	}
	return -1, -1, fmt.Errorf("ratio %q is ambiguous (the run has %s): name the series by their full labels", spec, seriesNames(ss))
}

// findOne returns the index of the only series tok names, or -1.
func findOne(tok string, ss []results.Series) int {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return -1
	}
	// Exact matches first, then the looser forms.
	for _, exact := range []bool{true, false} {
		hit := -1
		for i, s := range ss {
			if names(s, tok, exact) {
				if hit >= 0 {
					hit = -2
					break
				}
				hit = i
			}
		}
		if hit >= 0 {
			return hit
		}
		if hit == -2 {
			return -1
		}
	}
	return -1
}

// names reports whether tok names s: its label or path exactly, or (loosely)
// the first element of its path, or the last word of its label with any
// "(scheduler)" left off.
func names(s results.Series, tok string, exact bool) bool {
	if exact {
		return tok == s.Label || tok == s.Path
	}
	if first, _, _ := strings.Cut(s.Path, "/"); first == tok {
		return true
	}
	if f := strings.Fields(s.Label); len(f) > 0 {
		last, _, _ := strings.Cut(f[len(f)-1], "(")
		return last == tok
	}
	return false
}

// matchSeries finds the series of ss that s corresponds to: same label,
// else same path.
func matchSeries(s results.Series, ss []results.Series, used map[int]bool) int {
	for _, byLabel := range []bool{true, false} {
		for j, t := range ss {
			if used[j] {
				continue
			}
			if byLabel && s.Label != "" && s.Label == t.Label || !byLabel && s.Path != "" && s.Path == t.Path {
				return j
			}
		}
	}
	return -1
}

func name(s results.Series, i int) string {
	switch {
	case s.Label != "":
		return s.Label
	case s.Path != "":
		return s.Path
	}
	return fmt.Sprintf("series %d", i)
}

func seriesNames(ss []results.Series) string {
	if len(ss) == 0 {
		return "no series"
	}
	var out []string
	for i, s := range ss {
		out = append(out, fmt.Sprintf("%q (path %s)", name(s, i), orNone(s.Path)))
	}
	return strings.Join(out, ", ")
}

// sample is one size of a curve: a value (higher is better) and the
// standard deviation of its logarithm, i.e. its relative noise.
type sample struct {
	bytes timing.Bytes
	v     float64
	u     float64
}

// minNoise is the smallest relative noise a point is credited with: two
// trials that agree to 0.1% do not make a clock or a scheduler that exact.
const minNoise = 0.005

// pointNoise estimates the relative uncertainty of a point's headline
// time, its best trial, from what the run measured. On a shared machine
// trial times are skewed: contention only ever adds time, so the range of
// the trials says how busy the machine was, not how well the best trial
// is known. The best trial's uncertainty is the spacing to the next-best
// trial, (t₍₂₎ − t₍₁₎)/t₍₁₎ — the scale of the fast tail the minimum is
// drawn from. With one trial it falls back to the spread of single
// transfers (p90 against p50, over the square root of the transfers in the
// trial), else to 5%.
func pointNoise(p timing.Point) float64 {
	if len(p.Trials) >= 2 {
		t := slices.Clone(p.Trials)
		slices.Sort(t)
		if t[0] > 0 {
			return max(minNoise, float64(t[1]-t[0])/float64(t[0]))
		}
	}
	if q50, ok := p.QuantileAt(0.5); ok && q50 > 0 {
		if q90, ok := p.QuantileAt(0.9); ok && p.Reps > 0 {
			return max(minNoise, float64(q90-q50)/float64(q50)/math.Sqrt(float64(p.Reps)))
		}
	}
	return 0.05
}

func samples(s results.Series) []sample {
	var out []sample
	for _, p := range s.Points {
		if p.Bytes > 0 && p.Min > 0 {
			out = append(out, sample{p.Bytes, p.Rate().Mbps(), pointNoise(p)})
		}
	}
	return out
}

func ratioSamples(num, den results.Series) []sample {
	d := map[timing.Bytes]sample{}
	for _, s := range samples(den) {
		d[s.bytes] = s
	}
	var out []sample
	for _, n := range samples(num) {
		if m, ok := d[n.bytes]; ok {
			out = append(out, sample{n.bytes, n.v / m.v, math.Hypot(n.u, m.u)})
		}
	}
	return out
}

// compareCurve compares two curves size by size and as a whole.
//
// Per size i, d_i = ln(new_i/base_i) and σ_i = √(u_base² + u_new²). The
// curve's shift D is the median of d_i — one noisy size cannot move it, a
// consistent shift does. Its noise S is the larger of two measured
// estimates, each over √n_eff: the scatter of the d_i themselves
// (1.4826·MAD, the standard deviation of a normal sample, × 1.2533 for the
// median's efficiency) and the trial noise (median σ_i × 1.2533). Adjacent
// sizes run back to back share the machine's state, so only a third of
// them count as independent (n_eff = ⌈n/3⌉). The curve regressed when
// D < −max(floor, K·S).
func compareCurve(label string, base, next []sample, unit string, o Options) (Metric, []SizeRow, error) {
	nb := map[timing.Bytes]sample{}
	for _, s := range next {
		nb[s.bytes] = s
	}
	var d, sig []float64
	var rows []SizeRow
	for _, b := range base {
		n, ok := nb[b.bytes]
		if !ok {
			continue
		}
		di := math.Log(n.v / b.v)
		si := math.Hypot(b.u, n.u)
		tol := max(-math.Log1p(-o.Floor), o.K*si)
		d, sig = append(d, di), append(sig, si)
		rows = append(rows, SizeRow{Series: label, Bytes: b.bytes, Base: b.v, New: n.v,
			Change: math.Expm1(di), Noise: -math.Expm1(-tol), Verdict: verdict(di, tol)})
	}
	if len(d) < minSizes {
		return Metric{}, nil, fmt.Errorf("series %q: %d sizes in common, need %d or more (were the runs made with the same -l/-u?)", label, len(d), minSizes)
	}
	D := median(d)
	neff := math.Sqrt(math.Ceil(float64(len(d)) / 3))
	dev := make([]float64, len(d))
	for i, x := range d {
		dev[i] = math.Abs(x - D)
	}
	scatter := 1.2533 * 1.4826 * median(dev) / neff
	trials := 1.2533 * median(sig) / neff
	tol := max(-math.Log1p(-o.Floor), o.K*max(scatter, trials))
	m := Metric{Series: label, Measure: "throughput", Base: geomean(rows, false), New: geomean(rows, true), Unit: unit,
		Change: math.Expm1(D), Tolerance: -math.Expm1(-tol), Verdict: verdict(D, tol), Gated: true,
		Note: fmt.Sprintf("change: median over %d sizes; base, new: geometric means", len(d))}
	if unit == "ratio" {
		m.Measure = "throughput ratio"
	}
	return m, rows, nil
}

// geomean is the geometric mean of the rows' base (or new) figures.
func geomean(rows []SizeRow, next bool) float64 {
	var sum float64
	for _, r := range rows {
		v := r.Base
		if next {
			v = r.New
		}
		sum += math.Log(v)
	}
	return math.Exp(sum / float64(len(rows)))
}

// verdict classifies a change d (log units, positive = better) against tol.
func verdict(d, tol float64) Verdict {
	switch {
	case math.IsInf(tol, 1) || math.IsNaN(tol) || math.IsNaN(d):
		return Unknown
	case d < -tol:
		return Regressed
	case d > tol:
		return Improved
	}
	return Within
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// fitted is a fitted latency and max_rate with the relative standard
// deviations their 95% confidence intervals imply.
type fitted struct {
	lat, rate valueNoise
}

type valueNoise struct {
	v, u float64
}

// relNoise turns a 95% interval [lo, hi] around v into the standard
// deviation of ln v: the half width over 1.96, relative to v. An interval
// without a finite upper end gives +Inf: the data do not bound it.
func relNoise(v, lo, hi float64) float64 {
	if v <= 0 || math.IsInf(hi, 0) || math.IsNaN(hi) || hi < lo {
		return math.Inf(1)
	}
	return (hi - lo) / 2 / 1.96 / v
}

func fitOf(f *timing.Fit) (fitted, bool) {
	if f == nil {
		return fitted{lat: valueNoise{math.NaN(), math.Inf(1)}, rate: valueNoise{math.NaN(), math.Inf(1)}}, false
	}
	return fitted{
		lat:  valueNoise{f.Latency.Seconds() * 1e6, relNoise(float64(f.Latency), float64(f.LatencyCI[0]), float64(f.LatencyCI[1]))},
		rate: valueNoise{f.MaxRate.Mbps(), relNoise(float64(f.MaxRate), float64(f.MaxRateCI[0]), float64(f.MaxRateCI[1]))},
	}, f.OK
}

func fitRatio(num, den *timing.Fit) (fitted, bool) {
	n, nok := fitOf(num)
	d, dok := fitOf(den)
	return fitted{
		lat:  valueNoise{n.lat.v / d.lat.v, math.Hypot(n.lat.u, d.lat.u)},
		rate: valueNoise{n.rate.v / d.rate.v, math.Hypot(n.rate.u, d.rate.u)},
	}, nok && dok
}

func compareFits(label string, bf, nf *timing.Fit, o Options) []Metric {
	b, bok := fitOf(bf)
	n, nok := fitOf(nf)
	note := fitNote(bok && nok, o)
	return []Metric{
		scalar(label, "latency (fit)", "µs", b.lat, n.lat, false, bok && nok && o.GateFits, note, o),
		scalar(label, "max_rate (fit)", "Mbit/s", b.rate, n.rate, true, bok && nok && o.GateFits, note, o),
	}
}

func fitNote(ok bool, o Options) string {
	switch {
	case !ok:
		return "a fit the model does not describe (see the fits' problems); shown, not gated"
	case !o.GateFits:
		return "fit intervals leave out run-to-run variation; shown, not gated (--gate-fits)"
	}
	return ""
}

// scalar compares one fitted figure: the change ln(new/base) against
// max(floor, K·√(u_base² + u_new²)), the noise the fits' intervals imply.
func scalar(label, measure, unit string, b, n valueNoise, higherBetter, gated bool, note string, o Options) Metric {
	m := Metric{Series: label, Measure: measure, Base: b.v, New: n.v, Unit: unit, Gated: gated, Note: note}
	if !(b.v > 0) || !(n.v > 0) {
		m.Change, m.Tolerance, m.Verdict, m.Gated = math.NaN(), math.NaN(), Unknown, false
		if m.Note == "" {
			m.Note = "no fit"
		}
		return m
	}
	d := math.Log(n.v / b.v)
	if !higherBetter {
		d = -d
	}
	tol := max(-math.Log1p(-o.Floor), o.K*math.Hypot(b.u, n.u))
	m.Change = n.v/b.v - 1
	m.Verdict = verdict(d, tol)
	if math.IsInf(tol, 1) {
		m.Tolerance = math.Inf(1)
		if m.Note == "" {
			m.Note = "a confidence interval is unbounded; not gated"
		}
		m.Gated = false
		return m
	}
	// Tolerance is the relative change of the figure itself that counts
	// as a worsening: down for rates, up for latencies.
	if higherBetter {
		m.Tolerance = -math.Expm1(-tol)
	} else {
		m.Tolerance = math.Expm1(tol)
	}
	return m
}

// OverlaySeries returns the compared series labelled "BASE …" and "NEW …",
// for one overlay figure of both runs.
func (r *Result) OverlaySeries() []results.Series {
	var out []results.Series
	for _, p := range r.Pairs {
		for i, tag := range []string{"BASE", "NEW"} {
			s := p[i]
			s.Label = tag + " " + name(s, i)
			out = append(out, s)
		}
	}
	return out
}
