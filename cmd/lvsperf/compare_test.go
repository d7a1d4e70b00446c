package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lvsperf/lvsperf/compare/comparetest"
	"github.com/lvsperf/lvsperf/results"
)

// fixtureFiles writes synthetic runs for the compare and report commands:
// base, same (another sample of the same model), slower (the director 20%
// slower), stream (another probe), and the three unreadable kinds.
func fixtureFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	direct := comparetest.Path{Label: "netpipe direct", Path: "direct", Latency: 10 * time.Microsecond, Rate: 20e9, Noise: 0.05}
	director := comparetest.Path{Label: "netpipe director(rr)", Path: "director/proxy/rr", Latency: 30 * time.Microsecond, Rate: 8e9, Noise: 0.05}
	slow := director
	slow.Slow = 1.25
	runs := map[string]*results.Run{
		"base":   comparetest.Run("netpipe", 1, direct, director),
		"same":   comparetest.Run("netpipe", 2, direct, director),
		"slower": comparetest.Run("netpipe", 3, direct, slow),
		"stream": comparetest.Run("stream", 4, comparetest.Path{Label: "stream direct", Path: "direct", Latency: 5 * time.Microsecond, Rate: 30e9, Noise: 0.05}),
	}
	files := map[string]string{}
	for name, r := range runs {
		files[name] = filepath.Join(dir, name+results.Extension)
		if err := results.Save(files[name], r); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(files["base"])
	if err != nil {
		t.Fatal(err)
	}
	files["truncated"] = filepath.Join(dir, "truncated"+results.Extension)
	newer, err := msgpack.Marshal(map[string]any{"format": results.Format, "schema": results.Schema + 1, "probe": "netpipe"})
	if err != nil {
		t.Fatal(err)
	}
	files["newer"] = filepath.Join(dir, "newer"+results.Extension)
	files["foreign"] = filepath.Join(dir, "foreign"+results.Extension)
	for name, b := range map[string][]byte{"truncated": data[:len(data)/2], "newer": newer, "foreign": []byte("time,bytes,mbps\n1,2,3\n")} {
		if err := os.WriteFile(files[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestCompareExitCodes(t *testing.T) {
	f := fixtureFiles(t)
	plotFile := filepath.Join(t.TempDir(), "overlay.png")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compare", f["base"], f["same"], "--plot", plotFile}, 0, "result: no regression"},
		{[]string{"compare", f["base"], f["slower"]}, 1, "regression beyond tolerance"},
		{[]string{"compare", "--ratio", "director/direct", f["base"], f["slower"]}, 1, "regression beyond tolerance"},
		{[]string{"compare", "--ratio", "director/direct", f["base"], f["same"]}, 0, "result: no regression"},
		{[]string{"compare", f["base"], f["stream"]}, 2, `BASE measured probe "netpipe" and NEW probe "stream"`},
		{[]string{"compare", f["base"], f["truncated"]}, 2, "truncated or corrupt"},
		{[]string{"compare", f["newer"], f["base"]}, 2, "newer lvsperf"},
		{[]string{"compare", f["base"], f["foreign"]}, 2, "not an lvsperf result file"},
		{[]string{"compare", "--ratio", "nat/dr", f["base"], f["same"]}, 2, "want NUM/DEN"},
	} {
		out, err := lvsperf(t, tc.args...)
		code := 0
		if err != nil {
			code = exitCode(err)
			out += err.Error()
		}
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("lvsperf %v: exit %d, want %d with %q; output:\n%s", tc.args[1:], code, tc.code, tc.want, out)
		}
	}
	if st, err := os.Stat(plotFile); err != nil || st.Size() == 0 {
		t.Errorf("--plot wrote no overlay: %v", err)
	}
}

func TestReportCommand(t *testing.T) {
	f := fixtureFiles(t)
	out := filepath.Join(t.TempDir(), "r", "report.html")
	if _, err := lvsperf(t, "report", f["base"], f["stream"], "-o", out); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(strings.TrimSuffix(out, ".html") + ".md")
	if err != nil {
		t.Fatal(err)
	}
	// Two runs × three figures, and one comparison (netpipe over two paths).
	if n := strings.Count(string(html), `<img `); n != 7 {
		t.Errorf("HTML has %d images, want 7", n)
	}
	if n := strings.Count(string(md), "]("); n != 7 {
		t.Errorf("Markdown refers to %d images, want 7", n)
	}
	for _, bad := range []string{"truncated", "newer", "foreign"} {
		_, err := lvsperf(t, "report", f["base"], f[bad], "-o", out)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("report with a %s file: err %v, want exit 2", bad, err)
		}
	}
}
