package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The benchmark re-runs its own executable as the director process;
	// under go test that executable is the test binary.
	if be := os.Getenv(childEnv); be != "" {
		if err := runChild(be); err != nil {
			fmt.Fprintln(os.Stderr, "director process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A tiny run of every path end to end: it must finish, print every path's
// row and the goal lines, and leave no haproxy behind.
func TestTinyRun(t *testing.T) {
	paths := "direct,director,director-blocking,director-iocopy,director-proc,haproxy"
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and haproxy is missing: install Debian package haproxy (%v)", err)
		}
		t.Logf("haproxy not installed (%v): running without it", err)
		paths = "direct,director,director-blocking,director-iocopy,director-proc"
	}
	o := options{rounds: 1, latIters: 50, bigSize: 64 << 10, bigIters: 3, streamReps: 5,
		crClients: 2, crDuration: 100 * time.Millisecond, crMax: 50, paths: paths,
		requireHAP: os.Getenv("CI") == "true"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Another benchmark on the machine may run its own haproxy: only one
	// this run started counts as left behind.
	others := haproxies()
	var out strings.Builder
	if err := run(ctx, o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, p := range strings.Split(paths, ",") {
		if !strings.Contains(out.String(), "  "+p+" ") {
			t.Errorf("output: want a row for %s, got:\n%s", p, out.String())
		}
	}
	if strings.Contains(paths, "haproxy") && !strings.Contains(out.String(), "goals for director vs haproxy") {
		t.Errorf("output: want the goal lines, got:\n%s", out.String())
	}
	for pid := range haproxies() {
		if !others[pid] {
			t.Errorf("haproxy still running after the run: pid %s", pid)
		}
	}
}

// haproxies are the pids of the benchmark's haproxy processes running now.
func haproxies() map[string]bool {
	b, _ := exec.Command("pgrep", "-f", "lvsperf-haproxy-").Output()
	pids := map[string]bool{}
	for _, p := range strings.Fields(string(b)) {
		pids[p] = true
	}
	return pids
}
