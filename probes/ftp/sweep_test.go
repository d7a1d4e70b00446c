package ftp

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
	for _, c := range []struct {
		via    paths.Spec
		client ClientOptions
		server ServerOptions
	}{
		{paths.Spec{Via: paths.Direct}, ClientOptions{LoginPerTransfer: true}, ServerOptions{Sink: true}},
		{paths.Spec{Via: paths.Director, Realservers: 2}, ClientOptions{}, ServerOptions{}},
		{paths.Spec{Via: paths.Director}, ClientOptions{Active: true}, ServerOptions{Storage: Disk}},
	} {
		out := t.TempDir()
		_, run := probetest.SavedRun(t, string(c.via.Via)+" "+c.client.Mode(), 30*time.Second, out, "ftp", func(ctx context.Context) (runner.Result, error) {
			return Sweep(ctx, SweepOptions{
				Path: c.via, MaxExp: 12, Client: c.client, Server: c.server,
				Timing: timing.Options{Budget: 2 * time.Second}, OutDir: out, Name: "ftp",
			})
		})
		if !run.Complete || run.Probe != "ftp" || len(run.Series) != 2 {
			t.Fatalf("%s: complete %v, probe %q, %d series", c.via.Via, run.Complete, run.Probe, len(run.Series))
		}
		for _, s := range run.Series {
			if len(s.Points) == 0 || s.Info["mode"] != c.client.Mode() {
				t.Fatalf("%s: %d points, info %v", s.Label, len(s.Points), s.Info)
			}
			if c.via.Via == paths.Director && s.Info["data_path"] == "" {
				t.Fatalf("%s: a director run does not say where data went", s.Label)
			}
		}
	}
}
