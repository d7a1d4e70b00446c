package timing

import (
	"math"
	"slices"
	"time"
)

// Quantile is the time below which a fraction Q (0–1) of single transfers fell.
type Quantile struct {
	Q    float64       `msgpack:"q" json:"q"`
	Time time.Duration `msgpack:"t" json:"time_ns"`
}

// DefaultQuantiles returns the quantiles the core records for each size.
func DefaultQuantiles() []float64 { return []float64{0.5, 0.9, 0.99, 0.999} }

// Point is the measurement of one size.
type Point struct {
	Bytes Bytes `msgpack:"bytes" json:"bytes"`
	// Reps is the number of transfers in each trial.
	Reps int `msgpack:"reps" json:"reps"`
	// Trials holds each trial's mean transfer time.
	Trials []time.Duration `msgpack:"trials" json:"trials_ns"`
	// Min, Median, Max and Mean summarise Trials. Min is NetPIPE's
	// statistic and the one the fit and exports use.
	Min    time.Duration `msgpack:"min" json:"min_ns"`
	Median time.Duration `msgpack:"median" json:"median_ns"`
	Max    time.Duration `msgpack:"max" json:"max_ns"`
	Mean   time.Duration `msgpack:"mean" json:"mean_ns"`
	// Variance is the population variance of Trials in s² (NetPIPE 2.x's
	// fifth column).
	Variance float64 `msgpack:"var" json:"variance_s2"`
	// Quantiles of single transfers, when the probe timed each one and the
	// clock resolves them; Transfers says how many were behind them.
	Quantiles []Quantile `msgpack:"qs,omitempty" json:"quantiles,omitempty"`
	Transfers int        `msgpack:"n,omitempty" json:"transfers,omitempty"`
	// Fastest and Slowest single transfers, when timed one by one.
	Fastest time.Duration `msgpack:"fast,omitempty" json:"fastest_ns,omitempty"`
	Slowest time.Duration `msgpack:"slow,omitempty" json:"slowest_ns,omitempty"`
}

// Time is the point's headline transfer time: the best trial, as NetPIPE reports.
func (p Point) Time() time.Duration { return p.Min }

// Rate is the throughput at the headline time.
func (p Point) Rate() BitsPerSecond { return Rate(p.Bytes, p.Min) }

// Spread is (max-min)/median of the trial times, 0 when there is one trial.
func (p Point) Spread() float64 {
	if p.Median <= 0 {
		return 0
	}
	return float64(p.Max-p.Min) / float64(p.Median)
}

// QuantileAt returns the recorded quantile q, if any.
func (p Point) QuantileAt(q float64) (time.Duration, bool) {
	for _, x := range p.Quantiles {
		if math.Abs(x.Q-q) < 1e-9 {
			return x.Time, true
		}
	}
	return 0, false
}

// summarize fills the trial statistics of p from trials.
func summarize(p *Point, trials []time.Duration) {
	p.Trials = slices.Clone(trials)
	s := slices.Clone(trials)
	slices.Sort(s)
	p.Min, p.Max = s[0], s[len(s)-1]
	p.Median = medianSorted(s)
	var sum, sum2 float64
	for _, t := range s {
		sum += t.Seconds()
		sum2 += t.Seconds() * t.Seconds()
	}
	n := float64(len(s))
	p.Mean = time.Duration(sum / n * 1e9)
	p.Variance = math.Max(0, sum2/n-(sum/n)*(sum/n))
}

func medianSorted(s []time.Duration) time.Duration {
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// QuantilesOf returns the quantiles qs (0–1) of samples by the nearest-rank
// method on a sorted copy. It returns nil for no samples.
func QuantilesOf(samples []time.Duration, qs []float64) []Quantile {
	if len(samples) == 0 {
		return nil
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return quantilesSorted(s, qs)
}

func quantilesSorted(s []time.Duration, qs []float64) []Quantile {
	out := make([]Quantile, 0, len(qs))
	for _, q := range qs {
		out = append(out, Quantile{Q: q, Time: s[nearestRank(len(s), q)]})
	}
	return out
}

// nearestRank returns the 0-based index of quantile q among n sorted values.
func nearestRank(n int, q float64) int {
	r := int(math.Ceil(q*float64(n))) - 1
	return min(max(r, 0), n-1)
}

// Median is the median of v (the mean of the middle two for an even
// count), 0 for none; v is left as it is.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
