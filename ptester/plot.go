package ptester

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	lplot "github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// WritePlots draws a sweep run's figures into dir, every series on each
// figure, and returns the files written: the project's signature,
// throughput and time-with-fit figures (lvsperf/plot.WriteAll, plus gnuplot
// files), and the seed's HTTP figures base-{rate,hits,minmax}.{png,svg}:
// body throughput summed over clients, hits/sec, and the fastest and slowest
// single GET, against file size. Log axes cannot show values ≤ 0; such
// points are left out.
func WritePlots(dir, base string, run *results.Run) ([]string, error) {
	files, err := lplot.WriteAll(dir, base, run.Series)
	own, oerr := writeHTTPPlots(dir, base, run)
	return append(files, own...), errors.Join(err, oerr)
}

func writeHTTPPlots(dir, base string, run *results.Run) ([]string, error) {
	figs := []struct {
		name, title, ylabel string
		ys                  func(s results.Series) (plotter.XYs, plotter.XYs)
	}{
		{"rate", "HTTP throughput (all clients) vs file size", "throughput (Mbit/s)", func(s results.Series) (plotter.XYs, plotter.XYs) {
			return xyInfo(s, InfoThroughput, 1e-6), nil
		}},
		{"hits", "HTTP hits/sec vs file size", "hits/sec", func(s results.Series) (plotter.XYs, plotter.XYs) {
			return xyInfo(s, InfoHitsPerSec, 1), nil
		}},
		{"minmax", "HTTP transfer time vs file size (fastest and slowest GET)", "time (s)", func(s results.Series) (plotter.XYs, plotter.XYs) {
			var lo, hi plotter.XYs
			for _, p := range s.Points {
				lo = appendPos(lo, float64(p.Bytes), p.Fastest.Seconds())
				hi = appendPos(hi, float64(p.Bytes), p.Slowest.Seconds())
			}
			return lo, hi
		}},
	}
	var files []string
	var errs []error
	for _, f := range figs {
		p := plot.New()
		p.Title.Text = f.title + " — " + run.Path
		p.X.Label.Text = "file size (bytes)"
		p.Y.Label.Text = f.ylabel
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		n := 0
		for i, s := range run.Series {
			a, b := f.ys(s)
			col := palette(i)
			if len(a) > 0 {
				if err := addLine(p, a, col, nil, label(s, f.name, b != nil, "min")); err != nil {
					errs = append(errs, err)
				}
				n += len(a)
			}
			if len(b) > 0 {
				if err := addLine(p, b, col, []vg.Length{vg.Points(4), vg.Points(3)}, label(s, f.name, true, "max")); err != nil {
					errs = append(errs, err)
				}
				n += len(b)
			}
			if f.name == "minmax" && s.Fit != nil && s.Fit.MaxRate > 0 {
				var fl plotter.XYs
				for _, pt := range s.Points {
					t := s.Fit.Latency.Seconds() + float64(pt.Bytes)*8/float64(s.Fit.MaxRate)
					fl = appendPos(fl, float64(pt.Bytes), t)
				}
				if len(fl) > 1 {
					if err := addLine(p, fl, col, []vg.Length{vg.Points(1), vg.Points(2)}, fmt.Sprintf("fit: %v + bytes / %v", s.Fit.Latency.Round(time.Microsecond), s.Fit.MaxRate)); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("%s: no positive values to draw", f.name))
			continue
		}
		// Head room above the data for the legend (the axis is log).
		p.Y.Max *= 40
		for _, ext := range []string{".png", ".svg"} {
			path := filepath.Join(dir, base+"-"+f.name+ext)
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
				errs = append(errs, fmt.Errorf("save %s: %w", path, err))
				continue
			}
			files = append(files, path)
		}
	}
	return files, errors.Join(errs...)
}

func label(s results.Series, fig string, two bool, which string) string {
	name := s.Info["mode"]
	if name == "" {
		name = s.Label
	}
	if k := s.Info["keepalive"]; k != "" {
		name += " -k" + k
	}
	if two {
		name += " " + which
	}
	return name
}

func addLine(p *plot.Plot, xy plotter.XYs, col color.Color, dashes []vg.Length, name string) error {
	l, pts, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	l.Color, l.Dashes = col, dashes
	pts.Color, pts.Shape = col, draw.CircleGlyph{}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

func palette(i int) color.Color {
	cs := []color.Color{
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	}
	return cs[i%len(cs)]
}

// appendPos appends (x, y) when both are positive and finite.
func appendPos(xy plotter.XYs, x, y float64) plotter.XYs {
	if x > 0 && y > 0 && !math.IsInf(y, 0) && !math.IsNaN(y) {
		xy = append(xy, plotter.XY{X: x, Y: y})
	}
	return xy
}

func xyInfo(s results.Series, key string, scale float64) plotter.XYs {
	var xy plotter.XYs
	for _, p := range s.Points {
		v, err := strconv.ParseFloat(s.Info[InfoKey(key, p.Bytes)], 64)
		if err == nil {
			xy = appendPos(xy, float64(p.Bytes), v*scale)
		}
	}
	return xy
}

// WriteSweepText prints one row per size and series, then each series' fit.
func WriteSweepText(w io.Writer, run *results.Run) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "series\tbytes\thits/s\tMiB/s\tmin\tmean\tp99\tmax\trequests\terrors\t\n")
	for _, s := range run.Series {
		for _, p := range s.Points {
			hits, _ := strconv.ParseFloat(s.Info[InfoKey(InfoHitsPerSec, p.Bytes)], 64)
			bps, _ := strconv.ParseFloat(s.Info[InfoKey(InfoThroughput, p.Bytes)], 64)
			p99, _ := p.QuantileAt(0.99)
			errs := s.Info[InfoKey(InfoErrors, p.Bytes)]
			if errs == "" {
				errs = "0"
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%v\t%v\t%v\t%v\t%d\t%s\t\n", s.Info["mode"], p.Bytes, hits,
				timing.BitsPerSecond(bps).BytesPerSecond()/(1<<20), rd(p.Fastest), rd(p.Mean), rd(p99), rd(p.Slowest), p.Transfers, errs)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range run.Series {
		switch {
		case s.Fit != nil:
			fmt.Fprintf(w, "%s: latency %v, max_rate %v (R² %.3f)", s.Label, s.Fit.Latency.Round(100*time.Nanosecond), s.Fit.MaxRate, s.Fit.R2)
			for _, pr := range s.Fit.Problems {
				fmt.Fprintf(w, "; %s", pr)
			}
			fmt.Fprintln(w)
		case s.FitError != "":
			fmt.Fprintf(w, "%s: no fit: %s\n", s.Label, s.FitError)
		}
	}
	return nil
}
