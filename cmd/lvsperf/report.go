package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/report"
	"github.com/lvsperf/lvsperf/results"
)

// reportOptions are the flags of lvsperf report.
type reportOptions struct {
	out   string
	title string
	quiet bool
}

// newReportCmd writes an HTML report and its Markdown twin from stored runs.
func newReportCmd() *cobra.Command {
	var o reportOptions
	c := &cobra.Command{
		Use:   "report DIR|FILE…",
		Short: "Write a self-contained HTML report (and a Markdown twin) of stored runs",
		Long: `Write one HTML file with everything embedded (no network needed to read it)
and a Markdown twin beside it (same name, .md, with the figures as PNG files):
for every run its signature, throughput and time figures with fits, the fit
table and the environment it recorded; a latency table when the runs come
from several probes; and, where runs of one probe took several paths (direct
vs director, NAT vs DR, MTU 1500 vs 400), an overlay figure and ratio tables.

The report opens with the headlines (what the director adds over direct, with
95% intervals; experiments' verdicts from the DIR's *.verdicts.json), then the
environment, the figures, and the list of runs; the command prints the
headlines last. A DIR stands for every .msgpack run in it. Exit status 2 when a file is
truncated, from a newer lvsperf, or not lvsperf's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, o, args)
		},
	}
	c.Flags().StringVarP(&o.out, "out", "o", "report.html", "HTML file to write; the .md twin and figures go beside it")
	c.Flags().StringVar(&o.title, "title", "", "report title (default \"lvsperf report\")")
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only the headlines (the report's summary)")
	return c
}

func runReport(cmd *cobra.Command, o reportOptions, args []string) error {
	var files []string
	var verdicts []headline.Verdict
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return withExitCode(2, fmt.Errorf("report: %w", err))
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		found, err := filepath.Glob(filepath.Join(a, "*"+results.Extension))
		if err != nil {
			return withExitCode(2, fmt.Errorf("report: %w", err))
		}
		vfiles, _ := filepath.Glob(filepath.Join(a, "*"+verdictsSuffix))
		sort.Strings(vfiles)
		for _, vf := range vfiles {
			data, err := os.ReadFile(vf)
			if err == nil {
				var vs []headline.Verdict
				if vs, err = loadVerdicts(data); err == nil {
					verdicts = append(verdicts, vs...)
				}
			}
			if err != nil {
				return withExitCode(2, fmt.Errorf("report: %s: %w", vf, err))
			}
		}
		if len(found) == 0 {
			return withExitCode(2, fmt.Errorf("report: directory %s holds no %s runs; give the run files or the directory a run saved into", a, results.Extension))
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	var inputs []report.Input
	for _, f := range files {
		r, err := results.LoadAny(f)
		if err != nil {
			return withExitCode(2, fmt.Errorf("report: %w", err))
		}
		inputs = append(inputs, report.Input{Name: strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), Run: r})
	}
	prefix := strings.TrimSuffix(filepath.Base(o.out), filepath.Ext(o.out))
	rep, err := report.Build(o.title, prefix, inputs)
	if err != nil {
		return err
	}
	rep.AddVerdicts(verdicts)
	written, err := rep.WriteFiles(o.out)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !o.quiet {
		fmt.Fprintf(out, "report: %s (Markdown twin %s, %d figures)\n", written[0], written[1], len(written)-2)
	}
	return writeHeadline(out, rep.Headlines, !o.quiet)
}
