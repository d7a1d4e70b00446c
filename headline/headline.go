package headline

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Curve is one fitted curve as the headline sees it: which probe, which
// mode of that probe (the http sweep's persistent or non-persistent, a
// copy's direction; "" when the probe has one), which path, and its fit.
type Curve struct {
	Probe, Mode, Path string
	Fit               *timing.Fit
	// FitError says why there is no fit.
	FitError string
	// Hits is the hammer's hits/s at HitsAt bytes (0 when not an http sweep).
	Hits   float64
	HitsAt timing.Bytes
	// Run tells curves of different runs apart: a path is compared with the
	// direct curve of its own run, else of the nearest run.
	Run int
	// Source names the run the curve came from ("" when unnamed); lines
	// carry it when curves of one probe and mode come from more than one.
	Source string
}

// FromRuns lists the curves of runs: every series, its path defaulting to
// its run's.
func FromRuns(runs []*results.Run) []Curve {
	var cs []Curve
	for k, r := range runs {
		paths := make([]string, len(r.Series))
		for i, s := range r.Series {
			paths[i] = s.Path
			if paths[i] == "" {
				paths[i] = r.Path
			}
		}
		for i, s := range r.Series {
			c := Curve{Probe: r.Probe, Path: paths[i], Fit: s.Fit, FitError: s.FitError, Run: k}
			c.Mode = ModeOf(s.Label, paths[i], paths)
			if r.Probe == "http" && len(s.Points) > 0 {
				n := s.Points[0].Bytes
				if h, err := strconv.ParseFloat(s.Info[ptester.InfoKey(ptester.InfoHitsPerSec, n)], 64); err == nil && h > 0 {
					c.Hits, c.HitsAt = h, n
				}
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// ModeOf returns the mode of a curve labelled label over path, among
// curves over paths (its own included): its label when another of them
// took the same path (the http sweep's two modes, a copy's directions),
// else "" (series that differ only by their path, as netpipe --via
// direct,director's).
func ModeOf(label, path string, paths []string) string {
	n := 0
	for _, p := range paths {
		if p == path {
			n++
		}
	}
	if n > 1 {
		return label
	}
	return ""
}

// Runs returns the headlines of runs; see Curves. A timed stream's run
// (its points are intervals, not sizes) gets its own line; see Timed.
func Runs(runs ...*results.Run) []string { return NamedRuns(nil, runs) }

// NamedRuns returns the headlines of runs, runs[i] named names[i]: where
// runs of different names measured the same probe and mode over the same
// path (the netpipe run and the latency table's netpipe rows), each line
// of that probe and mode says which.
func NamedRuns(names []string, runs []*results.Run) []string {
	var sized []*results.Run
	var sizedNames, timed []string
	for i, r := range runs {
		if r.Intervals() {
			timed = append(timed, Timed(r)...)
			continue
		}
		sized = append(sized, r)
		if i < len(names) {
			sizedNames = append(sizedNames, names[i])
		}
	}
	cs := FromRuns(sized)
	for i := range cs {
		if cs[i].Run < len(sizedNames) {
			cs[i].Source = sizedNames[cs[i].Run]
		}
	}
	return append(Curves(cs), timed...)
}

// Timed is the headline of a timed stream's run (lvsperf stream -t, or
// against iperf3), from its first series (the sum with several streams):
// the rate received, and the retransmits (TCP) or loss and jitter (UDP).
func Timed(r *results.Run) []string {
	if len(r.Series) == 0 {
		return nil
	}
	in := r.Series[0].Info
	num := func(k string) float64 { v, _ := strconv.ParseFloat(in[k], 64); return v }
	streams := len(r.Series)
	if streams > 1 {
		streams--
	}
	line := fmt.Sprintf("%s %s %s, %d stream(s), %s: %v received (%v sent)", r.Probe, orDash(r.Path), strings.ToUpper(orDash(in["protocol"])),
		streams, orDash(in["direction"]), timing.BitsPerSecond(num("receiver_bps")), timing.BitsPerSecond(num("sender_bps")))
	var more []string
	if in["protocol"] == "udp" {
		if exp := num("expected_packets"); exp > 0 {
			more = append(more, fmt.Sprintf("lost %s of %s datagrams (%.2f%%), jitter %s ms", in["lost"], in["expected_packets"], 100*num("lost")/exp, in["jitter_ms"]))
		}
	} else if in["retransmits"] != "" && in["retransmits"] != "-" {
		more = append(more, "retransmits "+in["retransmits"])
	}
	return withMore(line, more)
}

// Curves returns one line per curve that is not compared with another,
// and, for every probe and mode measured direct and over other paths, one
// line per other path: the latency it adds per round trip (or transfer)
// and the share of direct's max_rate it keeps, with 95% intervals (and
// the hits/s ratio for http sweeps).
func Curves(cs []Curve) []string {
	type key struct{ probe, mode string }
	var order []key
	groups := map[key][]Curve{}
	for _, c := range cs {
		k := key{c.Probe, c.Mode}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var lines []string
	for _, k := range order {
		g := groups[k]
		// Sources are named only where runs of two names took one path:
		// elsewhere the path tells the lines apart.
		sources := map[string]map[string]bool{}
		ambiguous := false
		for _, c := range g {
			if sources[c.Path] == nil {
				sources[c.Path] = map[string]bool{}
			}
			sources[c.Path][c.Source] = true
			ambiguous = ambiguous || len(sources[c.Path]) > 1
		}
		if !ambiguous {
			g = slices.Clone(g)
			for i := range g {
				g[i].Source = ""
			}
		}
		refOf := make([]int, len(g))
		used := make([]bool, len(g))
		for i, c := range g {
			refOf[i] = -1
			if !isDirect(c.Path) {
				refOf[i] = nearestDirect(g, i)
				if refOf[i] >= 0 {
					used[refOf[i]] = true
				}
			}
		}
		for i, c := range g {
			switch {
			case refOf[i] >= 0:
				lines = append(lines, compared(g[refOf[i]], c)...)
			case !isDirect(c.Path) || !used[i]:
				lines = append(lines, single(c)...)
			}
		}
	}
	return lines
}

// nearestDirect returns the direct curve of g that curve i is compared
// with: the one of its own run, else of the nearest run (the earlier on a
// tie); -1 when g has none.
func nearestDirect(g []Curve, i int) int {
	best, dist := -1, 0
	for j, c := range g {
		if !isDirect(c.Path) {
			continue
		}
		d := c.Run - g[i].Run
		if d < 0 {
			d = -d
		}
		if best < 0 || d < dist {
			best, dist = j, d
		}
	}
	return best
}

// isDirect reports whether path is the direct one: "direct", or the lab's
// "lab/direct".
func isDirect(path string) bool { return path == "direct" || strings.HasSuffix(path, "/direct") }

// name is how a line names a curve's probe and mode.
func name(c Curve) string {
	n := c.Mode
	if n == "" {
		n = c.Probe
	}
	if c.Source != "" {
		n += " [" + c.Source + "]"
	}
	return n
}

// per says what one transfer of the probe is, and how many fitted
// latencies make one: netpipe times half a round trip.
func per(probe string) (string, float64) {
	switch probe {
	case "netpipe":
		return "per round trip", 2
	case "stream":
		return "per message", 1
	case "http":
		return "per GET", 1
	case "rsh", "lpd", "nfs", "ftp":
		return "per copy", 1
	}
	return "per transfer", 1
}

func single(c Curve) []string {
	head := fmt.Sprintf("%s %s:", name(c), orDash(c.Path))
	if c.Fit == nil {
		return []string{fmt.Sprintf("%s no fit (%s)", head, orDash(c.FitError))}
	}
	f := c.Fit
	unit, k := per(c.Probe)
	lat := fmt.Sprintf("latency %s %s (95%% CI %s)", fmtDur(time.Duration(k*float64(f.Latency))), unit,
		span(k*float64(f.LatencyCI[0]), k*float64(f.LatencyCI[1]), durString))
	rate := fmt.Sprintf("max_rate %s (95%% CI %s)", f.MaxRate, span(float64(f.MaxRateCI[0]), float64(f.MaxRateCI[1]), rateString))
	if !bounded(f.MaxRate) {
		rate = fmt.Sprintf("max_rate not bounded by the sizes (peak %s at %s)", f.PeakRate, f.PeakSize)
	}
	var more []string
	if c.Hits > 0 {
		more = append(more, fmt.Sprintf("%s hits/s at %s", fmtCount(c.Hits), c.HitsAt))
	}
	return withMore(head+" "+lat+", "+rate, append(more, doubt(c)...))
}

// withMore puts the secondary facts on an indented second line.
func withMore(first string, more []string) []string {
	if len(more) == 0 {
		return []string{first}
	}
	return []string{first, "  " + strings.Join(more, "; ")}
}

func compared(ref, c Curve) []string {
	head := fmt.Sprintf("%s: %s", name(c), c.Path)
	if ref.Fit == nil || c.Fit == nil {
		why := "direct has no fit"
		if c.Fit == nil {
			why = c.Path + " has no fit (" + orDash(c.FitError) + ")"
		}
		return []string{fmt.Sprintf("%s vs direct: cannot compare, %s", head, why)}
	}
	unit, k := per(c.Probe)
	d, lo, hi := diffCI(ref.Fit, c.Fit)
	verb := "adds"
	if d < 0 {
		verb = "saves"
	}
	s := fmt.Sprintf("%s %s %s %s (95%% CI %s)", head, verb, fmtDur(time.Duration(math.Abs(k*d))), unit,
		span(k*lo, k*hi, durString))
	if lo <= 0 && hi >= 0 {
		// An interval across zero is no finding of "adds" or "saves".
		sign := "+"
		if d < 0 {
			sign = "−"
		}
		s = fmt.Sprintf("%s adds no measurable time %s (%s%s, 95%% CI %s)", head, unit, sign,
			fmtDur(time.Duration(math.Abs(k*d))), span(k*lo, k*hi, durString))
	}
	if bounded(ref.Fit.MaxRate) && bounded(c.Fit.MaxRate) {
		r, rlo, rhi := ratioCI(ref.Fit, c.Fit)
		s += fmt.Sprintf(" and keeps %s of direct's max_rate (95%% CI %s)", pct(r), span(rlo, rhi, pctString))
	} else if ref.Fit.PeakRate > 0 && c.Fit.PeakRate > 0 {
		s += fmt.Sprintf(" and reaches %s of direct's peak rate (no max_rate: the sizes do not bound it)",
			pct(float64(c.Fit.PeakRate)/float64(ref.Fit.PeakRate)))
	}
	var more []string
	if ref.Hits > 0 && c.Hits > 0 && ref.HitsAt == c.HitsAt {
		more = append(more, fmt.Sprintf("hits/s at %s: %s, %.2f× direct's %s", c.HitsAt, fmtCount(c.Hits), c.Hits/ref.Hits, fmtCount(ref.Hits)))
	}
	return withMore(s, append(more, doubt(ref, c)...))
}

// doubt names, briefly, what the fits' models got wrong, with the short
// names the tables use (timing.ProblemNames).
func doubt(cs ...Curve) []string {
	var problems []string
	for _, c := range cs {
		if c.Fit != nil && !c.Fit.OK {
			problems = append(problems, c.Fit.Problems...)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return []string{"the model fits poorly: " + timing.ProblemNames(problems)}
}

// bounded reports whether a fitted max_rate is a finite, positive rate.
func bounded(r timing.BitsPerSecond) bool {
	return r > 0 && !math.IsInf(float64(r), 0) && !math.IsNaN(float64(r))
}

// diffCI returns c's fitted latency less ref's, with its 95% interval.
func diffCI(ref, c *timing.Fit) (d, lo, hi float64) {
	l0, l1 := float64(ref.Latency), float64(c.Latency)
	d = l1 - l0
	lo = d - math.Hypot(l1-float64(c.LatencyCI[0]), float64(ref.LatencyCI[1])-l0)
	hi = d + math.Hypot(float64(c.LatencyCI[1])-l1, l0-float64(ref.LatencyCI[0]))
	return d, lo, hi
}

// ratioCI returns c's fitted max_rate over ref's, with its 95% interval;
// a side the fits cannot bound is 0 (below) or +Inf (above).
func ratioCI(ref, c *timing.Fit) (r, lo, hi float64) {
	m0, m1 := float64(ref.MaxRate), float64(c.MaxRate)
	if m0 <= 0 || m1 <= 0 {
		return math.NaN(), 0, math.Inf(1)
	}
	r = m1 / m0
	ln := func(v float64) float64 {
		if v <= 0 {
			return math.Inf(-1)
		}
		return math.Log(v)
	}
	below := math.Hypot(math.Log(m1)-ln(float64(c.MaxRateCI[0])), ln(float64(ref.MaxRateCI[1]))-math.Log(m0))
	above := math.Hypot(ln(float64(c.MaxRateCI[1]))-math.Log(m1), math.Log(m0)-ln(float64(ref.MaxRateCI[0])))
	lo, hi = r*math.Exp(-below), r*math.Exp(above)
	if math.IsNaN(lo) {
		lo = 0
	}
	if math.IsNaN(hi) {
		hi = math.Inf(1)
	}
	return r, lo, hi
}

// span writes an interval: "a–b", "a to b" when a bound is negative,
// "≥ a" or "≤ b" when one side is unbounded.
func span(lo, hi float64, f func(float64) string) string {
	loOpen := lo <= 0 && f(0) == "" || math.IsInf(lo, -1)
	hiOpen := math.IsInf(hi, 1) || math.IsNaN(hi)
	switch {
	case loOpen && hiOpen:
		return "unbounded"
	case hiOpen:
		return "≥ " + f(lo)
	case loOpen:
		return "≤ " + f(hi)
	}
	a, b := f(lo), f(hi)
	// One unit for both ends when they share it: "41.1–58.9 µs".
	if i, j := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' '); i > 0 && j > 0 && a[i:] == b[j:] {
		a = a[:i]
	} else if strings.HasSuffix(a, "%") && strings.HasSuffix(b, "%") {
		a = strings.TrimSuffix(a, "%")
	}
	if lo < 0 || hi < 0 {
		return a + " to " + b
	}
	return a + "–" + b
}

// durString formats nanoseconds; it is defined at and below 0 (differences).
func durString(ns float64) string {
	if ns < 0 {
		return "−" + fmtDur(time.Duration(-ns))
	}
	return fmtDur(time.Duration(ns))
}

// rateString formats bit/s; 0 and below is "" (an unbounded lower end).
func rateString(v float64) string {
	if v <= 0 {
		return ""
	}
	return timing.BitsPerSecond(v).String()
}

// pctString formats a ratio as a percentage; 0 and below is "".
func pctString(v float64) string {
	if v <= 0 {
		return ""
	}
	return pct(v)
}

func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	p := 100 * v
	if p < 100 {
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// fmtDur writes a duration with three significant digits.
func fmtDur(d time.Duration) string {
	v := float64(d)
	switch {
	case v < 1e3:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ns"
	case v < 1e6:
		return sig3(v/1e3) + " µs"
	case v < 1e9:
		return sig3(v/1e6) + " ms"
	}
	return sig3(v/1e9) + " s"
}

func sig3(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtCount writes a count per second with thin grouping: 14 321.
func fmtCount(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Write prints lines, each on its own line.
func Write(w io.Writer, lines []string) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}
