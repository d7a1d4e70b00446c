package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Scale says what an axis of a Chart carries and so how it is scaled and
// ticked. Every log scale plots log10 of the value on a linear gonum axis
// with its own ticks (gonum's LogScale panics on values ≤ 0).
type Scale int

// The scales of the theme.
const (
	// Linear is a plain linear axis with gonum's default ticks.
	Linear Scale = iota
	// LogBytes is a log axis of sizes in bytes, ticked at powers of two
	// and labelled 1B, 4KiB, 2MiB.
	LogBytes
	// LogSeconds is a log axis of times in seconds, labelled 10µs, 1ms, 1s.
	LogSeconds
	// LogBits is a log axis of rates in bit/s, labelled 10 Mbit/s, 1 Gbit/s.
	LogBits
	// LogCount is a log axis of plain numbers (hits/s, counts), labelled
	// with SI prefixes: 10, 1k, 20k, 1M.
	LogCount
)

// log reports whether s is a log scale.
func (s Scale) log() bool { return s != Linear }

// Style is how one line of a Chart is drawn.
type Style int

// The line styles of the theme.
const (
	// Measured is a solid line with a glyph at each point.
	Measured Style = iota
	// Secondary is a dotted line with glyphs, for a second measurement of
	// the same series (the slowest of a fastest/slowest pair).
	Secondary
	// Fit is a thin dashed line without glyphs, for a fitted model.
	Fit
)

// Chart is a figure in lvsperf's one plot style: white background, grid,
// log axes with SI ticks, axis ranges fitted to the data, one colour and
// glyph per series, and the legend in its own strip below the data area
// (never over the data). Lines are added in data units; the chart applies
// its scales. The embedded gonum plot can be adjusted before Encode.
type Chart struct {
	*gplot.Plot
	x, y    Scale
	entries []entry
	n       int  // points added
	fitted  bool // fit has run (Encode may draw the chart more than once)
}

// entry is one line of the legend.
type entry struct {
	name   string
	thumbs []gplot.Thumbnailer
}

// NewChart returns an empty chart with a title, axis labels and scales.
func NewChart(title, xlabel, ylabel string, x, y Scale) *Chart {
	p := gplot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*gplot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = x.ticker(), y.ticker()
	p.BackgroundColor = color.White
	p.Add(plotter.NewGrid())
	return &Chart{Plot: p, x: x, y: y}
}

// ticker returns the tick marker of s.
func (s Scale) ticker() gplot.Ticker {
	switch s {
	case LogBytes:
		return logTicks{label: bytesLabel, base2: true}
	case LogSeconds:
		return logTicks{label: durationLabel}
	case LogBits:
		return logTicks{label: func(v float64) string { return siLabel(v, " ", "bit/s") }}
	case LogCount:
		return logTicks{label: func(v float64) string { return siLabel(v, "", "") }}
	}
	return siTicks{}
}

// Points returns the points of xs and ys (equal length) that the chart's
// scales can show: both finite, and positive on a log scale.
func (c *Chart) points(xs, ys []float64) plotter.XYs {
	var out plotter.XYs
	for i := range min(len(xs), len(ys)) {
		x, y := xs[i], ys[i]
		if !finite(x) || !finite(y) || (c.x.log() && x <= 0) || (c.y.log() && y <= 0) {
			continue
		}
		if c.x.log() {
			x = math.Log10(x)
		}
		if c.y.log() {
			y = math.Log10(y)
		}
		out = append(out, plotter.XY{X: x, Y: y})
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Line adds series i's line through (xs[j], ys[j]) in style st, named in
// the legend unless name is empty. Points a scale cannot show are left
// out; a line with no point left is not drawn and Line returns false.
func (c *Chart) Line(i int, name string, xs, ys []float64, st Style) (bool, error) {
	xy := c.points(xs, ys)
	if len(xy) == 0 {
		return false, nil
	}
	col := colour(i)
	var thumbs []gplot.Thumbnailer
	l, err := plotter.NewLine(xy)
	if err != nil {
		return false, fmt.Errorf("line %q: %w", name, err)
	}
	l.Color = col
	switch st {
	case Measured:
		l.Width = vg.Points(1.5)
	case Secondary:
		l.Width = vg.Points(1.2)
		l.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	case Fit:
		l.Width = vg.Points(1)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	c.Add(l)
	thumbs = append(thumbs, l)
	if st != Fit {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return false, fmt.Errorf("line %q: %w", name, err)
		}
		sc.Color, sc.Shape, sc.Radius = col, plotutil.Shape(i), vg.Points(2.5)
		c.Add(sc)
		thumbs = append(thumbs, sc)
	}
	if name != "" {
		c.entries = append(c.entries, entry{name, thumbs})
	}
	c.n += len(xy)
	return true, nil
}

// Empty reports whether no line has a point.
func (c *Chart) Empty() bool { return c.n == 0 }

// Legend returns the legend's entries in order.
func (c *Chart) Legend() []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.name
	}
	return out
}

// fit sets each axis to the data's range plus a small margin so that
// glyphs at the ends are not cut, and gives a range to an axis whose data
// collapse to one value. gonum's autoscale has already set Min and Max to
// the data's extremes.
func (c *Chart) fit() {
	if c.fitted {
		return
	}
	c.fitted = true
	for _, a := range []*gplot.Axis{&c.X, &c.Y} {
		if a.Max <= a.Min {
			a.Min, a.Max = a.Min-0.3, a.Max+0.3 // 0.3 is a factor of two on a log axis
		}
		pad := 0.03 * (a.Max - a.Min)
		a.Min, a.Max = a.Min-pad, a.Max+pad
	}
}

// Legend layout.
const (
	legendFont   = 10 // points
	legendGap    = 6  // points between the data area's axis and the legend, and between columns
	legendThumbW = 28 // points
)

// layout splits canvas c into the plot's area (title, axes, data) and the
// legend strip below it, and returns the legend's columns with the canvas
// each is drawn in. Entries go down the first column, then the next; a
// series and its fit stay together when there are two columns.
func (c *Chart) layout(dc draw.Canvas) (draw.Canvas, []gplot.Legend, []draw.Canvas) {
	if len(c.entries) == 0 {
		return dc, nil, nil
	}
	mk := func(es []entry) gplot.Legend {
		l := gplot.NewLegend()
		l.TextStyle.Font.Size = vg.Points(legendFont)
		l.ThumbnailWidth = vg.Points(legendThumbW)
		l.Top, l.Left = true, true
		for _, e := range es {
			l.Add(e.name, e.thumbs...)
		}
		return l
	}
	width := func(l gplot.Legend) vg.Length {
		r := l.Rectangle(dc)
		return r.Max.X - r.Min.X
	}
	avail := dc.Max.X - dc.Min.X - 2*vg.Points(legendGap)
	cols := 1
	for _, n := range []int{3, 2} {
		per := (len(c.entries) + n - 1) / n
		if per == 1 && n > len(c.entries) {
			continue
		}
		var w vg.Length
		for k := 0; k < len(c.entries); k += per {
			w += width(mk(c.entries[k:min(k+per, len(c.entries))])) + vg.Points(2*legendGap)
		}
		if w <= avail {
			cols = n
			break
		}
	}
	per := (len(c.entries) + cols - 1) / cols
	var legends []gplot.Legend
	var height vg.Length
	for k := 0; k < len(c.entries); k += per {
		l := mk(c.entries[k:min(k+per, len(c.entries))])
		r := l.Rectangle(dc)
		height = max(height, r.Max.Y-r.Min.Y)
		legends = append(legends, l)
	}
	strip := height + 2*vg.Points(legendGap)
	plotArea := draw.Crop(dc, 0, 0, strip, 0)
	colW := (dc.Max.X - dc.Min.X - 2*vg.Points(legendGap)) / vg.Length(len(legends))
	canvases := make([]draw.Canvas, len(legends))
	for i := range legends {
		left := vg.Points(legendGap) + vg.Length(i)*colW
		canvases[i] = draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: dc.Min.X + left, Y: dc.Min.Y + vg.Points(legendGap)},
			Max: vg.Point{X: dc.Min.X + left + colW, Y: dc.Min.Y + vg.Points(legendGap) + height},
		}}
	}
	return plotArea, legends, canvases
}

// Draw draws the chart onto dc: the plot above, the legend below.
func (c *Chart) Draw(dc draw.Canvas) {
	c.fit()
	area, legends, canvases := c.layout(dc)
	if c.BackgroundColor != nil {
		dc.SetColor(c.BackgroundColor)
		dc.Fill(dc.Rectangle.Path())
	}
	c.Plot.Draw(area)
	for i := range legends {
		legends[i].Draw(canvases[i])
	}
}

// siLabel formats v to three significant digits with an SI prefix (k, M,
// G, T; m, µ, n below one) before unit, sep between them: 1.5 kbit/s, 20k.
func siLabel(v float64, sep, unit string) string {
	prefixes := []struct {
		mult float64
		name string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}}
	a := math.Abs(v)
	if a == 0 {
		return "0" + sep + unit
	}
	for _, p := range prefixes {
		if a >= p.mult*0.9995 || p.mult == 1e-9 {
			r, _ := strconv.ParseFloat(strconv.FormatFloat(v/p.mult, 'g', 3, 64), 64)
			s := strconv.FormatFloat(r, 'f', -1, 64)
			if p.name == "" && unit == "" {
				return s
			}
			return s + sep + p.name + unit
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// siTicks are gonum's default ticks on a linear axis, labelled with SI
// prefixes instead of exponents.
type siTicks struct{}

// Ticks returns gonum's default ticks between min and max, relabelled.
func (siTicks) Ticks(min, max float64) []gplot.Tick {
	ts := gplot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = siLabel(ts[i].Value, "", "")
		}
	}
	return ts
}
