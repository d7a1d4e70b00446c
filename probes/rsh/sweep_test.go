package rsh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

func TestSinkCommand(t *testing.T) {
	for n, want := range map[timing.Bytes]string{
		1: "(cd /usr; cat > file.0)", 1 << 20: "(cd /usr; cat > file.20)", 1000: "(cd /usr; cat > file.1000B)",
	} {
		if got := SinkNameDisk.Command(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
		if _, err := ParseCommand(SinkNameDisk.Command(n)); err != nil {
			t.Errorf("our server refuses our own disk command: %v", err)
		}
	}
	if got := SinkNameNull.Command(5); got != "cat > /dev/null" {
		t.Errorf("null sink: %q", got)
	}
}

func TestSweepSavesRunDirectAndDirector(t *testing.T) {
	for _, tc := range []struct {
		via  paths.Via
		sink Sink
	}{{paths.Direct, SinkNameDisk}, {paths.Director, SinkNameNull}} {
		out := t.TempDir()
		before := probetest.TempDirs(t, "lvsperf-rsh-spool-*")
		res, r := probetest.SavedRun(t, string(tc.via)+"/"+string(tc.sink), 20*time.Second, out, "t", func(ctx context.Context) (runner.Result, error) {
			return Sweep(ctx, SweepOptions{MinExp: 0, MaxExp: 12, Sink: tc.sink, Path: paths.Spec{Via: tc.via},
				Timing: timing.Options{Budget: 1500 * time.Millisecond}, OutDir: out, Name: "t"})
		})
		if r.Probe != "rsh" || len(r.Series) != 1 || len(r.Series[0].Points) < 3 || !strings.HasPrefix(r.Series[0].Path, string(tc.via)) {
			t.Fatalf("%s/%s: saved run %+v", tc.via, tc.sink, r.Series)
		}
		if res.Run.Series[0].Info["command"] != tc.sink.Command(1<<20) {
			t.Errorf("info %v", res.Run.Series[0].Info)
		}
		if after := probetest.TempDirs(t, "lvsperf-rsh-spool-*"); after != before {
			t.Errorf("temporary spool directories: %d before, %d after", before, after)
		}
	}
}
