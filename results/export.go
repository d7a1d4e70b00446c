package results

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// Encoder writes a run in one format.
type Encoder func(w io.Writer, r *Run) error

// ExportOptions choose what an export carries.
type ExportOptions struct {
	// Series selects the series of single-series formats (np2, np3): a
	// 0-based index or a series label. Empty means the first series.
	Series string
}

// Export format names.
const (
	FormatNP2  = "np2"
	FormatNP3  = "np3"
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// ExportFormats lists the names NewEncoder accepts.
func ExportFormats() []string { return []string{FormatNP2, FormatNP3, FormatCSV, FormatJSON} }

// NewEncoder returns the encoder of the named format (see ExportFormats).
func NewEncoder(format string, o ExportOptions) (Encoder, error) {
	single := func(write func(io.Writer, timing.Series) error) Encoder {
		return func(w io.Writer, r *Run) error {
			s, err := SelectSeries(r, o.Series)
			if err != nil {
				return err
			}
			return write(w, s.Series)
		}
	}
	switch strings.ToLower(format) {
	case FormatNP2:
		return single(WriteNP2), nil
	case FormatNP3:
		return single(WriteNP3), nil
	case FormatCSV:
		return EncodeCSV, nil
	case FormatJSON:
		return EncodeJSON, nil
	}
	return nil, fmt.Errorf("export format %q: want one of %s", format, strings.Join(ExportFormats(), ", "))
}

// SelectSeries returns the series of r that sel names: a 0-based index or a
// label; empty means the first.
func SelectSeries(r *Run, sel string) (*Series, error) {
	if r == nil || len(r.Series) == 0 {
		return nil, fmt.Errorf("the run has no series to export: it measured nothing")
	}
	if sel == "" {
		return &r.Series[0], nil
	}
	if i, err := strconv.Atoi(sel); err == nil {
		if i < 0 || i >= len(r.Series) {
			return nil, fmt.Errorf("series %d not found: the run has %s", i, seriesList(r))
		}
		return &r.Series[i], nil
	}
	for i := range r.Series {
		if r.Series[i].Label == sel {
			return &r.Series[i], nil
		}
	}
	return nil, fmt.Errorf("series %q not found: the run has %s", sel, seriesList(r))
}

func seriesList(r *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d series (", len(r.Series))
	for i, s := range r.Series {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %q", i, s.Label)
	}
	b.WriteString("); give an index or a label")
	return b.String()
}

// WriteNP2 writes s in NetPIPE 2.3's output columns, one line per point:
// time (s, the point's best trial), Mbps (2^20 bit/s, as NetPIPE), bits,
// bytes and the population variance of the trial times (s²), formatted
// "%f %f %d %d %f" so gnuplot's `using 4:2` plots throughput against size.
func WriteNP2(w io.Writer, s timing.Series) error {
	bw := bufio.NewWriter(w)
	for _, p := range s.Points {
		fmt.Fprintf(bw, "%f %f %d %d %f\n", p.Min.Seconds(), p.Rate().NetPIPEMbps(), p.Bytes.Bits(), int64(p.Bytes), p.Variance)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write np2 export: %w", err)
	}
	return nil
}

// WriteNP3 writes s in NetPIPE 3.x's np.out columns, one line per point:
// bytes, Mbps (2^20 bit/s) and time (s), formatted "%8d %f %12.8f".
func WriteNP3(w io.Writer, s timing.Series) error {
	bw := bufio.NewWriter(w)
	for _, p := range s.Points {
		fmt.Fprintf(bw, "%8d %f %12.8f\n", int64(p.Bytes), p.Rate().NetPIPEMbps(), p.Min.Seconds())
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write np3 export: %w", err)
	}
	return nil
}

// NetPIPELine is one line of a NetPIPE output file, 2.x or 3.x.
type NetPIPELine struct {
	Bytes timing.Bytes
	// Time is the one-way transfer time as printed (NetPIPE's best trial).
	Time time.Duration
	// Mbps is the throughput as printed, in 2^20 bit/s.
	Mbps float64
	// Variance is NetPIPE 2.x's fifth column (s²); 0 for 3.x.
	Variance float64
}

// ReadNP2 parses NetPIPE 2.x output (ours or NetPIPE's): "time Mbps bits
// bytes variance [rusage columns…]" per line. Lines starting with # are skipped.
func ReadNP2(r io.Reader) ([]NetPIPELine, error) {
	return readNetPIPE(r, "NetPIPE 2 (time Mbps bits bytes variance)", 5, func(f []string) (NetPIPELine, error) {
		var l NetPIPELine
		t, err1 := strconv.ParseFloat(f[0], 64)
		mbps, err2 := strconv.ParseFloat(f[1], 64)
		bits, err3 := strconv.ParseInt(f[2], 10, 64)
		n, err4 := strconv.ParseInt(f[3], 10, 64)
		v, err5 := strconv.ParseFloat(f[4], 64)
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return l, err
		}
		if bits != 8*n {
			return l, fmt.Errorf("bits %d is not 8 × bytes %d", bits, n)
		}
		l = NetPIPELine{Bytes: timing.Bytes(n), Time: secondsToDuration(t), Mbps: mbps, Variance: v}
		return l, nil
	})
}

// ReadNP3 parses NetPIPE 3.x np.out ("bytes Mbps time" per line), such as
// NPtcp writes or WriteNP3 produces.
func ReadNP3(r io.Reader) ([]NetPIPELine, error) {
	return readNetPIPE(r, "NetPIPE 3 (bytes Mbps time)", 3, func(f []string) (NetPIPELine, error) {
		var l NetPIPELine
		n, err1 := strconv.ParseInt(f[0], 10, 64)
		mbps, err2 := strconv.ParseFloat(f[1], 64)
		t, err3 := strconv.ParseFloat(f[2], 64)
		if err := firstErr(err1, err2, err3); err != nil {
			return l, err
		}
		l = NetPIPELine{Bytes: timing.Bytes(n), Time: secondsToDuration(t), Mbps: mbps}
		return l, nil
	})
}

// maxNetPIPELines bounds what the NetPIPE readers accept.
const maxNetPIPELines = 1 << 20

func readNetPIPE(r io.Reader, what string, cols int, parse func([]string) (NetPIPELine, error)) ([]NetPIPELine, error) {
	var out []NetPIPELine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < cols {
			return out, fmt.Errorf("line %d: want %d columns of %s, found %d: %q", line, cols, what, len(f), text)
		}
		l, err := parse(f)
		if err != nil {
			return out, fmt.Errorf("line %d: %s: %w", line, what, err)
		}
		if l.Bytes < 0 || l.Time < 0 {
			return out, fmt.Errorf("line %d: %s: negative size or time in %q", line, what, text)
		}
		if len(out) >= maxNetPIPELines {
			return out, fmt.Errorf("line %d: more than %d lines; not a NetPIPE output file", line, maxNetPIPELines)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// secondsToDuration converts seconds to a Duration, rounding to the
// nanosecond and saturating instead of overflowing.
func secondsToDuration(s float64) time.Duration {
	const maxSec = float64(1<<63-1) / 1e9
	switch {
	case s != s: // NaN
		return 0
	case s >= maxSec:
		return time.Duration(1<<63 - 1)
	case s <= -maxSec:
		return time.Duration(-1 << 63)
	}
	ns := s * 1e9
	if ns < 0 {
		return time.Duration(ns - 0.5)
	}
	return time.Duration(ns + 0.5)
}

// csvHeader is the header row of the CSV export. Times are in seconds; mbps
// is SI (10^6 bit/s), netpipe_mbps divides by 2^20; quantile columns are
// empty when the probe did not time single transfers.
var csvHeader = []string{
	"series", "path", "bytes", "min_s", "median_s", "max_s", "mean_s",
	"mbps", "netpipe_mbps", "spread", "reps", "trials",
	"p50_s", "p90_s", "p99_s", "p999_s",
}

// CSVHeader returns the header row EncodeCSV writes.
func CSVHeader() []string { return slices.Clone(csvHeader) }

// csvQuantiles are the quantiles the CSV export has columns for.
var csvQuantiles = [...]float64{0.5, 0.9, 0.99, 0.999}

// EncodeCSV writes every point of every series of r as one CSV row under
// the header CSVHeader. A series without its own path gets the run's.
func EncodeCSV(w io.Writer, r *Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv export: %w", err)
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 9, 64) }
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	row := make([]string, len(csvHeader))
	for _, s := range r.Series {
		path := s.Path
		if path == "" {
			path = r.Path
		}
		for _, p := range s.Points {
			row = append(row[:0], s.Label, path, strconv.FormatInt(int64(p.Bytes), 10),
				secs(p.Min), secs(p.Median), secs(p.Max), secs(p.Mean),
				num(p.Rate().Mbps()), num(p.Rate().NetPIPEMbps()), num(p.Spread()),
				strconv.Itoa(p.Reps), strconv.Itoa(len(p.Trials)))
			for _, q := range csvQuantiles {
				v := ""
				if d, ok := p.QuantileAt(q); ok {
					v = secs(d)
				}
				row = append(row, v)
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("write csv export: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv export: %w", err)
	}
	return nil
}
