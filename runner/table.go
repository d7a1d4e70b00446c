package runner

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// WriteTable prints each series of run as a table (size, best and median
// time, throughput, trial spread, repetitions, p99 of single transfers)
// followed by its fit.
func WriteTable(w io.Writer, run *results.Run) error {
	for _, s := range run.Series {
		fmt.Fprintf(w, "%s (%s), %d sizes\n", s.Label, s.Path, len(s.Points))
		t := tablewriter.NewTable(w,
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithRowAlignment(tw.AlignRight))
		t.Header("bytes", "time (min)", "time (median)", "Mbit/s", "spread", "reps", "p99 single")
		for _, p := range s.Points {
			p99 := "-"
			if d, ok := p.QuantileAt(0.99); ok {
				p99 = FormatDuration(d)
			}
			if err := t.Append(strconv.FormatInt(int64(p.Bytes), 10), FormatDuration(p.Min), FormatDuration(p.Median),
				strconv.FormatFloat(p.Rate().Mbps(), 'f', 2, 64),
				strconv.FormatFloat(100*p.Spread(), 'f', 1, 64)+"%",
				strconv.Itoa(p.Reps), p99); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintln(w, FitSummary(s.Series))
		if s.Stopped != "" {
			fmt.Fprintf(w, "stopped early: %s\n", s.Stopped)
		}
	}
	if run.Env.Contended {
		fmt.Fprintf(w, "note: %s\n", run.Env.Note)
	}
	if run.Env.IdlePoll {
		fmt.Fprintln(w, "note: idle CPUs polled instead of halting for this run (--idle-poll)")
	}
	return nil
}

// FitSummary is one line saying what the fit found, or why there is none.
func FitSummary(s timing.Series) string {
	f := s.Fit
	if f == nil {
		return "fit: none (" + s.FitError + ")"
	}
	line := fmt.Sprintf("fit: latency %s [%s, %s], max_rate %v [%v, %v], latency-equivalent %d B, half-performance size %d B, peak %v at %d B",
		FormatDuration(f.Latency), FormatDuration(f.LatencyCI[0]), FormatDuration(f.LatencyCI[1]),
		f.MaxRate, f.MaxRateCI[0], f.MaxRateCI[1], f.LatencyBytes, f.HalfSize, f.PeakRate, f.PeakSize)
	if f.OK {
		return line + fmt.Sprintf("; the model fits (typical error %.1f%%)", 100*f.RelRMS)
	}
	for _, p := range f.Problems {
		line += "\n  model: " + p
	}
	return line
}

// FormatDuration prints d with a unit that keeps three or four significant
// digits (ns, µs, ms, s).
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 2, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}
