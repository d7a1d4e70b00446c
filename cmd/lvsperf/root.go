package main

import (
	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/results"
)

// newRootCmd builds the command tree. Each subcommand lives in its own file
// as a newXxxCmd function that binds flags into an options struct and calls a
// package; add it to the list below.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "lvsperf",
		Short:         "Network and LVS director benchmarks: netpipe, stream, http, rsh, lpd, nfs, ftp",
		Version:       results.ToolVersion,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newNetpipeCmd(),
		newStreamCmd(),
		newLatencyTableCmd(),
		newServeCmd(),
		newProbeCmd(),
		newPtesterCmd(),
		newLabCmd(), newExperimentCmd(),
		newPlotCmd(), newExportCmd(),
		newDirectorCmd(), newIpvsadmCmd(),
		newCompareCmd(), newReportCmd(),
		newAgentCmd(), newClusterCmd(),
	)
	return root
}
