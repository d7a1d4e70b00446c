package nfs

import (
	"context"
	"strconv"
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
		{UDP: true},
		{RWSizes: []timing.Bytes{100}},
	} {
		if _, err := Sweep(ctx, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := ParseDirs("sideways"); err == nil {
		t.Error("ParseDirs accepted sideways")
	}
}

// TestRWSizesOnTheWire checks on the server that both ends honour rsize
// and wsize over the sweep's range: every READ and WRITE go-nfs served
// carried exactly the size asked for (the last one of a file less).
func TestRWSizesOnTheWire(t *testing.T) {
	for _, sz := range DefaultRWSizes() {
		s := startServer(t, ServerOptions{})
		c := dial(t, ClientOptions{Addr: s.Addr(), RSize: sz, WSize: sz})
		if c.Info()["rsize_capped"] != "false" || c.Info()["wsize_capped"] != "false" {
			t.Fatalf("%v: go-nfs capped it: %v", sz, c.Info())
		}
		ctx := probetest.Context(t)
		n := 2*timing.MiB + 5
		if _, err := c.Write(ctx, "f", n); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(ctx, "f", n); err != nil {
			t.Fatal(err)
		}
		p := s.Payloads()
		calls := int64((n + sz - 1) / sz)
		if p.MaxWrite != sz || p.Writes != calls || p.WriteBytes != n {
			t.Errorf("wsize %v: server saw %d WRITEs of at most %v (%v in all); want %d of at most %v", sz, p.Writes, p.MaxWrite, p.WriteBytes, calls, sz)
		}
		if p.MaxRead != sz || p.Reads < calls || p.Reads > calls+1 || p.ReadBytes != n {
			t.Errorf("rsize %v: server saw %d READs of at most %v (%v in all); want %d of at most %v", sz, p.Reads, p.MaxRead, p.ReadBytes, calls, sz)
		}
	}
}

func TestSweepRWSizes(t *testing.T) {
	sizes := []timing.Bytes{1 * timing.KiB, 64 * timing.KiB}
	res, err := Sweep(probetest.Context(t), SweepOptions{MinExp: 10, MaxExp: 16, RWSizes: sizes, Timing: timing.Options{Budget: 3 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nfs read rsize 1KiB", "nfs read rsize 64KiB", "nfs write wsize 1KiB", "nfs write wsize 64KiB"}
	if len(res.Run.Series) != len(want) {
		t.Fatalf("%d series, want %d", len(res.Run.Series), len(want))
	}
	for i, s := range res.Run.Series {
		key := map[bool]string{true: "rsize", false: "wsize"}[i < 2]
		if s.Label != want[i] || s.Info[key] != strconv.FormatInt(int64(sizes[i%2]), 10) || s.Info[key+"_capped"] != "false" || len(s.Points) == 0 {
			t.Errorf("series %d: %q, %s %q (capped %q), %d points; want %q", i, s.Label, key, s.Info[key], s.Info[key+"_capped"], len(s.Points), want[i])
		}
	}
	if res.Run.Options["rwsizes"] != "1024,65536" {
		t.Errorf("options %v", res.Run.Options)
	}
}
