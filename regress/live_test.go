package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/internal/cpuidle"
)

// TestSuiteOnTheRealDirector runs two short samples through the embedded
// director, one with the director leg slowed, and checks what the gate is
// given: both legs, the same sizes, the slowdown on the director leg only.
// The gate's verdicts on real runs are measured by `go run ./regress
// -measure 10` (minutes; figures in README.md), not here: on a shared
// two-core machine a short sample's verdict is a measurement, not a fact a
// test can pin.
func TestSuiteOnTheRealDirector(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two short sweeps through the director (~15 s); -short skips it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// As root (CI) the samples hold the real PM QoS request, as make
	// regress does there.
	s := Suite{Rounds: 2, TrialTime: 2 * time.Millisecond, End: 16 << 10, IdlePoll: canIdlePoll()}
	if !s.IdlePoll && os.Getenv("CI") == "true" {
		t.Fatalf("CI runs as root, but %s is not writable", cpuidle.QoSPath)
	}
	clean, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if clean.Env.IdlePoll != s.IdlePoll || (clean.Options["idle_poll"] == "true") != s.IdlePoll {
		t.Errorf("idle polling %v not recorded: env %v, options %v", s.IdlePoll, clean.Env.IdlePoll, clean.Options)
	}
	s.Slow = 0.2
	slowed, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]int{"clean": len(clean.Series), "slowed": len(slowed.Series)} {
		if r != 2 {
			t.Fatalf("%s sample has %d series, want direct and director", name, r)
		}
	}
	for _, sr := range slowed.Series {
		_, has := sr.Info["slowdown_factor"]
		if has != (sr.Path != "direct") {
			t.Errorf("series %s (%s): slowdown recorded %v, want it on the director leg only", sr.Label, sr.Path, has)
		}
		if sr.Info["merged_rounds"] != "2" {
			t.Errorf("series %s does not pool both rounds: %v", sr.Label, sr.Info)
		}
		for _, p := range sr.Points {
			if len(p.Trials) != 2 {
				t.Errorf("series %s, %d B: %d trials, want one per round", sr.Label, p.Bytes, len(p.Trials))
				break
			}
		}
	}
	res, err := compare.Runs(clean, slowed, compare.Options{Ratio: Ratio, K: SuiteK})
	if err != nil {
		t.Fatalf("the gate cannot compare the suite's own samples: %v", err)
	}
	if n := len(res.Sizes); n < 10 {
		t.Errorf("%d sizes compared, want the whole 1 B–16 KiB schedule", n)
	}
	t.Logf("short samples: ratio change %+.1f%% (tolerance %.1f%%, verdict %s)", 100*res.Metrics[0].Change, 100*res.Metrics[0].Tolerance, res.Metrics[0].Verdict)
}
