package main

import "github.com/spf13/cobra"

// newServeCmd groups the servers a realserver runs: each protocol adds its
// subcommand (serve_http.go, serve_rsh.go, …) to the list below.
func newServeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run a realserver-side server (http, rsh, lpd, nfs, ftp, netpipe) until interrupted",
	}
	c.AddCommand(
		// serve subcommands: one line each
		newServeHTTPCmd(),
		newServeNFSCmd(),
		newServeFTPCmd(),
		newServeRshCmd(),
		newServeLpdCmd(),
		newServeNetpipeCmd(),
	)
	return c
}
