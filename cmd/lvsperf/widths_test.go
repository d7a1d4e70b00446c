package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/cluster"
	"github.com/lvsperf/lvsperf/internal/texttable"
	"github.com/lvsperf/lvsperf/lab/experiment"
	"github.com/lvsperf/lvsperf/latency"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// widthsDir holds real runs (a latency table at --budget 1s, netpipe
// --via direct,director, ptester sweeps direct and through the director,
// probe ftp) that the table tests print.
const widthsDir = "testdata/widths"

func loadRun(t *testing.T, name string) *results.Run {
	t.Helper()
	r, err := results.Load(filepath.Join(widthsDir, name+results.Extension))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tableOf rebuilds the latency table from its saved runs, as latency.Run
// makes its rows.
func tableOf(t *testing.T) *latency.Table {
	tab := &latency.Table{}
	for _, svc := range latency.Services() {
		for _, via := range []string{"direct", "director"} {
			r := loadRun(t, "latency-"+svc+"-"+via)
			for _, s := range r.Series {
				tab.Rows = append(tab.Rows, latency.Row{Service: svc, Detail: s.Label, Path: s.Path, Fit: s.Fit, Err: s.FitError})
			}
		}
	}
	return tab
}

// checkWidth fails for every line of out wider than texttable.Columns and
// returns the widest line's width.
func checkWidth(t *testing.T, what, out string) int {
	t.Helper()
	widest := 0
	for i, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		n := utf8.RuneCountInString(l)
		widest = max(widest, n)
		if n > texttable.Columns {
			t.Errorf("%s: line %d is %d columns (limit %d without --wide):\n%s", what, i+1, n, texttable.Columns, l)
		}
	}
	return widest
}

// widest is the width of out's widest line.
func widest(out string) int {
	w := 0
	for _, l := range strings.Split(out, "\n") {
		w = max(w, utf8.RuneCountInString(l))
	}
	return w
}

func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(widthsDir, name+".golden")
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
		t.Errorf("%s differs from %s (go test -update rewrites it); got:\n%s", name, path, got)
	}
}

// TestTablesFit100Columns prints every table the CLI prints, on real
// runs, and checks that each line fits 100 columns without --wide and
// that --wide gives the wider table where there is one.
func TestTablesFit100Columns(t *testing.T) {
	type table struct {
		name   string
		write  func(w *bytes.Buffer, wide bool) error
		golden bool
	}
	tab := tableOf(t)
	np, ftp := loadRun(t, "netpipe"), loadRun(t, "ftp-direct")
	ptDirect, ptDirector := loadRun(t, "ptester-direct"), loadRun(t, "ptester-director-proxy-rr")
	showTable := func(r *results.Run) func(*bytes.Buffer, bool) error {
		return func(w *bytes.Buffer, wide bool) error {
			// The tables, without the headline that follows them after a
			// blank line (a sentence, not a table).
			var b bytes.Buffer
			err := showRun(runner.Result{Run: r}, nil, showOptions{stdout: &b, stderr: &b, noPlots: true, wide: wide})
			tables, _, _ := strings.Cut(b.String(), "\n\n")
			w.WriteString(tables + "\n")
			return err
		}
	}
	compareCmd := func(w *bytes.Buffer, wide bool) error {
		args := []string{"compare", filepath.Join(widthsDir, "ptester-direct.msgpack"), filepath.Join(widthsDir, "ptester-director-proxy-rr.msgpack")}
		if wide {
			args = append(args, "--wide")
		}
		out, err := lvsperf(t, args...)
		w.WriteString(out)
		if code := exitCode(err); err != nil && code != 1 {
			return err // 1 is the regression this pair shows
		}
		return nil
	}
	for _, tc := range []table{
		{"latency-table", func(w *bytes.Buffer, wide bool) error { return tab.Write(w, wide) }, true},
		{"compare", compareCmd, false},
		{"netpipe", showTable(np), false},
		{"probe-ftp", showTable(ftp), true},
		{"ptester-sweep", func(w *bytes.Buffer, wide bool) error { return ptester.WriteSweepText(w, ptDirector, wide) }, true},
		{"ptester-sweep-direct", func(w *bytes.Buffer, wide bool) error { return ptester.WriteSweepText(w, ptDirect, wide) }, false},
		{"cluster-netpipe", func(w *bytes.Buffer, wide bool) error { return lockStep(np, 8).WriteText(w, wide) }, true},
		{"cluster-ptester", func(w *bytes.Buffer, wide bool) error { return hammerCluster().WriteText(w, wide) }, true},
		{"experiment", func(w *bytes.Buffer, _ bool) error {
			_, err := w.WriteString(experiment.VerdictTable(verdicts()))
			return err
		}, false},
	} {
		var narrow, wide bytes.Buffer
		if err := tc.write(&narrow, false); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := tc.write(&wide, true); err != nil {
			t.Fatalf("%s --wide: %v", tc.name, err)
		}
		n := checkWidth(t, tc.name, narrow.String())
		t.Logf("%-22s %3d columns, %3d with --wide", tc.name, n, widest(wide.String()))
		if tc.golden {
			goldenText(t, tc.name, narrow.String())
		}
	}
}

// TestWideIsWider checks that --wide still prints the full tables: the
// latency table's every column, compare's notes in a column.
func TestWideIsWider(t *testing.T) {
	var b bytes.Buffer
	if err := tableOf(t).Write(&b, true); err != nil {
		t.Fatal(err)
	}
	if widest(b.String()) <= texttable.Columns || !strings.Contains(b.String(), "seed latency") || !strings.Contains(b.String(), "┌") {
		t.Errorf("latency-table --wide is not the full boxed table:\n%s", b.String())
	}
	out, _ := lvsperf(t, "compare", "--wide", filepath.Join(widthsDir, "ptester-direct.msgpack"), filepath.Join(widthsDir, "ptester-director-proxy-rr.msgpack"))
	if !strings.Contains(out, "(not gated)") || !strings.Contains(out, "┌") || widest(out) <= texttable.Columns {
		t.Errorf("compare --wide:\n%s", out)
	}
}

// TestProblemsNamed checks the latency table's model column names the
// fits' problems (the real runs have dropouts and unbounded rates).
func TestProblemsNamed(t *testing.T) {
	var b bytes.Buffer
	if err := tableOf(t).Write(&b, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "problem(s)") {
		t.Errorf("the model column counts problems:\n%s", b.String())
	}
	for _, want := range []string{"no rate limit", "dropout ×", "poor fit"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in the model column:\n%s", want, b.String())
		}
	}
}

// TestPtesterSingleRunFits runs ptester for real and checks its report
// (all but the headline) fits 100 columns and has wrk's summary.
func TestPtesterSingleRunFits(t *testing.T) {
	out, err := lvsperf(t, "ptester", "-t", "0.3", "-c", "2", "--no-prefetch")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	report, _, _ := strings.Cut(out, "\n\n") // the headline follows a blank line
	checkWidth(t, "ptester", report)
	for _, want := range []string{"Latency", "Req/Sec", "+/- Stdev", "Requests/sec:", "Transfer/sec:"} {
		if !strings.Contains(report, want) {
			t.Errorf("ptester's report lacks %q:\n%s", want, report)
		}
	}
}

// lockStep is a lock-step netpipe result of n agents, each with the
// direct curve of r.
func lockStep(r *results.Run, n int) *cluster.Result {
	s := r.Series[0].Series
	res := &cluster.Result{Aggregate: &s, Complete: n}
	for i := range n {
		res.Agents = append(res.Agents, cluster.AgentResult{Index: i, Name: "node-with-a-long-host-name-" + string(rune('a'+i)), Series: &s})
		res.StepSkews = append(res.StepSkews, time.Duration(1000+i*10))
	}
	for range s.Points[n:] {
		res.StepSkews = append(res.StepSkews, 1500)
	}
	res.Lost = []string{"agent 9 (node-with-a-long-host-name-z): connection reset by peer after 2.5s of 10s; its partial counts are left out of the merge"}
	return res
}

// hammerCluster is a ptester cluster result of agents with long names.
func hammerCluster() *cluster.Result {
	rep := &ptester.Report{HitsPerSec: 123456, Latency: ptester.Summary{P50: 123456 * time.Nanosecond, P99: 2345678 * time.Nanosecond}}
	res := &cluster.Result{Complete: 2, Requests: 1234567, Errors: 12, HitsPerSec: 246912, Latency: rep.Latency,
		Skew: 12345 * time.Nanosecond, ClockUncertainty: 67890 * time.Nanosecond, SkewOwnClocks: 2345 * time.Nanosecond}
	for i := range 3 {
		a := cluster.AgentResult{Index: i, Name: "kubernetes-worker-node-pool-a-" + string(rune('0'+i)), Report: rep, Hist: &hdrhistogram.Snapshot{},
			Clock: cluster.Clock{Offset: -123456789 * time.Nanosecond, RTT: 234567 * time.Nanosecond}}
		if i == 2 {
			a.Failed, a.Report = "lost", nil
		}
		res.Agents = append(res.Agents, a)
	}
	res.Lost = []string{"agent 2 (kubernetes-worker-node-pool-a-2): no result within 30s of the run's end; its partial counts are left out"}
	return res
}

// verdicts are experiment verdicts with cells longer than their columns.
func verdicts() []experiment.Verdict {
	return []experiment.Verdict{
		{Experiment: "paths", Claim: "NAT vs DR vs TUN", Seed: "NAT > DR: +30 µs per round trip on 100 Mbit/s ethernet with 133 MHz Pentiums",
			Ours: "+28.4 µs per round trip (95% interval 19.2–37.6 µs) over 4 rounds", Outcome: experiment.Outcome("reproduced")},
		{Experiment: "mtu", Seed: "latency-equivalent bytes halve with the MTU", Ours: "ratio 0.52 (0.47–0.58)", Outcome: experiment.Outcome("not reproduced")},
	}
}
