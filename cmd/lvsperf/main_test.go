package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/results"
)

// TestMain lets the tests run this binary as lvsperf itself, so a real
// process can be killed mid-run.
func TestMain(m *testing.M) {
	if os.Getenv("LVSPERF_BE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lvsperf runs the command tree in-process and returns its error and stdout.
func lvsperf(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestNetpipeBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"netpipe", "-l", "100", "-u", "10", "--out", dir}, "below start"},
		{[]string{"netpipe", "-u", "lots", "--out", dir}, "--end"},
		{[]string{"netpipe", "-h", "127.0.0.1:1", "--out", dir, "-q"}, "connect to receiver"},
		{[]string{"netpipe", "--via", "sideways", "--out", dir, "-q"}, "want"},
		{[]string{"netpipe", "-b", "-5", "--out", dir}, "--buffer"},
		{[]string{"netpipe", "--cpu", "4095", "-u", "64", "--out", dir, "-q"}, "--cpu 4095"},
	} {
		_, err := lvsperf(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lvsperf %v: err %v, want one mentioning %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("lvsperf %v: error is not one line: %q", tc.args, err)
		}
	}
}

func TestNetpipeLoopbackRun(t *testing.T) {
	dir := t.TempDir()
	if _, err := lvsperf(t, "netpipe", "-u", "64k", "--budget", "3s", "--cpu", "0", "--out", dir, "--name", "np", "-q"); err != nil {
		t.Fatal(err)
	}
	run, err := results.Load(filepath.Join(dir, "np.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete || len(run.Series) != 1 || len(run.Series[0].Points) < 20 || run.Series[0].Fit == nil {
		t.Fatalf("run complete=%v series=%d: %+v", run.Complete, len(run.Series), run.Series)
	}
	if run.Options["cpu"] != "0" {
		t.Errorf("the run does not record its CPU pinning: %v", run.Options)
	}
	if run.Env.Kernel == "" || run.Env.GoVersion == "" || run.Series[0].Info["so_sndbuf"] == "" {
		t.Errorf("run does not record where it ran: env %+v info %v", run.Env, run.Series[0].Info)
	}
}

func TestKilledRunKeepsFinishedSizes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "killed.msgpack")
	cmd := exec.Command(os.Args[0], "netpipe", "-u", "8M", "--trial-time", "40ms", "--out", dir, "--name", "killed", "-q", "--no-plots")
	cmd.Env = append(os.Environ(), "LVSPERF_BE_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until a few sizes are on disk, then kill without warning.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r, err := results.Load(file); err == nil && len(r.Series) > 0 && len(r.Series[0].Points) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("no checkpoint with 5 sizes within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	run, err := results.Load(file)
	if err != nil {
		t.Fatalf("after SIGKILL the result file does not load: %v", err)
	}
	if run.Complete || len(run.Series[0].Points) < 5 {
		t.Errorf("complete=%v with %d points; want an incomplete run keeping ≥ 5 sizes", run.Complete, len(run.Series[0].Points))
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	for _, l := range leftovers {
		// A temporary file may be left by the kill; it must never be the result.
		if filepath.Base(l) == "killed.msgpack" {
			t.Errorf("torn file %s", l)
		}
	}
}

func TestInterruptedRunSavesAndSays(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "netpipe", "-u", "8M", "--trial-time", "40ms", "--out", dir, "--name", "int", "-q", "--no-plots")
	cmd.Env = append(os.Environ(), "LVSPERF_BE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Fatal("interrupted run exited 0")
	}
	if !strings.Contains(stderr.String(), "kept in") {
		t.Errorf("stderr does not say where the finished sizes are: %q", stderr.String())
	}
	run, lerr := results.Load(filepath.Join(dir, "int.msgpack"))
	if lerr != nil || run.Complete || run.Error == "" || len(run.Series[0].Points) == 0 {
		t.Fatalf("interrupted run: %v complete=%v error=%q", lerr, run != nil && run.Complete, run.Error)
	}
}
