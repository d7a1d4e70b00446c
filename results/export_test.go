package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/lvsperf/lvsperf/timing"
)

func encodeWith(t testing.TB, format string, o ExportOptions, r *Run) []byte {
	t.Helper()
	enc, err := NewEncoder(format, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := enc(&buf, r); err != nil {
		t.Fatalf("%s export: %v", format, err)
	}
	return buf.Bytes()
}

func TestExportGolden(t *testing.T) {
	for _, c := range []struct {
		file, format, series string
	}{
		{"fixture.np2", FormatNP2, ""},
		{"fixture-proxy.np2", FormatNP2, "proxy rr"},
		{"fixture.np3", FormatNP3, ""},
		{"fixture-1.np3", FormatNP3, "1"},
		{"fixture.csv", FormatCSV, ""},
		{"fixture.json", FormatJSON, ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			golden(t, c.file, encodeWith(t, c.format, ExportOptions{Series: c.series}, fixtureRun()))
		})
	}
}

// TestNP2MatchesNetPIPE checks our NetPIPE 2.3 line against the seed's
// example line "0.000481 0.015857 8 1 0.000000", computed the way NetPIPE
// does (Mbps with M = 2^20).
func TestNP2MatchesNetPIPE(t *testing.T) {
	s := timing.Series{Points: []timing.Point{{Bytes: 1, Min: 481140 * time.Nanosecond, Trials: []time.Duration{481140}}}}
	var buf bytes.Buffer
	if err := WriteNP2(&buf, s); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "0.000481 0.015857 8 1 0.000000\n"; got != want {
		t.Errorf("np2 line = %q, want the seed's %q", got, want)
	}
	buf.Reset()
	s.Points[0] = timing.Point{Bytes: 1048579, Min: 129060 * time.Nanosecond}
	if err := WriteNP3(&buf, s); err != nil {
		t.Fatal(err)
	}
	// NPtcp's own line for this size (netpipe.md §1.6) is
	// " 1048579 61987.184671   0.00012906": NPtcp computed the rate from the
	// unrounded time, so the rates agree to the precision of the printed
	// time (±5e-9 s of 1.29e-4 s, 4e-5 relative).
	l, err := ReadNP3(&buf)
	if err != nil || len(l) != 1 {
		t.Fatalf("read back np3 line: %v, %v", l, err)
	}
	if l[0].Bytes != 1048579 || l[0].Time != 129060*time.Nanosecond || math.Abs(l[0].Mbps/61987.184671-1) > 4e-5 {
		t.Errorf("np3 line %+v, want NPtcp's 1048579 bytes, 61987.184671 Mbps (±4e-5), 0.00012906 s", l[0])
	}
}

func TestNewEncoderAndSelect(t *testing.T) {
	if _, err := NewEncoder("xml", ExportOptions{}); err == nil || !strings.Contains(err.Error(), "np2, np3, csv, json") {
		t.Errorf("NewEncoder(xml) error = %v, want one listing the formats", err)
	}
	r := fixtureRun()
	for sel, want := range map[string]string{"": "direct", "0": "direct", "1": "proxy rr", "proxy rr": "proxy rr"} {
		s, err := SelectSeries(r, sel)
		if err != nil || s.Label != want {
			t.Errorf("SelectSeries(%q) = %v, %v; want %q", sel, s, err, want)
		}
	}
	for _, sel := range []string{"2", "-1", "nope"} {
		if _, err := SelectSeries(r, sel); err == nil || !strings.Contains(err.Error(), `0 "direct", 1 "proxy rr"`) {
			t.Errorf("SelectSeries(%q) error = %v, want one listing the series", sel, err)
		}
	}
	if _, err := SelectSeries(&Run{}, ""); err == nil {
		t.Error("SelectSeries on a run without series succeeded")
	}
	enc, _ := NewEncoder(FormatNP3, ExportOptions{})
	if err := enc(&bytes.Buffer{}, &Run{}); err == nil {
		t.Error("np3 export of a run without series succeeded")
	}
}

func TestJSONFixtureRoundTrip(t *testing.T) {
	r := fixtureRun()
	got, err := DecodeJSON(bytes.NewReader(encodeWith(t, FormatJSON, ExportOptions{}, r)))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(got.Series[1].Fit.MaxRate), 1) {
		t.Errorf("unbounded max rate decoded as %v, want +Inf", got.Series[1].Fit.MaxRate)
	}
	if !reflect.DeepEqual(normalized(got), normalized(r)) {
		t.Errorf("JSON round trip changed the run:\n got %+v\nwant %+v", got, r)
	}
}

func TestDecodeJSONRefuses(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     error
		msg      string
	}{
		{"empty", "", ErrNotRun, "empty"},
		{"other JSON", `{"hello": 1}`, ErrNotRun, `format field is ""`},
		{"not JSON", "np.out\n1 2 3\n", ErrNotRun, "not a JSON run record"},
		{"newer schema", `{"format": "lvsperf-run", "schema": 99}`, ErrNewerSchema, "schema 99"},
		{"truncated", `{"format": "lvsperf-run", "schema": 1, "series": [`, ErrNotRun, "not a JSON run record"},
		{"wrong type", `{"format": "lvsperf-run", "schema": 1, "series": 3}`, ErrNotRun, "corrupt JSON run record"},
	} {
		_, err := DecodeJSON(strings.NewReader(c.in))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: DecodeJSON error = %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
}

// normalized returns a copy of r with its times in UTC without monotonic
// readings, so runs decoded in another time zone compare equal.
func normalized(r *Run) *Run {
	c := *r
	c.Started, c.Finished = c.Started.UTC(), c.Finished.UTC()
	return &c
}

// runGen draws runs with every field set; empty maps and slices are nil,
// as both decoders return them.
func runGen() *rapid.Generator[*Run] {
	nilIfEmpty := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	str := rapid.StringMatching(`[a-zA-Z0-9 ,"/._:-]{0,16}`)
	dur := rapid.Custom(func(t *rapid.T) time.Duration {
		return time.Duration(rapid.Int64Range(0, int64(100*time.Second)).Draw(t, "ns"))
	})
	rate := rapid.Custom(func(t *rapid.T) timing.BitsPerSecond {
		if rapid.IntRange(0, 9).Draw(t, "inf") == 0 {
			return timing.BitsPerSecond(math.Inf(1))
		}
		return timing.BitsPerSecond(rapid.Float64Range(0, 1e12).Draw(t, "rate"))
	})
	point := rapid.Custom(func(t *rapid.T) timing.Point {
		p := timing.Point{
			Bytes:    timing.Bytes(rapid.Int64Range(0, 1<<40).Draw(t, "bytes")),
			Reps:     rapid.IntRange(1, 1_000_000).Draw(t, "reps"),
			Trials:   rapid.SliceOfN(dur, 1, 5).Draw(t, "trials"),
			Min:      dur.Draw(t, "min"),
			Median:   dur.Draw(t, "median"),
			Max:      dur.Draw(t, "max"),
			Mean:     dur.Draw(t, "mean"),
			Variance: rapid.Float64Range(0, 10).Draw(t, "var"),
		}
		for _, q := range rapid.SliceOfDistinct(rapid.SampledFrom(timing.DefaultQuantiles()), rapid.ID[float64]).Draw(t, "qs") {
			p.Quantiles = append(p.Quantiles, timing.Quantile{Q: q, Time: dur.Draw(t, "q")})
		}
		if p.Quantiles != nil {
			p.Transfers = rapid.IntRange(1, 1<<30).Draw(t, "n")
			p.Fastest, p.Slowest = dur.Draw(t, "fast"), dur.Draw(t, "slow")
		}
		return p
	})
	series := rapid.Custom(func(t *rapid.T) Series {
		s := Series{
			Series: timing.Series{
				Label:         str.Draw(t, "label"),
				Points:        rapid.SliceOfN(point, 0, 8).Draw(t, "points"),
				Stopped:       str.Draw(t, "stopped"),
				ClockOverhead: dur.Draw(t, "clock"),
				Options: timing.Options{
					TrialTime: dur.Draw(t, "trial"), Trials: rapid.IntRange(0, 9).Draw(t, "ntrials"),
					Warmup: dur.Draw(t, "warmup"), StopTime: dur.Draw(t, "stop"),
				},
			},
			Path: str.Draw(t, "path"),
			Info: nilIfEmpty(rapid.MapOf(str, str).Draw(t, "info")),
		}
		if len(s.Points) == 0 {
			s.Points = nil
		}
		for _, p := range s.Points {
			s.Options.Sizes = append(s.Options.Sizes, p.Bytes)
		}
		if rapid.Bool().Draw(t, "fit") {
			f := timing.Fit{
				Latency: dur.Draw(t, "lat"), LatencyCI: [2]time.Duration{dur.Draw(t, "lat0"), dur.Draw(t, "lat1")},
				MaxRate: rate.Draw(t, "max"), MaxRateCI: [2]timing.BitsPerSecond{rate.Draw(t, "max0"), rate.Draw(t, "max1")},
				PeakRate: rate.Draw(t, "peak"), R2: rapid.Float64Range(-1, 1).Draw(t, "r2"), RelRMS: rapid.Float64Range(0, 5).Draw(t, "rms"),
				LatencyBytes: timing.Bytes(rapid.Int64Range(0, 1<<30).Draw(t, "latb")), Points: len(s.Points), OK: rapid.Bool().Draw(t, "ok"),
			}
			if !f.OK {
				f.Problems = rapid.SliceOfN(str, 1, 3).Draw(t, "problems")
			}
			s.Fit = &f
		} else {
			s.FitError = str.Draw(t, "fiterr")
		}
		return s
	})
	return rapid.Custom(func(t *rapid.T) *Run {
		start := time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "start"), rapid.Int64Range(0, 999_999_999).Draw(t, "startns")).UTC()
		r := &Run{
			Format: Format, Schema: Schema,
			ID: str.Draw(t, "id"), Probe: str.Draw(t, "probe"), Path: str.Draw(t, "path"),
			Started: start, Finished: start.Add(dur.Draw(t, "took")),
			Complete: rapid.Bool().Draw(t, "complete"), Error: str.Draw(t, "error"),
			Env: Env{
				Tool: str.Draw(t, "tool"), Host: str.Draw(t, "host"), Kernel: str.Draw(t, "kernel"),
				CPUs: rapid.IntRange(1, 512).Draw(t, "cpus"), LoadBefore: rapid.Float64Range(0, 64).Draw(t, "load"),
				StealPct: rapid.Float64Range(0, 100).Draw(t, "steal"), Contended: rapid.Bool().Draw(t, "cont"),
			},
			Options: nilIfEmpty(rapid.MapOf(str, str).Draw(t, "opts")),
			Series:  rapid.SliceOfN(series, 0, 3).Draw(t, "series"),
		}
		if len(r.Series) == 0 {
			r.Series = nil
		}
		if rapid.Bool().Draw(t, "mtu") {
			r.Env.MTU = map[string]int{str.Draw(t, "if"): rapid.IntRange(68, 65536).Draw(t, "mtuv")}
		}
		return r
	})
}

// TestRoundTripDecodable checks that every encoding with a decoder gives
// back the run it was given, field for field.
func TestRoundTripDecodable(t *testing.T) {
	codecs := map[string]struct {
		enc Encoder
		dec func([]byte) (*Run, error)
	}{
		"msgpack": {Encode, func(b []byte) (*Run, error) { return Decode(bytes.NewReader(b)) }},
		"json":    {EncodeJSON, func(b []byte) (*Run, error) { return DecodeJSON(bytes.NewReader(b)) }},
	}
	for name, c := range codecs {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				r := runGen().Draw(rt, "run")
				var buf bytes.Buffer
				if err := c.enc(&buf, r); err != nil {
					rt.Fatalf("encode: %v", err)
				}
				got, err := c.dec(buf.Bytes())
				if err != nil {
					rt.Fatalf("decode: %v", err)
				}
				if !reflect.DeepEqual(normalized(got), normalized(r)) {
					rt.Fatalf("round trip changed the run:\n got %#v\nwant %#v", normalized(got), normalized(r))
				}
			})
		})
	}
}

// within reports whether the printed value v matches exact to the printed
// precision (half a unit of the last printed decimal, or float64's own
// precision for huge values).
func within(v, exact, halfUnit float64) bool {
	return math.Abs(v-exact) <= halfUnit+1e-15*math.Abs(exact)
}

// TestRoundTripNetPIPE checks that the NetPIPE text exports read back to
// the sizes and times they were given, to the printed precision.
func TestRoundTripNetPIPE(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		r := runGen().Draw(rt, "run")
		if len(r.Series) == 0 {
			return
		}
		s := r.Series[0].Series
		var b2, b3 bytes.Buffer
		if err := WriteNP2(&b2, s); err != nil {
			rt.Fatal(err)
		}
		if err := WriteNP3(&b3, s); err != nil {
			rt.Fatal(err)
		}
		l2, err := ReadNP2(&b2)
		if err != nil {
			rt.Fatalf("read np2: %v", err)
		}
		l3, err := ReadNP3(&b3)
		if err != nil {
			rt.Fatalf("read np3: %v", err)
		}
		if len(l2) != len(s.Points) || len(l3) != len(s.Points) {
			rt.Fatalf("%d points gave %d np2 and %d np3 lines", len(s.Points), len(l2), len(l3))
		}
		for i, p := range s.Points {
			mbps := p.Rate().NetPIPEMbps()
			if l2[i].Bytes != p.Bytes || !within(l2[i].Time.Seconds(), p.Min.Seconds(), 5e-7) ||
				!within(l2[i].Mbps, mbps, 5e-7) || !within(l2[i].Variance, p.Variance, 5e-7) {
				rt.Fatalf("np2 line %d = %+v, point %+v (Mbps %f)", i, l2[i], p, mbps)
			}
			if l3[i].Bytes != p.Bytes || !within(l3[i].Time.Seconds(), p.Min.Seconds(), 5e-9) || !within(l3[i].Mbps, mbps, 5e-7) {
				rt.Fatalf("np3 line %d = %+v, point %+v (Mbps %f)", i, l3[i], p, mbps)
			}
		}
	})
}

// TestRoundTripCSV parses the CSV export back and checks every row against
// its point: sizes and times exactly (times are printed to the ns), rates
// exactly (shortest round-tripping form).
func TestRoundTripCSV(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		r := runGen().Draw(rt, "run")
		var buf bytes.Buffer
		if err := EncodeCSV(&buf, r); err != nil {
			rt.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			rt.Fatalf("parse csv export: %v", err)
		}
		if !reflect.DeepEqual(rows[0], CSVHeader()) {
			rt.Fatalf("header %q, want %q", rows[0], CSVHeader())
		}
		rows = rows[1:]
		col := map[string]int{}
		for i, h := range CSVHeader() {
			col[h] = i
		}
		secs := func(s string) time.Duration {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				rt.Fatalf("time column %q: %v", s, err)
			}
			return secondsToDuration(v)
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				rt.Fatalf("number column %q: %v", s, err)
			}
			return v
		}
		i := 0
		for _, s := range r.Series {
			path := s.Path
			if path == "" {
				path = r.Path
			}
			for _, p := range s.Points {
				if i >= len(rows) {
					rt.Fatalf("only %d rows", len(rows))
				}
				row := rows[i]
				i++
				if row[col["series"]] != s.Label || row[col["path"]] != path || row[col["bytes"]] != strconv.FormatInt(int64(p.Bytes), 10) {
					rt.Fatalf("row %q does not name series %q path %q bytes %d", row, s.Label, path, p.Bytes)
				}
				if secs(row[col["min_s"]]) != p.Min || secs(row[col["median_s"]]) != p.Median || secs(row[col["max_s"]]) != p.Max || secs(row[col["mean_s"]]) != p.Mean {
					rt.Fatalf("row %q times differ from point %+v", row, p)
				}
				if num(row[col["mbps"]]) != p.Rate().Mbps() || num(row[col["netpipe_mbps"]]) != p.Rate().NetPIPEMbps() || num(row[col["spread"]]) != p.Spread() {
					rt.Fatalf("row %q rates differ from point %+v", row, p)
				}
				if row[col["reps"]] != strconv.Itoa(p.Reps) || row[col["trials"]] != strconv.Itoa(len(p.Trials)) {
					rt.Fatalf("row %q counts differ from point %+v", row, p)
				}
				for _, q := range []struct {
					name string
					q    float64
				}{{"p50_s", 0.5}, {"p90_s", 0.9}, {"p99_s", 0.99}, {"p999_s", 0.999}} {
					d, ok := p.QuantileAt(q.q)
					if cell := row[col[q.name]]; ok != (cell != "") || ok && secs(cell) != d {
						rt.Fatalf("row %q column %s = %q, point quantile %v (present %v)", row, q.name, cell, d, ok)
					}
				}
			}
		}
		if i != len(rows) {
			rt.Fatalf("%d rows for %d points", len(rows), i)
		}
	})
}

func TestReadNetPIPERejects(t *testing.T) {
	for _, c := range []struct {
		name, in string
		read     func(r *strings.Reader) error
		msg      string
	}{
		{"np2 short", "0.1 2 8\n", func(r *strings.Reader) error { _, err := ReadNP2(r); return err }, "want 5 columns"},
		{"np2 bits", "0.1 2 9 1 0\n", func(r *strings.Reader) error { _, err := ReadNP2(r); return err }, "bits 9 is not 8 × bytes 1"},
		{"np3 word", "1 x 0.1\n", func(r *strings.Reader) error { _, err := ReadNP3(r); return err }, "line 1"},
		{"np3 negative", "# c\n-1 2 0.1\n", func(r *strings.Reader) error { _, err := ReadNP3(r); return err }, "line 2"},
	} {
		if err := c.read(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error = %v, want one mentioning %q", c.name, err, c.msg)
		}
	}
}
