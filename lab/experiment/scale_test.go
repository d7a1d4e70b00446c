package experiment

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/timing"
)

func TestScaleTopologyValidates(t *testing.T) {
	for _, k := range []int{1, 4} {
		for _, r := range []int{1, 4} {
			topo := newScaleTopo(k, r)
			if err := topo.spec.Validate(); err != nil {
				t.Errorf("%d clients, %d realservers: %v", k, r, err)
			}
			if len(topo.clients) != k || len(topo.rsAddr) != r {
				t.Errorf("%d clients, %d realservers: got %d and %d", k, r, len(topo.clients), len(topo.rsAddr))
			}
		}
	}
}

func TestScaleVerdicts(t *testing.T) {
	for _, c := range []struct {
		ratios []float64
		want   Outcome
	}{
		{[]float64{0.97, 1.02, 1.05}, Reproduced},
		{[]float64{1.5, 1.9, 1.7}, NotReproduced},
		{[]float64{0.9, 1.3, 1.0}, Inconclusive},
		{nil, Inconclusive},
	} {
		if got := serialVerdict(c.ratios); got != c.want {
			t.Errorf("serialVerdict(%v) = %s, want %s", c.ratios, got, c.want)
		}
	}
	for _, c := range []struct {
		ratios []float64
		want   Outcome
	}{
		{[]float64{1.9, 2.0, 1.7}, Reproduced},
		{[]float64{1.0, 1.1, 0.95}, NotReproduced},
		{[]float64{1.3, 1.8, 1.9}, Inconclusive},
	} {
		if got := scalingVerdict(c.ratios); got != c.want {
			t.Errorf("scalingVerdict(%v) = %s, want %s", c.ratios, got, c.want)
		}
	}
}

// TestScaleFindingFromFigures builds figures where one serial client gains
// nothing and 4×4 clients scale linearly, and checks the printed verdicts.
func TestScaleFindingFromFigures(t *testing.T) {
	figs := map[scaleCell][]scaleFigure{}
	for _, mode := range []nft.Mode{nft.NAT, nft.DR} {
		for _, r := range scaleRealservers {
			for _, l := range scaleLines {
				var rate float64
				switch {
				case l.agents == 1:
					rate = 60e6 // serial: set by one request at a time
				default:
					rate = 90e6 * float64(r) * float64(l.agents) / 4 // linear in rs
				}
				for round := range 3 {
					figs[scaleCell{mode, r, l}] = append(figs[scaleCell{mode, r, l}],
						scaleFigure{throughput: timing.BitsPerSecond(rate * (1 + 0.01*float64(round))), p99: time.Duration(r) * time.Millisecond})
				}
			}
		}
	}
	finding, vs := scaleFinding(figs, time.Second, 3, time.Minute)
	if len(vs) != 4 {
		t.Fatalf("%d verdicts, want 4", len(vs))
	}
	for _, v := range vs {
		if v.Outcome != Reproduced {
			t.Errorf("%s: %s (%s)", v.Claim, v.Outcome, v.Ours)
		}
	}
	if !strings.Contains(finding, "linear to 4 rs") {
		t.Errorf("finding does not say the growth was linear:\n%s", finding)
	}
	for _, l := range strings.Split(finding, "\n") {
		if len([]rune(l)) > 120 {
			t.Errorf("line of %d columns: %q", len([]rune(l)), l)
		}
	}
}
