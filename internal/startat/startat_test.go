package startat

import (
	"context"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	ctx := context.Background()
	at := time.Now().Add(150 * time.Millisecond)
	start, late := Wait(ctx, at)
	if start.Before(at) {
		t.Errorf("returned %v before the instant", at.Sub(start))
	}
	if late != 0 && late != start.Sub(at) {
		t.Errorf("late %v, but started %v after the instant", late, start.Sub(at))
	}
	past := time.Now().Add(-5 * time.Millisecond)
	if _, late := Wait(ctx, past); late < 5*time.Millisecond {
		t.Errorf("an instant 5 ms past: late %v", late)
	}
	if _, late := Wait(ctx, time.Time{}); late != 0 {
		t.Errorf("no instant: late %v", late)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	t0 := time.Now()
	Wait(cctx, time.Now().Add(time.Hour))
	if d := time.Since(t0); d > time.Second {
		t.Errorf("a cancelled wait took %v", d)
	}
}
