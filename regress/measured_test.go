package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/results"
)

// TestGateOnRecordedSamples replays the gate over the samples of the
// measurement in README.md (testdata/samples: ten clean and ten with the
// director leg 20% slower, taken interleaved on a shared 2-core machine)
// and holds the gate to what it did there: a change to compare's
// statistics that raises more false alarms or catches fewer slowdowns on
// real, noisy runs fails here.
func TestGateOnRecordedSamples(t *testing.T) {
	var clean, slowed []*results.Run
	for i := range 10 {
		for _, kind := range []string{"clean", "slow"} {
			r, err := results.Load(filepath.Join("testdata", "samples", fmt.Sprintf("%s-%d%s", kind, i, results.Extension)))
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
	m, err := Measure(clean, slowed, compare.Options{Ratio: Ratio, K: SuiteK})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("false alarms %d/%d, caught %d/%d", m.FalseAlarms, m.CleanPairs, m.Caught, m.SlowPairs)
	if m.CleanPairs != 90 || m.SlowPairs != 100 {
		t.Fatalf("compared %d clean and %d slowed pairs, want 90 and 100", m.CleanPairs, m.SlowPairs)
	}
	const maxFalseAlarms, minCaught = 16, 77 // README.md, "Measured"
	if m.FalseAlarms > maxFalseAlarms || m.Caught < minCaught {
		t.Errorf("false alarms %d (measured %d), caught %d (measured %d): the gate got worse on real samples",
			m.FalseAlarms, maxFalseAlarms, m.Caught, minCaught)
	}
}
