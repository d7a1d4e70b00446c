package latency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

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
					fmt.Fprintf(o.Progress, "latency-table: %-8s %-22s %-18s %s (%v)\n", r.Service, r.Detail, r.Path, r.short(), time.Since(start).Round(100*time.Millisecond))
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
	return fmt.Sprintf("latency %v, max_rate %v", r.Fit.Latency, r.Fit.MaxRate)
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// Write prints the table beside the seed's values.
func (t *Table) Write(w io.Writer) error {
	fmt.Fprintln(w, "Network latencies for services under LVS — measured now, beside the seed's (2000: 133 MHz Pentiums, 100 Mbit/s, LVS-DR)")
	tab := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	tab.Header("service", "series", "path", "latency", "latency 95% CI", "latency-equiv. bytes", "max_rate", "model", "seed latency", "seed bytes")
	seeds := seedTable()
	for _, r := range t.Rows {
		seedLat, seedBytes := "-", "-"
		if s, ok := seeds[r.Service]; ok {
			seedLat, seedBytes = seconds(s.Latency), s.Bytes
		}
		if r.Fit == nil {
			if err := tab.Append(r.Service, r.Detail, r.Path, "-", "-", "-", "-", "no fit: "+truncate(r.Err, 60), seedLat, seedBytes); err != nil {
				return err
			}
			continue
		}
		f := r.Fit
		model := "fits"
		if !f.OK {
			model = fmt.Sprintf("%d problem(s)", len(f.Problems))
		}
		if err := tab.Append(r.Service, r.Detail, r.Path, seconds(f.Latency),
			"["+seconds(f.LatencyCI[0])+", "+seconds(f.LatencyCI[1])+"]",
			strconv.FormatInt(int64(f.LatencyBytes), 10), f.MaxRate.String(), model, seedLat, seedBytes); err != nil {
			return err
		}
	}
	return tab.Render()
}

func seconds(d time.Duration) string { return runner.FormatDuration(d) }

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
