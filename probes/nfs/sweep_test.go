package nfs

import (
	"context"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

func TestSweepDirectAndDirector(t *testing.T) {
	for _, via := range []paths.Spec{{Via: paths.Direct}, {Via: paths.Director, Realservers: 2}} {
		out := t.TempDir()
		res, run := probetest.SavedRun(t, string(via.Via), 30*time.Second, out, "nfs", func(ctx context.Context) (runner.Result, error) {
			return Sweep(ctx, SweepOptions{
				Path: via, MinExp: 0, MaxExp: 12, Client: ClientOptions{RSize: 4096, WSize: 4096},
				Timing: timing.Options{Budget: 2 * time.Second}, OutDir: out, Name: "nfs",
			})
		})
		if !run.Complete || run.Probe != "nfs" || len(run.Series) != 2 {
			t.Fatalf("%s: complete %v, probe %q, %d series; want a complete nfs run with read and write", via.Via, run.Complete, run.Probe, len(run.Series))
		}
		for _, s := range run.Series {
			if len(s.Points) == 0 || s.Info["rsize"] != "4096" || s.Info["direction"] == "" {
				t.Fatalf("%s %s: %d points, info %v", via.Via, s.Label, len(s.Points), s.Info)
			}
			if via.Via == paths.Director && s.Path != "director/proxy/rr" {
				t.Fatalf("series path %q, want director/proxy/rr", s.Path)
			}
		}
		if res.Run == nil {
			t.Fatal("no run returned")
		}
	}
}

func TestSweepRefusesNonsense(t *testing.T) {
	ctx := context.Background()
	for _, o := range []SweepOptions{
		{Client: ClientOptions{Addr: "127.0.0.1:1"}, Path: paths.Spec{Via: paths.Director}},
		{Client: ClientOptions{MountAddr: "127.0.0.1:1"}},
		{MaxExp: 31},
		{MinExp: 5, MaxExp: 2},
	} {
		if _, err := Sweep(ctx, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := ParseDirs("sideways"); err == nil {
		t.Error("ParseDirs accepted sideways")
	}
}
