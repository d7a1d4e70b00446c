package main

import "github.com/spf13/cobra"

// newProbeCmd groups the bulk-copy probes: each protocol adds its subcommand
// (probe_rsh.go, probe_lpd.go, …) to the list below.
func newProbeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "probe",
		Short: "Sweep a bulk-copy probe (rsh, lpd, nfs, ftp) over file sizes, direct or through the director",
	}
	c.AddCommand(
		// probe subcommands: one line each
		newProbeNFSCmd(),
		newProbeFTPCmd(),
		newProbeRshCmd(),
		newProbeLpdCmd(),
	)
	return c
}
