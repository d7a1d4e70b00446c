package compare_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/compare/comparetest"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func direct(noise float64) comparetest.Path {
	return comparetest.Path{Label: "netpipe direct", Path: "direct", Latency: 10 * time.Microsecond, Rate: 20e9, Noise: noise}
}

func director(noise, slow float64) comparetest.Path {
	return comparetest.Path{Label: "netpipe director(rr)", Path: "director/proxy/rr", Latency: 30 * time.Microsecond, Rate: 8e9, Noise: noise, Slow: slow}
}

func TestSameModelDifferentNoiseIsNotARegression(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		base := comparetest.Run("netpipe", seed, direct(0.05), director(0.05, 0))
		next := comparetest.Run("netpipe", seed+100, direct(0.05), director(0.05, 0))
		res, err := compare.Runs(base, next, compare.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Regressed {
			var b bytes.Buffer
			res.WriteTable(&b, false, false)
			t.Fatalf("seed %d: two runs of one model flagged a regression:\n%s", seed, b.String())
		}
	}
}

func TestTwentyPercentSlowerIsCaught(t *testing.T) {
	base := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	next := comparetest.Run("netpipe", 2, direct(0.05), director(0.05, 1.25))
	res, err := compare.Runs(base, next, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Regressed {
		t.Fatal("a director 20% slower at every size was not flagged")
	}
	for _, m := range res.Metrics {
		if m.Series == "netpipe direct" && m.Verdict == compare.Regressed {
			t.Errorf("the unchanged direct series was flagged: %+v", m)
		}
		if m.Series == "netpipe director(rr)" && m.Measure == "throughput" {
			if m.Verdict != compare.Regressed || m.Change > -0.15 || m.Change < -0.25 {
				t.Errorf("director throughput: %+v, want REGRESSED near -20%%", m)
			}
		}
	}
}

func TestOneNoisySizeDoesNotFailTheRun(t *testing.T) {
	spiky := director(0.05, 0)
	spiky.Spike, spiky.SpikeSlow = 4096, 3
	base := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	next := comparetest.Run("netpipe", 2, direct(0.05), spiky)
	res, err := compare.Runs(base, next, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Regressed {
		t.Fatal("one size three times slower failed the whole run")
	}
	found := false
	for _, s := range res.Sizes {
		if s.Bytes == 4096 && s.Series == "netpipe director(rr)" {
			found = s.Verdict == compare.Regressed
		}
	}
	if !found {
		t.Error("the slow size is not reported as beyond its own noise")
	}
}

func TestNoisyRunsWidenTheTolerance(t *testing.T) {
	// 15% slower, but the trials scatter by up to 60%: not beyond noise.
	base := comparetest.Run("netpipe", 1, direct(0.6), director(0.6, 0))
	next := comparetest.Run("netpipe", 2, direct(0.6), director(0.6, 1/0.85))
	res, err := compare.Runs(base, next, compare.Options{Floor: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Metrics {
		if m.Measure == "throughput" && m.Tolerance <= 0.05 {
			t.Errorf("%s: tolerance %.3f did not grow past the 5%% floor with 60%% trial noise", m.Series, m.Tolerance)
		}
	}
	quiet, err := compare.Runs(comparetest.Run("netpipe", 1, direct(0.01), director(0.01, 0)),
		comparetest.Run("netpipe", 2, direct(0.01), director(0.01, 1/0.85)), compare.Options{Floor: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if !quiet.Regressed {
		t.Error("15% slower on quiet runs (1% noise) with a 5% floor was not flagged")
	}
}

func TestRatioHoldsAcrossMachineSpeed(t *testing.T) {
	base := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	// A machine twice as slow for both paths: absolute figures drop, the
	// director/direct ratio does not.
	slowMachine := comparetest.Run("netpipe", 2, slowed(direct(0.05), 2), director(0.05, 2))
	abs, err := compare.Runs(base, slowMachine, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !abs.Regressed {
		t.Error("absolute comparison did not see a machine twice as slow")
	}
	rat, err := compare.Runs(base, slowMachine, compare.Options{Ratio: "director/direct"})
	if err != nil {
		t.Fatal(err)
	}
	if rat.Regressed {
		t.Error("ratio comparison flagged a machine that is uniformly slower")
	}
	// On that slower machine, the director 20% slower again is caught.
	worse := comparetest.Run("netpipe", 3, slowed(direct(0.05), 2), director(0.05, 2*1.25))
	rat, err = compare.Runs(base, worse, compare.Options{Ratio: "director/direct"})
	if err != nil {
		t.Fatal(err)
	}
	if !rat.Regressed {
		t.Error("ratio comparison missed a director 20% slower relative to direct")
	}
}

func slowed(p comparetest.Path, f float64) comparetest.Path {
	p.Slow = f
	return p
}

func TestIncomparable(t *testing.T) {
	np := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	cases := []struct {
		name  string
		other string
		opts  compare.Options
		want  string
	}{
		{"different probe", "stream", compare.Options{}, `probe "netpipe" and NEW probe "stream"`},
		{"unknown ratio", "netpipe", compare.Options{Ratio: "nat/dr"}, "want NUM/DEN naming two series"},
	}
	for _, tc := range cases {
		other := comparetest.Run(tc.other, 2, direct(0.05), director(0.05, 0))
		_, err := compare.Runs(np, other, tc.opts)
		if !errors.Is(err, compare.ErrIncomparable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want ErrIncomparable mentioning %q", tc.name, err, tc.want)
		}
	}
	// No sizes in common.
	few := direct(0.05)
	few.Sizes = []timing.Bytes{3 << 20, 5 << 20}
	_, err := compare.Runs(np, comparetest.Run("netpipe", 2, few), compare.Options{})
	if !errors.Is(err, compare.ErrIncomparable) {
		t.Errorf("no sizes in common: err %v, want ErrIncomparable", err)
	}
	// No series in common.
	other := direct(0.05)
	other.Label, other.Path = "netpipe lab/nat", "lab/nat"
	_, err = compare.Runs(np, comparetest.Run("netpipe", 2, other), compare.Options{})
	if !errors.Is(err, compare.ErrIncomparable) || !strings.Contains(err.Error(), "no series") {
		t.Errorf("no series in common: err %v, want ErrIncomparable saying so", err)
	}
	if _, err := compare.Runs(np, np, compare.Options{K: -1}); err == nil {
		t.Error("negative k accepted")
	}
}

func TestRatioNamesWithSlashes(t *testing.T) {
	run := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	for _, spec := range []string{"director/direct", "director/proxy/rr/direct", "netpipe director(rr)/netpipe direct"} {
		res, err := compare.Runs(run, run, compare.Options{Ratio: spec})
		if err != nil {
			t.Errorf("%q: %v", spec, err)
			continue
		}
		if res.Metrics[0].Series != "netpipe director(rr) / netpipe direct" {
			t.Errorf("%q picked %q", spec, res.Metrics[0].Series)
		}
		if res.Regressed || res.Metrics[0].Change != 0 {
			t.Errorf("%q: a run against itself: %+v", spec, res.Metrics[0])
		}
	}
}

// TestTableGolden pins the table a CI log shows.
func TestTableGolden(t *testing.T) {
	spiky := director(0.05, 1.25)
	spiky.Spike, spiky.SpikeSlow = 4096, 3
	base := comparetest.Run("netpipe", 1, direct(0.05), director(0.05, 0))
	next := comparetest.Run("netpipe", 2, direct(0.05), spiky)
	next.Env.Contended, next.Env.Note = true, "contended: other processes used 60% of the CPUs (limit 25%)"
	var out, wide bytes.Buffer
	for _, o := range []compare.Options{{}, {Ratio: "director/direct"}} {
		res, err := compare.Runs(base, next, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.WriteTable(&out, false, false); err != nil {
			t.Fatal(err)
		}
		if err := res.WriteTable(&wide, false, true); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "table.golden", out.Bytes())
	golden(t, "table-wide.golden", wide.Bytes())
	for i, l := range strings.Split(out.String(), "\n") {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line %d is %d columns wide (limit 100 without --wide): %s", i+1, n, l)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestFitsGateOnlyWhenAsked(t *testing.T) {
	base := comparetest.Run("netpipe", 1, direct(0.01), director(0.01, 0))
	next := comparetest.Run("netpipe", 2, direct(0.01), director(0.01, 1.25))
	for _, gate := range []bool{false, true} {
		res, err := compare.Runs(base, next, compare.Options{GateFits: gate})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Metrics {
			if m.Measure == "throughput" {
				continue
			}
			if m.Gated != gate {
				t.Errorf("GateFits %v: %s %s gated %v", gate, m.Series, m.Measure, m.Gated)
			}
			if m.Series == "netpipe director(rr)" && m.Measure == "latency (fit)" && m.Verdict != compare.Regressed {
				t.Errorf("fitted latency 25%% higher on quiet runs: %+v, want REGRESSED shown", m)
			}
		}
	}
}

// A timed stream's run has intervals, not sizes: compare refuses it and
// says what to do instead, rather than "no sizes in common".
func TestTimedRunsRefused(t *testing.T) {
	timed := &results.Run{Probe: "stream-timed", Series: []results.Series{
		{Series: timing.Series{Label: "stream 1", Points: []timing.Point{{Bytes: 1 << 30, Min: 100 * time.Millisecond}}},
			Info: map[string]string{"points": results.IntervalPoints}}}}
	_, err := compare.Runs(timed, timed, compare.Options{})
	if !errors.Is(err, compare.ErrIncomparable) || !strings.Contains(err.Error(), "timed run") || !strings.Contains(err.Error(), "lvsperf report") {
		t.Errorf("compare of timed runs: %v; want ErrIncomparable naming the timed run and what to do", err)
	}
}
