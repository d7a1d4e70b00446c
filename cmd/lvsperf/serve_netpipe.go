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
		Short: "Run a netpipe receiver (ping-pong and stream, or NPtcp 3.7's protocol with --peer nptcp) until interrupted; same as lvsperf netpipe --serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.parse(); err != nil {
				return err
			}
			if f.opts.UsesNP() {
				return serveNPtcp(cmd.Context(), f)
			}
			return serveNetpipe(cmd.Context(), f)
		},
	}
	fl := c.Flags()
	listenFlag(fl, &f.listen, "127.0.0.1:5002", "address to listen on (0.0.0.0:5002 for other hosts)", "addr")
	fl.StringVarP(&f.buf, "buffer", "b", "0", "SO_SNDBUF and SO_RCVBUF of accepted connections; 0 keeps autotuning")
	fl.BoolVar(&f.nodelay, "nodelay", true, "set TCP_NODELAY")
	fl.DurationVar(&f.opts.IOTimeout, "io-timeout", 0, "how long to wait for a silent transmitter (default 30s)")
	fl.StringVar(&f.opts.Peer, "peer", "lvsperf", "protocol to answer: lvsperf, or nptcp (NetPIPE 3.7's NPtcp transmitters; give -l, -u, -p, -2 as the transmitter has them)")
	fl.BoolVarP(&f.opts.Bidir, "bidir", "2", false, "with --peer nptcp: bidirectional, NetPIPE's -2")
	fl.IntVar(&f.opts.Pairs, "pairs", 1, "with --peer nptcp: listen on this many consecutive ports, one per pair")
	fl.StringVarP(&f.start, "start", "l", "1", "with --peer nptcp: smallest message size (NetPIPE -l)")
	fl.StringVarP(&f.end, "end", "u", "10000000", "with --peer nptcp: largest base message size (NetPIPE -u)")
	fl.StringVarP(&f.pert, "perturbation", "p", "3", "with --peer nptcp: perturbation (NetPIPE -p)")
	return c
}
