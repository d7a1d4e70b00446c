package main

import (
	"github.com/spf13/cobra"
)

// newServeNetpipeCmd is `lvsperf netpipe --serve` under `serve`, beside the
// other realserver-side servers.
func newServeNetpipeCmd() *cobra.Command {
	f := &netpipeFlags{}
	c := &cobra.Command{
		Use:   "netpipe",
		Short: "Run a netpipe receiver (ping-pong and stream) until interrupted; same as lvsperf netpipe --serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.parse(); err != nil {
				return err
			}
			return serveNetpipe(cmd.Context(), f)
		},
	}
	fl := c.Flags()
	listenFlag(fl, &f.listen, "127.0.0.1:5002", "address to listen on (0.0.0.0:5002 for other hosts)", "addr")
	fl.StringVarP(&f.buf, "buffer", "b", "0", "SO_SNDBUF and SO_RCVBUF of accepted connections; 0 keeps autotuning")
	fl.BoolVar(&f.nodelay, "nodelay", true, "set TCP_NODELAY")
	fl.DurationVar(&f.opts.IOTimeout, "io-timeout", 0, "how long to wait for a silent transmitter (default 30s)")
	f.start, f.end, f.pert = "1", "1", "0"
	return c
}
