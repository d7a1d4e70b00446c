package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Figure names one of the figures this package draws.
type Figure string

// The figures, named as WriteAll names their files (<base>-<figure>.png).
const (
	// Signature is NetPIPE's signature graph: throughput against transfer
	// time, both log.
	Signature Figure = "signature"
	// Throughput is throughput against message size (log size).
	Throughput Figure = "throughput"
	// Time is transfer time against message size, log-log, with the fit.
	Time Figure = "time"
	// Intervals is a timed stream's throughput in each interval against the
	// time since the start (linear time, log rate); its points are
	// intervals, not message sizes, so the other figures do not apply.
	Intervals Figure = "intervals"
)

// Figures lists every figure of a size sweep in the order WriteAll writes
// them.
func Figures() []Figure { return []Figure{Signature, Throughput, Time} }

// FiguresFor lists the figures that fit series: Intervals when every
// series is a timed run's intervals, else Figures.
func FiguresFor(series []results.Series) []Figure {
	if len(series) == 0 {
		return Figures()
	}
	for _, s := range series {
		if s.Info["points"] != results.IntervalPoints {
			return Figures()
		}
	}
	return []Figure{Intervals}
}

// drawIntervals draws each series' interval throughput at the interval's
// end, the intervals laid end to end from the start of the run.
func drawIntervals(series []results.Series) (*Chart, error) {
	c := NewChart("Throughput per interval", "time since the start (s)", "throughput", Linear, LogBits)
	for i, s := range series {
		var xs, ys []float64
		var t time.Duration
		for _, p := range s.Points {
			if p.Min <= 0 {
				continue
			}
			t += p.Min
			xs, ys = append(xs, t.Seconds()), append(ys, float64(p.Rate()))
		}
		if len(xs) == 0 {
			continue
		}
		if _, err := c.Line(i, Label(s, i), xs, ys, Measured); err != nil {
			return nil, fmt.Errorf("series %q: %w", Label(s, i), err)
		}
	}
	if c.Empty() {
		return nil, ErrNothingToPlot
	}
	return c, nil
}

// ErrNothingToPlot is returned when no series has a point with a positive
// size and time.
var ErrNothingToPlot = errors.New("nothing to plot: no series has a point with a positive size and time")

// Default figure size: 8 × 5 inches.
const (
	DefaultWidth  = 8 * vg.Inch
	DefaultHeight = 5 * vg.Inch
)

// point is one plottable measurement.
type point struct {
	bytes   float64 // bytes
	seconds float64 // headline transfer time
	mbps    float64 // SI Mbit/s
}

// usable returns the points of s that a log axis can show.
func usable(s results.Series) []point {
	var out []point
	for _, p := range s.Points {
		if p.Bytes > 0 && p.Min > 0 {
			out = append(out, point{float64(p.Bytes), p.Min.Seconds(), p.Rate().Mbps()})
		}
	}
	return out
}

// Label returns the legend label of series i: its label, else its path,
// else "series i".
func Label(s results.Series, i int) string {
	switch {
	case s.Label != "":
		return s.Label
	case s.Path != "":
		return s.Path
	}
	return "series " + strconv.Itoa(i)
}

// Draw draws figure f of series in the theme (see Chart). Each series gets
// its own colour and glyph; series with a fit get the fitted model dashed
// on the throughput and time figures, with latency and max_rate in the
// legend. Every axis is log: the throughput figure too, so that small sizes
// are not flattened onto zero.
func Draw(f Figure, series []results.Series) (*Chart, error) {
	if f == Intervals {
		return drawIntervals(series)
	}
	var any bool
	for _, s := range series {
		any = any || len(usable(s)) > 0
	}
	if !any {
		return nil, ErrNothingToPlot
	}
	var c *Chart
	var fx, fy func(point) float64
	switch f {
	case Signature:
		c = NewChart("Signature: throughput against transfer time", timeLabel(series), "throughput", LogSeconds, LogBits)
		fx = func(q point) float64 { return q.seconds }
		fy = func(q point) float64 { return q.mbps * 1e6 }
	case Throughput:
		c = NewChart("Throughput against message size", "message size", "throughput", LogBytes, LogBits)
		fx = func(q point) float64 { return q.bytes }
		fy = func(q point) float64 { return q.mbps * 1e6 }
	case Time:
		c = NewChart("Transfer time against message size", "message size", timeLabel(series), LogBytes, LogSeconds)
		fx = func(q point) float64 { return q.bytes }
		fy = func(q point) float64 { return q.seconds }
	default:
		return nil, fmt.Errorf("figure %q: want one of %v or %s", f, Figures(), Intervals)
	}
	xy := func(pts []point) ([]float64, []float64) {
		xs, ys := make([]float64, len(pts)), make([]float64, len(pts))
		for j, q := range pts {
			xs[j], ys[j] = fx(q), fy(q)
		}
		return xs, ys
	}
	for i, s := range series {
		pts := usable(s)
		if len(pts) == 0 {
			continue
		}
		xs, ys := xy(pts)
		if _, err := c.Line(i, Label(s, i), xs, ys, Measured); err != nil {
			return nil, fmt.Errorf("series %q: %w", Label(s, i), err)
		}
		if f != Signature {
			if model := fitPoints(s.Fit, pts); len(model) >= 2 {
				xs, ys := xy(model)
				if _, err := c.Line(i, "  fit: "+FitSummary(s.Fit), xs, ys, Fit); err != nil {
					return nil, fmt.Errorf("series %q fit: %w", Label(s, i), err)
				}
			}
		}
	}
	return c, nil
}

// colour is series i's colour: dark, distinct, and repeating after eight.
func colour(i int) color.Color { return plotutil.DarkColors[i%len(plotutil.DarkColors)] }

// FitSummary formats a fit as "latency 10µs, max rate 4.50 Gbit/s".
func FitSummary(f *timing.Fit) string {
	rate := "unbounded"
	if r := float64(f.MaxRate); r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) {
		rate = f.MaxRate.String()
	}
	return fmt.Sprintf("latency %v, max rate %s", f.Latency.Round(roundTo(f.Latency)), rate)
}

// roundTo keeps three significant digits of d.
func roundTo(d time.Duration) time.Duration {
	r := time.Duration(1)
	for a := max(d, -d); a >= 1000; a /= 10 {
		r *= 10
	}
	return r
}

// fitPoints samples the fitted model over the sizes of pts that it was
// fitted to (Fit.From to Fit.To), or returns nil when there is no usable fit.
func fitPoints(f *timing.Fit, pts []point) []point {
	if f == nil || f.Latency < 0 || float64(f.MaxRate) <= 0 || math.IsNaN(float64(f.MaxRate)) {
		return nil
	}
	lo, hi := pts[0].bytes, pts[0].bytes
	for _, q := range pts {
		lo, hi = math.Min(lo, q.bytes), math.Max(hi, q.bytes)
	}
	// Draw the model over the sizes it was fitted to, not beyond.
	if f.From > 0 && float64(f.From) > lo {
		lo = float64(f.From)
	}
	if f.To > 0 && float64(f.To) < hi {
		hi = float64(f.To)
	}
	if hi <= lo {
		return nil
	}
	const n = 64
	var out []point
	for i := 0; i <= n; i++ {
		b := lo * math.Pow(hi/lo, float64(i)/n)
		t := f.Latency.Seconds() + 8*b/float64(f.MaxRate) // +Inf rate: 8b/Inf = 0
		if t <= 0 {
			continue
		}
		out = append(out, point{bytes: b, seconds: t, mbps: 8 * b / t / 1e6})
	}
	return out
}

// logTicks marks an axis that carries log10 of its values: major ticks at
// powers of ten (or of two when base2), labelled with label(value), and
// minor ticks between them. Short ranges get more labels (see decimalTicks).
type logTicks struct {
	label func(float64) string
	base2 bool
}

// Ticks returns the ticks between min and max, both log10 of values.
func (l logTicks) Ticks(min, max float64) []gplot.Tick {
	if l.base2 {
		return binaryTicks(min, max, l.label)
	}
	return decimalTicks(min, max, l.label)
}

// binaryTicks puts ticks on powers of two, spaced so that at most about
// eight carry a label.
func binaryTicks(min, max float64, label func(float64) string) []gplot.Tick {
	lo, hi := int(math.Floor(min/math.Log10(2))), int(math.Ceil(max/math.Log10(2)))
	step := 1
	for _, s := range []int{1, 2, 3, 4, 5, 10} {
		step = s
		if (hi-lo)/s <= 8 {
			break
		}
	}
	var ticks []gplot.Tick
	for k := lo; k <= hi; k++ {
		t := gplot.Tick{Value: float64(k) * math.Log10(2)}
		if k%step == 0 {
			t.Label = label(math.Ldexp(1, k))
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// decimalTicks labels decades; when fewer than three show, 2× and 5× too;
// when fewer than two labels show then, every 1×…9×; and for a range
// narrower than that, five evenly spaced values.
func decimalTicks(min, max float64, label func(float64) string) []gplot.Tick {
	lo, hi := int(math.Floor(min)), int(math.Ceil(max))
	if hi-lo > 60 {
		lo, hi = int(math.Floor(min)), int(math.Floor(min))+60
	}
	levels := []struct {
		labelled map[int]bool
		need     int
	}{
		{map[int]bool{1: true}, 3},
		{map[int]bool{1: true, 2: true, 5: true}, 2},
		{map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}, 2},
	}
	for _, lv := range levels {
		var ticks []gplot.Tick
		shown := 0
		for k := lo; k <= hi; k++ {
			for m := 1; m < 10; m++ {
				v := float64(k) + math.Log10(float64(m))
				t := gplot.Tick{Value: v}
				if lv.labelled[m] {
					t.Label = label(float64(m) * math.Pow10(k))
					if v >= min && v <= max {
						shown++
					}
				}
				ticks = append(ticks, t)
				if k == hi {
					break
				}
			}
		}
		if shown >= lv.need {
			return ticks
		}
	}
	var ticks []gplot.Tick
	for i := 0; i <= 4; i++ {
		v := min + (max-min)*float64(i)/4
		ticks = append(ticks, gplot.Tick{Value: v, Label: label(math.Pow(10, v))})
	}
	return ticks
}

// durationLabel formats seconds as a duration to three significant
// digits: 10µs, 1ms, 1.23s.
func durationLabel(s float64) string {
	d := time.Duration(math.Round(s * 1e9))
	return d.Round(roundTo(d)).String()
}

// bytesLabel formats a size: 1B, 4KiB, 2MiB.
func bytesLabel(v float64) string { return timing.Bytes(math.Round(v)).String() }

// timeLabel names the time axis: a ping-pong's time is one way (half the
// round trip); every other probe's is one whole transfer as it defines it
// (a request and its response, one copy, one message of a stream).
func timeLabel(series []results.Series) string {
	for _, s := range series {
		if !strings.HasPrefix(s.Label, "netpipe") {
			return "transfer time"
		}
	}
	return "transfer time (one way)"
}
