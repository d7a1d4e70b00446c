package ptester

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

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
