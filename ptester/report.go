package ptester

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints a report for people: what ran, rates, times, errors, notes.
func (r *Report) WriteText(w io.Writer) error {
	o := r.Options
	loop := "closed loop"
	if o.Rate > 0 {
		loop = fmt.Sprintf("open loop at %g req/s", o.Rate)
	}
	var b strings.Builder
	engine := string(r.Engine)
	if r.Loops > 0 {
		engine = fmt.Sprintf("%s ×%d", r.Engine, r.Loops)
	}
	fmt.Fprintf(&b, "GET http://%s%s  -c %d -k %d  %s  engine %s  %v\n", o.Target, o.Path, o.Clients, o.KeepAlive, loop, engine, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "hits/sec %.1f   conns/sec %.1f   throughput %s (%.2f MiB/s)   requests %d   errors %d\n",
		r.HitsPerSec, r.ConnsPerSec, r.Throughput, r.Throughput.BytesPerSecond()/(1<<20), r.Requests, r.Errs())
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\tcount\tmin\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	row := func(name string, s Summary) {
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\t%v\t%v\t%v\t%v\t\n", name, s.Count,
			rd(s.Min), rd(s.Mean), rd(s.P50), rd(s.P90), rd(s.P99), rd(s.P999), rd(s.Max))
	}
	name := "request"
	if o.Rate > 0 {
		name = "request (from intended send)"
	}
	row(name, r.Latency)
	if r.Uncorrected != nil {
		row("request (from actual send)", *r.Uncorrected)
	}
	row("connect", r.Connect)
	row("transfer", r.Transfer)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Errs() > 0 {
		b.WriteString("errors:")
		for k := ErrRefused; k < numErrKinds; k++ {
			if n := r.Errors[k.String()]; n > 0 {
				fmt.Fprintf(&b, " %s=%d", k, n)
			}
		}
		fmt.Fprintf(&b, "  (e.g. %s)\n", r.LastError)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rd rounds a duration for display.
func rd(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

// WriteProgress prints one line per measured size and mode of a sweep.
func (p SweepProgress) WriteProgress(w io.Writer) error {
	r := p.Report
	_, err := fmt.Fprintf(w, "%-14s file.%-2d %10.1f hits/s %10.2f MiB/s  fastest %-9v slowest %-9v errors %d\n",
		p.Mode, p.Exp, r.HitsPerSec, r.Throughput.BytesPerSecond()/(1<<20), rd(r.Latency.Min), rd(r.Latency.Max), r.Errs())
	return err
}
