package ptester

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRateOf(t *testing.T) {
	r := rateOf([]float64{10, 20, 30, 20}, 100*time.Millisecond)
	// 100, 200, 300, 200 per second: mean 200, sample stdev √(20000/3).
	if r.Mean != 200 || r.Max != 300 || r.Min != 100 || r.Windows != 4 {
		t.Errorf("rate %+v, want mean 200, min 100, max 300 over 4 windows", r)
	}
	if want := math.Sqrt(20000.0 / 3); math.Abs(r.Stdev-want) > 1e-9 {
		t.Errorf("stdev %v, want %v", r.Stdev, want)
	}
	// 200, 200 are within 200 ± 81.6; 100 and 300 are not.
	if r.WithinStdev != 0.5 {
		t.Errorf("within stdev %v, want 0.5", r.WithinStdev)
	}
}

// TestWrkSummaryFromRun checks the wrk-like figures of real runs on both
// engines against the run's own totals.
func TestWrkSummaryFromRun(t *testing.T) {
	s := startServer(t, ServerOptions{})
	for _, e := range []Engine{EngineGoroutines, EngineLoop} {
		rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(4), Clients: 2, KeepAlive: 10,
			Duration: 500 * time.Millisecond, Engine: e})
		if err != nil {
			t.Fatal(err)
		}
		q := rep.Rate
		if q == nil || q.Windows != int(rep.Elapsed/RateWindow) {
			t.Fatalf("%s: rate %+v over %v, want one window per %v", e, q, rep.Elapsed, RateWindow)
		}
		// The whole windows hold at most every request, and at least
		// those of all but the partial last window's worth.
		inWindows := q.Mean * float64(q.Windows) * RateWindow.Seconds()
		if inWindows > float64(rep.Requests)+0.5 || inWindows < 0.5*float64(rep.Requests) {
			t.Errorf("%s: %.0f requests in the windows, %d in the run", e, inWindows, rep.Requests)
		}
		if q.Max < q.Mean || q.Min > q.Mean || q.WithinStdev <= 0 || q.WithinStdev > 1 {
			t.Errorf("%s: rate %+v is not a spread around its mean", e, q)
		}
		l := rep.Latency
		if l.Stdev <= 0 || l.WithinStdev <= 0 || l.WithinStdev > 1 {
			t.Errorf("%s: latency stdev %v, within %v", e, l.Stdev, l.WithinStdev)
		}
		var b strings.Builder
		if err := rep.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Latency", "Req/Sec", "+/- Stdev", "Requests/sec:", "Transfer/sec:"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: summary lacks %q:\n%s", e, want, b.String())
			}
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if n := len([]rune(line)); n > 100 {
				t.Errorf("%s: line of %d columns: %s", e, n, line)
			}
		}
	}
}
