package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// fixedProbe takes d per transfer, timed one by one.
type fixedProbe struct{ d time.Duration }

func (p fixedProbe) Run(_ context.Context, _ timing.Bytes, each []time.Duration) (timing.Batch, error) {
	for i := range each {
		each[i] = p.d
	}
	return timing.Batch{Total: p.d * time.Duration(len(each)), Timed: true}, nil
}
func (fixedProbe) Close() error            { return nil }
func (fixedProbe) Info() map[string]string { return nil }

func TestSlowProbeAddsItsShare(t *testing.T) {
	p := &slowProbe{Probe: fixedProbe{d: 40 * time.Microsecond}, f: 1/(1-0.2) - 1}
	each := make([]time.Duration, 4)
	b, err := p.Run(context.Background(), 100, each)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range each {
		if d != 50*time.Microsecond {
			t.Fatalf("a 40µs transfer slowed by 20%% took %v, want 50µs (rate ×0.8)", d)
		}
	}
	if b.Total != 200*time.Microsecond {
		t.Errorf("batch total %v, want 200µs", b.Total)
	}
	if p.Info()["slowdown_factor"] != "0.2500" {
		t.Errorf("info does not record the slowdown: %v", p.Info())
	}
}

func TestMergePoolsTrials(t *testing.T) {
	mk := func(label string, trials ...time.Duration) results.Series {
		s := results.Series{Path: label}
		s.Label = label
		for _, n := range []timing.Bytes{1, 2, 4, 8} {
			s.Points = append(s.Points, summarize(n, 10, trials))
		}
		return s
	}
	a := &results.Run{Probe: "netpipe", Complete: true, Options: map[string]string{}, Series: []results.Series{
		mk("d", 10*time.Microsecond, 12*time.Microsecond), mk("r", 30*time.Microsecond, 31*time.Microsecond)}}
	// The second round ran the legs in the other order.
	b := &results.Run{Probe: "netpipe", Complete: true, Options: map[string]string{}, Series: []results.Series{
		mk("r", 29*time.Microsecond, 40*time.Microsecond), mk("d", 11*time.Microsecond, 9*time.Microsecond)}}
	m, err := merge([]*results.Run{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Series) != 2 || m.Series[0].Label != "d" {
		t.Fatalf("merged series %+v", m.Series)
	}
	p := m.Series[0].Points[0]
	if len(p.Trials) != 4 || p.Min != 9*time.Microsecond || p.Max != 12*time.Microsecond {
		t.Errorf("pooled point %+v, want 4 trials from 9µs to 12µs", p)
	}
	if r := m.Series[1].Points[2]; r.Min != 29*time.Microsecond || r.Max != 40*time.Microsecond {
		t.Errorf("second series pooled %+v", r)
	}
	if m.Series[0].Info["merged_rounds"] != "2" {
		t.Error("the merged series does not say it pools two rounds")
	}
}

func TestUnreadableBaselineIsExit2BeforeMeasuring(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/baseline.msgpack"
	if err := os.WriteFile(bad, []byte("not a run"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	start := time.Now()
	if code := run(context.Background(), []string{"-baseline", bad, "-out", dir}, &out, &errs); code != 2 {
		t.Errorf("exit %d, want 2; stderr: %s", code, errs.String())
	}
	if !strings.Contains(errs.String(), "not an lvsperf result file") {
		t.Errorf("stderr does not say why: %q", errs.String())
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the suite measured before reading its baseline")
	}
}
