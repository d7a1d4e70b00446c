package ptester

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/internal/texttable"
	lplot "github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// WritePlots draws a sweep run's figures into dir, every series on each
// figure, and returns the files written: the project's signature,
// throughput and time-with-fit figures (lvsperf/plot.WriteAll, plus gnuplot
// files), and the seed's HTTP figures (see WriteHTTPPlots).
func WritePlots(dir, base string, run *results.Run) ([]string, error) {
	files, err := lplot.WriteAll(dir, base, run.Series)
	own, oerr := WriteHTTPPlots(dir, base, run.Series)
	return append(files, own...), errors.Join(err, oerr)
}

// WriteHTTPPlots draws the seed's HTTP figures base-{rate,hits,minmax}.{png,svg}
// of HTTP sweep series (several runs' series overlay, direct and director
// on one figure: see lplot.FromRuns), in the project's plot theme: body
// throughput summed over clients, hits/sec, and the fastest and slowest
// single GET with the fit, against file size, all log-log. Log axes cannot
// show values ≤ 0; such points are left out.
func WriteHTTPPlots(dir, base string, series []results.Series) ([]string, error) {
	type fig struct {
		name, title, ylabel string
		y                   lplot.Scale
		draw                func(c *lplot.Chart, i int, s results.Series) error
	}
	figs := []fig{
		{"rate", "HTTP throughput (all clients) against file size", "throughput", lplot.LogBits, func(c *lplot.Chart, i int, s results.Series) error {
			xs, ys := xyInfo(s, InfoThroughput)
			_, err := c.Line(i, label(s, i, ""), xs, ys, lplot.Measured)
			return err
		}},
		{"hits", "HTTP hits/sec against file size", "hits/sec", lplot.LogCount, func(c *lplot.Chart, i int, s results.Series) error {
			xs, ys := xyInfo(s, InfoHitsPerSec)
			_, err := c.Line(i, label(s, i, ""), xs, ys, lplot.Measured)
			return err
		}},
		{"minmax", "HTTP transfer time against file size (fastest and slowest GET)", "time of one GET", lplot.LogSeconds, func(c *lplot.Chart, i int, s results.Series) error {
			var xs, lo, hi []float64
			for _, p := range s.Points {
				xs, lo, hi = append(xs, float64(p.Bytes)), append(lo, p.Fastest.Seconds()), append(hi, p.Slowest.Seconds())
			}
			if _, err := c.Line(i, label(s, i, "fastest"), xs, lo, lplot.Measured); err != nil {
				return err
			}
			if _, err := c.Line(i, label(s, i, "slowest"), xs, hi, lplot.Secondary); err != nil {
				return err
			}
			if s.Fit != nil && s.Fit.MaxRate > 0 && s.Fit.Latency >= 0 {
				var fs []float64
				for _, x := range xs {
					fs = append(fs, s.Fit.Latency.Seconds()+x*8/float64(s.Fit.MaxRate))
				}
				_, err := c.Line(i, "  fit: "+lplot.FitSummary(s.Fit), xs, fs, lplot.Fit)
				return err
			}
			return nil
		}},
	}
	var files []string
	var errs []error
	for _, f := range figs {
		c := lplot.NewChart(f.title, "file size", f.ylabel, lplot.LogBytes, f.y)
		for i, s := range series {
			if err := f.draw(c, i, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
			}
		}
		if c.Empty() {
			errs = append(errs, fmt.Errorf("%s: no positive values to draw", f.name))
			continue
		}
		for _, ext := range []string{".png", ".svg"} {
			path := filepath.Join(dir, base+"-"+f.name+ext)
			if err := lplot.Save(path, c); err != nil {
				errs = append(errs, err)
				continue
			}
			files = append(files, path)
		}
	}
	return files, errors.Join(errs...)
}

// label names series i in a legend: its label (mode, -k and -c; prefixed
// with the run's name when runs overlay) and which of a pair of lines this is.
func label(s results.Series, i int, which string) string {
	name := lplot.Label(s, i)
	if which != "" {
		name += " " + which
	}
	return name
}

// xyInfo returns the sizes and values of key recorded in s's Info.
func xyInfo(s results.Series, key string) ([]float64, []float64) {
	var xs, ys []float64
	for _, p := range s.Points {
		v, err := strconv.ParseFloat(s.Info[InfoKey(key, p.Bytes)], 64)
		if err == nil {
			xs, ys = append(xs, float64(p.Bytes)), append(ys, v)
		}
	}
	return xs, ys
}

// WriteSweepText prints one row per size and series, then each series'
// fit with its problems named: within texttable.Columns, or boxed with
// the problems in full when wide.
func WriteSweepText(w io.Writer, run *results.Run, wide bool) error {
	t := &texttable.Table{Header: []string{"series", "bytes", "hits/s", "MiB/s", "min", "mean", "p99", "max", "requests", "errors"}, Left: []int{0}}
	for _, s := range run.Series {
		for _, p := range s.Points {
			hits, _ := strconv.ParseFloat(s.Info[InfoKey(InfoHitsPerSec, p.Bytes)], 64)
			bps, _ := strconv.ParseFloat(s.Info[InfoKey(InfoThroughput, p.Bytes)], 64)
			p99, _ := p.QuantileAt(0.99)
			errs := s.Info[InfoKey(InfoErrors, p.Bytes)]
			if errs == "" {
				errs = "0"
			}
			t.Append(s.Info["mode"], strconv.FormatInt(int64(p.Bytes), 10), strconv.FormatFloat(hits, 'f', 1, 64),
				strconv.FormatFloat(timing.BitsPerSecond(bps).BytesPerSecond()/(1<<20), 'f', 2, 64),
				rd(p.Fastest).String(), rd(p.Mean).String(), rd(p99).String(), rd(p.Slowest).String(), strconv.Itoa(p.Transfers), errs)
		}
	}
	if err := t.Write(w, wide); err != nil {
		return err
	}
	for _, s := range run.Series {
		var line string
		switch {
		case s.Fit != nil:
			line = fmt.Sprintf("%s: latency %v, max_rate %v (R² %.3f)", s.Label, s.Fit.Latency.Round(100*time.Nanosecond), s.Fit.MaxRate, s.Fit.R2)
			switch {
			case wide:
				for _, pr := range s.Fit.Problems {
					line += "; " + pr
				}
			case !s.Fit.OK:
				line += "; the model fits poorly: " + timing.ProblemNames(s.Fit.Problems)
			}
		case s.FitError != "":
			line = fmt.Sprintf("%s: no fit: %s", s.Label, s.FitError)
		default:
			continue
		}
		if !wide {
			line = texttable.Fold(line, texttable.Columns, "  ")
		}
		fmt.Fprintln(w, line)
	}
	return nil
}
