package rsh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
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
		before := spoolDirs(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := Sweep(ctx, SweepOptions{MinExp: 0, MaxExp: 12, Sink: tc.sink, Path: paths.Spec{Via: tc.via},
			Timing: timing.Options{Budget: 1500 * time.Millisecond}, OutDir: out, Name: "t"})
		cancel()
		if err != nil {
			t.Fatalf("%s/%s: %v", tc.via, tc.sink, err)
		}
		r, err := results.Load(filepath.Join(out, "t"+results.Extension))
		if err != nil {
			t.Fatal(err)
		}
		if r.Probe != "rsh" || len(r.Series) != 1 || len(r.Series[0].Points) < 3 || !strings.HasPrefix(r.Series[0].Path, string(tc.via)) {
			t.Fatalf("%s/%s: saved run %+v", tc.via, tc.sink, r.Series)
		}
		if res.Run.Series[0].Info["command"] != tc.sink.Command(1<<20) {
			t.Errorf("info %v", res.Run.Series[0].Info)
		}
		if after := spoolDirs(t); after != before {
			t.Errorf("temporary spool directories: %d before, %d after", before, after)
		}
	}
}

func spoolDirs(t *testing.T) int {
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "lvsperf-rsh-spool-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}
