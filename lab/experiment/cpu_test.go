package experiment

import (
	"testing"
	"time"
)

func TestMedianCI(t *testing.T) {
	x := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5}
	lo, hi, ok := medianCI(x)
	// n=9: ranks 2 and 8 cover 96.1%; ranks 3 and 7 only 82%.
	if !ok || lo != 2 || hi != 8 {
		t.Errorf("medianCI of 1..9 = [%v, %v] %v, want [2, 8]", lo, hi, ok)
	}
	if _, _, ok := medianCI([]float64{1, 2, 3, 4, 5}); ok {
		t.Error("5 samples cannot give a 95% interval of the median (best is 93.75%)")
	}
	if lo, hi, ok := medianCI([]float64{1, 2, 3, 4, 5, 6}); !ok || lo != 1 || hi != 6 {
		t.Errorf("6 samples: [%v, %v] %v, want [1, 6] (96.9%%)", lo, hi, ok)
	}
}

// cpuRows builds rows whose per-round figures are given directly.
func cpuRows(nat, dr, tun []float64) map[string]*cpuRow {
	rows := map[string]*cpuRow{}
	for name, v := range map[string][]float64{"nat": nat, "dr": dr, "tun": tun} {
		r := &cpuRow{name: name}
		for _, x := range v {
			r.perKiB = append(r.perKiB, x)
			r.perPacket = append(r.perPacket, 2*x)
			r.extra = append(r.extra, time.Duration(x))
		}
		rows[name] = r
	}
	return rows
}

func TestCPUVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name          string
		nat, dr, tun  []float64
		want, wantTun Outcome
	}{
		{"nat busier", []float64{2000, 2100, 1900, 2050}, []float64{300, 350, 250, 320}, []float64{400, 380, 420, 390}, Reproduced, Reproduced},
		{"dr busier", []float64{300, 350, 250, 320}, []float64{2000, 2100, 1900, 2050}, []float64{2000, 2100, 1900, 2050}, NotReproduced, NotReproduced},
		{"noise", []float64{1000, 200, 1800, 500}, []float64{900, 1500, 300, 800}, []float64{900, 1500, 300, 800}, Inconclusive, Inconclusive},
	} {
		vs := cpuVerdicts(cpuRows(tc.nat, tc.dr, tc.tun))
		if len(vs) != 3 {
			t.Fatalf("%s: %d verdicts, want 3", tc.name, len(vs))
		}
		if vs[0].Outcome != tc.want || vs[1].Outcome != tc.want || vs[2].Outcome != tc.wantTun {
			t.Errorf("%s: outcomes %s / %s / %s, want %s, %s, %s", tc.name, vs[0].Outcome, vs[1].Outcome, vs[2].Outcome, tc.want, tc.want, tc.wantTun)
		}
	}
	if vs := cpuVerdicts(map[string]*cpuRow{}); vs != nil {
		t.Errorf("verdicts without NAT and DR rows: %v", vs)
	}
}
