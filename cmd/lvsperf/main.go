// Command lvsperf measures what a network path and a Linux Virtual Server
// director cost: NetPIPE-style ping-pong and streams, an HTTP hammer and
// bulk-copy probes, run direct, through an embedded director, or in a
// network-namespace lab.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/internal/hint"
)

// Exit codes: each means one thing (README "Exit codes").
const (
	exitOK = 0
	// exitFailed: the run (or the comparison: a regression) failed.
	exitFailed = 1
	// exitUsage: usage or input error — an unknown command or flag, a bad
	// flag value, input that cannot be read or compared.
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command tree with args and returns the exit code; an
// error goes to stderr with a hint that matches its kind.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Errors before the command's own hooks and RunE are usage errors:
	// flags that do not parse, unknown commands, wrong argument counts.
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code == exitFailed && (!started || strings.HasPrefix(err.Error(), "required flag")) {
		code = exitUsage
	}
	fmt.Fprintln(stderr, "lvsperf:", err)
	if h := hint.For(err, serverOf(cmd)); h != "" {
		fmt.Fprintln(stderr, "hint:", h)
	} else if code == exitUsage && cmd != nil && !started {
		fmt.Fprintf(stderr, "see: %s --help\n", cmd.CommandPath())
	}
	return code
}

// serverOf names what should listen at the far end of cmd's connections.
func serverOf(cmd *cobra.Command) string {
	if cmd == nil {
		return ""
	}
	path := strings.TrimPrefix(cmd.CommandPath(), "lvsperf ")
	switch {
	case path == "netpipe" || path == "stream":
		return "`lvsperf netpipe --serve` (or NPtcp); for a timed stream (-t, -c): `lvsperf serve stream` (or iperf3 -s)"
	case path == "ptester":
		return "`lvsperf serve http` (or a web server)"
	case strings.HasPrefix(path, "probe "):
		p := strings.TrimPrefix(path, "probe ")
		return "`lvsperf serve " + p + "` (or the " + p + " daemon)"
	case strings.HasPrefix(path, "cluster") || path == "agent":
		return "`lvsperf agent`"
	}
	return ""
}

// exitError carries a process exit code other than 1 (compare uses 2 for
// "cannot compare").
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExitCode wraps err so the process exits with code.
func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageError marks err as a usage or input error (exit 2): a flag value
// that does not parse or is out of range.
func usageError(err error) error { return withExitCode(exitUsage, err) }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}
