// Command lvsperf measures what a network path and a Linux Virtual Server
// director cost: NetPIPE-style ping-pong and streams, an HTTP hammer and
// bulk-copy probes, run direct, through an embedded director, or in a
// network-namespace lab.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lvsperf:", err)
		os.Exit(exitCode(err))
	}
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

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
