package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/latency"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
)

// latencyDoc is latency-table's --json document.
type latencyDoc struct {
	jsonDoc
	Rows []latencyRow `json:"rows"`
}

// latencyRow is one row of the table in JSON: the fit in the shape of a
// run's (unbounded rates as "+Inf").
type latencyRow struct {
	Service string `json:"service"`
	Detail  string `json:"detail,omitempty"`
	Path    string `json:"path"`
	Fit     any    `json:"fit,omitempty"`
	Error   string `json:"error,omitempty"`
	File    string `json:"file,omitempty"`
}

// latencyHeadline compares each service's rows across paths.
func latencyHeadline(t *latency.Table) []string {
	var cs []headline.Curve
	for _, r := range t.Rows {
		var paths []string
		for _, o := range t.Rows {
			if o.Service == r.Service {
				paths = append(paths, o.Path)
			}
		}
		cs = append(cs, headline.Curve{Probe: r.Service, Mode: headline.ModeOf(r.Detail, r.Path, paths), Path: r.Path, Fit: r.Fit, FitError: r.Err})
	}
	return headline.Curves(cs)
}

func newLatencyTableCmd() *cobra.Command {
	var o latency.Options
	var vias []string
	var asJSON, quiet, wide bool
	c := &cobra.Command{
		Use:   "latency-table",
		Short: "The seed's table of service latencies: every probe direct and through the director, fitted, beside the seed's values",
		Example: "  lvsperf latency-table                          # all services, direct and director, 6s each\n" +
			"  lvsperf latency-table --services netpipe,http --via direct --budget 10s",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkVia(vias...); err != nil {
				return err
			}
			for _, v := range vias {
				o.Vias = append(o.Vias, paths.Via(v))
			}
			if !quiet {
				o.Progress = os.Stderr
			}
			t, err := latency.Run(cmd.Context(), o)
			if t == nil {
				return err
			}
			lines := latencyHeadline(t)
			out := cmd.OutOrStdout()
			if asJSON {
				doc := latencyDoc{jsonDoc: jsonDoc{Format: "lvsperf-latency-table", Schema: results.Schema, Headline: lines}}
				for _, r := range t.Rows {
					doc.Rows = append(doc.Rows, latencyRow{r.Service, r.Detail, r.Path, results.JSONFit(r.Fit), r.Err, r.File})
				}
				if jerr := writeJSON(out, doc); jerr != nil {
					return jerr
				}
				return err
			}
			if !quiet {
				if werr := t.Write(out, wide); werr != nil {
					return werr
				}
			}
			if herr := writeHeadline(out, lines, !quiet); herr != nil {
				return herr
			}
			return err
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.Services, "services", nil, "services to run (default netpipe,http,lpd,ftp,rsh,nfs)")
	f.StringSliceVar(&vias, "via", nil, "paths (default direct,director)")
	f.StringVar(&o.Scheduler, "scheduler", "rr", "director scheduler")
	f.IntVar(&o.Realservers, "realservers", 1, "realservers behind the director")
	f.DurationVar(&o.Budget, "budget", 0, "wall time of one service on one path (default 6s)")
	f.IntVar(&o.MaxExp, "max-exp", 0, "largest file of the http and bulk sweeps, 2^N bytes (default 24)")
	f.StringVar(&o.OutDir, "out", "out", "directory for every service's run file")
	f.BoolVar(&asJSON, "json", false, "print the rows as JSON (format lvsperf-latency-table: headline and rows with their fits)")
	f.BoolVarP(&quiet, "quiet", "q", false, quietHelp)
	f.BoolVar(&wide, "wide", false, wideHelp)
	return c
}
