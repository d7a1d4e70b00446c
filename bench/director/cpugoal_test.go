package main

import (
	"os/exec"
	"strings"
	"syscall"
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

// The two readings of a process's CPU agree, and a busy process's CPU is
// counted, children included.
func TestProcCPU(t *testing.T) {
	// A shell whose child spins: the CPU is the child's.
	cmd := exec.Command("sh", "-c", "sh -c 'while :; do :; done' & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	defer func() {
		// The spinning grandchild, by its pid.
		for _, pid := range procTree(cmd.Process.Pid)[1:] {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	c0 := procCPU(cmd.Process.Pid)
	time.Sleep(400 * time.Millisecond)
	c1 := procCPU(cmd.Process.Pid)
	ran, ticks := c1.ran-c0.ran, c1.ticks-c0.ticks
	if got := c1.since(c0); got < 50*time.Millisecond {
		t.Errorf("a spinning child used %v in 400 ms (ns reading %v, ticks %v): want its CPU counted", got, ran, ticks)
	}
	if d := ran - ticks; d > 30*time.Millisecond || d < -30*time.Millisecond {
		t.Errorf("ns reading %v and tick reading %v differ by more than 3 ticks", ran, ticks)
	}
}
