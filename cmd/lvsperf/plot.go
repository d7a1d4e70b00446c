package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
)

// plotOptions are the flags of lvsperf plot.
type plotOptions struct {
	out    string
	format string
	name   string
}

// newPlotCmd redraws the figures of stored runs.
func newPlotCmd() *cobra.Command {
	var o plotOptions
	c := &cobra.Command{
		Use:   "plot FILE…",
		Short: "Redraw the signature, throughput and time figures of stored runs (all on one figure set)",
		Long: `Redraw the figures from stored runs (.msgpack, or JSON exports): every series
of every file goes on one set of figures, labelled with the file's name when
there are several files:
  <name>-signature.png   throughput against transfer time (log-log)
  <name>-throughput.png  throughput against message size
  <name>-time.png        transfer time against size, with the fitted line
and <name>.gp with one .dat file per series for gnuplot.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlot(cmd, o, args)
		},
	}
	c.Flags().StringVar(&o.out, "out", "", "directory for the figures (default the first file's directory)")
	c.Flags().StringVar(&o.format, "format", "png", "image format: png, svg or both")
	c.Flags().StringVar(&o.name, "name", "", "base name of the figures (default the file's name, or \"compare\" for several files)")
	return c
}

func runPlot(cmd *cobra.Command, o plotOptions, files []string) error {
	var formats []string
	switch o.format {
	case "png", "svg":
		formats = []string{o.format}
	case "both":
		formats = []string{plot.PNG, plot.SVG}
	default:
		return fmt.Errorf("--format %q: want png, svg or both", o.format)
	}
	runs := make([]*results.Run, len(files))
	names := make([]string, len(files))
	for i, f := range files {
		r, err := results.LoadAny(f)
		if err != nil {
			return err
		}
		runs[i] = r
		names[i] = strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
	}
	if o.out == "" {
		o.out = filepath.Dir(files[0])
	}
	if o.name == "" {
		o.name = names[0]
		if len(files) > 1 {
			o.name = "compare"
		}
	}
	series := plot.FromRuns(names, runs)
	written, err := plot.WriteAll(o.out, o.name, series, formats...)
	if httpRuns(runs) {
		// ptester sweeps: the seed's HTTP figures too, the runs overlaid.
		own, herr := ptester.WriteHTTPPlots(o.out, o.name, series)
		written, err = append(written, own...), errors.Join(err, herr)
	}
	for _, w := range written {
		fmt.Fprintln(cmd.OutOrStdout(), w)
	}
	if err != nil {
		return fmt.Errorf("plot %s: %w", strings.Join(files, " "), err)
	}
	return nil
}

// httpRuns reports whether every run is a ptester sweep (probe http).
func httpRuns(runs []*results.Run) bool {
	for _, r := range runs {
		if r.Probe != "http" {
			return false
		}
	}
	return len(runs) > 0
}
