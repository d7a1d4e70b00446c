// Package probetest holds what the bulk-copy probes' tests share: servers
// and clients closed when a test ends, contexts bounded in time, payloads,
// and a sweep's saved run.
package probetest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// Timeout bounds a Context, and StartTimeout starting a server or a client.
const (
	Timeout      = 20 * time.Second
	StartTimeout = 10 * time.Second
)

// Context returns a context that ends after Timeout or with the test.
func Context(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return c
}

// Server starts a server with start, given StartTimeout, and closes it when
// the test ends; a failed start or Close fails the test.
func Server[S io.Closer](t testing.TB, start func(context.Context) (S, error)) S {
	t.Helper()
	s := open(t, start)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s
}

// Client dials with dial, given StartTimeout, and closes the client when
// the test ends; a failed dial fails the test.
func Client[C io.Closer](t testing.TB, dial func(context.Context) (C, error)) C {
	t.Helper()
	c := open(t, dial)
	t.Cleanup(func() { c.Close() })
	return c
}

func open[C io.Closer](t testing.TB, open func(context.Context) (C, error)) C {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitFor polls cond for up to 5 s and fails the test, naming what, if it
// never holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// PatternBytes returns the n bytes a probes.Pattern of n yields.
func PatternBytes(n timing.Bytes) []byte {
	var b bytes.Buffer
	io.Copy(&b, probes.NewPattern(n))
	return b.Bytes()
}

// FileBytes returns the first n bytes of every file the ftp and nfs probes
// write (probes.FillFile).
func FileBytes(n int) []byte {
	b := make([]byte, n)
	probes.FillFile(b, 0)
	return b
}

// SavedRun runs sweep with a context of timeout and loads the run it saved
// as name in out; an error of either fails the test, the sweep's prefixed
// with what.
func SavedRun(t testing.TB, what string, timeout time.Duration, out, name string, sweep func(context.Context) (runner.Result, error)) (runner.Result, *results.Run) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	res, err := sweep(ctx)
	cancel()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	run, err := results.Load(filepath.Join(out, name+results.Extension))
	if err != nil {
		t.Fatal(err)
	}
	return res, run
}

// TempDirs counts the entries of the temporary directory whose names match
// pattern (filepath.Match).
func TempDirs(t testing.TB, pattern string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), pattern))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}
