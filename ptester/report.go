package ptester

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lvsperf/lvsperf/internal/texttable"
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
	r.writeStats(&b)
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
		fmt.Fprintf(&b, "\n%s\n", texttable.Fold("  e.g. "+r.LastError, texttable.Columns, "    "))
	}
	for _, n := range r.Notes {
		fmt.Fprintln(&b, texttable.Fold("note: "+n, texttable.Columns, "  "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeStats prints wrk's summary: the requests' latency and the request
// rate's spread (Avg, Stdev, Max, +/- Stdev), the totals, Requests/sec and
// Transfer/sec. The rate is counted over all clients together in
// RateWindow windows, where wrk counts it per thread.
func (r *Report) writeStats(b *strings.Builder) {
	l := r.Latency
	fmt.Fprintf(b, "  %-10s %10s %10s %10s %10s\n", "Stats", "Avg", "Stdev", "Max", "+/- Stdev")
	if l.Count > 0 {
		fmt.Fprintf(b, "    %-8s %10v %10v %10v %9.2f%%\n", "Latency", rd(l.Mean), rd(l.Stdev), rd(l.Max), 100*l.WithinStdev)
	}
	if q := r.Rate; q != nil {
		fmt.Fprintf(b, "    %-8s %10s %10s %10s %9.2f%%  (%d windows of %v, all clients)\n", "Req/Sec",
			count(q.Mean), count(q.Stdev), count(q.Max), 100*q.WithinStdev, q.Windows, q.Window)
	}
	fmt.Fprintf(b, "  %d requests in %.2fs, %s read, %d connections, %d errors\n",
		r.Requests, r.Elapsed.Seconds(), size(float64(r.BodyBytes)), r.Conns, r.Errs())
	fmt.Fprintf(b, "Requests/sec: %10.2f\n", r.HitsPerSec)
	fmt.Fprintf(b, "Transfer/sec: %10s\n", size(r.Throughput.BytesPerSecond()))
}

// count prints n as wrk does: 912.00, 56.20k, 1.23M.
func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2fk", n/1e3)
	}
	return fmt.Sprintf("%.2f", n)
}

// size prints bytes as wrk does: 512.00B, 6.47KB, 17.76GB (powers of 1024).
func size(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n, i = n/1024, i+1
	}
	return fmt.Sprintf("%.2f%s", n, units[i])
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

// Status is a one-line summary of a sweep's progress for a terminal's
// status line: the size just measured, how far the sweep is, its rate.
func (p SweepProgress) Status() string {
	r := p.Report
	return fmt.Sprintf("ptester sweep: file.%d %s (%d of %d sizes) %.0f hits/s, %d errors",
		p.Exp, p.Mode, p.Exp-p.From+1, p.To-p.From+1, r.HitsPerSec, r.Errs())
}
