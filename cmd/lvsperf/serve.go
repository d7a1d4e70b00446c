package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newServeCmd groups the servers a realserver runs: each protocol adds its
// subcommand (serve_http.go, serve_rsh.go, …) to the list below.
func newServeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run a realserver-side server (http, rsh, lpd, nfs, ftp, netpipe, stream) until interrupted",
	}
	c.AddCommand(
		// serve subcommands: one line each
		newServeHTTPCmd(),
		newServeNFSCmd(),
		newServeFTPCmd(),
		newServeRshCmd(),
		newServeLpdCmd(),
		newServeNetpipeCmd(),
		newServeStreamCmd(),
	)
	return c
}

// listenFlag registers a server's --listen ADDR, the one name every serve
// subcommand uses, and older names (serve http's --addr) as hidden aliases
// bound to the same value.
func listenFlag(fs *pflag.FlagSet, p *string, def, usage string, aliases ...string) {
	fs.StringVar(p, "listen", def, usage)
	for _, a := range aliases {
		fs.StringVar(p, a, def, "alias of --listen")
		_ = fs.MarkHidden(a)
	}
}
