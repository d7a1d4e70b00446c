package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Input is one run to report and the name it goes by (typically its file's
// base name).
type Input struct {
	Name string
	Run  *results.Run
}

// Report is everything a report shows, ready to write as HTML or Markdown.
type Report struct {
	Title string
	// Headlines state the answer first: experiments' verdicts, then what
	// the director adds over direct (or each path's fit).
	Headlines []string
	// Verdicts is the experiments' verdict table (nil without experiments).
	Verdicts *Table
	// Environment summarises where the runs measured.
	Environment Table
	// Runs has one section per run, in the order given.
	Runs []RunSection
	// Latency compares the runs' latencies when they come from several
	// probes; nil otherwise.
	Latency *Table
	// Comparisons has one entry per probe measured over several paths.
	Comparisons []Comparison
}

// RunSection is what the report shows of one run.
type RunSection struct {
	Name, Probe, Path string
	// Status says whether the run completed, and if not why.
	Status string
	// Env lists what the run recorded about where it ran (key, value).
	Env [][2]string
	// Contention is the run's contention note ("" when the machine was quiet).
	Contention string
	Fits       Table
	// Problems lists what the fits' models got wrong, per series.
	Problems []string
	Figures  []Figure
}

// Comparison is one probe measured over several paths.
type Comparison struct {
	Probe string
	// Series names the compared series; the first is the reference.
	Series []string
	// Over says what was compared: "2 paths", or "2 paths, 4 curves"
	// when runs measured a path more than once.
	Over   string
	Figure Figure
	// Ratios has one row per size (throughput of each series over the
	// reference's) and FitRatios the fitted latency and max_rate ratios.
	Ratios    Table
	FitRatios Table
}

// Table is a table of text cells.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Figure is one drawn figure.
type Figure struct {
	// File is the name the Markdown twin refers to (<prefix>-….png).
	File    string
	Caption string
	PNG     []byte
}

// ErrNoRuns is returned when Build is given nothing to report.
var ErrNoRuns = errors.New("nothing to report: no runs given")

// Build assembles the report of inputs. Figure files are named
// <prefix>-<n>-<figure>.png. A run whose series cannot be drawn (no point
// with a positive size and time) is reported without figures, saying so.
func Build(title, prefix string, inputs []Input) (*Report, error) {
	if len(inputs) == 0 {
		return nil, ErrNoRuns
	}
	if title == "" {
		title = "lvsperf report"
	}
	rep := &Report{Title: title, Environment: environment(inputs)}
	var runs []*results.Run
	var names []string
	for _, in := range inputs {
		runs = append(runs, in.Run)
		names = append(names, sourceName(in.Name))
	}
	rep.Headlines = headline.NamedRuns(names, runs)
	for i, in := range inputs {
		sec, err := runSection(prefix, i+1, in)
		if err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, sec)
	}
	rep.Latency = latencyTable(inputs)
	cmps, err := comparisons(prefix, inputs)
	if err != nil {
		return nil, err
	}
	rep.Comparisons = cmps
	return rep, nil
}

func runSection(prefix string, n int, in Input) (RunSection, error) {
	r := in.Run
	sec := RunSection{Name: in.Name, Probe: r.Probe, Path: r.Path, Status: "complete"}
	if !r.Complete {
		sec.Status = "incomplete: " + orDash(r.Error)
	}
	sec.Env = envRows(r)
	if r.Env.Contended {
		sec.Contention = r.Env.Note
	}
	sec.Fits = fitTable(r.Series)
	for i, s := range r.Series {
		name := plot.Label(s, i)
		switch {
		case s.Fit == nil && s.Info["points"] == results.IntervalPoints:
			// A timed run's intervals have no size schedule to fit.
		case s.Fit == nil:
			sec.Problems = append(sec.Problems, fmt.Sprintf("%s: no fit (%s)", name, orDash(s.FitError)))
		case !s.Fit.OK:
			for _, p := range s.Fit.Problems {
				sec.Problems = append(sec.Problems, name+": "+p)
			}
		}
		if s.Stopped != "" {
			sec.Problems = append(sec.Problems, name+": sweep stopped early: "+s.Stopped)
		}
	}
	for _, f := range plot.FiguresFor(r.Series) {
		fig, err := draw(f, r.Series, fmt.Sprintf("%s-%d-%s.png", prefix, n, f), figCaption(f))
		if errors.Is(err, plot.ErrNothingToPlot) {
			sec.Problems = append(sec.Problems, "no figures: "+err.Error())
			break
		}
		if err != nil {
			return sec, fmt.Errorf("run %s: %w", in.Name, err)
		}
		sec.Figures = append(sec.Figures, fig)
	}
	return sec, nil
}

func figCaption(f plot.Figure) string {
	switch f {
	case plot.Signature:
		return "Signature: throughput against transfer time (log-log)"
	case plot.Throughput:
		return "Throughput against message size, with the fitted model dashed"
	case plot.Time:
		return "Transfer time against message size (log-log), with the fitted latency + bytes/max_rate"
	case plot.Intervals:
		return "Throughput in each interval of the timed run, per stream and summed"
	}
	return string(f)
}

func draw(f plot.Figure, series []results.Series, file, caption string, title ...string) (Figure, error) {
	p, err := plot.Draw(f, series)
	if err != nil {
		return Figure{}, err
	}
	if len(title) > 0 {
		p.Title.Text = title[0]
	}
	var buf bytes.Buffer
	if err := plot.Encode(&buf, p, plot.PNG); err != nil {
		return Figure{}, fmt.Errorf("figure %s: %w", file, err)
	}
	return Figure{File: file, Caption: caption, PNG: buf.Bytes()}, nil
}

func envRows(r *results.Run) [][2]string {
	e := r.Env
	rows := [][2]string{
		{"probe", r.Probe},
		{"started", fmtTime(r.Started)},
		{"took", fmtTook(r.Started, r.Finished)},
		{"tool", orDash(e.Tool)},
		{"host", orDash(e.Host)},
		{"kernel", orDash(e.Kernel)},
		{"CPU", fmt.Sprintf("%s × %d, GOMAXPROCS %d", orDash(e.CPU), e.CPUs, e.GOMAXPROCS)},
		{"Go", orDash(e.GoVersion)},
		{"MTU", fmtMap(e.MTU)},
	}
	if len(e.Offloads) > 0 {
		rows = append(rows, [2]string{"offloads", fmtMap(e.Offloads)})
	}
	if e.CPUIdle != "" || e.IdlePoll {
		idle := orDash(e.CPUIdle)
		if e.IdlePoll {
			idle += "; idle CPUs polled for the run (--idle-poll)"
		} else {
			idle += "; idle CPUs could halt"
		}
		rows = append(rows, [2]string{"cpuidle", idle})
	}
	load := fmt.Sprintf("load %.2f → %.2f, steal %.1f%%", e.LoadBefore, e.LoadAfter, e.StealPct)
	if e.Contended {
		load += "; " + e.Note
	} else {
		load += "; not contended"
	}
	rows = append(rows, [2]string{"machine", load})
	if len(r.Options) > 0 {
		rows = append(rows, [2]string{"options", fmtMap(r.Options)})
	}
	return rows
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtTook(a, b time.Time) string {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return "-"
	}
	return b.Sub(a).Round(100 * time.Millisecond).String()
}

func fmtMap[V any](m map[string]V) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fitTable(series []results.Series) Table {
	t := Table{
		Caption: "Fits of transfer_time = latency + bytes/max_rate (95% confidence intervals)",
		Header:  []string{"series", "path", "sizes", "latency [95% CI]", "max_rate [95% CI]", "latency-equivalent", "half-performance size", "peak", "model"},
	}
	for i, s := range series {
		row := []string{plot.Label(s, i), orDash(s.Path), strconv.Itoa(len(s.Points))}
		f := s.Fit
		if f == nil {
			row = append(row, "-", "-", "-", "-", "-", "no fit: "+orDash(s.FitError))
		} else {
			model := fmt.Sprintf("fits (typical error %.1f%%)", 100*f.RelRMS)
			if !f.OK {
				model = fmt.Sprintf("does not fit: %d problem(s), typical error %.0f%%", len(f.Problems), 100*f.RelRMS)
			}
			row = append(row,
				fmt.Sprintf("%s [%s, %s]", fmtDur(f.Latency), fmtDur(f.LatencyCI[0]), fmtDur(f.LatencyCI[1])),
				fmt.Sprintf("%s [%s, %s]", fmtRate(f.MaxRate), fmtRate(f.MaxRateCI[0]), fmtRate(f.MaxRateCI[1])),
				fmtBytes(f.LatencyBytes), fmtBytes(f.HalfSize),
				fmt.Sprintf("%s at %s", fmtRate(f.PeakRate), fmtBytes(f.PeakSize)), model)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// latencyTable compares latencies across runs of several probes: the
// fitted latency and the best measured time of the smallest size.
func latencyTable(inputs []Input) *Table {
	probes := map[string]bool{}
	for _, in := range inputs {
		probes[in.Run.Probe] = true
	}
	if len(probes) < 2 {
		return nil
	}
	t := &Table{
		Caption: "Latency across probes: fitted latency and the best time measured at the smallest size",
		Header:  []string{"run", "probe", "series", "path", "latency (fit) [95% CI]", "smallest size", "its best time", "max_rate (fit)"},
	}
	for _, in := range inputs {
		for i, s := range in.Run.Series {
			lat, rate := "-", "-"
			if f := s.Fit; f != nil {
				lat = fmt.Sprintf("%s [%s, %s]", fmtDur(f.Latency), fmtDur(f.LatencyCI[0]), fmtDur(f.LatencyCI[1]))
				rate = fmtRate(f.MaxRate)
			}
			size, best := "-", "-"
			if len(s.Points) > 0 {
				p := s.Points[0]
				size, best = fmtBytes(p.Bytes), fmtDur(p.Min)
			}
			t.Rows = append(t.Rows, []string{in.Name, in.Run.Probe, plot.Label(s, i), orDash(s.Path), lat, size, best, rate})
		}
	}
	return t
}

// comparisons finds every probe measured over more than one path (series
// of one run or of several runs) and compares them with the first direct
// series (else the first series) as the reference.
func comparisons(prefix string, inputs []Input) ([]Comparison, error) {
	type entry struct {
		name   string
		run    int
		series results.Series
	}
	// Series are grouped by probe and mode: ftp's get and put, the http
	// sweep's persistent and non-persistent, are compared path with path
	// each in its own figure, not one against the other.
	var order []string
	groups := map[string][]entry{}
	names := map[string]string{}
	for k, in := range inputs {
		paths := make([]string, len(in.Run.Series))
		for i, s := range in.Run.Series {
			paths[i] = s.Path
			if paths[i] == "" {
				paths[i] = in.Run.Path
			}
		}
		for i, s := range in.Run.Series {
			s.Path = paths[i]
			mode := headline.ModeOf(s.Label, s.Path, paths)
			key := in.Run.Probe + "\x00" + mode
			if _, ok := groups[key]; !ok {
				order = append(order, key)
				names[key] = in.Run.Probe
				if mode != "" {
					names[key] = mode
				}
			}
			groups[key] = append(groups[key], entry{plot.Label(s, i), k, s})
		}
	}
	var out []Comparison
	for n, key := range order {
		g, probe := groups[key], names[key]
		if len(g) < 2 {
			continue
		}
		// Series of several runs are told apart by their run's name.
		for i := range g {
			if g[i].run != g[0].run {
				for j := range g {
					g[j].name = inputs[g[j].run].Name + ": " + g[j].name
				}
				break
			}
		}
		ref := 0
		for i, e := range g {
			if e.series.Path == "direct" {
				ref = i
				break
			}
		}
		g[0], g[ref] = g[ref], g[0]
		c := Comparison{Probe: probe}
		var ss []results.Series
		for _, e := range g {
			c.Series = append(c.Series, e.name)
			s := e.series
			s.Label = e.name
			ss = append(ss, s)
		}
		distinct := map[string]bool{}
		for _, s := range ss {
			distinct[s.Path] = true
		}
		c.Over = fmt.Sprintf("%d paths", len(distinct))
		if len(distinct) != len(ss) {
			c.Over += fmt.Sprintf(", %d curves", len(ss))
		}
		fig, err := draw(plot.Throughput, ss, fmt.Sprintf("%s-compare-%d-%s.png", prefix, n+1, strings.SplitN(key, "\x00", 2)[0]),
			fmt.Sprintf("%s over %s: throughput against message size", probe, c.Over),
			fmt.Sprintf("%s: throughput against message size", probe))
		if err != nil && !errors.Is(err, plot.ErrNothingToPlot) {
			return nil, err
		}
		c.Figure = fig
		c.Ratios, c.FitRatios = ratioTables(ss)
		out = append(out, c)
	}
	return out, nil
}

// ratioTables returns, for every series after the first, its throughput
// over the first's at the sizes all series measured (the powers of two
// among them when there are many), and the ratios of the fitted figures.
func ratioTables(ss []results.Series) (Table, Table) {
	ref := ss[0]
	rates := make([]map[timing.Bytes]timing.Point, len(ss))
	for i, s := range ss {
		rates[i] = map[timing.Bytes]timing.Point{}
		for _, p := range s.Points {
			if p.Min > 0 && p.Bytes > 0 {
				rates[i][p.Bytes] = p
			}
		}
	}
	var sizes []timing.Bytes
	for _, p := range ref.Points {
		all := p.Min > 0 && p.Bytes > 0
		for i := range ss {
			_, ok := rates[i][p.Bytes]
			all = all && ok
		}
		if all {
			sizes = append(sizes, p.Bytes)
		}
	}
	if len(sizes) > 24 {
		var pow []timing.Bytes
		for _, b := range sizes {
			if bits.OnesCount64(uint64(b)) == 1 {
				pow = append(pow, b)
			}
		}
		if len(pow) >= 3 {
			sizes = pow
		}
	}
	rt := Table{
		Caption: fmt.Sprintf("Throughput of each path over %s's, at the sizes every path measured (best trials)", plot.Label(ref, 0)),
		Header:  []string{"size", plot.Label(ref, 0) + " rate"},
	}
	for _, s := range ss[1:] {
		rt.Header = append(rt.Header, s.Label+" ÷ ref")
	}
	for _, b := range sizes {
		row := []string{fmtBytes(b), fmtRate(rates[0][b].Rate())}
		for i := range ss[1:] {
			row = append(row, fmtRatio(float64(rates[i+1][b].Rate())/float64(rates[0][b].Rate())))
		}
		rt.Rows = append(rt.Rows, row)
	}
	ft := Table{
		Caption: "Fitted figures of each path over the reference's",
		Header:  []string{"series", "latency", "÷ ref", "max_rate", "÷ ref"},
	}
	for i, s := range ss {
		if s.Fit == nil {
			ft.Rows = append(ft.Rows, []string{s.Label, "-", "-", "-", "-"})
			continue
		}
		lr, rr := "1", "1"
		if i > 0 {
			lr, rr = "-", "-"
			if ref.Fit != nil {
				lr = fmtRatio(float64(s.Fit.Latency) / float64(ref.Fit.Latency))
				rr = fmtRatio(float64(s.Fit.MaxRate) / float64(ref.Fit.MaxRate))
			}
		}
		ft.Rows = append(ft.Rows, []string{s.Label, fmtDur(s.Fit.Latency), lr, fmtRate(s.Fit.MaxRate), rr})
	}
	return rt, ft
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func fmtRate(r timing.BitsPerSecond) string {
	if math.IsInf(float64(r), 1) {
		return "∞"
	}
	if math.IsNaN(float64(r)) || r <= 0 {
		return "-"
	}
	return r.String()
}

func fmtBytes(b timing.Bytes) string {
	if b <= 0 {
		return "-"
	}
	return b.String()
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 2, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

// sourceName is how a headline names the run an input came from: its name
// without the path part the commands append ("latency-netpipe-director"
// and "latency-netpipe-direct" are both "latency-netpipe"; "ptester-direct"
// is "ptester").
func sourceName(name string) string {
	if i := strings.Index(name, "-direct"); i > 0 {
		return name[:i]
	}
	return name
}
