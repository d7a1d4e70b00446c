package results

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixtureRun is a fixed, hand-built run with two series: a loopback-like
// curve with quantiles and a fit, and a short one whose fit could not
// bound the rate (+Inf), so every export path is exercised.
func fixtureRun() *Run {
	us := time.Microsecond
	pt := func(n timing.Bytes, reps int, trials ...time.Duration) timing.Point {
		p := timing.Point{Bytes: n, Reps: reps, Trials: trials}
		p.Min, p.Max = trials[0], trials[0]
		var sum, sum2 float64
		for _, t := range trials {
			p.Min, p.Max = min(p.Min, t), max(p.Max, t)
			sum += t.Seconds()
			sum2 += t.Seconds() * t.Seconds()
		}
		p.Median = trials[len(trials)/2]
		n2 := float64(len(trials))
		p.Mean = time.Duration(math.Round(sum / n2 * 1e9))
		p.Variance = math.Max(0, sum2/n2-(sum/n2)*(sum/n2))
		return p
	}
	direct := []timing.Point{
		pt(1, 10000, 10*us, 11*us, 12*us),
		pt(64, 9000, 11*us, 11*us, 13*us),
		pt(4096, 5000, 20*us, 21*us, 25*us),
		pt(65536, 800, 130*us, 135*us, 160*us),
		pt(1<<20, 60, 1900*us, 2000*us, 2600*us),
	}
	direct[0].Quantiles = []timing.Quantile{{Q: 0.5, Time: 10 * us}, {Q: 0.9, Time: 14 * us}, {Q: 0.99, Time: 30 * us}, {Q: 0.999, Time: 95 * us}}
	direct[0].Transfers, direct[0].Fastest, direct[0].Slowest = 30000, 9*us, 120*us
	direct[1].Quantiles = []timing.Quantile{{Q: 0.5, Time: 11 * us}, {Q: 0.9, Time: 15 * us}}
	fit := timing.Fit{
		Latency: 10 * us, LatencyCI: [2]time.Duration{9 * us, 11 * us},
		MaxRate: 4.5e9, MaxRateCI: [2]timing.BitsPerSecond{4.2e9, 4.9e9},
		LatencyBytes: 5625, HalfSize: 4096, PeakRate: 4.41e9, PeakSize: 1 << 20,
		R2: 0.998, RelRMS: 0.04, From: 1, To: 1 << 20, Points: 5, OK: true,
	}
	proxied := []timing.Point{
		pt(1, 5000, 25*us, 26*us, 31*us),
		pt(1000, 4800, 26*us, 27*us, 28*us),
	}
	inf := timing.Fit{
		Latency: 25 * us, LatencyCI: [2]time.Duration{24 * us, 26 * us},
		MaxRate:   timing.BitsPerSecond(math.Inf(1)),
		MaxRateCI: [2]timing.BitsPerSecond{0, timing.BitsPerSecond(math.Inf(1))},
		PeakRate:  timing.Rate(1000, 26*us), PeakSize: 1000, HalfSize: 1000,
		From: 1, To: 1000, Points: 2,
		Problems: []string{"time does not grow with size: the sizes are too small to show a rate limit"},
	}
	opts := timing.Options{Sizes: []timing.Bytes{1, 64, 4096, 65536, 1 << 20}, TrialTime: 100 * time.Millisecond, Trials: 3, MinReps: 3, MaxReps: 1000000, Warmup: 50 * time.Millisecond, StopTime: time.Second}
	start := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	return &Run{
		Format: Format, Schema: Schema,
		ID:       "20261124T200000Z-testhost",
		Probe:    "netpipe",
		Path:     "direct",
		Started:  start,
		Finished: start.Add(12 * time.Second),
		Complete: true,
		Env: Env{
			Tool: "lvsperf 0.1.0", Host: "testhost", Kernel: "6.1.0-test", CPU: "Test CPU @ 2.00GHz",
			CPUs: 2, GoVersion: "go1.26.0", GOMAXPROCS: 2, MTU: map[string]int{"lo": 65536},
			LoadBefore: 0.25, LoadAfter: 0.5,
		},
		Options: map[string]string{"start": "1", "end": "1MiB"},
		Series: []Series{
			{Series: timing.Series{Label: "direct", Points: direct, Fit: &fit, ClockOverhead: 40, Options: opts}, Path: "direct"},
			{Series: timing.Series{Label: "proxy rr", Points: proxied, Fit: &inf, Stopped: "budget spent", ClockOverhead: 40, Options: opts}, Path: "director/proxy/rr", Info: map[string]string{"engine": "proxy"}},
		},
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file %s: %v (run go test ./results -update to create it)", path, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file; if the change is intended run go test ./results -update\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}
