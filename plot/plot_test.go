package plot

import (
	"bytes"
	"errors"
	"flag"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// model returns a series that follows latency + bytes/rate with a fixed,
// deterministic ripple, fitted by the timing core.
func model(label, path string, lat time.Duration, rate timing.BitsPerSecond, ripple float64) results.Series {
	sizes, err := timing.NetPIPESizes(1, 8*timing.MiB, 3)
	if err != nil {
		panic(err)
	}
	var pts []timing.Point
	for i, n := range sizes {
		t := lat.Seconds() + 8*float64(n)/float64(rate)
		t *= 1 + ripple*math.Sin(float64(i))
		d := time.Duration(t * 1e9)
		pts = append(pts, timing.Point{Bytes: n, Reps: 10, Trials: []time.Duration{d, d + d/20, d + d/10}, Min: d, Median: d + d/20, Max: d + d/10, Mean: d + d/20})
	}
	s := results.Series{Series: timing.Series{Label: label, Points: pts}, Path: path}
	s.Refit()
	return s
}

func twoSeries() []results.Series {
	return []results.Series{
		model("direct", "direct", 12*time.Microsecond, 9e9, 0.03),
		model("director/proxy/rr", "director/proxy/rr", 31*time.Microsecond, 5e9, 0.05),
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteAll(dir, "np", twoSeries())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"np-signature.png", "np-signature.svg", "np-throughput.png", "np-throughput.svg",
		"np-time.png", "np-time.svg", "np-0.dat", "np-1.dat", "np.gp",
	}
	if len(files) != len(want) {
		t.Fatalf("WriteAll wrote %v, want %v", files, want)
	}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Errorf("file %d = %s, want %s", i, f, want[i])
		}
		st, err := os.Stat(f)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, size %v; want a non-empty file", f, err, st)
		}
		switch filepath.Ext(f) {
		case ".png":
			checkPNG(t, f)
		case ".svg":
			b, _ := os.ReadFile(f)
			if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("director/proxy/rr")) {
				t.Errorf("%s is not an SVG with the legend's series label", f)
			}
		}
	}
	if _, err := WriteAll(dir, "x", twoSeries(), "gif"); err == nil {
		t.Error("WriteAll with format gif succeeded")
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	wantW, wantH := int(DefaultWidth.Dots(PNGDPI)+0.5), int(DefaultHeight.Dots(PNGDPI)+0.5)
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), wantW, wantH)
	}
}

// TestSVGGolden draws each figure of a fixed pair of series as SVG. gonum's
// SVG output is deterministic, so it is compared byte for byte.
func TestSVGGolden(t *testing.T) {
	for _, fig := range Figures() {
		t.Run(string(fig), func(t *testing.T) {
			var a, b bytes.Buffer
			for _, buf := range []*bytes.Buffer{&a, &b} {
				p, err := Draw(fig, twoSeries())
				if err != nil {
					t.Fatal(err)
				}
				if err := Encode(buf, p, SVG); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("two drawings of the same figure differ: SVG output is not deterministic")
			}
			golden(t, "two-"+string(fig)+".svg", a.Bytes())
		})
	}
}

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
		t.Fatalf("read golden file: %v (run go test ./plot -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (%d bytes, want %d); look at the new drawing and, if it is right, run go test ./plot -update", name, len(got), len(want))
	}
}

// TestDrawAwkwardData feeds what gonum's log axes cannot take: empty
// series, zero sizes and times, a single point, fits without a rate bound
// or with a negative latency. None may panic.
func TestDrawAwkwardData(t *testing.T) {
	zero := results.Series{Series: timing.Series{Label: "zero", Points: []timing.Point{{Bytes: 0, Min: time.Microsecond}, {Bytes: 10, Min: 0}}}}
	for _, fig := range Figures() {
		if _, err := Draw(fig, nil); !errors.Is(err, ErrNothingToPlot) {
			t.Errorf("%s of no series: %v, want ErrNothingToPlot", fig, err)
		}
		if _, err := Draw(fig, []results.Series{zero}); !errors.Is(err, ErrNothingToPlot) {
			t.Errorf("%s of zero points: %v, want ErrNothingToPlot", fig, err)
		}
	}
	one := results.Series{Series: timing.Series{Label: "one", Points: []timing.Point{{Bytes: 1000, Min: 20 * time.Microsecond}}}}
	inf := model("inf", "", 20*time.Microsecond, 1e9, 0)
	inf.Fit.MaxRate = timing.BitsPerSecond(math.Inf(1))
	neg := model("neg", "", 20*time.Microsecond, 1e9, 0)
	neg.Fit.Latency = -time.Microsecond
	for _, fig := range Figures() {
		for _, ss := range [][]results.Series{{one}, {zero, one}, {inf}, {neg}} {
			p, err := Draw(fig, ss)
			if err != nil {
				t.Errorf("%s of %s: %v", fig, ss[len(ss)-1].Label, err)
				continue
			}
			if err := Encode(&bytes.Buffer{}, p, PNG); err != nil {
				t.Errorf("%s of %s: %v", fig, ss[len(ss)-1].Label, err)
			}
		}
	}
	if _, err := Draw("pie", twoSeries()); err == nil {
		t.Error("Draw(pie) succeeded")
	}
}

func TestTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{label: bytesLabel, base2: true}).Ticks(0, math.Log10(8<<20)) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "1B 8B 64B 512B 4KiB 32KiB 256KiB 2MiB" {
		t.Errorf("byte ticks from 1 to 8MiB: %s", got)
	}
	for s, want := range map[float64]string{1e-5: "10µs", 1e-3: "1ms", 1: "1s", 1e-7: "100ns"} {
		if got := durationLabel(s); got != want {
			t.Errorf("durationLabel(%g) = %q, want %q", s, got, want)
		}
	}
	f := timing.Fit{Latency: 12345 * time.Nanosecond, MaxRate: 4.5e9}
	if got := FitSummary(&f); got != "latency 12.3µs, max rate 4.50 Gbit/s" {
		t.Errorf("FitSummary = %q", got)
	}
}

func TestFromRuns(t *testing.T) {
	a := &results.Run{Probe: "netpipe", Path: "direct", Series: []results.Series{{Series: timing.Series{Label: "direct"}}}}
	b := &results.Run{Probe: "stream", Path: "lab/nat", Series: []results.Series{{}, {Series: timing.Series{Label: "x"}}}}
	got := FromRuns([]string{"a.msgpack", ""}, []*results.Run{a, b})
	var labels []string
	for _, s := range got {
		labels = append(labels, s.Label+"|"+s.Path)
	}
	if want := "a.msgpack: direct|direct stream: lab/nat|lab/nat stream: x|lab/nat"; strings.Join(labels, " ") != want {
		t.Errorf("FromRuns labels = %q, want %q", strings.Join(labels, " "), want)
	}
	if one := FromRuns(nil, []*results.Run{a}); one[0].Label != "direct" {
		t.Errorf("a single run's label was changed to %q", one[0].Label)
	}
}

// TestGnuplotRuns runs the generated script with the real gnuplot (Debian
// package gnuplot-nox) and checks it draws both figures.
func TestGnuplotRuns(t *testing.T) {
	bin, err := exec.LookPath("gnuplot")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gnuplot is not installed; CI must apt-get install -y gnuplot-nox")
		}
		t.Skip("gnuplot is not installed (Debian package gnuplot-nox)")
	}
	dir := t.TempDir()
	series := append(twoSeries(), model("it's \"quoted\"", "", 50*time.Microsecond, 1e9, 0))
	files, err := Gnuplot(dir, "np", series...)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("Gnuplot wrote %v, want 3 data files and a script", files)
	}
	// The data files keep NetPIPE 2's columns: results.ReadNP2 reads them.
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines, err := results.ReadNP2(f)
	f.Close()
	if err != nil || len(lines) != len(series[0].Points) {
		t.Fatalf("np-0.dat as NetPIPE 2: %d lines, %v; want %d", len(lines), err, len(series[0].Points))
	}
	cmd := exec.Command(bin, "np.gp")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gnuplot np.gp: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("gnuplot printed warnings:\n%s", out)
	}
	for _, name := range []string{"np-signature.gnuplot.png", "np-throughput.gnuplot.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("gnuplot did not write %s: %v", name, err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 960 || img.Bounds().Dy() != 600 {
			t.Errorf("%s: %v, want a 960x600 PNG", name, err)
		}
	}
}

func TestRateUnitAndFitRange(t *testing.T) {
	if u, s := rateUnit(twoSeries()); !strings.HasPrefix(u, "Mbit/s") || s != 1 {
		t.Errorf("rateUnit at 9 Gbit/s = %q, %g; want Mbit/s", u, s)
	}
	fast := []results.Series{model("fast", "", 5*time.Microsecond, 40e9, 0)}
	if u, s := rateUnit(fast); !strings.HasPrefix(u, "Gbit/s") || s != 1000 {
		t.Errorf("rateUnit at 40 Gbit/s = %q, %g; want Gbit/s", u, s)
	}
	p, err := Draw(Throughput, fast)
	if err != nil {
		t.Fatal(err)
	}
	if hi := math.Pow(10, p.Y.Max); hi > 40e9 || hi < 20e9 {
		t.Errorf("throughput figure at 40 Gbit/s: y max %g bit/s; want a max near 40e9 (log axis fitted to the data)", hi)
	}
	s := fast[0]
	f := *s.Fit
	f.From, f.To = 1024, 65536
	pts := fitPoints(&f, usable(s))
	if len(pts) < 2 || pts[0].bytes < 1024*0.999 || pts[len(pts)-1].bytes > 65536*1.001 {
		t.Errorf("fit drawn from %g to %g bytes, want 1024 to 65536", pts[0].bytes, pts[len(pts)-1].bytes)
	}
	for _, q := range pts {
		want := f.Latency.Seconds() + 8*q.bytes/float64(f.MaxRate)
		if math.Abs(q.seconds/want-1) > 1e-12 {
			t.Fatalf("fit point %+v, want time %g", q, want)
		}
	}
	for v, want := range map[float64]string{100000: "100k", 0.01: "10m", 1234: "1.23k", 3e10: "30G", 999.99: "1k", 5: "5"} {
		if got := siLabel(v, "", ""); got != want {
			t.Errorf("siLabel(%g) = %q, want %q", v, got, want)
		}
	}
	if got := siLabel(4.5e9, " ", "bit/s"); got != "4.5 Gbit/s" {
		t.Errorf("siLabel(4.5e9 bit/s) = %q", got)
	}
}

func TestTimeLabelSaysOneWayOnlyForPingPong(t *testing.T) {
	np := results.Series{Series: timing.Series{Label: "netpipe direct"}}
	http := results.Series{Series: timing.Series{Label: "http persistent"}}
	if got := timeLabel([]results.Series{np}); got != "transfer time (one way)" {
		t.Errorf("netpipe: %q", got)
	}
	if got := timeLabel([]results.Series{np, http}); got != "transfer time" {
		t.Errorf("netpipe and http: %q", got)
	}
}

// A timed stream's series are intervals, not sizes: they get the one
// figure of throughput against time, never the size figures.
func TestIntervalSeries(t *testing.T) {
	iv := func(label string, gbps ...float64) results.Series {
		s := results.Series{Series: timing.Series{Label: label}, Info: map[string]string{"points": results.IntervalPoints}}
		for _, g := range gbps {
			d := 100 * time.Millisecond
			s.Points = append(s.Points, timing.Point{Bytes: timing.Bytes(g * 1e9 / 8 * d.Seconds()), Min: d})
		}
		return s
	}
	series := []results.Series{iv("stream sum", 40, 42, 41), iv("stream 1", 20, 21, 20)}
	if got := FiguresFor(series); len(got) != 1 || got[0] != Intervals {
		t.Fatalf("FiguresFor intervals = %v, want [intervals]", got)
	}
	if got := FiguresFor(append(series, twoSeries()...)); len(got) != 3 {
		t.Errorf("FiguresFor a mix = %v, want the size figures", got)
	}
	dir := t.TempDir()
	files, err := WriteAll(dir, "timed", series, SVG)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if !slices.Contains(names, "timed-intervals.svg") || slices.Contains(names, "timed-throughput.svg") {
		t.Errorf("files %v: want timed-intervals.svg and no size figure", names)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "timed-intervals.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Throughput per interval", "Gbit/s", "stream sum"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("intervals figure lacks %q", want)
		}
	}
}
