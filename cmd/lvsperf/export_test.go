package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// storedRun saves a small two-series run under dir and returns its path.
func storedRun(t *testing.T, dir, name string) (string, *results.Run) {
	t.Helper()
	var pts []timing.Point
	for i, n := range []timing.Bytes{1, 64, 4096, 65536, 1 << 20} {
		d := 10*time.Microsecond + time.Duration(n)*time.Nanosecond/2 + time.Duration(i)*time.Nanosecond
		pts = append(pts, timing.Point{Bytes: n, Reps: 100, Trials: []time.Duration{d, d + 1000}, Min: d, Median: d + 500, Max: d + 1000, Mean: d + 500})
	}
	r := &results.Run{ID: name, Probe: "netpipe", Path: "direct", Complete: true, Started: time.Unix(1e9, 0).UTC(), Finished: time.Unix(1e9+5, 0).UTC()}
	for _, label := range []string{"direct", "proxy"} {
		s := results.Series{Series: timing.Series{Label: label, Points: pts}, Path: label}
		s.Refit()
		r.Series = append(r.Series, s)
	}
	path := filepath.Join(dir, name+results.Extension)
	if err := results.Save(path, r); err != nil {
		t.Fatal(err)
	}
	return path, r
}

func TestExportFormats(t *testing.T) {
	dir := t.TempDir()
	path, run := storedRun(t, dir, "np")
	for _, format := range results.ExportFormats() {
		out, err := lvsperf(t, "export", "--format", format, "--series", "proxy", path)
		if err != nil {
			t.Fatalf("export %s: %v", format, err)
		}
		enc, _ := results.NewEncoder(format, results.ExportOptions{Series: "proxy"})
		var want bytes.Buffer
		if err := enc(&want, run); err != nil {
			t.Fatal(err)
		}
		if out != want.String() {
			t.Errorf("export --format %s printed\n%s\nwant\n%s", format, out, want.String())
		}
	}
	// -o writes a file; a JSON export is itself a valid input.
	js := filepath.Join(dir, "np.json")
	if out, err := lvsperf(t, "export", "-f", "json", "-o", js, path); err != nil || out != "" {
		t.Fatalf("export -o: %q, %v", out, err)
	}
	out, err := lvsperf(t, "export", "--format", "np3", js)
	if err != nil || strings.Count(out, "\n") != 5 || !strings.HasPrefix(out, "       1 ") {
		t.Errorf("np3 export of the JSON export: %q, %v", out, err)
	}
}

func TestExportBadInput(t *testing.T) {
	dir := t.TempDir()
	good, _ := storedRun(t, dir, "good")
	data, _ := os.ReadFile(good)
	corrupt := filepath.Join(dir, "corrupt.msgpack")
	os.WriteFile(corrupt, data[:len(data)/2], 0o644)
	newer := filepath.Join(dir, "newer.msgpack")
	b, _ := msgpack.Marshal(map[string]any{"format": results.Format, "schema": 99})
	os.WriteFile(newer, b, 0o644)
	timed := filepath.Join(dir, "timed.msgpack")
	tr := &results.Run{Format: results.Format, Schema: results.Schema, Probe: "stream-timed", Series: []results.Series{
		{Series: timing.Series{Label: "stream 1", Points: []timing.Point{{Bytes: 1 << 30, Min: 100 * time.Millisecond}}},
			Info: map[string]string{"points": results.IntervalPoints}}}}
	if err := results.Save(timed, tr); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--format", "np2", timed}, "intervals, not message sizes"},
		{[]string{"export", "--format", "np2", filepath.Join(dir, "missing.msgpack")}, "no such file"},
		{[]string{"export", "--format", "np2", corrupt}, "not an lvsperf result file"},
		{[]string{"export", "--format", "csv", newer}, "newer lvsperf"},
		{[]string{"export", "--format", "xml", good}, "want one of np2, np3, csv, json"},
		{[]string{"export", good}, "format"},
		{[]string{"export", "--format", "np2", "--series", "7", good}, "series 7 not found"},
		{[]string{"plot", "--format", "gif", good}, "want png, svg or both"},
		{[]string{"plot", "--out", dir, corrupt}, "not an lvsperf result file"},
	} {
		_, err := lvsperf(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("lvsperf %v: %v, want an error mentioning %q", c.args, err, c.want)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("lvsperf %v: error is not one line: %q", c.args, err)
		}
	}
	// The real binary exits non-zero with one line on stderr.
	cmd := exec.Command(os.Args[0], "export", "--format", "np2", corrupt)
	cmd.Env = append(os.Environ(), "LVSPERF_BE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("export of a corrupt file: %v, want a non-zero exit", err)
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, corrupt) {
		t.Errorf("stderr %q, want one line naming the file", msg)
	}
}

func TestPlotCommand(t *testing.T) {
	dir := t.TempDir()
	a, _ := storedRun(t, dir, "a")
	b, _ := storedRun(t, dir, "b")
	out, err := lvsperf(t, "plot", a)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a-signature.png", "a-throughput.png", "a-time.png", "a.gp", "a-0.dat", "a-1.dat"} {
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("plot a.msgpack did not list %s:\n%s", f, out)
		}
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	figs := filepath.Join(dir, "figs")
	if _, err := lvsperf(t, "plot", "--out", figs, "--format", "both", a, b); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(figs, "compare-signature.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"a: direct", "b: proxy"} {
		if !bytes.Contains(svg, []byte(label)) {
			t.Errorf("compare-signature.svg has no legend entry %q", label)
		}
	}
	if _, err := os.Stat(filepath.Join(figs, "compare-time.png")); err != nil {
		t.Error(err)
	}
}
