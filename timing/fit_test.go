package timing

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// synthetic returns points following latency + n/rate with multiplicative
// noise of the given relative size.
func synthetic(sizes []Bytes, latency time.Duration, rate BitsPerSecond, noise float64, rng *rand.Rand) []Point {
	pts := make([]Point, len(sizes))
	for i, n := range sizes {
		t := latency.Seconds() + float64(n.Bits())/float64(rate)
		t *= 1 + noise*rng.NormFloat64()
		d := time.Duration(t * 1e9)
		pts[i] = Point{Bytes: n, Min: d, Median: d, Max: d, Mean: d, Trials: []time.Duration{d}}
	}
	return pts
}

func TestFitRecoversKnownModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		latency time.Duration
		rate    BitsPerSecond
	}{
		{7 * time.Microsecond, 50e9},    // today's loopback
		{300 * time.Microsecond, 100e6}, // the seed's 100 Mbit network
		{5500 * time.Microsecond, 45e6}, // the seed's http
		{1100 * time.Millisecond, 40e6}, // the seed's rsh
	} {
		// The sizes reach 64 times the pole, as a sweep that shows the rate limit does.
		pole := Bytes(tc.latency.Seconds() * float64(tc.rate) / 8)
		sizes, _ := NetPIPESizes(1, max(8*MiB, 64*pole), 3)
		for trial := range 20 {
			f, err := FitPoints(synthetic(sizes, tc.latency, tc.rate, 0.02, rng))
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(f.Latency.Seconds()/tc.latency.Seconds() - 1); e > 0.01 {
				t.Errorf("%v/%v trial %d: latency %v, off by %.2f%%", tc.latency, tc.rate, trial, f.Latency, 100*e)
			}
			if e := math.Abs(float64(f.MaxRate)/float64(tc.rate) - 1); e > 0.01 {
				t.Errorf("%v/%v trial %d: max rate %v, off by %.2f%%", tc.latency, tc.rate, trial, f.MaxRate, 100*e)
			}
			if f.LatencyCI[0] > f.Latency || f.LatencyCI[1] < f.Latency || f.MaxRateCI[0] > f.MaxRate || f.MaxRateCI[1] < f.MaxRate {
				t.Errorf("confidence intervals do not contain the estimates: %+v", f)
			}
			if !f.OK {
				t.Errorf("clean data flagged: %v", f.Problems)
			}
			wantPole := tc.latency.Seconds() * float64(tc.rate) / 8
			if e := math.Abs(float64(f.LatencyBytes)/wantPole - 1); e > 0.03 {
				t.Errorf("latency-equivalent bytes %d, want about %.0f", f.LatencyBytes, wantPole)
			}
		}
	}
}

func TestFitConfidenceIntervalCoversTruth(t *testing.T) {
	sizes, _ := NetPIPESizes(1, 8*MiB, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	const runs = 200
	covered := 0
	for range runs {
		f, err := FitPoints(synthetic(sizes, 10*time.Microsecond, 10e9, 0.05, rng))
		if err != nil {
			t.Fatal(err)
		}
		if f.LatencyCI[0] <= 10*time.Microsecond && 10*time.Microsecond <= f.LatencyCI[1] {
			covered++
		}
	}
	// A 95% interval should cover the truth in about 190 of 200 runs.
	if covered < 175 {
		t.Errorf("95%% interval covered the true latency in %d of %d runs", covered, runs)
	}
}

func TestFitSaysWhenModelDoesNotFit(t *testing.T) {
	sizes, _ := NetPIPESizes(1, 8*MiB, 3)
	rng := rand.New(rand.NewPCG(5, 6))
	clean := synthetic(sizes, 10*time.Microsecond, 10e9, 0, rng)

	jaggy := append([]Point(nil), clean...)
	for _, i := range []int{60, 80} {
		jaggy[i].Min *= 3
	}
	f, err := FitPoints(jaggy)
	if err != nil {
		t.Fatal(err)
	}
	if f.OK || !strings.Contains(strings.Join(f.Problems, ";"), "dropout") {
		t.Errorf("jaggies not flagged: %+v", f.Problems)
	}

	collapse := append([]Point(nil), clean...)
	for i := len(collapse) - 10; i < len(collapse); i++ {
		collapse[i].Min *= 5
	}
	f, err = FitPoints(collapse)
	if err != nil {
		t.Fatal(err)
	}
	if f.OK || !strings.Contains(strings.Join(f.Problems, ";"), "collapses") {
		t.Errorf("collapse not flagged: %+v", f.Problems)
	}
	// The fit over the rising part still finds the model.
	if e := math.Abs(float64(f.MaxRate)/10e9 - 1); e > 0.05 {
		t.Errorf("fit up to the peak: max rate %v, want about 10 Gbit/s", f.MaxRate)
	}

	if _, err := FitPoints(clean[:2]); err == nil {
		t.Error("two points fitted without error")
	}
}

func TestFitSmallSizesCount(t *testing.T) {
	// Absolute least squares would let the 8 MiB points decide the
	// intercept; relative weights must keep the latency right even when
	// the large sizes are noisy.
	sizes, _ := NetPIPESizes(1, 8*MiB, 3)
	rng := rand.New(rand.NewPCG(7, 8))
	pts := synthetic(sizes, 7*time.Microsecond, 50e9, 0, rng)
	for i := range pts {
		if pts[i].Bytes > 1*MiB {
			pts[i].Min = time.Duration(float64(pts[i].Min) * (1 + 0.1*rng.NormFloat64()))
		}
	}
	f, err := FitPoints(pts)
	if err != nil {
		t.Fatal(err)
	}
	if e := math.Abs(f.Latency.Seconds()/7e-6 - 1); e > 0.05 {
		t.Errorf("latency %v with noisy large sizes, want about 7µs", f.Latency)
	}
}
