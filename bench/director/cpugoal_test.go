package main

import (
	"strings"
	"testing"
	"time"
)

// The CPU verdicts follow the median of the per-round ratios, per figure.
func TestReportCPUGoal(t *testing.T) {
	s := func(conn time.Duration, gb time.Duration) sample {
		return sample{hasCPU: true, cpuPerConn: conn, cpuPerGB: gb}
	}
	res := map[string][]sample{
		"haproxy": {s(40*time.Microsecond, 500*time.Millisecond), s(40*time.Microsecond, 500*time.Millisecond), s(40*time.Microsecond, 500*time.Millisecond)},
		// Per GB: 0.4×, 0.4×, 1.2× → median 0.4 (met, ratios on both sides).
		// Per connection: 1.1×, 1.05×, 0.9× → median 1.05 (not met).
		"lvsperf-director": {s(44*time.Microsecond, 200*time.Millisecond), s(42*time.Microsecond, 200*time.Millisecond), s(36*time.Microsecond, 600*time.Millisecond)},
	}
	var out strings.Builder
	reportCPUGoal(&out, res, "machine: test")
	got := out.String()
	for _, want := range []string{
		"CPU/GB ≤ HAProxy: met — 0.40× [0.40–1.20] (per-round ratios on both sides of 1.00)",
		"CPU/conn ≤ HAProxy: not met — 1.05× [0.90–1.10]",
		"machine: test",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "lvsperf-baseline") {
		t.Errorf("a path that did not run has a verdict:\n%s", got)
	}
	out.Reset()
	reportCPUGoal(&out, map[string][]sample{"lvsperf-director": res["lvsperf-director"]}, "")
	if !strings.Contains(out.String(), "not checked") {
		t.Errorf("without HAProxy: want 'not checked', got:\n%s", out.String())
	}
}
