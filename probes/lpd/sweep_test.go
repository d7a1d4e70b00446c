package lpd

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

func TestSweepSavesRunDirectAndDirector(t *testing.T) {
	for _, tc := range []struct {
		via   paths.Via
		spool bool
	}{{paths.Direct, true}, {paths.Director, false}} {
		out := t.TempDir()
		before := probetest.TempDirs(t, "lvsperf-lpd-spool-*")
		_, r := probetest.SavedRun(t, string(tc.via), 20*time.Second, out, "t", func(ctx context.Context) (runner.Result, error) {
			return Sweep(ctx, SweepOptions{MinExp: 0, MaxExp: 12, Spool: tc.spool, Path: paths.Spec{Via: tc.via},
				Timing: timing.Options{Budget: 1500 * time.Millisecond}, OutDir: out, Name: "t"})
		})
		if r.Probe != "lpd" || len(r.Series) != 1 || len(r.Series[0].Points) < 3 || !strings.HasPrefix(r.Series[0].Path, string(tc.via)) {
			t.Fatalf("%s: saved run %+v", tc.via, r.Series)
		}
		if after := probetest.TempDirs(t, "lvsperf-lpd-spool-*"); after != before {
			t.Errorf("temporary spool directories: %d before, %d after", before, after)
		}
	}
}
