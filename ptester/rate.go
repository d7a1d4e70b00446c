package ptester

import (
	"math"
	"time"
)

// RateWindow is the window the request rate is counted in, as wrk samples
// its Req/Sec every 100 ms.
const RateWindow = 100 * time.Millisecond

// RateStats is the spread of the request rate over a run's whole windows
// (all clients together), each window's count scaled to requests per
// second.
type RateStats struct {
	// Window is the counting window and Windows how many whole ones the
	// run had (a partial last window is left out).
	Window  time.Duration `json:"window_ns"`
	Windows int           `json:"windows"`
	// Mean, Stdev and Max are in requests per second; WithinStdev is the
	// share of windows within Mean ± Stdev.
	Mean        float64 `json:"mean_per_sec"`
	Stdev       float64 `json:"stdev_per_sec"`
	Min         float64 `json:"min_per_sec"`
	Max         float64 `json:"max_per_sec"`
	WithinStdev float64 `json:"within_stdev"`
}

// tally counts a request that ended at t in its window.
func (w *worker) tally(t time.Time) {
	if w.start.IsZero() {
		return
	}
	i := int(t.Sub(w.start) / RateWindow)
	if i < 0 {
		return
	}
	for len(w.windows) <= i {
		w.windows = append(w.windows, 0)
	}
	w.windows[i]++
}

// rateStats merges the workers' window counts over the whole windows of a
// run that lasted elapsed; nil when it lasted less than one window.
func rateStats(workers []*worker, elapsed time.Duration) *RateStats {
	n := int(elapsed / RateWindow)
	if n < 1 {
		return nil
	}
	counts := make([]float64, n)
	for _, w := range workers {
		for i, c := range w.windows {
			if i < n {
				counts[i] += float64(c)
			}
		}
	}
	return rateOf(counts, RateWindow)
}

// rateOf summarises per-window counts as per-second rates.
func rateOf(counts []float64, window time.Duration) *RateStats {
	r := &RateStats{Window: window, Windows: len(counts), Min: math.Inf(1)}
	scale := float64(time.Second) / float64(window)
	for _, c := range counts {
		v := c * scale
		r.Mean += v
		r.Min, r.Max = math.Min(r.Min, v), math.Max(r.Max, v)
	}
	r.Mean /= float64(len(counts))
	for _, c := range counts {
		d := c*scale - r.Mean
		r.Stdev += d * d
	}
	if len(counts) > 1 {
		r.Stdev = math.Sqrt(r.Stdev / float64(len(counts)-1))
	} else {
		r.Stdev = 0
	}
	in := 0
	for _, c := range counts {
		if math.Abs(c*scale-r.Mean) <= r.Stdev {
			in++
		}
	}
	r.WithinStdev = float64(in) / float64(len(counts))
	return r
}
