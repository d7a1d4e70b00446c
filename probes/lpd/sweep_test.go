package lpd

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

func TestSweepSavesRunDirectAndDirector(t *testing.T) {
	for _, tc := range []struct {
		via   paths.Via
		spool bool
	}{{paths.Direct, true}, {paths.Director, false}} {
		out := t.TempDir()
		before := lpdSpoolDirs(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := Sweep(ctx, SweepOptions{MinExp: 0, MaxExp: 12, Spool: tc.spool, Path: paths.Spec{Via: tc.via},
			Timing: timing.Options{Budget: 1500 * time.Millisecond}, OutDir: out, Name: "t"})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.via, err)
		}
		r, err := results.Load(filepath.Join(out, "t"+results.Extension))
		if err != nil {
			t.Fatal(err)
		}
		if r.Probe != "lpd" || len(r.Series) != 1 || len(r.Series[0].Points) < 3 || !strings.HasPrefix(r.Series[0].Path, string(tc.via)) {
			t.Fatalf("%s: saved run %+v", tc.via, r.Series)
		}
		if after := lpdSpoolDirs(t); after != before {
			t.Errorf("temporary spool directories: %d before, %d after", before, after)
		}
	}
}

func lpdSpoolDirs(t *testing.T) int {
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "lvsperf-lpd-spool-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}
