package main

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/lvsperf/lvsperf/timing"
)

// The director's CPU goal: the proxy process's CPU per GB streamed and per
// connection no worse than HAProxy's in the same run. Both proxies run as
// their own process and are measured the same way (procCPU), in the same
// rounds; each round gives one ratio per figure, and the verdict is on the
// median of those ratios.

// cpuRatios are one path's per-round CPU ratios against HAProxy (NaN for a
// round where either side had no figure).
type cpuRatios struct {
	perGB, perConn []float64
}

// cpuAgainstHAProxy pairs path name's rounds with HAProxy's.
func cpuAgainstHAProxy(res map[string][]sample, name string) cpuRatios {
	var r cpuRatios
	hap := res["haproxy"]
	for i, s := range res[name] {
		if i >= len(hap) || !s.hasCPU || !hap[i].hasCPU {
			r.perGB = append(r.perGB, math.NaN())
			r.perConn = append(r.perConn, math.NaN())
			continue
		}
		r.perGB = append(r.perGB, ratio(s.cpuPerGB.Seconds(), hap[i].cpuPerGB.Seconds()))
		r.perConn = append(r.perConn, ratio(us(s.cpuPerConn), us(hap[i].cpuPerConn)))
	}
	return r
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

// finite drops the NaNs.
func finite(xs []float64) []float64 {
	var out []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

// cpuPaths are the paths compared with HAProxy on CPU: the real
// `lvsperf director` and, when given, its baseline build.
var cpuPaths = []string{"lvsperf-director", "lvsperf-baseline"}

// roundCPULine prints one round's CPU comparison of path name with HAProxy.
func roundCPULine(w io.Writer, name string, s, hap sample) {
	if !s.hasCPU || !hap.hasCPU {
		return
	}
	fmt.Fprintf(w, "  %-16s CPU vs haproxy: %.3f / %.3f s/GB = %.2f×, %.1f / %.1f µs/conn = %.2f×\n", "",
		s.cpuPerGB.Seconds(), hap.cpuPerGB.Seconds(), ratio(s.cpuPerGB.Seconds(), hap.cpuPerGB.Seconds()),
		us(s.cpuPerConn), us(hap.cpuPerConn), ratio(us(s.cpuPerConn), us(hap.cpuPerConn)))
}

// reportCPUGoal prints, for each path in cpuPaths that ran, the medians of
// its and HAProxy's CPU per GB and per connection, the median [min–max] of
// the per-round ratios, and the verdicts, followed by the contention line.
func reportCPUGoal(w io.Writer, res map[string][]sample, contention string) {
	hap, ok := res["haproxy"]
	if !ok || len(hap) == 0 || !hap[0].hasCPU {
		fmt.Fprintln(w, "CPU goal not checked: no HAProxy in this run")
		return
	}
	col := func(ss []sample, f func(sample) float64) []float64 {
		var xs []float64
		for _, s := range ss {
			if s.hasCPU {
				xs = append(xs, f(s))
			}
		}
		return xs
	}
	gb := func(s sample) float64 { return s.cpuPerGB.Seconds() }
	conn := func(s sample) float64 { return us(s.cpuPerConn) }
	spread := func(xs []float64, f string) string {
		if len(xs) == 0 {
			return "-"
		}
		return fmt.Sprintf(f+" ["+f+"–"+f+"]", timing.Median(xs), slices.Min(xs), slices.Max(xs))
	}
	for _, name := range cpuPaths {
		ss, ok := res[name]
		if !ok {
			continue
		}
		r := cpuAgainstHAProxy(res, name)
		fmt.Fprintf(w, "CPU goal for %s vs haproxy (proxy process CPU, medians [min–max] over %d rounds; × is the median of per-round ratios):\n", name, len(ss))
		verdict := func(what string, xs []float64) {
			xs = finite(xs)
			if len(xs) == 0 {
				fmt.Fprintf(w, "  %s ≤ HAProxy: not checked (no paired rounds)\n", what)
				return
			}
			m := timing.Median(xs)
			v := "met"
			if m > 1 {
				v = "not met"
			}
			note := ""
			if slices.Min(xs) <= 1 && slices.Max(xs) > 1 {
				note = " (per-round ratios on both sides of 1.00)"
			}
			fmt.Fprintf(w, "  %s ≤ HAProxy: %s — %.2f× [%.2f–%.2f]%s\n", what, v, m, slices.Min(xs), slices.Max(xs), note)
		}
		fmt.Fprintf(w, "  CPU per GB streamed:  %s %s s, haproxy %s s; ratio %s\n", name, spread(col(ss, gb), "%.3f"), spread(col(hap, gb), "%.3f"), spread(finite(r.perGB), "%.2f"))
		fmt.Fprintf(w, "  CPU per connection:   %s %s µs, haproxy %s µs; ratio %s\n", name, spread(col(ss, conn), "%.1f"), spread(col(hap, conn), "%.1f"), spread(finite(r.perConn), "%.2f"))
		verdict("CPU/GB", r.perGB)
		verdict("CPU/conn", r.perConn)
		fmt.Fprintf(w, "  %s\n", contention)
	}
}
