package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/runner"
)

// runNPtcp runs netpipe over NPtcp's protocol: against NPtcp, -2, --pairs.
func runNPtcp(ctx context.Context, f *netpipeFlags) error {
	cfg, stop, err := f.opts.NPConfig(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if !f.quiet {
		cfg.Progress = os.Stderr
	}
	res, runErr := netpipe.RunNP(ctx, cfg)
	return showRun(runner.Result{Run: res.Run, File: res.File}, runErr, showOptions{json: f.json, tableWithJSON: true, noPlots: f.noPlots, wide: f.wide})
}

// serveNPtcp answers NPtcp transmitters (NPtcp -h, or lvsperf netpipe
// --peer nptcp) until interrupted; with --pairs on that many consecutive ports.
func serveNPtcp(ctx context.Context, f *netpipeFlags) error {
	np, err := f.opts.NPOptions()
	if err != nil {
		return err
	}
	addrs := []string{f.listen}
	if f.opts.Pairs > 1 {
		if addrs, err = netpipe.PairAddrs(f.listen, f.opts.Pairs); err != nil {
			return err
		}
	}
	var servers []*netpipe.NPServer
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for _, a := range addrs {
		s, err := netpipe.NewNPServer(ctx, a, np)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		fmt.Fprintf(os.Stderr, "NPtcp 3.7 receiver on %s (-l %d -u %d -p %d%s); Ctrl-C stops it\n", s.Addr(), np.Start, np.End, np.Perturbation, map[bool]string{true: " -2"}[np.Bidir])
	}
	<-ctx.Done()
	var errs []error
	for _, s := range servers {
		_, p, _ := net.SplitHostPort(s.Addr())
		fmt.Fprintf(os.Stderr, "port %s: %d runs finished, %d failed\n", p, s.Done(), s.Errors())
		if s.Errors() > 0 {
			errs = append(errs, fmt.Errorf("port %s: last error: %w", p, s.Err()))
		}
	}
	return errors.Join(errs...)
}
