package ptester

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
)

func TestSweepDirect(t *testing.T) {
	run, err := Sweep(context.Background(), SweepOptions{
		Hammer: Options{Duration: 100 * time.Millisecond, KeepAlive: 20, Clients: 2},
		From:   0, To: 4, Trials: 2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete || run.Probe != "http" || run.Path != "direct" || len(run.Series) != 2 {
		t.Fatalf("run: complete %v probe %q path %q, %d series", run.Complete, run.Probe, run.Path, len(run.Series))
	}
	for _, s := range run.Series {
		if len(s.Points) != 5 {
			t.Fatalf("%s: %d points, want 5", s.Label, len(s.Points))
		}
		for i, p := range s.Points {
			if p.Bytes != 1<<i || p.Transfers == 0 || len(p.Trials) != 2 || p.Min <= 0 || p.Min > p.Median || p.Median > p.Max ||
				p.Fastest > p.Min || p.Slowest < p.Max || len(p.Quantiles) == 0 {
				t.Errorf("%s point %d: %+v", s.Label, i, p)
			}
			if HitsPerSec(s)[i] <= 0 {
				t.Errorf("%s point %d: no hits/sec in Info", s.Label, i)
			}
		}
		if s.Fit == nil && s.FitError == "" {
			t.Errorf("%s: neither a fit nor a fit error", s.Label)
		}
	}
	// Persistent connections carry 20 GETs each; non-persistent one.
	if run.Series[0].Info["keepalive"] != "20" || run.Series[1].Info["keepalive"] != "1" {
		t.Errorf("modes: %v / %v", run.Series[0].Info["keepalive"], run.Series[1].Info["keepalive"])
	}
	dir := t.TempDir()
	if err := results.Save(filepath.Join(dir, "r.msgpack"), run); err != nil {
		t.Fatal(err)
	}
	back, err := results.Load(filepath.Join(dir, "r.msgpack"))
	if err != nil || len(back.Series) != 2 || back.Series[1].Info[InfoKey(InfoHitsPerSec, 16)] != run.Series[1].Info[InfoKey(InfoHitsPerSec, 16)] {
		t.Fatalf("round trip through results.Save/Load: %v", err)
	}
	files, err := WritePlots(dir, "http", run)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"http-hits.png", "http-rate.svg", "http-minmax.png", "http-time.png"} {
		found := false
		for _, f := range files {
			if filepath.Base(f) == want {
				st, err := os.Stat(f)
				found = err == nil && st.Size() > 1000
			}
		}
		if !found {
			t.Errorf("plot %s missing or empty; wrote %v", want, files)
		}
	}
	var b strings.Builder
	if err := WriteSweepText(&b, run, false); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") < 11 {
		t.Errorf("sweep table:\n%s", b.String())
	}
}

func TestSweepRejectsBadOptions(t *testing.T) {
	for _, so := range []SweepOptions{
		{To: 27},
		{From: 5, To: 3},
		{Hammer: Options{KeepAlive: 1}},
		{Trials: -1},
		{Hammer: Options{Duration: 5 * time.Millisecond}},
	} {
		if _, err := Sweep(context.Background(), so, nil); err == nil {
			t.Errorf("%+v: no error", so)
		}
	}
}

// TestDirectorPath hammers two file servers through the embedded director
// and checks that both got work.
func TestDirectorPath(t *testing.T) {
	var servers []*Server
	p, err := paths.Start(context.Background(), paths.Spec{Via: paths.Director, Scheduler: "rr", Realservers: 2},
		func(ctx context.Context) (string, func() error, error) {
			s, err := NewFileServer(ctx, ServerOptions{})
			if err != nil {
				return "", nil, err
			}
			servers = append(servers, s)
			return s.Addr(), s.Close, nil
		})
	if err != nil && strings.Contains(err.Error(), "not implemented yet") {
		t.Skipf("the director path is not there yet: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close path: %v", err)
		}
	})
	rep, err := Run(context.Background(), Options{Target: p.Target, Path: FilePath(10), KeepAlive: 5, Clients: 4, Duration: 300 * time.Millisecond, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errs() != 0 || rep.Requests == 0 {
		t.Fatalf("through the director: %d requests, errors %v (%s)", rep.Requests, rep.Errors, rep.LastError)
	}
	for i, s := range servers {
		if s.Stats().Requests == 0 {
			t.Errorf("realserver %d got no request through the rr director", i+1)
		}
	}
	run, err := Sweep(context.Background(), SweepOptions{
		Hammer: Options{Duration: 60 * time.Millisecond, KeepAlive: 10, Clients: 2},
		To:     2, Trials: 1,
		Path: paths.Spec{Via: paths.Director, Realservers: 2},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Path != "director/proxy/rr" || len(run.Series[0].Points) != 3 || run.Series[0].Info["path.realserver2"] == "" {
		t.Errorf("director sweep: path %q, %d points, info %v", run.Path, len(run.Series[0].Points), run.Series[0].Info)
	}
}

func TestRunPath(t *testing.T) {
	for _, spec := range []paths.Spec{{Via: paths.Direct}, {Via: paths.Director, Realservers: 2, Scheduler: "wrr"}} {
		rep, err := RunPath(context.Background(), Options{Path: FilePath(3), KeepAlive: 3, Clients: 2, Duration: 150 * time.Millisecond}, spec, ServerOptions{})
		if err != nil && strings.Contains(err.Error(), "not implemented yet") {
			t.Logf("%s: skipped: %v", spec.Via, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", spec.Via, err)
		}
		if rep.Requests == 0 || rep.Errs() != 0 || rep.BodyBytes != int64(rep.Requests)*8 {
			t.Errorf("%s: %d requests, %d bytes, errors %v (%s)", spec.Via, rep.Requests, rep.BodyBytes, rep.Errors, rep.LastError)
		}
	}
	if _, err := RunPath(context.Background(), Options{Target: "127.0.0.1:1"}, paths.Spec{}, ServerOptions{}); err == nil {
		t.Error("RunPath with a host: no error")
	}
}
