package timing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Fit is the Hockney model transfer_time = latency + bytes/max_rate fitted to
// a series, with what was measured directly beside it.
type Fit struct {
	// Latency is the fitted time of a zero-byte transfer; LatencyCI its 95%
	// confidence interval.
	Latency   time.Duration    `msgpack:"lat" json:"latency_ns"`
	LatencyCI [2]time.Duration `msgpack:"lat_ci" json:"latency_ci_ns"`
	// MaxRate is the fitted asymptotic rate; MaxRateCI its 95% confidence
	// interval (the upper end is +Inf when the data cannot bound it).
	MaxRate   BitsPerSecond    `msgpack:"rate" json:"max_rate_bps"`
	MaxRateCI [2]BitsPerSecond `msgpack:"rate_ci" json:"max_rate_ci_bps"`
	// LatencyBytes is latency × max_rate: the size that costs as much as
	// the latency (the "pole" of the seeds' log-log plots, the model's n½).
	LatencyBytes Bytes `msgpack:"lat_bytes" json:"latency_bytes"`
	// HalfSize is the smallest measured size that reached half of PeakRate
	// (the empirical half-performance size).
	HalfSize Bytes `msgpack:"half" json:"half_size_bytes"`
	// PeakRate is the best measured rate, at PeakSize.
	PeakRate BitsPerSecond `msgpack:"peak" json:"peak_rate_bps"`
	PeakSize Bytes         `msgpack:"peak_at" json:"peak_size_bytes"`
	// R2 is the weighted coefficient of determination and RelRMS the root
	// mean square of the relative residuals (0.05 = the model is off by 5%
	// on a typical point).
	R2     float64 `msgpack:"r2" json:"r2"`
	RelRMS float64 `msgpack:"relrms" json:"rel_rms"`
	// From, To and Points describe the sizes the fit used.
	From   Bytes `msgpack:"from" json:"from_bytes"`
	To     Bytes `msgpack:"to" json:"to_bytes"`
	Points int   `msgpack:"points" json:"points"`
	// OK is false when the model does not describe the data; Problems says why.
	OK       bool     `msgpack:"ok" json:"ok"`
	Problems []string `msgpack:"problems,omitempty" json:"problems,omitempty"`
}

// Fit thresholds.
const (
	// dropoutDrop flags a point whose rate is this far below both neighbours.
	dropoutDrop = 0.25
	// collapseFrac flags a tail whose rate falls below this share of the peak.
	collapseFrac = 0.5
	// poorRelRMS flags a fit whose typical relative error exceeds this.
	poorRelRMS = 0.25
)

// ErrTooFewPoints is returned when a series has too few usable points to fit.
var ErrTooFewPoints = errors.New("too few points to fit: need 3 sizes or more with a positive time")

// FitPoints fits transfer_time = latency + bytes/max_rate to the points' best
// times by weighted least squares with weights 1/t², so that each point counts
// by its relative error and small sizes are not drowned by large ones. When the
// rate collapses past its peak (cache, memory or disk limits, a broken path),
// the fit uses the sizes up to the peak and says so in Problems.
func FitPoints(points []Point) (Fit, error) {
	var xs, ts []float64
	var sizes []Bytes
	for _, p := range points {
		if p.Min > 0 && p.Bytes > 0 {
			xs = append(xs, float64(p.Bytes))
			ts = append(ts, p.Min.Seconds())
			sizes = append(sizes, p.Bytes)
		}
	}
	if len(xs) < 3 {
		return Fit{}, ErrTooFewPoints
	}
	var f Fit
	peak := 0
	for i := range xs {
		if xs[i]/ts[i] > xs[peak]/ts[peak] {
			peak = i
		}
	}
	f.PeakRate = BitsPerSecond(8 * xs[peak] / ts[peak])
	f.PeakSize = sizes[peak]
	for i := range xs {
		if 8*xs[i]/ts[i] >= float64(f.PeakRate)/2 {
			f.HalfSize = sizes[i]
			break
		}
	}
	f.Problems = append(f.Problems, dropouts(sizes, xs, ts)...)

	end := len(xs)
	if tail := 8 * xs[len(xs)-1] / ts[len(xs)-1]; peak < len(xs)-1 && tail < collapseFrac*float64(f.PeakRate) {
		f.Problems = append(f.Problems, fmt.Sprintf(
			"rate collapses past %v: %v at %v is %.0f%% of the peak; fitted sizes up to the peak only",
			f.PeakSize, BitsPerSecond(tail), sizes[len(xs)-1], 100*tail/float64(f.PeakRate)))
		end = peak + 1
	}
	if end < 3 {
		end = len(xs)
	}
	if err := wls(&f, xs[:end], ts[:end]); err != nil {
		return f, err
	}
	f.From, f.To, f.Points = sizes[0], sizes[end-1], end
	if f.RelRMS > poorRelRMS {
		f.Problems = append(f.Problems, fmt.Sprintf("poor fit: the model is off by %.0f%% on a typical point", 100*f.RelRMS))
	}
	f.OK = len(f.Problems) == 0
	return f, nil
}

// irlsPasses is how many times the weights are recomputed from the fitted
// times: weighting by the observed times alone favours points that happened
// to come out fast, which biases the fit and narrows its intervals.
const irlsPasses = 3

// wls fits t = a + b·x with relative weights 1/t̂², where t̂ is first the
// observed time and then the fitted one, and fills the model fields of f.
func wls(f *Fit, xs, ts []float64) error {
	// Scale x to MiB so the normal equations stay well conditioned.
	const scale = 1 << 20
	ref := slices.Clone(ts)
	var a, b, s, sx, sy, sxx, sxy, d float64
	for pass := 0; pass <= irlsPasses; pass++ {
		s, sx, sy, sxx, sxy = 0, 0, 0, 0, 0
		for i := range xs {
			w := 1 / (ref[i] * ref[i])
			x := xs[i] / scale
			s += w
			sx += w * x
			sy += w * ts[i]
			sxx += w * x * x
			sxy += w * x * ts[i]
		}
		d = s*sxx - sx*sx
		if d <= 0 || math.IsNaN(d) {
			return fmt.Errorf("fit: all points have the same size; measure at least 3 sizes")
		}
		b = (s*sxy - sx*sy) / d
		a = (sxx*sy - sx*sxy) / d
		for i := range xs {
			if t := a + b*xs[i]/scale; t > 0 {
				ref[i] = t
			}
		}
	}
	m := float64(len(xs))
	ybar := sy / s
	var ssres, ssrel, sstot float64
	for i := range xs {
		w := 1 / (ref[i] * ref[i])
		r := ts[i] - a - b*xs[i]/scale
		ssres += w * r * r
		ssrel += (r / ts[i]) * (r / ts[i])
		sstot += w * (ts[i] - ybar) * (ts[i] - ybar)
	}
	f.RelRMS = math.Sqrt(ssrel / m)
	if sstot > 0 {
		f.R2 = 1 - ssres/sstot
	}
	dof := m - 2
	var seA, seB, tq float64
	if dof > 0 {
		s2 := ssres / dof
		seA = math.Sqrt(s2 * sxx / d)
		seB = math.Sqrt(s2 * s / d)
		tq = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: dof}.Quantile(0.975)
	}
	f.Latency = seconds(a)
	f.LatencyCI = [2]time.Duration{seconds(a - tq*seA), seconds(a + tq*seA)}
	if a < 0 {
		f.Problems = append(f.Problems, fmt.Sprintf("fitted latency is negative (%v): the small sizes do not follow the model", f.Latency))
	}
	if b <= 0 {
		f.Problems = append(f.Problems, "time does not grow with size: the sizes are too small to show a rate limit")
		f.MaxRate = BitsPerSecond(math.Inf(1))
		f.MaxRateCI = [2]BitsPerSecond{0, BitsPerSecond(math.Inf(1))}
		return nil
	}
	// b is seconds per MiB; the rate in bit/s is 8·scale/b.
	rate := func(slope float64) BitsPerSecond {
		if slope <= 0 {
			return BitsPerSecond(math.Inf(1))
		}
		return BitsPerSecond(8 * scale / slope)
	}
	f.MaxRate = rate(b)
	f.MaxRateCI = [2]BitsPerSecond{rate(b + tq*seB), rate(b - tq*seB)}
	f.LatencyBytes = Bytes(math.Round(math.Max(a, 0) * float64(f.MaxRate) / 8))
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// dropouts flags sizes whose rate is far below both neighbours: the jaggies
// NetPIPE's ±p perturbation was made to expose.
func dropouts(sizes []Bytes, xs, ts []float64) []string {
	var out []string
	for i := 1; i+1 < len(xs); i++ {
		r, l, h := xs[i]/ts[i], xs[i-1]/ts[i-1], xs[i+1]/ts[i+1]
		if r < (1-dropoutDrop)*l && r < (1-dropoutDrop)*h {
			out = append(out, fmt.Sprintf("dropout at %d bytes: rate %.0f%% below its neighbours", sizes[i], 100*(1-r/math.Min(l, h))))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("… and %d more dropouts", len(out)-5))
	}
	return out
}
