// Package comparetest builds synthetic runs for the tests of compare,
// report and the commands that use them: series that follow the Hockney
// model latency + bytes/max_rate, with seeded, reproducible trial noise.
package comparetest

import (
	"math/rand/v2"
	"time"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Path is one series of a synthetic run.
type Path struct {
	// Label and Path name the series ("netpipe direct", "direct").
	Label, Path string
	// Latency and Rate are the model's parameters.
	Latency time.Duration
	Rate    timing.BitsPerSecond
	// Noise is the relative size of the trial noise (0.03 = up to 3%
	// added to each trial, as contention only ever adds time).
	Noise float64
	// Slow multiplies every time (1.25 = a path 20% slower); 0 means 1.
	Slow float64
	// Spike multiplies the times at this one size only (a noisy point).
	Spike      timing.Bytes
	SpikeSlow  float64
	Sizes      []timing.Bytes
	Trials     int
	SkipFitted bool
}

// Sizes returns 1 B to 1 MiB, two per octave (1, 2, 3, 4, 6, 8, 12, …).
func Sizes() []timing.Bytes {
	s, err := timing.NetPIPESizes(1, timing.MiB, 0)
	if err != nil {
		panic(err) // constant arguments: cannot fail
	}
	return s
}

// Run builds a run of probe with one series per path; seed makes the
// trial noise reproducible.
func Run(probe string, seed uint64, paths ...Path) *results.Run {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := &results.Run{
		Format: results.Format, Schema: results.Schema,
		ID:       "fixture",
		Probe:    probe,
		Started:  time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 11, 24, 12, 0, 30, 0, time.UTC),
		Complete: true,
		Env: results.Env{Tool: "lvsperf 0.1.0", Host: "fixture", Kernel: "6.18.0", CPU: "Fixture CPU @ 3.0GHz",
			CPUs: 2, GoVersion: "go1.26.8", GOMAXPROCS: 2, MTU: map[string]int{"lo": 65536}, LoadBefore: 0.5, LoadAfter: 0.6},
		Options: map[string]string{"end": "1048576"},
	}
	for _, p := range paths {
		sizes := p.Sizes
		if sizes == nil {
			sizes = Sizes()
		}
		trials := p.Trials
		if trials == 0 {
			trials = 3
		}
		slow := p.Slow
		if slow == 0 {
			slow = 1
		}
		s := results.Series{Path: p.Path}
		s.Label = p.Label
		for _, n := range sizes {
			model := float64(p.Latency) + float64(n.Bits())/float64(p.Rate)*1e9
			model *= slow
			if n == p.Spike && p.SpikeSlow > 0 {
				model *= p.SpikeSlow
			}
			pt := timing.Point{Bytes: n, Reps: 100}
			for range trials {
				pt.Trials = append(pt.Trials, time.Duration(model*(1+p.Noise*rng.Float64())))
			}
			summarize(&pt)
			s.Points = append(s.Points, pt)
		}
		if !p.SkipFitted {
			s.Refit()
		}
		r.Series = append(r.Series, s)
	}
	if len(r.Series) > 0 {
		r.Path = r.Series[0].Path
	}
	return r
}

func summarize(p *timing.Point) {
	t := append([]time.Duration(nil), p.Trials...)
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j] < t[j-1]; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
	p.Min, p.Max, p.Median = t[0], t[len(t)-1], t[len(t)/2]
	var sum time.Duration
	for _, x := range t {
		sum += x
	}
	p.Mean = sum / time.Duration(len(t))
}
