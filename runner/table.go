package runner

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/internal/texttable"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// WriteTable prints each series of run as a table (size, best and median
// time, throughput, trial spread, repetitions, p99 of single transfers)
// followed by its fit: within texttable.Columns, or boxed and unfolded
// when wide.
func WriteTable(w io.Writer, run *results.Run, wide bool) error {
	fold := func(s string) string {
		if wide {
			return s
		}
		return texttable.Fold(s, texttable.Columns, "    ")
	}
	for _, s := range run.Series {
		fmt.Fprintln(w, fold(fmt.Sprintf("%s (%s), %d sizes", s.Label, s.Path, len(s.Points))))
		t := &texttable.Table{Header: []string{"bytes", "time (min)", "time (median)", "Mbit/s", "spread", "reps", "p99 single"}}
		for _, p := range s.Points {
			p99 := "-"
			if d, ok := p.QuantileAt(0.99); ok {
				p99 = FormatDuration(d)
			}
			t.Append(strconv.FormatInt(int64(p.Bytes), 10), FormatDuration(p.Min), FormatDuration(p.Median),
				strconv.FormatFloat(p.Rate().Mbps(), 'f', 2, 64),
				strconv.FormatFloat(100*p.Spread(), 'f', 1, 64)+"%",
				strconv.Itoa(p.Reps), p99)
		}
		if err := t.Write(w, wide); err != nil {
			return err
		}
		for _, l := range strings.Split(FitSummary(s.Series), "\n") {
			fmt.Fprintln(w, fold(l))
		}
		if s.Stopped != "" {
			fmt.Fprintln(w, fold("stopped early: "+s.Stopped))
		}
	}
	if run.Env.Contended {
		fmt.Fprintln(w, fold("note: "+run.Env.Note))
	}
	if run.Env.IdlePoll {
		fmt.Fprintln(w, "note: idle CPUs polled instead of halting for this run (--idle-poll)")
	}
	return nil
}

// FitSummary says what the fit found, or why there is none: a line, then
// one line per problem of the model.
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
