package ptester

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TestStartAtAndProgress checks the cluster hooks on both engines: the
// clients wait for StartAt, Progress's last call matches the report, and the
// exported histogram summarises as the report's Latency does.
func TestStartAtAndProgress(t *testing.T) {
	s := startServer(t, ServerOptions{})
	for _, eng := range []Engine{EngineGoroutines, EngineLoop} {
		t.Run(string(eng), func(t *testing.T) {
			var mu sync.Mutex
			var calls []Progress
			at := time.Now().Add(time.Second)
			rep, err := Run(context.Background(), Options{
				Target: s.Addr(), Path: "/file/file.0", Duration: 400 * time.Millisecond,
				Clients: 2, KeepAlive: 10, Engine: eng, StartAt: at,
				ProgressEvery: 50 * time.Millisecond,
				Progress: func(p Progress) {
					mu.Lock()
					calls = append(calls, p)
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Started.Before(at) {
				t.Errorf("started %v before StartAt %v", rep.Started, at)
			}
			// A start later than 1 ms (clients not ready, a machine too
			// loaded to wake the waiter) is said in StartLate.
			if late := rep.Started.Sub(at); late >= time.Millisecond && rep.StartLate != late {
				t.Errorf("started %v after StartAt, StartLate says %v", late, rep.StartLate)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(calls) < 3 {
				t.Fatalf("Progress called %d times in 400 ms at 50 ms intervals", len(calls))
			}
			last := calls[len(calls)-1]
			if last.Requests != rep.Requests || last.Errors != rep.Errs() {
				t.Errorf("last progress %+v, report has %d requests, %d errors", last, rep.Requests, rep.Errs())
			}
			for i := 1; i < len(calls); i++ {
				if calls[i].Requests < calls[i-1].Requests {
					t.Errorf("progress went back: %d then %d", calls[i-1].Requests, calls[i].Requests)
				}
			}
			h := hdrhistogram.Import(rep.LatencyHistogram())
			got := Summarize(h)
			if got.Count != rep.Requests || got.P99 != rep.Latency.P99 || got.P50 != rep.Latency.P50 {
				t.Errorf("exported histogram summarises to %+v, report has %+v", got, rep.Latency)
			}
		})
	}
}
