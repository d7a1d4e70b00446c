package main

import (
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/runner"
)

// bulkFlags are the flags the bulk-copy probe commands (rsh, lpd, nfs, ftp)
// share: the sweep's budget, where its run goes and the path it takes.
type bulkFlags struct {
	budget      time.Duration
	out         string
	jsonOut     bool
	quiet       bool
	wide        bool
	via         string
	scheduler   string
	realservers int
}

// bind registers the shared flags; budgetHelp says how the budget is spent.
func (f *bulkFlags) bind(fl *pflag.FlagSet, budgetHelp string) {
	fl.DurationVar(&f.budget, "budget", 30*time.Second, budgetHelp)
	fl.StringVar(&f.out, "out", ".", "directory for the run file and plots")
	fl.BoolVar(&f.jsonOut, "json", false, "print the run as JSON (the shape of lvsperf export --format json, with the headline) instead of tables")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, quietHelp)
	fl.BoolVar(&f.wide, "wide", false, wideHelp)
	fl.StringVar(&f.via, "via", "direct", "path: direct or director (embedded servers only)")
	fl.StringVar(&f.scheduler, "scheduler", "rr", "director scheduler (with --via director)")
	fl.IntVar(&f.realservers, "realservers", 1, "servers behind the director (with --via director)")
}

// path is the path the flags name.
func (f *bulkFlags) path() paths.Spec {
	return paths.Spec{Via: paths.Via(f.via), Scheduler: f.scheduler, Realservers: f.realservers}
}

// report shows a sweep's run on the command's outputs: tables or JSON, the
// run file and the plots drawn beside it.
func (f *bulkFlags) report(cmd *cobra.Command, res runner.Result, runErr error) error {
	return showRun(res, runErr, showOptions{json: f.jsonOut, quiet: f.quiet, wide: f.wide, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()})
}

// progress is where a sweep's progress lines go: stderr, or nowhere with --quiet.
func (f *bulkFlags) progress(cmd *cobra.Command) io.Writer {
	if f.quiet {
		return io.Discard
	}
	return cmd.ErrOrStderr()
}

// withPort appends :port to a host given without one ("" stays "").
func withPort(host, port string) string {
	if host == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

// pathLabel names a bulk probe's run file: the path, or "remote" for --host.
func pathLabel(s paths.Spec, host string) string {
	if host != "" {
		return "remote"
	}
	if s.Via == paths.Director {
		return "director-" + s.Scheduler
	}
	return "direct"
}
