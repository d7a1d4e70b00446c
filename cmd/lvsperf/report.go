package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/report"
	"github.com/lvsperf/lvsperf/results"
)

// reportOptions are the flags of lvsperf report.
type reportOptions struct {
	out   string
	title string
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

A DIR stands for every .msgpack run in it. Exit status 2 when a file is
truncated, from a newer lvsperf, or not lvsperf's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, o, args)
		},
	}
	c.Flags().StringVarP(&o.out, "out", "o", "report.html", "HTML file to write; the .md twin and figures go beside it")
	c.Flags().StringVar(&o.title, "title", "", "report title (default \"lvsperf report\")")
	return c
}

func runReport(cmd *cobra.Command, o reportOptions, args []string) error {
	var files []string
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
	written, err := rep.WriteFiles(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "report: %s (Markdown twin %s, %d figures)\n", written[0], written[1], len(written)-2)
	return nil
}
