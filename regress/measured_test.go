package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/results"
)

// TestGateOnRecordedSamples replays the gate over the measurements of
// README.md — ten clean samples and ten with the director leg 20% slower
// each, taken interleaved on a 2-core machine — and holds the gate to what
// it did there: a change to compare's statistics that raises more false
// alarms or catches fewer slowdowns on real, noisy runs fails here.
func TestGateOnRecordedSamples(t *testing.T) {
	for _, tc := range []struct {
		dir                 string
		k                   float64
		maxFalse, minCaught int
	}{
		// Shared machine (load 3–13), 12 rounds, one process, no idle
		// polling, the gate at K=3 as it was then.
		{"samples", 3, 16, 77},
		// Quiet machine, idle polling, a process per sample: 24 rounds
		// per sample, then the suite's 40.
		{"samples-idlepoll-24", 3, 0, 76},
		{"samples-idlepoll-40", SuiteK, 0, 100},
		// The same with the in-process director on the event loop (its
		// default for a few hours on 2026-11-25).
		{"samples-eventloop-40", SuiteK, 0, 98},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			var clean, slowed []*results.Run
			for i := range 10 {
				for _, kind := range []string{"clean", "slow"} {
					r, err := results.Load(filepath.Join("testdata", tc.dir, fmt.Sprintf("%s-%d%s", kind, i, results.Extension)))
					if err != nil {
						t.Fatal(err)
					}
					if kind == "clean" {
						clean = append(clean, r)
					} else {
						slowed = append(slowed, r)
					}
				}
			}
			m, err := Measure(clean, slowed, compare.Options{Ratio: Ratio, K: tc.k})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("K=%g: false alarms %d/%d, caught %d/%d", tc.k, m.FalseAlarms, m.CleanPairs, m.Caught, m.SlowPairs)
			if m.CleanPairs != 90 || m.SlowPairs != 100 {
				t.Fatalf("compared %d clean and %d slowed pairs, want 90 and 100", m.CleanPairs, m.SlowPairs)
			}
			if m.FalseAlarms > tc.maxFalse || m.Caught < tc.minCaught {
				t.Errorf("false alarms %d (measured %d), caught %d (measured %d): the gate got worse on real samples",
					m.FalseAlarms, tc.maxFalse, m.Caught, tc.minCaught)
			}
		})
	}
}
