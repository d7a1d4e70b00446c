package runner_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/internal/cpuidle"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

func TestTwoLegsShareBudgetAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg, err := netpipe.RunOptions{End: 64 * timing.KiB, Budget: 2 * time.Second, Via: []string{"direct", "director"},
		OutDir: dir, Name: "two"}.Config("netpipe", netpipe.DialProbe)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "two.msgpack")
	checkpoints := 0
	var progress bytes.Buffer
	cfg.Progress = &progress
	dial := cfg.Dial
	cfg.Dial = func(ctx context.Context, target string) (runner.Probe, error) {
		// Each leg dials once; by the second leg the first one is on disk.
		if r, err := results.Load(file); err == nil && len(r.Series) == 1 && len(r.Series[0].Points) > 0 {
			checkpoints++
		}
		return dial(ctx, target)
	}
	start := time.Now()
	res, err := runner.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("a 2s budget over two legs took %v", el)
	}
	if len(res.Run.Series) != 2 || res.Run.Series[0].Path != "direct" || !strings.HasPrefix(res.Run.Series[1].Path, "director/") {
		t.Fatalf("series %d: %+v", len(res.Run.Series), res.Run.Series)
	}
	if checkpoints != 1 {
		t.Errorf("the first leg was not on disk when the second started")
	}
	if !strings.Contains(progress.String(), "netpipe director(rr) [") {
		t.Errorf("no progress lines for the director leg:\n%s", progress.String())
	}
	var table bytes.Buffer
	if err := runner.WriteTable(&table, res.Run, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"netpipe direct (direct)", "fit: latency", "Mbit/s"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

func TestNothingToRun(t *testing.T) {
	if _, err := runner.Run(context.Background(), runner.Config{}); err == nil {
		t.Error("a run without legs gave no error")
	}
}

// TestIdlePollRecorded holds the real PM QoS request for a short run (root
// on Linux) and checks the run says so, in its env, options and table.
func TestIdlePollRecorded(t *testing.T) {
	if _, err := os.Stat(cpuidle.QoSPath); err != nil {
		t.Skipf("no %s on this kernel", cpuidle.QoSPath)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it")
		}
		t.Skip("needs root to write " + cpuidle.QoSPath)
	}
	cfg, err := netpipe.RunOptions{End: 1 * timing.KiB, Budget: 500 * time.Millisecond, Via: []string{"direct"},
		IdlePoll: true}.Config("netpipe", netpipe.DialProbe)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runner.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Run.Env.IdlePoll || res.Run.Options["idle_poll"] != "true" {
		t.Fatalf("env idle_poll %v, options %v", res.Run.Env.IdlePoll, res.Run.Options)
	}
	var table bytes.Buffer
	if err := runner.WriteTable(&table, res.Run, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "--idle-poll") {
		t.Errorf("table does not say the run polled:\n%s", table.String())
	}
}
