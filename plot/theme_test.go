package plot

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// charts returns every figure of the fixed pair of series, and a chart of
// each scale drawn from fixed data, as the theme's users draw them.
func charts(t *testing.T) map[string]*Chart {
	t.Helper()
	out := map[string]*Chart{}
	for _, fig := range Figures() {
		c, err := Draw(fig, twoSeries())
		if err != nil {
			t.Fatal(err)
		}
		out[string(fig)] = c
	}
	xs := []float64{1, 1024, 1 << 20, 64 << 20}
	c := NewChart("counts", "file size", "hits/s", LogBytes, LogCount)
	for i, ys := range [][]float64{{12000, 9000, 300, 4}, {1e6, 2e5, 800, 9}} {
		if _, err := c.Line(i, []string{"direct", "director"}[i], xs, ys, Measured); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Line(i, "", xs, ys, Secondary); err != nil {
			t.Fatal(err)
		}
	}
	out["counts"] = c
	lin := NewChart("linear", "realservers", "throughput", Linear, LogBits)
	if _, err := lin.Line(0, "NAT", []float64{1, 2, 4}, []float64{3e9, 5e9, 5.5e9}, Measured); err != nil {
		t.Fatal(err)
	}
	lin2 := NewChart("linear y", "realservers", "requests", Linear, Linear)
	if _, err := lin2.Line(0, "NAT", []float64{1, 2, 4}, []float64{2e6, 4e6, 9e6}, Measured); err != nil {
		t.Fatal(err)
	}
	out["linear"], out["linear-y"] = lin, lin2
	return out
}

// TestTickLabelsHaveNoExponent fails when any tick label of any chart is
// written with an exponent (1e+06) rather than an SI prefix.
func TestTickLabelsHaveNoExponent(t *testing.T) {
	exp := regexp.MustCompile(`\d[eE][+-]?\d`)
	for name, c := range charts(t) {
		var b bytes.Buffer
		if err := Encode(&b, c, SVG); err != nil {
			t.Fatal(err)
		}
		var n int
		for axis, ax := range map[string][2]float64{"x": {c.X.Min, c.X.Max}, "y": {c.Y.Min, c.Y.Max}} {
			m := c.X.Tick.Marker
			if axis == "y" {
				m = c.Y.Tick.Marker
			}
			for _, tk := range m.Ticks(ax[0], ax[1]) {
				if tk.Label == "" {
					continue
				}
				n++
				if exp.MatchString(tk.Label) || strings.Contains(tk.Label, "e+") {
					t.Errorf("%s: %s tick label %q has an exponent", name, axis, tk.Label)
				}
			}
		}
		if n < 4 {
			t.Errorf("%s: %d labelled ticks, want at least two per axis", name, n)
		}
		for _, m := range regexp.MustCompile(`>([^<]*)</text>`).FindAllSubmatch(b.Bytes(), -1) {
			if exp.Match(m[1]) {
				t.Errorf("%s: SVG text %q has an exponent", name, m[1])
			}
		}
	}
}

// TestLegendOutsideData lays each chart out on the default canvas and
// checks that the legend strip lies below the data rectangle, inside the
// canvas, and that no legend column is wider than its share (clipped).
func TestLegendOutsideData(t *testing.T) {
	for name, c := range charts(t) {
		dc := draw.New(vgsvg.New(DefaultWidth, DefaultHeight))
		c.fit()
		area, legends, canvases := c.layout(dc)
		data := c.DataCanvas(area).Rectangle
		if len(legends) == 0 {
			t.Errorf("%s: no legend", name)
			continue
		}
		for i := range legends {
			lc := canvases[i].Rectangle
			r := legends[i].Rectangle(canvases[i])
			w, h := r.Max.X-r.Min.X, r.Max.Y-r.Min.Y
			if lc.Max.Y > data.Min.Y {
				t.Errorf("%s: legend column %d reaches y=%v, above the data area's bottom %v", name, i, lc.Max.Y, data.Min.Y)
			}
			if lc.Min.X < dc.Min.X || lc.Max.X > dc.Max.X || lc.Min.Y < dc.Min.Y {
				t.Errorf("%s: legend column %d %v is outside the canvas %v", name, i, lc, dc.Rectangle)
			}
			if w > lc.Max.X-lc.Min.X || h > lc.Max.Y-lc.Min.Y+0.01 {
				t.Errorf("%s: legend column %d needs %vx%v, has %v: clipped", name, i, w, h, lc)
			}
		}
		if len(c.Legend()) == 0 {
			t.Errorf("%s: legend has no entries", name)
		}
	}
}

// TestAxesFittedToData checks that no axis runs far past the data: the
// margin on each side is a few per cent of the data's span.
func TestAxesFittedToData(t *testing.T) {
	for name, c := range charts(t) {
		lo, hi := c.Y.Min, c.Y.Max
		c.fit()
		span := hi - lo
		if c.Y.Max-hi > 0.05*span+1e-9 || lo-c.Y.Min > 0.05*span+1e-9 {
			t.Errorf("%s: y axis %g..%g for data %g..%g: more than 5%% margin", name, c.Y.Min, c.Y.Max, lo, hi)
		}
		c.fit() // idempotent: Encode draws twice for png and svg
		if c.Y.Max-hi > 0.05*span+1e-9 {
			t.Errorf("%s: fitting twice widened the axis", name)
		}
	}
}
