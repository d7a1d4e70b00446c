package cluster

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/internal/texttable"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Info keys of a cluster run's series.
const (
	InfoAgents     = "agents"
	InfoHitsPerSec = "hits_per_sec"
	InfoRequests   = "requests"
	InfoErrors     = "errors"
	InfoSkew       = "start_skew_ns"
	InfoClockUnc   = "clock_uncertainty_ns"
	InfoSkewOwn    = "start_skew_own_clocks_ns"
	InfoOffset     = "clock_offset_ns"
	InfoRTT        = "clock_rtt_ns"
	InfoStartLate  = "start_late_ns"
	InfoFailed     = "failed"
	InfoPartial    = "partial_requests"
)

// ToRun turns the result into a results.Run for the store, plots, report
// and compare: one series for the merge ("cluster", its Point built from
// the merged histogram) and one per agent ("agent N"), each with its
// figures in Info.
func (r *Result) ToRun() *results.Run {
	if r.Aggregate != nil {
		return r.netpipeRun()
	}
	run := &results.Run{
		Format:   results.Format,
		Schema:   results.Schema,
		Probe:    "http",
		Path:     "cluster",
		Started:  r.Started.UTC(),
		Finished: r.Finished.UTC(),
		Complete: len(r.Lost) == 0,
		Env:      results.CollectEnv(),
		Options:  map[string]string{InfoAgents: strconv.Itoa(r.Plan.Agents), "probe": r.Plan.Probe},
	}
	if len(r.Lost) > 0 {
		run.Error = fmt.Sprintf("%d of %d agents lost: %s", len(r.Lost), len(r.Agents), r.Lost[0])
	}
	run.ID = run.Started.Format("20060102T150405Z") + "-" + run.Env.Host + "-cluster"
	var size timing.Bytes
	if o := r.Plan.Ptester; o != nil {
		run.Options["target"] = o.Target
		run.Options["path"] = o.Path
		run.Options["t"] = o.Duration.String()
		run.Options["k"] = strconv.Itoa(o.KeepAlive)
		run.Options["c"] = strconv.Itoa(o.Clients)
		run.Options["rate"] = strconv.FormatFloat(o.Rate, 'f', -1, 64)
	}
	if r.Requests > 0 {
		size = timing.Bytes(r.BodyBytes / int64(r.Requests))
	}
	ns := func(d time.Duration) string { return strconv.FormatInt(int64(d), 10) }
	merged := results.Series{Path: "cluster", Info: map[string]string{
		InfoAgents:     strconv.Itoa(len(r.Agents)),
		InfoHitsPerSec: strconv.FormatFloat(r.HitsPerSec, 'f', 1, 64),
		InfoRequests:   strconv.FormatUint(r.Requests, 10),
		InfoErrors:     strconv.FormatUint(r.Errors, 10),
		InfoSkew:       ns(r.Skew),
		InfoClockUnc:   ns(r.ClockUncertainty),
		InfoSkewOwn:    ns(r.SkewOwnClocks),
		InfoPartial:    strconv.FormatUint(r.PartialRequests, 10),
	}}
	merged.Label = fmt.Sprintf("cluster (%d agents)", len(r.Agents))
	merged.Points = []timing.Point{point(size, r.Latency.Mean, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Min, r.Latency.Max, r.Requests)}
	run.Series = append(run.Series, merged)
	for _, a := range r.Agents {
		s := results.Series{Path: "cluster/agent", Info: map[string]string{
			InfoOffset:    ns(a.Clock.Offset),
			InfoRTT:       ns(a.Clock.RTT),
			InfoStartLate: ns(a.StartLate),
		}}
		s.Label = fmt.Sprintf("agent %d (%s)", a.Index, a.Name)
		if a.Failed != "" {
			s.Info[InfoFailed] = a.Failed
		}
		if a.Partial != nil {
			s.Info[InfoPartial] = strconv.FormatUint(a.Partial.Requests, 10)
		}
		if a.OK() {
			l := a.Report.Latency
			s.Info[InfoHitsPerSec] = strconv.FormatFloat(a.Report.HitsPerSec, 'f', 1, 64)
			s.Info[InfoRequests] = strconv.FormatUint(a.Report.Requests, 10)
			s.Info[InfoErrors] = strconv.FormatUint(a.Report.Errs(), 10)
			s.Points = []timing.Point{point(size, l.Mean, l.P50, l.P90, l.P99, l.P999, l.Min, l.Max, a.Report.Requests)}
		} else {
			s.Stopped = a.Failed
		}
		run.Series = append(run.Series, s)
	}
	return run
}

// point makes the one point of a fixed-size HTTP run: its mean time as the
// trial, the histogram's quantiles.
func point(size timing.Bytes, mean, p50, p90, p99, p999, lo, hi time.Duration, n uint64) timing.Point {
	p := timing.Point{Bytes: size, Reps: int(min(n, math.MaxInt32)), Trials: []time.Duration{mean},
		Min: mean, Median: mean, Max: mean, Mean: mean, Transfers: int(min(n, math.MaxInt32)), Fastest: lo, Slowest: hi}
	for i, q := range timing.DefaultQuantiles() {
		p.Quantiles = append(p.Quantiles, timing.Quantile{Q: q, Time: []time.Duration{p50, p90, p99, p999}[i]})
	}
	return p
}

// netpipeRun is ToRun for a lock-step netpipe: the aggregate series and
// one per agent, each a curve over the sizes.
func (r *Result) netpipeRun() *results.Run {
	run := &results.Run{
		Format: results.Format, Schema: results.Schema, Probe: "netpipe", Path: "cluster",
		Started: r.Started.UTC(), Finished: r.Finished.UTC(), Complete: len(r.Lost) == 0,
		Env:     results.CollectEnv(),
		Options: map[string]string{InfoAgents: strconv.Itoa(r.Plan.Agents), "probe": r.Plan.Probe, "target": r.Plan.Netpipe.Target},
	}
	if len(r.Lost) > 0 {
		run.Error = fmt.Sprintf("%d of %d agents lost: %s", len(r.Lost), len(r.Agents), r.Lost[0])
	}
	run.ID = run.Started.Format("20060102T150405Z") + "-" + run.Env.Host + "-cluster-netpipe"
	ns := func(d time.Duration) string { return strconv.FormatInt(int64(d), 10) }
	run.Series = append(run.Series, results.Series{Series: *r.Aggregate, Path: "cluster", Info: map[string]string{
		InfoAgents: strconv.Itoa(len(r.Agents)), InfoSkew: ns(r.Skew), InfoSkewOwn: ns(r.SkewOwnClocks), InfoClockUnc: ns(r.ClockUncertainty)}})
	for _, a := range r.Agents {
		if a.Series == nil {
			continue
		}
		s := results.Series{Series: *a.Series, Path: "cluster/agent", Info: map[string]string{InfoOffset: ns(a.Clock.Offset), InfoRTT: ns(a.Clock.RTT)}}
		s.Refit()
		if a.Failed != "" {
			s.Info[InfoFailed], s.Stopped = a.Failed, a.Failed
		}
		run.Series = append(run.Series, s)
	}
	return run
}

// perAgentColumns is how many agents' rates a lock-step table shows one
// column each within 100 columns; more are summarised by their spread.
const perAgentColumns = 6

// writeNetpipe prints a size per line: the aggregate and each agent's rate
// (with many agents and not wide, the agents' lowest, median and highest).
func (r *Result) writeNetpipe(w io.Writer, wide bool) error {
	each := wide || len(r.Agents) <= perAgentColumns
	fmt.Fprintf(w, "%10s %12s", "size", "all Mbit/s")
	if each {
		for _, a := range r.Agents {
			fmt.Fprintf(w, " %9s", fmt.Sprintf("agent %d", a.Index))
		}
	} else {
		fmt.Fprintf(w, " %12s %12s %12s", "agent min", "agent median", "agent max")
	}
	fmt.Fprintf(w, " %9s\n", "skew µs")
	for i, p := range r.Aggregate.Points {
		fmt.Fprintf(w, "%10v %12.1f", p.Bytes, p.Rate().Mbps())
		var rates []float64
		for _, a := range r.Agents {
			has := a.Series != nil && i < len(a.Series.Points)
			switch {
			case has && each:
				fmt.Fprintf(w, " %9.1f", a.Series.Points[i].Rate().Mbps())
			case each:
				fmt.Fprintf(w, " %9s", "-")
			case has:
				rates = append(rates, a.Series.Points[i].Rate().Mbps())
			}
		}
		if !each {
			if len(rates) == 0 {
				fmt.Fprintf(w, " %12s %12s %12s", "-", "-", "-")
			} else {
				slices.Sort(rates)
				fmt.Fprintf(w, " %12.1f %12.1f %12.1f", rates[0], rates[len(rates)/2], rates[len(rates)-1])
			}
		}
		skew := "-"
		if i < len(r.StepSkews) {
			skew = fmt.Sprintf("%.1f", float64(r.StepSkews[i])/1e3)
		}
		fmt.Fprintf(w, " %9s\n", skew)
	}
	fmt.Fprintln(w, fold(fmt.Sprintf("%d pairs in lock-step; largest start skew %v (agents' own clocks), %v (coordinator's, ±%v)",
		len(r.Agents), r.SkewOwnClocks.Round(time.Microsecond/10), r.Skew.Round(time.Microsecond/10), r.ClockUncertainty.Round(time.Microsecond/10)), wide))
	for _, l := range r.Lost {
		fmt.Fprintln(w, fold("LOST "+l, wide))
	}
	return nil
}

// fold wraps a line to 100 columns unless wide.
func fold(s string, wide bool) string {
	if wide {
		return s
	}
	return texttable.Fold(s, texttable.Columns, "  ")
}

// WriteText prints one line per agent and the merge, within 100 columns
// unless wide (a lock-step netpipe's table then has a column per agent
// however many there are, and long lines are not folded).
func (r *Result) WriteText(w io.Writer, wide bool) error {
	if r.Aggregate != nil {
		return r.writeNetpipe(w, wide)
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e3) }
	fmt.Fprintf(w, "%-5s %-22s %10s %9s %9s %9s %10s %9s\n", "agent", "name", "hits/s", "p50 µs", "p99 µs", "offset µs", "±µs", "start µs")
	for _, a := range r.Agents {
		start := "-"
		if !a.Started.IsZero() {
			start = us(a.Started.Sub(r.StartAt))
		}
		if !a.OK() {
			fmt.Fprintf(w, "%-5d %-22s %10s %9s %9s %9s %10s %9s\n", a.Index, clip(a.Name, 22), "lost", "", "", us(a.Clock.Offset), us(a.Clock.Uncertainty()), start)
			continue
		}
		l := a.Report.Latency
		fmt.Fprintf(w, "%-5d %-22s %10.0f %9s %9s %9s %10s %9s\n", a.Index, clip(a.Name, 22), a.Report.HitsPerSec, us(l.P50), us(l.P99), us(a.Clock.Offset), us(a.Clock.Uncertainty()), start)
	}
	fmt.Fprintf(w, "%-5s %-22s %10.0f %9s %9s\n", "all", fmt.Sprintf("%d of %d agents", r.Complete, len(r.Agents)), r.HitsPerSec, us(r.Latency.P50), us(r.Latency.P99))
	fmt.Fprintln(w, fold(fmt.Sprintf("requests %d, errors %d; start skew %v (coordinator's clock ±%v), %v (agents' own)",
		r.Requests, r.Errors, r.Skew.Round(time.Microsecond/10), r.ClockUncertainty.Round(time.Microsecond/10), r.SkewOwnClocks.Round(time.Microsecond/10)), wide))
	for _, l := range r.Lost {
		fmt.Fprintln(w, fold("LOST "+l, wide))
	}
	return nil
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
