package report_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/compare/comparetest"
	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is three runs: netpipe direct + director in one run, netpipe
// through a lab NAT path (a second run of the same probe), and a stream
// run (a second probe), the second of them measured on a busy machine.
func fixture() []report.Input {
	direct := comparetest.Path{Label: "netpipe direct", Path: "direct", Latency: 10 * time.Microsecond, Rate: 20e9, Noise: 0.05}
	director := comparetest.Path{Label: "netpipe director(rr)", Path: "director/proxy/rr", Latency: 30 * time.Microsecond, Rate: 8e9, Noise: 0.05}
	nat := comparetest.Path{Label: "netpipe lab/nat", Path: "lab/nat", Latency: 45 * time.Microsecond, Rate: 3e9, Noise: 0.05}
	stream := comparetest.Path{Label: "stream direct", Path: "direct", Latency: 5 * time.Microsecond, Rate: 30e9, Noise: 0.05}
	natRun := comparetest.Run("netpipe", 2, nat)
	natRun.Env.Contended, natRun.Env.Note = true, "contended: other processes used 60% of the CPUs (limit 25%)"
	natRun.Env.MTU = map[string]int{"veth-c": 1500}
	return []report.Input{
		{Name: "netpipe", Run: comparetest.Run("netpipe", 1, direct, director)},
		{Name: "netpipe-nat", Run: natRun},
		{Name: "stream", Run: comparetest.Run("stream", 3, stream)},
	}
}

func TestReportHasEveryFigureAndTable(t *testing.T) {
	rep, err := report.Build("", "report", fixture())
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	// 3 runs × 3 figures + 1 overlay (netpipe over three paths); stream
	// took one path and gets no comparison.
	if n := strings.Count(h, `<img alt=`); n != 10 {
		t.Errorf("HTML has %d images, want 10", n)
	}
	if n := strings.Count(h, `src="data:image/png;base64,`); n != 10 {
		t.Errorf("HTML embeds %d PNGs, want 10", n)
	}
	if regexp.MustCompile(`(src|href)="https?:`).MatchString(h) {
		t.Error("the HTML refers to the network; it must be self-contained")
	}
	for _, want := range []string{
		"<caption>Latency across probes", "<caption>Fits of transfer_time", "<caption>Environment",
		"<caption>Throughput of each path over", "<caption>Fitted figures of each path",
		"Busy machine:", "veth-c=1500", "Comparison: netpipe",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// Summary first, then the environment, the figures, the run list last.
	iSum, iEnv, iFig, iRuns := strings.Index(h, `id="summary"`), strings.Index(h, `id="environment"`), strings.Index(h, "<img"), strings.Index(h, `id="runs"`)
	if !(iSum >= 0 && iSum < iEnv && iEnv < iFig && iFig < iRuns) {
		t.Errorf("sections out of order: summary %d, environment %d, first figure %d, run list %d", iSum, iEnv, iFig, iRuns)
	}
	if !strings.Contains(h, "director/proxy/rr adds") || !strings.Contains(h, "lab/nat adds") {
		t.Error("the summary lacks the director-vs-direct headlines")
	}
	if !strings.Contains(h, `name="viewport"`) {
		t.Error("no viewport meta: phones would render it at desktop width")
	}
	// Every table scrolls in its own box, so a wide one cannot widen the page.
	if nt, ns := strings.Count(h, "<table"), strings.Count(h, `<div class="scroll"><table`); nt != ns {
		t.Errorf("%d tables, %d of them in a scroll box", nt, ns)
	}
	if n := strings.Count(h, "<caption>Fits of transfer_time"); n != 3 {
		t.Errorf("%d fit tables, want one per run (3)", n)
	}
	if len(rep.Comparisons) != 1 || len(rep.Comparisons[0].Series) != 3 || rep.Comparisons[0].Series[0] != "netpipe: netpipe direct" {
		t.Errorf("comparisons: %+v, want netpipe over 3 paths with direct first", rep.Comparisons)
	}
}

func TestMarkdownGolden(t *testing.T) {
	rep, err := report.Build("Fixture report", "report", fixture())
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.WriteFile(path, md.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(md.Bytes(), want) {
		t.Errorf("Markdown differs from %s (go test -update rewrites it); got:\n%s", path, md.String())
	}
}

func TestWriteFiles(t *testing.T) {
	rep, err := report.Build("", "r", fixture())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	written, err := rep.WriteFiles(filepath.Join(dir, "r.html"))
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 12 {
		t.Errorf("wrote %d files, want html + md + 10 figures: %v", len(written), written)
	}
	md, err := os.ReadFile(filepath.Join(dir, "r.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)]+\.png)\)`).FindAllStringSubmatch(string(md), -1) {
		b, err := os.ReadFile(filepath.Join(dir, m[1]))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("figure %s the Markdown refers to: %v", m[1], err)
		}
	}
}

func TestNoRuns(t *testing.T) {
	if _, err := report.Build("", "r", nil); err == nil {
		t.Error("an empty report was built")
	}
}

func TestOneRunComparisonKeepsPlainLabels(t *testing.T) {
	rep, err := report.Build("", "r", fixture()[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Comparisons) != 1 || rep.Comparisons[0].Series[0] != "netpipe direct" || rep.Comparisons[0].Series[1] != "netpipe director(rr)" {
		t.Errorf("comparison inside one run: %+v, want its own labels", rep.Comparisons)
	}
	if rep.Latency != nil {
		t.Error("a latency table across probes for a single probe")
	}
}

func TestVerdictsOpenTheSummary(t *testing.T) {
	rep, err := report.Build("", "r", fixture())
	if err != nil {
		t.Fatal(err)
	}
	rep.AddVerdicts([]headline.Verdict{{Experiment: "paths", Claim: "NAT vs DR", Seed: "NAT > DR", Ours: "+28 µs [19, 37]", Outcome: "reproduced"}})
	if len(rep.Headlines) < 2 || !strings.HasPrefix(rep.Headlines[0], "experiment paths: 1 claim(s)") {
		t.Errorf("headlines %q: want the verdicts first", rep.Headlines)
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	if i, j := strings.Index(h, "<caption>Experiments against the seed"), strings.Index(h, `id="environment"`); i < 0 || i > j {
		t.Errorf("verdict table at %d, environment at %d: want the table in the summary, before the environment", i, j)
	}
}
