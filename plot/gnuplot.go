package plot

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lvsperf/lvsperf/results"
)

// Gnuplot writes, into dir, one data file per series (<name>-<i>.dat) and a
// script <name>.gp that redraws the signature and throughput figures with
// gnuplot (`cd dir && gnuplot name.gp` writes <name>-signature.gnuplot.png
// and <name>-throughput.gnuplot.png).
//
// The data files keep NetPIPE 2's columns (time s, Mbps with M = 2^20, bits,
// bytes, variance s²), so the seeds' `plot "x.dat" using 4:2` still works,
// with more digits than NetPIPE prints and a sixth column in SI Mbit/s
// (10^6), which the script plots. Points without a positive size and time
// are left out, since both figures have log axes.
func Gnuplot(dir, name string, series ...results.Series) ([]string, error) {
	var files []string
	unit, scale := rateUnit(series)
	var script bytes.Buffer
	gp := bufio.NewWriter(&script)
	fmt.Fprintf(gp, "# %s.gp: lvsperf figures for gnuplot. Run it where the .dat files are:\n#   gnuplot %s.gp\n", name, name)
	fmt.Fprintf(gp, "# Data columns: 1 time (s), 2 Mbps (2^20 bit/s, NetPIPE), 3 bits, 4 bytes, 5 variance (s^2), 6 Mbit/s (10^6 bit/s).\n")
	fmt.Fprintf(gp, "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n  set terminal pngcairo noenhanced size 960,600 font \",11\"\n} else {\n  set terminal png noenhanced size 960,600\n}\n")
	fmt.Fprintf(gp, "set key top left\nset grid\n")

	type entry struct{ file, title, fit string }
	var entries []entry
	minB, maxB := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		file := fmt.Sprintf("%s-%d.dat", name, i)
		var data bytes.Buffer
		fmt.Fprintf(&data, "# lvsperf series %q path %q\n# time_s mbps_2^20 bits bytes variance_s2 mbit_s\n", Label(s, i), s.Path)
		rows := 0
		for _, p := range s.Points {
			if p.Bytes <= 0 || p.Min <= 0 {
				continue
			}
			minB, maxB = math.Min(minB, float64(p.Bytes)), math.Max(maxB, float64(p.Bytes))
			fmt.Fprintf(&data, "%.9f %f %d %d %.6e %f\n", p.Min.Seconds(), p.Rate().NetPIPEMbps(), p.Bytes.Bits(), int64(p.Bytes), p.Variance, p.Rate().Mbps())
			rows++
		}
		if rows == 0 {
			continue
		}
		path := filepath.Join(dir, file)
		if err := results.WriteFileAtomic(path, data.Bytes()); err != nil {
			return files, fmt.Errorf("gnuplot data: %w", err)
		}
		files = append(files, path)
		e := entry{file: file, title: Label(s, i)}
		if f := s.Fit; f != nil && f.Latency >= 0 && float64(f.MaxRate) > 0 && !math.IsNaN(float64(f.MaxRate)) {
			lat := f.Latency.Seconds()
			rate := float64(f.MaxRate)
			// throughput of an x-byte message under the model, in Mbit/s
			if math.IsInf(rate, 1) {
				e.fit = fmt.Sprintf("8*x/(%g)/1e6/%g", lat, scale)
			} else {
				e.fit = fmt.Sprintf("8*x/(%g + 8*x/%g)/1e6/%g", lat, rate, scale)
			}
			// Only over the sizes the model was fitted to.
			if f.From > 0 && f.To > f.From {
				e.fit = fmt.Sprintf("[%d:%d] %s", int64(f.From), int64(f.To), e.fit)
			}
			e.fit += " title " + quote("  fit: "+FitSummary(f)) + " dashtype 2 linecolor " + fmt.Sprint(i+1)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return files, ErrNothingToPlot
	}
	plotCmd := func(using string, fits bool) {
		fmt.Fprint(gp, "plot ")
		for i, e := range entries {
			if i > 0 {
				fmt.Fprint(gp, ", \\\n     ")
			}
			fmt.Fprintf(gp, "%s using %s title %s with linespoints linecolor %d pointtype %d", quote(e.file), using, quote(e.title), i+1, i+1)
			if fits && e.fit != "" {
				fmt.Fprintf(gp, ", \\\n     %s", e.fit)
			}
		}
		fmt.Fprintln(gp)
	}
	fmt.Fprintf(gp, "\nset output %s\n", quote(name+"-signature.gnuplot.png"))
	fmt.Fprintf(gp, "set title 'Signature: throughput against transfer time'\nset xlabel 'transfer time (one way)'\nset ylabel %s\nset logscale xy\nset key bottom right\nset format x '%%.0s %%cs'\n", quote("throughput, "+unit))
	using := fmt.Sprintf("($6/%g)", scale)
	plotCmd("1:"+using, false)
	fmt.Fprintf(gp, "\nset output %s\n", quote(name+"-throughput.gnuplot.png"))
	fmt.Fprintf(gp, "set title 'Throughput against message size'\nset xlabel 'message size, bytes'\nset ylabel %s\nunset logscale\nset logscale x 2\nset key top left\nset format x '%%g'\nset yrange [0:*]\n", quote("throughput, "+unit))
	var tics []string
	for _, t := range binaryTicks(math.Log10(minB), math.Log10(maxB), bytesLabel) {
		if t.Label != "" {
			tics = append(tics, fmt.Sprintf("%s %.0f", quote(t.Label), math.Pow(10, t.Value)))
		}
	}
	fmt.Fprintf(gp, "set xtics (%s)\n", strings.Join(tics, ", "))
	plotCmd("4:"+using, true)
	fmt.Fprintf(gp, "unset output\n")
	if err := gp.Flush(); err != nil {
		return files, fmt.Errorf("gnuplot script: %w", err)
	}
	path := filepath.Join(dir, name+".gp")
	if err := results.WriteFileAtomic(path, script.Bytes()); err != nil {
		return files, fmt.Errorf("gnuplot script: %w", err)
	}
	return append(files, path), nil
}

// quote makes s a gnuplot single-quoted string: no escapes inside, a quote
// is written twice.
func quote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// rateUnit picks Gbit/s when the best rate reaches 10 Gbit/s, else Mbit/s,
// and returns the unit's name and its size in Mbit/s.
func rateUnit(series []results.Series) (string, float64) {
	best := 0.0
	for _, s := range series {
		for _, q := range usable(s) {
			best = math.Max(best, q.mbps)
		}
	}
	if best >= 10000 {
		return "Gbit/s (10^9 bit/s)", 1000
	}
	return "Mbit/s (10^6 bit/s)", 1
}
