package cluster

import (
	"fmt"
	"time"
)

// Exchange is one NTP-style time exchange between the coordinator and an
// agent: T1 the coordinator sent, T2 the agent received, T3 the agent
// answered, T4 the coordinator received; T1 and T4 in the coordinator's
// clock, T2 and T3 in the agent's (Unix nanoseconds).
type Exchange struct {
	T1, T2, T3, T4 int64
}

// Offset is the agent's clock minus the coordinator's, assuming the two
// directions took equally long.
func (e Exchange) Offset() time.Duration {
	return time.Duration(((e.T2 - e.T1) + (e.T3 - e.T4)) / 2)
}

// RTT is the round trip less the agent's own time between T2 and T3.
func (e Exchange) RTT() time.Duration { return time.Duration((e.T4 - e.T1) - (e.T3 - e.T2)) }

// Clock is an agent's measured clock offset.
type Clock struct {
	// Offset is the agent's clock minus the coordinator's, from the
	// exchange with the smallest round trip.
	Offset time.Duration `json:"offset_ns" msgpack:"offset"`
	// RTT is that exchange's round trip; the offset is uncertain by at most
	// half of it (the path's asymmetry).
	RTT time.Duration `json:"rtt_ns" msgpack:"rtt"`
	// Exchanges is how many exchanges it was chosen from.
	Exchanges int `json:"exchanges" msgpack:"exchanges"`
}

// Uncertainty bounds the error of Offset.
func (c Clock) Uncertainty() time.Duration { return c.RTT / 2 }

// Estimate picks the exchange with the smallest round trip, as NTP's clock
// filter does: queueing delays only ever lengthen a round trip, so the
// shortest one is the least skewed by them.
func Estimate(xs []Exchange) (Clock, error) {
	if len(xs) == 0 {
		return Clock{}, fmt.Errorf("clock offset: no time exchanges")
	}
	best := -1
	for i, x := range xs {
		if x.RTT() < 0 {
			// T3 before T2 or T4 before T1: the agent's clock went back
			// between its two readings, or the message is not one of ours.
			continue
		}
		if best < 0 || x.RTT() < xs[best].RTT() {
			best = i
		}
	}
	if best < 0 {
		return Clock{}, fmt.Errorf("clock offset: every one of %d exchanges had a negative round trip (a clock stepped during the exchange?)", len(xs))
	}
	return Clock{Offset: xs[best].Offset(), RTT: xs[best].RTT(), Exchanges: len(xs)}, nil
}
