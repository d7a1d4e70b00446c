package headline_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, lines []string) {
	t.Helper()
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if got != string(want) {
		t.Errorf("headline:\n%s\nwant:\n%s", got, want)
	}
}

func us(v float64) time.Duration { return time.Duration(v * 1e3) }

func fit(lat, latLo, latHi float64, rate, rateLo, rateHi float64, problems ...string) *timing.Fit {
	return &timing.Fit{Latency: us(lat), LatencyCI: [2]time.Duration{us(latLo), us(latHi)},
		MaxRate: timing.BitsPerSecond(rate), MaxRateCI: [2]timing.BitsPerSecond{timing.BitsPerSecond(rateLo), timing.BitsPerSecond(rateHi)},
		OK: len(problems) == 0, Problems: problems}
}

// netpipeRun is a netpipe --via direct,director run as runner writes it:
// series labelled by their path.
func netpipeRun() *results.Run {
	return &results.Run{Probe: "netpipe", Path: "direct", Series: []results.Series{
		{Series: timing.Series{Label: "direct", Fit: fit(20, 18, 22, 9e9, 8e9, 10e9)}, Path: "direct"},
		{Series: timing.Series{Label: "director/proxy/rr", Fit: fit(45, 41, 49, 6e9, 5e9, math.Inf(1),
			"dropout at 3 bytes: rate 55% below its neighbours")}, Path: "director/proxy/rr"},
	}}
}

func TestNetpipeDirectAndDirector(t *testing.T) {
	lines := headline.Runs(netpipeRun())
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), lines)
	}
	// (45-20)×2 = 50 µs per round trip; the interval is 2×(25 ± √(4²+2²)).
	for _, want := range []string{"adds 50.0 µs per round trip", "41.1–58.9 µs", "keeps 66.7% of direct's max_rate", "≥ "} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("headline %q lacks %q", lines[0], want)
		}
	}
	golden(t, "netpipe", lines)
}

func TestUnboundedMaxRate(t *testing.T) {
	r := netpipeRun()
	for i := range r.Series {
		f := r.Series[i].Fit
		f.MaxRate, f.MaxRateCI[1] = timing.BitsPerSecond(math.Inf(1)), timing.BitsPerSecond(math.Inf(1))
		f.PeakRate, f.PeakSize = timing.BitsPerSecond(4e9*float64(2-i)), 65536
	}
	lines := headline.Runs(r)
	if !strings.Contains(lines[0], "reaches 50.0% of direct's peak rate (no max_rate") {
		t.Errorf("%q", lines)
	}
	lines = headline.Runs(&results.Run{Probe: "netpipe", Path: "direct", Series: r.Series[:1]})
	if !strings.Contains(lines[0], "max_rate not bounded by the sizes (peak 8.00 Gbit/s at 64KiB)") {
		t.Errorf("%q", lines)
	}
}

func TestSinglePath(t *testing.T) {
	r := netpipeRun()
	r.Series = r.Series[:1]
	lines := headline.Runs(r)
	if len(lines) != 1 || !strings.Contains(lines[0], "latency 40.0 µs per round trip (95% CI 36.0–44.0 µs)") {
		t.Errorf("%q", lines)
	}
}

// httpRuns are two ptester sweeps, direct and through the director, each
// with both modes.
func httpRuns() []*results.Run {
	mk := func(path string, lat, hits float64) *results.Run {
		r := &results.Run{Probe: "http", Path: path}
		for i, mode := range []string{"persistent (-k 100, -c 2)", "non-persistent (-k 1, -c 2)"} {
			s := results.Series{Series: timing.Series{Label: "http " + mode,
				Points: []timing.Point{{Bytes: 1}},
				Fit:    fit(lat*float64(i+1), lat*float64(i+1)*0.9, lat*float64(i+1)*1.1, 2e9, 1.8e9, 2.2e9)},
				Path: path, Info: map[string]string{ptester.InfoKey(ptester.InfoHitsPerSec, 1): strconv.FormatFloat(hits/float64(i+1), 'f', 1, 64)}}
			r.Series = append(r.Series, s)
		}
		return r
	}
	return []*results.Run{mk("direct", 60, 30000), mk("director/proxy/rr", 90, 21000)}
}

func TestPtesterSweeps(t *testing.T) {
	golden(t, "http-sweeps", headline.Runs(httpRuns()...))
}

func TestPtesterSingle(t *testing.T) {
	direct := &ptester.Report{Options: ptester.Options{Clients: 32, KeepAlive: 1}, Elapsed: 10 * time.Second,
		Requests: 143210, HitsPerSec: 14321, Latency: ptester.Summary{Mean: us(2100), P99: us(5300)}}
	other := &ptester.Report{Options: direct.Options, Elapsed: 10 * time.Second, Requests: 120000, HitsPerSec: 12000,
		Latency: ptester.Summary{Mean: us(2600), P99: us(7100)}, Errors: map[string]uint64{"reset": 3, "timeout": 1}}
	golden(t, "ptester", []string{headline.Ptester(direct, "direct"), headline.Ptester(other, "director/proxy/rr"),
		headline.PtesterPair(direct, other, "director/proxy/rr")})
}

func TestExperimentVerdicts(t *testing.T) {
	vs := []headline.Verdict{
		{Experiment: "paths", Claim: "NAT vs DR", Seed: "NAT > DR: +30 µs per round trip", Ours: "+28.1 µs [19.0, 37.2]", Outcome: "reproduced"},
		{Experiment: "paths", Claim: "forward vs direct", Seed: "forwarding adds ~20 µs", Ours: "+3.0 µs [-4.1, 10.2]", Outcome: "inconclusive (CI too wide)"},
		{Experiment: "paths", Claim: "martian", Seed: "martian ≈ DR", Ours: "+55 µs [50, 60]", Outcome: "not reproduced"},
	}
	lines := headline.Verdicts("paths", vs)
	if len(lines) != 4 || !strings.Contains(lines[0], "1 reproduced, 1 inconclusive (CI too wide), 1 not reproduced") {
		t.Errorf("%q", lines)
	}
	golden(t, "experiment", lines)
}

// TestEachRunKeepsItsOwnDirect: two runs of direct + director (the demo's
// netpipe and the latency table's) — each director is compared with the
// direct of its own run, never with the other run's.
func TestEachRunKeepsItsOwnDirect(t *testing.T) {
	a, b := netpipeRun(), netpipeRun()
	b.Series[0].Fit = fit(30, 28, 32, 9e9, 8e9, 10e9) // b's direct is 10 µs slower
	lines := headline.Runs(a, b)
	var adds []string
	for _, l := range lines {
		if strings.Contains(l, " adds ") {
			adds = append(adds, l)
		}
	}
	if len(adds) != 2 || !strings.Contains(adds[0], "adds 50.0 µs") || !strings.Contains(adds[1], "adds 30.0 µs") {
		t.Errorf("%q: want 50 µs (run a) and 30 µs (run b)", lines)
	}
}

// TestNamedRunsTellSourcesApart is the demo's case: the netpipe run and
// the latency table's two netpipe runs (one path each) measured the same
// paths; each line says which run it comes from.
func TestNamedRunsTellSourcesApart(t *testing.T) {
	np := netpipeRun()
	direct, director := netpipeRun(), netpipeRun()
	direct.Series, director.Series = direct.Series[:1], director.Series[1:]
	director.Series[0].Fit = fit(30, 28, 32, 7e9, 6e9, 8e9)
	lines := headline.NamedRuns([]string{"latency-netpipe", "latency-netpipe", "netpipe"}, []*results.Run{direct, director, np})
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "netpipe [latency-netpipe]: director/proxy/rr adds 20.0 µs") ||
		!strings.HasPrefix(lines[1], "netpipe [netpipe]: director/proxy/rr adds 50.0 µs") {
		t.Errorf("%q", lines)
	}
	golden(t, "named-sources", lines)
	// Sources that took different paths need no names.
	if lines := headline.NamedRuns([]string{"a", "b"}, []*results.Run{direct, director}); strings.Contains(lines[0], "[") {
		t.Errorf("one run per path named its source: %q", lines)
	}
}

// TestDoubtUsesShortNames: the demo's netpipe fit had more than five
// dropouts and a collapse; the headline named "… and 3 more dropouts" and
// "rate collapses past 1048579B" as if they were kinds of problem.
func TestDoubtUsesShortNames(t *testing.T) {
	r := netpipeRun()
	f := r.Series[1].Fit
	f.Problems = []string{"dropout at 3 bytes: rate 55% below its neighbours", "… and 3 more dropouts",
		"rate collapses past 1048579B: 1 Gbit/s at 8MiB is 20% of the peak; fitted sizes up to the peak only",
		"time does not grow with size: the sizes are too small to show a rate limit"}
	lines := headline.Runs(r)
	if len(lines) != 2 || lines[1] != "  the model fits poorly: dropout ×4, collapse, no rate limit" {
		t.Errorf("%q", lines)
	}
}

// A difference whose interval spans zero is neither "adds" nor "saves":
// the demo printed "nfs write: … saves 69.3 µs per copy (95% CI −256 to
// 117 µs)".
func TestDifferenceWithinNoise(t *testing.T) {
	r := &results.Run{Probe: "nfs", Path: "direct", Series: []results.Series{
		{Series: timing.Series{Label: "direct", Fit: fit(300, 200, 400, 9e9, 8e9, 10e9)}, Path: "direct"},
		{Series: timing.Series{Label: "director/proxy/rr", Fit: fit(280, 150, 410, 9e9, 8e9, 10e9)}, Path: "director/proxy/rr"},
	}}
	lines := headline.Runs(r)
	if len(lines) == 0 {
		t.Fatal("no headline")
	}
	if strings.Contains(lines[0], "saves") || !strings.Contains(lines[0], "adds no measurable time") || !strings.Contains(lines[0], "(−") {
		t.Errorf("headline %q: want \"adds no measurable time … (−…\" for an interval across zero", lines[0])
	}
}

// A timed stream's run is one line of what was received, not "no fit" per
// stream: its points are intervals.
func TestTimedStreamRun(t *testing.T) {
	info := func(m map[string]string) map[string]string {
		m["points"] = results.IntervalPoints
		return m
	}
	tcp := &results.Run{Probe: "stream-timed", Path: "direct", Series: []results.Series{
		{Series: timing.Series{Label: "stream sum"}, Info: info(map[string]string{"protocol": "tcp", "direction": "client-to-server", "receiver_bps": "28070000000", "sender_bps": "28110000000", "retransmits": "4"})},
		{Series: timing.Series{Label: "stream 1"}, Info: info(map[string]string{"protocol": "tcp"})},
		{Series: timing.Series{Label: "stream 3"}, Info: info(map[string]string{"protocol": "tcp"})},
	}}
	udp := &results.Run{Probe: "stream-timed", Path: "direct", Series: []results.Series{
		{Series: timing.Series{Label: "stream 1"}, Info: info(map[string]string{"protocol": "udp", "direction": "server-to-client", "receiver_bps": "990000000", "sender_bps": "1000000000", "lost": "25", "expected_packets": "10000", "jitter_ms": "0.0040"})},
	}}
	lines := headline.Runs(netpipeRun(), tcp, udp)
	joined := strings.Join(lines, "\n")
	if strings.Contains(joined, "no fit") {
		t.Errorf("timed runs' headline says no fit:\n%s", joined)
	}
	for _, want := range []string{"stream-timed direct TCP, 2 stream(s), client-to-server: 28.07 Gbit/s received (28.11 Gbit/s sent)", "retransmits 4",
		"stream-timed direct UDP, 1 stream(s), server-to-client", "lost 25 of 10000 datagrams (0.25%), jitter 0.0040 ms", "adds 50.0 µs per round trip"} {
		if !strings.Contains(joined, want) {
			t.Errorf("headline lacks %q:\n%s", want, joined)
		}
	}
}
