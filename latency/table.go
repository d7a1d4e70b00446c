package latency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/internal/texttable"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes/ftp"
	"github.com/lvsperf/lvsperf/probes/lpd"
	"github.com/lvsperf/lvsperf/probes/nfs"
	"github.com/lvsperf/lvsperf/probes/rsh"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// Seed is a row of the seed's table (seeds/000, section 0.3): 133 MHz
// Pentiums on 100 Mbit/s ethernet through an LVS-DR director, June 2000.
type Seed struct {
	Latency time.Duration
	// Bytes is the latency-equivalent size as the seed printed it.
	Bytes string
	Cause string
}

// seedTable returns the seed's published values by service.
func seedTable() map[string]Seed {
	return map[string]Seed{
		"netpipe": {300 * time.Microsecond, "1500", "mtu"},
		"http":    {5500 * time.Microsecond, "64k", "ethernet 16bit counter ?"},
		"lpd":     {40 * time.Millisecond, "64k", "?"},
		"ftp":     {170 * time.Millisecond, "?", "?"},
		"rsh":     {1100 * time.Millisecond, "3M", "?"},
	}
}

// Services lists the services the table can run, in the seed's order.
func Services() []string { return []string{"netpipe", "http", "lpd", "ftp", "rsh", "nfs"} }

// Options say what to run. The zero value runs every service direct and
// through the director with short sweeps.
type Options struct {
	// Services to run (default all of Services()).
	Services []string
	// Vias are the paths (default direct and director).
	Vias []paths.Via
	// Scheduler and Realservers shape the director path.
	Scheduler   string
	Realservers int
	// Budget is the wall time of one service on one path. Default 6s.
	Budget time.Duration
	// MaxExp bounds the bulk and http sweeps at file.MaxExp. Default 24
	// (16 MiB): far enough past the pole of the slow services to show
	// their rate.
	MaxExp int
	// OutDir keeps every service's run file; "" keeps none.
	OutDir string
	// Progress receives a line per service and path.
	Progress io.Writer
}

// Row is one service on one path.
type Row struct {
	Service string
	// Detail says which series of the service's run gave the row (the
	// direction of a copy, the http mode).
	Detail string
	Path   string
	Fit    *timing.Fit
	// Err says why the row has no fit.
	Err  string
	File string
}

// Table is the latency table.
type Table struct {
	Rows []Row
}

// Run sweeps every service on every path. A service that fails gives a row
// with its error; the others still run. It returns ctx's error when
// interrupted, with the rows finished so far.
func Run(ctx context.Context, o Options) (*Table, error) {
	if len(o.Services) == 0 {
		o.Services = Services()
	}
	for _, s := range o.Services {
		if !slices.Contains(Services(), s) {
			return nil, fmt.Errorf("service %q: want one of %s", s, strings.Join(Services(), ", "))
		}
	}
	if len(o.Vias) == 0 {
		o.Vias = []paths.Via{paths.Direct, paths.Director}
	}
	if o.Budget == 0 {
		o.Budget = 6 * time.Second
	}
	if o.MaxExp == 0 {
		o.MaxExp = 24
	}
	t := &Table{}
	for _, svc := range o.Services {
		for _, via := range o.Vias {
			spec := paths.Spec{Via: via, Scheduler: o.Scheduler, Realservers: o.Realservers}
			if via == paths.Direct {
				spec.Realservers = 0
			}
			start := time.Now()
			rows, err := runService(ctx, svc, spec, o)
			if ctx.Err() != nil {
				return t, ctx.Err()
			}
			if err != nil && len(rows) == 0 {
				rows = []Row{{Service: svc, Path: string(via), Err: oneLine(err)}}
			}
			t.Rows = append(t.Rows, rows...)
			if o.Progress != nil {
				for _, r := range rows {
					line := fmt.Sprintf("latency-table: %s via %s: %s (%v)", r.Detail, r.Path, r.short(), time.Since(start).Round(100*time.Millisecond))
					fmt.Fprintln(o.Progress, texttable.Fold(line, texttable.Columns, "  "))
				}
			}
		}
	}
	return t, nil
}

// runService runs one service on one path and turns its series into rows.
func runService(ctx context.Context, svc string, spec paths.Spec, o Options) ([]Row, error) {
	name := ""
	if o.OutDir != "" {
		name = fmt.Sprintf("latency-%s-%s", svc, spec.Via)
	}
	tim := timing.Options{Budget: o.Budget}
	var run *results.Run
	var file string
	var err error
	bulk := func(res runner.Result, e error) {
		run, file, err = res.Run, res.File, e
	}
	switch svc {
	case "netpipe":
		var cfg runner.Config
		cfg, err = netpipe.RunOptions{End: 8 * timing.MiB, Budget: o.Budget, Via: []string{string(spec.Via)},
			Scheduler: spec.Scheduler, Realservers: spec.Realservers, OutDir: o.OutDir, Name: name}.Config("netpipe", netpipe.DialProbe)
		if err == nil {
			bulk(runner.Run(ctx, cfg))
		}
	case "http":
		// The seed's ptester figure is the non-persistent one (-k1); the
		// keep-alive series comes along as a second row.
		per := o.Budget / time.Duration(2*(o.MaxExp+1))
		run, err = ptester.Sweep(ctx, ptester.SweepOptions{To: o.MaxExp, Path: spec,
			Hammer: ptester.Options{Duration: max(per, 30*time.Millisecond)}}, nil)
		if run != nil && o.OutDir != "" {
			file = filepath.Join(o.OutDir, name+results.Extension)
			if serr := results.Save(file, run); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	case "lpd":
		bulk(lpd.Sweep(ctx, lpd.SweepOptions{Path: spec, MaxExp: o.MaxExp, Timing: tim, OutDir: o.OutDir, Name: name}))
	case "rsh":
		bulk(rsh.Sweep(ctx, rsh.SweepOptions{Path: spec, MaxExp: o.MaxExp, Timing: tim, OutDir: o.OutDir, Name: name}))
	case "ftp":
		tim.Budget /= 2 // get and put
		bulk(ftp.Sweep(ctx, ftp.SweepOptions{Path: spec, MaxExp: o.MaxExp, Timing: tim, OutDir: o.OutDir, Name: name}))
	case "nfs":
		tim.Budget /= 2 // read and write
		bulk(nfs.Sweep(ctx, nfs.SweepOptions{Path: spec, MaxExp: o.MaxExp, Timing: tim, OutDir: o.OutDir, Name: name}))
	}
	if run == nil {
		return nil, err
	}
	var rows []Row
	for _, s := range run.Series {
		r := Row{Service: svc, Detail: s.Label, Path: s.Path, Fit: s.Fit, Err: s.FitError, File: file}
		if r.Path == "" {
			r.Path = string(spec.Via)
		}
		if s.Fit == nil && s.FitError == "" && err != nil {
			r.Err = oneLine(err)
		}
		rows = append(rows, r)
	}
	return rows, err
}

func (r Row) short() string {
	if r.Fit == nil {
		return "no fit: " + r.Err
	}
	return fmt.Sprintf("latency %s, max_rate %v", approx(r.Fit.Latency), r.Fit.MaxRate)
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// Write prints the table beside the seed's values: within
// texttable.Columns, the seed's values in a line under the table, or, when
// wide, boxed with every column (the seed's values among them).
func (t *Table) Write(w io.Writer, wide bool) error {
	if wide {
		return t.writeWide(w)
	}
	fmt.Fprintln(w, "Network latencies for services under LVS, measured now (the seed's values below)")
	tab := &texttable.Table{
		Header: []string{"series", "path", "latency ±95%", "lat-eq B", "max_rate", "model"},
		Left:   []int{0, 1, 5},
		Wrap:   []int{5, 0},
	}
	// One director path for every row that is not direct prints as
	// "director", named once under the table.
	dirPaths := map[string]bool{}
	for _, r := range t.Rows {
		if r.Path != string(paths.Direct) {
			dirPaths[r.Path] = true
		}
	}
	var dirPath string
	if len(dirPaths) == 1 {
		for p := range dirPaths {
			dirPath = p
		}
	}
	for _, r := range t.Rows {
		path := r.Path
		if dirPath != "" && path == dirPath && strings.HasPrefix(path, string(paths.Director)+"/") {
			path = string(paths.Director)
		} else if path != string(paths.Direct) {
			dirPath = ""
		}
		series := r.Detail
		if !strings.HasPrefix(series, r.Service) {
			series = strings.TrimSpace(r.Service + " " + series)
		}
		if r.Fit == nil {
			tab.Append(series, path, "-", "-", "-", "no fit: "+truncate(r.Err, 60))
			continue
		}
		f := r.Fit
		lateq, rate := strconv.FormatInt(int64(f.LatencyBytes), 10), approxRate(f.MaxRate)
		if math.IsInf(float64(f.MaxRate), 1) {
			lateq, rate = "-", "unbounded"
		}
		tab.Append(series, path, approx(f.Latency)+" ±"+approx((f.LatencyCI[1]-f.LatencyCI[0])/2),
			lateq, rate, modelCell(f))
	}
	if err := tab.Write(w, false); err != nil {
		return err
	}
	var seed []string
	seeds := seedTable()
	for _, svc := range Services() {
		s, ok := seeds[svc]
		if !ok || !slices.ContainsFunc(t.Rows, func(r Row) bool { return r.Service == svc }) {
			continue
		}
		seed = append(seed, fmt.Sprintf("%s %v, lat-eq %s", svc, s.Latency, s.Bytes))
	}
	if dirPath != "" {
		fmt.Fprintf(w, "director: %s\n", dirPath)
	}
	if len(seed) > 0 {
		line := "seed (2000: 133 MHz Pentiums, 100 Mbit/s, LVS-DR): " + strings.Join(seed, "; ")
		fmt.Fprintln(w, texttable.Fold(line, texttable.Columns, "  "))
	}
	return nil
}

// writeWide is the table with every column, boxed.
func (t *Table) writeWide(w io.Writer) error {
	fmt.Fprintln(w, "Network latencies for services under LVS — measured now, beside the seed's (2000: 133 MHz Pentiums, 100 Mbit/s, LVS-DR)")
	tab := &texttable.Table{Header: []string{"service", "series", "path", "latency", "latency 95% CI", "latency-equiv. bytes", "max_rate", "model", "seed latency", "seed bytes"}}
	seeds := seedTable()
	for _, r := range t.Rows {
		seedLat, seedBytes := "-", "-"
		if s, ok := seeds[r.Service]; ok {
			seedLat, seedBytes = seconds(s.Latency), s.Bytes
		}
		if r.Fit == nil {
			tab.Append(r.Service, r.Detail, r.Path, "-", "-", "-", "-", "no fit: "+truncate(r.Err, 60), seedLat, seedBytes)
			continue
		}
		f := r.Fit
		tab.Append(r.Service, r.Detail, r.Path, seconds(f.Latency),
			"["+seconds(f.LatencyCI[0])+", "+seconds(f.LatencyCI[1])+"]",
			strconv.FormatInt(int64(f.LatencyBytes), 10), f.MaxRate.String(), modelCell(f), seedLat, seedBytes)
	}
	return tab.Write(w, true)
}

// modelCell says whether the model fits, or names what it got wrong.
func modelCell(f *timing.Fit) string {
	if f.OK {
		return "fits"
	}
	return timing.ProblemNames(f.Problems)
}

// approxRate prints r to three significant digits (698 Mbit/s).
func approxRate(r timing.BitsPerSecond) string {
	v, unit := float64(r), "bit/s"
	for _, u := range []string{"kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"} {
		if v < 999.5 {
			break
		}
		v, unit = v/1000, u
	}
	prec := 0
	switch {
	case v < 9.995:
		prec = 2
	case v < 99.95:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + unit
}

// approx prints d to three significant digits (10.1µs, 184µs, 1.10ms).
func approx(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	unit, div := "ns", 1.0
	switch {
	case d >= time.Second:
		unit, div = "s", 1e9
	case d >= time.Millisecond:
		unit, div = "ms", 1e6
	case d >= time.Microsecond:
		unit, div = "µs", 1e3
	}
	v := float64(d) / div
	prec := 0
	switch {
	case v < 10:
		prec = 2
	case v < 100:
		prec = 1
	}
	if unit == "ns" {
		prec = 0
	}
	s := strconv.FormatFloat(v, 'f', prec, 64) + unit
	if neg {
		s = "-" + s
	}
	return s
}

func seconds(d time.Duration) string { return runner.FormatDuration(d) }

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
