package director

import (
	"sync"
	"sync/atomic"
	"time"
)

// Counters are IPVS's cumulative counters of a service or realserver.
// Bytes are payload bytes as the engine counted them (a userspace proxy
// sees no IP headers; IPVS counts L3 packet length).
type Counters struct {
	Conns    uint64
	InPkts   uint64
	OutPkts  uint64
	InBytes  uint64
	OutBytes uint64
}

// Rates are IPVS's estimated rates: connections, packets and bytes per
// second (InBPS/OutBPS are bytes per second, as in ipvsadm --rate).
type Rates struct {
	CPS    uint64
	InPPS  uint64
	OutPPS uint64
	InBPS  uint64
	OutBPS uint64
}

// counters is the atomic form of Counters, updated on the hot path.
type counters struct {
	conns, inPkts, outPkts, inBytes, outBytes atomic.Uint64
}

func (c *counters) load() Counters {
	return Counters{Conns: c.conns.Load(), InPkts: c.inPkts.Load(), OutPkts: c.outPkts.Load(),
		InBytes: c.inBytes.Load(), OutBytes: c.outBytes.Load()}
}

func (c *counters) zero() {
	c.conns.Store(0)
	c.inPkts.Store(0)
	c.outPkts.Store(0)
	c.inBytes.Store(0)
	c.outBytes.Store(0)
}

// EstimatorInterval is how often IPVS's rate estimator samples: 2 seconds.
const EstimatorInterval = 2 * time.Second

// Estimator is IPVS's rate estimator (ip_vs_est.c) in its fixed-point
// form. Every 2 seconds, for conns and packets
//
//	avg += (Δ<<9 - avg) >> 2     (rate ×2^10, Δ over 2 s)
//
// and for bytes
//
//	avg += (Δ<<4 - avg) >> 2     (rate ×2^5)
//
// with arithmetic shifts; rates read out as (avg + 0x1FF) >> 10 and
// (avg + 0xF) >> 5. The zero value is ready; call Sample every 2 s.
type Estimator struct {
	last               Counters
	cps, inpps, outpps int64
	inbps, outbps      int64
}

// Sample feeds the cumulative counters at the end of a 2-second period.
func (e *Estimator) Sample(c Counters) {
	step := func(avg *int64, now uint64, last *uint64, shift uint) {
		rate := int64(now-*last) << shift
		*last = now
		*avg += (rate - *avg) >> 2
	}
	step(&e.cps, c.Conns, &e.last.Conns, 9)
	step(&e.inpps, c.InPkts, &e.last.InPkts, 9)
	step(&e.outpps, c.OutPkts, &e.last.OutPkts, 9)
	step(&e.inbps, c.InBytes, &e.last.InBytes, 4)
	step(&e.outbps, c.OutBytes, &e.last.OutBytes, 4)
}

// Rates reads the estimates out with the kernel's rounding.
func (e *Estimator) Rates() Rates {
	return Rates{
		CPS:    uint64((e.cps + 0x1FF) >> 10),
		InPPS:  uint64((e.inpps + 0x1FF) >> 10),
		OutPPS: uint64((e.outpps + 0x1FF) >> 10),
		InBPS:  uint64((e.inbps + 0xF) >> 5),
		OutBPS: uint64((e.outbps + 0xF) >> 5),
	}
}

// Reset is ipvsadm -Z: the last sample becomes c and the averages 0.
func (e *Estimator) Reset(c Counters) { *e = Estimator{last: c} }

// estimator guards an Estimator shared by the ticker and snapshots.
type estimator struct {
	mu  sync.Mutex
	est Estimator
}

func (e *estimator) sample(c Counters) {
	e.mu.Lock()
	e.est.Sample(c)
	e.mu.Unlock()
}

func (e *estimator) rates() Rates {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.est.Rates()
}

func (e *estimator) reset(c Counters) {
	e.mu.Lock()
	e.est.Reset(c)
	e.mu.Unlock()
}
