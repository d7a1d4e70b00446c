package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/latency"
	"github.com/lvsperf/lvsperf/paths"
)

func newLatencyTableCmd() *cobra.Command {
	var o latency.Options
	var vias []string
	var asJSON, quiet bool
	c := &cobra.Command{
		Use:   "latency-table",
		Short: "The seed's table of service latencies: every probe direct and through the director, fitted, beside the seed's values",
		Example: "  lvsperf latency-table                          # all services, direct and director, 6s each\n" +
			"  lvsperf latency-table --services netpipe,http --via direct --budget 10s",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(t.Rows); jerr != nil {
					return jerr
				}
				return err
			}
			if werr := t.Write(cmd.OutOrStdout()); werr != nil {
				return werr
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
	f.BoolVar(&asJSON, "json", false, "print the rows as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	return c
}
