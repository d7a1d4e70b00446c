package cluster

import (
	"testing"
	"time"
)

// exch builds an exchange for an agent clock ahead by off, with the given
// one-way delays out and back and the agent's processing time.
func exch(t1 int64, off, out, back, proc time.Duration) Exchange {
	t2 := t1 + int64(out) + int64(off)
	t3 := t2 + int64(proc)
	t4 := t3 - int64(off) + int64(back)
	return Exchange{T1: t1, T2: t2, T3: t3, T4: t4}
}

func TestEstimatePicksShortestRoundTrip(t *testing.T) {
	off := 3 * time.Millisecond
	xs := []Exchange{
		exch(0, off, 400*time.Microsecond, 50*time.Microsecond, 5*time.Microsecond), // queued on the way out
		exch(1e6, off, 20*time.Microsecond, 22*time.Microsecond, 5*time.Microsecond),
		exch(2e6, off, 30*time.Microsecond, 900*time.Microsecond, 5*time.Microsecond), // queued on the way back
	}
	c, err := Estimate(xs)
	if err != nil {
		t.Fatal(err)
	}
	if c.RTT != 42*time.Microsecond {
		t.Errorf("RTT %v, want 42µs (the shortest exchange)", c.RTT)
	}
	// The chosen exchange's asymmetry is 2 µs: the offset is off by 1 µs.
	if d := c.Offset - off; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("offset %v, want %v ± 1µs", c.Offset, off)
	}
	if c.Uncertainty() != 21*time.Microsecond || c.Exchanges != 3 {
		t.Errorf("uncertainty %v over %d exchanges", c.Uncertainty(), c.Exchanges)
	}
	// The queued exchanges alone would have been off by ~175 and ~435 µs.
	if d := xs[0].Offset() - off; d < 150*time.Microsecond {
		t.Errorf("test premise: queued exchange offset error %v", d)
	}
}

func TestEstimateRejectsNonsense(t *testing.T) {
	if _, err := Estimate(nil); err == nil {
		t.Error("no exchanges: want an error")
	}
	bad := Exchange{T1: 100, T2: 50, T3: 200, T4: 120} // the agent took longer than the round trip
	if _, err := Estimate([]Exchange{bad}); err == nil {
		t.Error("only negative round trips: want an error")
	}
	good := exch(0, 0, time.Microsecond, time.Microsecond, 0)
	c, err := Estimate([]Exchange{bad, good})
	if err != nil || c.RTT != 2*time.Microsecond {
		t.Errorf("a bad exchange beside a good one: %+v, %v", c, err)
	}
}
