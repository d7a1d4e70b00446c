package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/lab/experiment"
	"github.com/lvsperf/lvsperf/timing"
)

// newExperimentCmd is `lvsperf experiment NAME`: the seed's experiments in
// the namespace lab.
func newExperimentCmd() *cobra.Command {
	var o experiment.Options
	var maxSize string
	var list []string
	var asJSON, quiet bool
	for _, n := range experiment.Names() {
		list = append(list, fmt.Sprintf("  %-14s %s", n[0], n[1]))
	}
	c := &cobra.Command{
		Use:   "experiment NAME",
		Short: "Redo one of the seed's LVS experiments in the namespace lab (needs root)",
		Long:  "Experiments:\n" + strings.Join(list, "\n"),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !knownExperiment(args[0]) {
				_, err := experiment.Run(cmd.Context(), args[0], o) // says which names exist
				return usageError(err)
			}
			if maxSize != "" {
				n, err := timing.ParseBytes(maxSize)
				if err != nil {
					return usageError(err)
				}
				o.MaxSize = n
			}
			o.Progress = cmd.ErrOrStderr()
			if self, err := os.Executable(); err == nil {
				o.Self = self
			}
			if quiet {
				o.Progress = io.Discard
			}
			reps, err := experiment.Run(cmd.Context(), args[0], o)
			if args[0] == "all" && !asJSON {
				// One table: each experiment's finding is in its .txt file.
				for _, r := range reps {
					if serr := saveVerdicts(r); serr != nil && err == nil {
						err = serr
					}
					if r.Name == "all" {
						fmt.Fprintf(cmd.OutOrStdout(), "%s(findings, results and plots: %s)\n", r.Finding, r.Files[0])
					}
				}
				return err
			}
			if serr := showExperiments(cmd.OutOrStdout(), reps, asJSON, quiet); serr != nil && err == nil {
				err = serr
			}
			return err
		},
	}
	c.Flags().StringVar(&o.OutDir, "out", "", "directory for results, plots and findings (default results/experiments)")
	c.Flags().DurationVar(&o.Budget, "budget", experiment.DefaultBudget, "measuring time of one experiment (all: of the whole run, default 8m when left at 1m30s)")
	c.Flags().StringVar(&maxSize, "max-size", "", "largest netpipe message (default 1MiB)")
	c.Flags().BoolVar(&asJSON, "json", false, "print findings, files and verdicts as JSON (format lvsperf-experiment, with the headline)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, quietHelp)
	return c
}
