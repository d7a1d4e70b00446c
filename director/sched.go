package director

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// ConnInfo is what a scheduler may look at for a new connection.
type ConnInfo struct {
	// Client is the connection's source address and port.
	Client netip.AddrPort
	// VIP is the destination the client connected to (the virtual
	// service's address for a proxy; lblc, lblcr and dh key on it).
	VIP netip.AddrPort
	// Now is the scheduling time (lblc and lblcr age their tables by it).
	Now time.Time
}

// Scheduler picks a realserver for a new connection. dests is in the
// kernel's list order, newest added first, as IPVS walks it. Both methods
// are called under the owning service's lock, so a Scheduler needs no lock
// of its own.
type Scheduler interface {
	// Name is the scheduler's ipvsadm name, e.g. "wlc".
	Name() string
	// Update is called when the realserver list or a weight changed.
	Update(dests []*Dest)
	// Schedule returns the chosen realserver, or nil when none may take
	// the connection.
	Schedule(dests []*Dest, c ConnInfo) *Dest
}

// SchedulerNames lists every scheduler, in ipvsadm's help order.
var schedulerNames = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// SchedulerNames returns the names NewScheduler accepts.
func SchedulerNames() []string { return append([]string(nil), schedulerNames...) }

// ErrUnknownScheduler is wrapped by NewScheduler for a name it does not know.
var ErrUnknownScheduler = fmt.Errorf("unknown scheduler")

// NewScheduler returns a fresh scheduler by name. flags carries the
// service's FlagSched1/FlagSched2 (sh-fallback/sh-port, mh-fallback/mh-port).
// twos uses a PRNG seeded with 1; use NewTwos for another seed.
func NewScheduler(name string, flags ServiceFlags) (Scheduler, error) {
	switch name {
	case "rr":
		return &RR{}, nil
	case "wrr":
		return &WRR{}, nil
	case "lc":
		return LC{}, nil
	case "wlc":
		return WLC{}, nil
	case "sed":
		return SED{}, nil
	case "nq":
		return NQ{}, nil
	case "fo":
		return FO{}, nil
	case "ovf":
		return OVF{}, nil
	case "dh":
		return &DH{}, nil
	case "sh":
		return &SH{Fallback: flags&FlagSched1 != 0, Port: flags&FlagSched2 != 0}, nil
	case "mh":
		return &MH{Fallback: flags&FlagSched1 != 0, Port: flags&FlagSched2 != 0}, nil
	case "lblc":
		return NewLBLC(), nil
	case "lblcr":
		return NewLBLCR(), nil
	case "twos":
		return NewTwos(1), nil
	}
	return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownScheduler, name, strings.Join(schedulerNames, " "))
}

// RR is round robin: walk the list circularly starting after the last
// chosen realserver and take the first that is not overloaded and has
// weight > 0, in at most one full pass (ip_vs_rr.c).
type RR struct {
	last    *Dest
	lastIdx int
}

// Name implements Scheduler.
func (*RR) Name() string { return "rr" }

// Update implements Scheduler.
func (*RR) Update([]*Dest) {}

// Schedule implements Scheduler.
func (s *RR) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	n := len(dests)
	if n == 0 {
		return nil
	}
	start := -1 // the list head: the walk starts at dests[0]
	if s.last != nil {
		start = s.lastIdx - 1 // the last one was removed: continue at its successor
		for i, d := range dests {
			if d == s.last {
				start = i
				break
			}
		}
	}
	for i := 1; i <= n; i++ {
		idx := start + i
		if idx >= n {
			idx -= n
		}
		if idx < 0 {
			idx += n
		}
		if d := dests[idx]; d.eligible() {
			s.last, s.lastIdx = d, idx
			return d
		}
	}
	return nil
}

// WRR is interleaved weighted round robin (ip_vs_wrr.c): with di the gcd
// of the positive weights and mw = max weight - (di-1), a current weight
// cw starts at mw; the walk continues after the last choice and takes the
// first realserver not overloaded with weight >= cw; each time the walk
// wraps, cw -= di, and when cw <= 0 it restarts at mw. With A=3 added before
// B=1 (list B, A) the sequence is A A B A.
type WRR struct {
	cl     int // index of the last choice; -1 is the list head
	cw, mw int
	di     int
	init   bool
}

// Name implements Scheduler.
func (*WRR) Name() string { return "wrr" }

// Update implements Scheduler: cursor to the head, recompute di and mw and
// clamp cw as ip_vs_wrr_dest_changed does.
func (s *WRR) Update(dests []*Dest) {
	s.cl = -1
	s.di = gcdWeights(dests)
	max := 0
	for _, d := range dests {
		if w := d.Weight(); w > max {
			max = w
		}
	}
	s.mw = max - (s.di - 1)
	if s.mw < 0 {
		s.mw = 0
	}
	switch {
	case !s.init || s.cw > s.mw || s.cw == 0:
		s.cw = s.mw
	case s.di > 1:
		s.cw = (s.cw/s.di)*s.di + 1
	}
	s.init = true
}

// Schedule implements Scheduler.
func (s *WRR) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	if !s.init {
		s.Update(dests)
	}
	n := len(dests)
	if n == 0 || s.mw <= 0 {
		return nil
	}
	// Every positive weight is a multiple of di and reaches the smallest
	// cw, so one full cycle of cw values finds any eligible realserver;
	// more wraps than that mean none is eligible.
	maxWraps := s.mw/s.di + 2
	i := s.cl
	for wraps := 0; wraps <= maxWraps; {
		i++
		if i >= n {
			i = 0
			wraps++
			s.cw -= s.di
			if s.cw <= 0 {
				s.cw = s.mw
			}
		}
		if d := dests[i]; !d.overloaded.Load() && d.Weight() > 0 && d.Weight() >= s.cw {
			s.cl = i
			return d
		}
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func gcdWeights(dests []*Dest) int {
	g := 0
	for _, d := range dests {
		if w := d.Weight(); w > 0 {
			g = gcd(w, g)
		}
	}
	if g == 0 {
		return 1
	}
	return g
}

// LC is least connection: the eligible realserver with the smallest
// overhead activeconns*256 + inactconns, the first on ties (ip_vs_lc.c).
// Weight only switches a realserver on or off.
type LC struct{}

// Name implements Scheduler.
func (LC) Name() string { return "lc" }

// Update implements Scheduler.
func (LC) Update([]*Dest) {}

// Schedule implements Scheduler.
func (LC) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	var least *Dest
	var loh int64
	for _, d := range dests {
		if !d.eligible() {
			continue
		}
		if doh := d.overhead(); least == nil || doh < loh {
			least, loh = d, doh
		}
	}
	return least
}

// weightedLeast returns the eligible realserver minimising oh(d)/weight,
// compared without division as loh*w(d) > doh*w(least), first on ties.
func weightedLeast(dests []*Dest, oh func(*Dest) int64) *Dest {
	var least *Dest
	var loh int64
	for _, d := range dests {
		if !d.eligible() {
			continue
		}
		doh := oh(d)
		if least == nil || loh*int64(d.Weight()) > doh*int64(least.Weight()) {
			least, loh = d, doh
		}
	}
	return least
}

// WLC is weighted least connection, ipvsadm's default: the eligible
// realserver with the smallest (activeconns*256 + inactconns)/weight
// (ip_vs_wlc.c).
type WLC struct{}

// Name implements Scheduler.
func (WLC) Name() string { return "wlc" }

// Update implements Scheduler.
func (WLC) Update([]*Dest) {}

// Schedule implements Scheduler.
func (WLC) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	return weightedLeast(dests, (*Dest).overhead)
}

func sedOverhead(d *Dest) int64 { return d.ActiveConns() + 1 }

// SED is shortest expected delay: the eligible realserver with the
// smallest (activeconns+1)/weight; inactive connections are ignored
// (ip_vs_sed.c).
type SED struct{}

// Name implements Scheduler.
func (SED) Name() string { return "sed" }

// Update implements Scheduler.
func (SED) Update([]*Dest) {}

// Schedule implements Scheduler.
func (SED) Schedule(dests []*Dest, _ ConnInfo) *Dest { return weightedLeast(dests, sedOverhead) }

// NQ is never queue: the first eligible realserver with no active
// connection, otherwise SED (ip_vs_nq.c).
type NQ struct{}

// Name implements Scheduler.
func (NQ) Name() string { return "nq" }

// Update implements Scheduler.
func (NQ) Update([]*Dest) {}

// Schedule implements Scheduler.
func (NQ) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	var least *Dest
	var loh int64
	for _, d := range dests {
		if !d.eligible() {
			continue
		}
		doh := sedOverhead(d)
		if d.ActiveConns() == 0 {
			return d
		}
		if least == nil || loh*int64(d.Weight()) > doh*int64(least.Weight()) {
			least, loh = d, doh
		}
	}
	return least
}

// FO is weighted fail-over: the eligible realserver with the highest
// weight, the first of equal maxima (ip_vs_fo.c).
type FO struct{}

// Name implements Scheduler.
func (FO) Name() string { return "fo" }

// Update implements Scheduler.
func (FO) Update([]*Dest) {}

// Schedule implements Scheduler.
func (FO) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	var h *Dest
	for _, d := range dests {
		if d.eligible() && (h == nil || d.Weight() > h.Weight()) {
			h = d
		}
	}
	return h
}

// OVF is overflow: among realservers not overloaded, with weight > 0 and
// activeconns <= weight, the one with the highest weight, first on ties
// (ip_vs_ovf.c). Weight is a capacity; UDP connections, never active, do
// not count.
type OVF struct{}

// Name implements Scheduler.
func (OVF) Name() string { return "ovf" }

// Update implements Scheduler.
func (OVF) Update([]*Dest) {}

// Schedule implements Scheduler.
func (OVF) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	var h *Dest
	for _, d := range dests {
		w := int64(d.Weight())
		if d.eligible() && d.ActiveConns() <= w && (h == nil || w > int64(h.Weight())) {
			h = d
		}
	}
	return h
}

// Twos is power of two choices (ip_vs_twos.c): with total = sum of the
// positive weights of realservers not overloaded + 1, draw r1, r2 in
// [0,total); walk the list subtracting weights, each choice is the first
// realserver where its running r <= 0; return choice 2 when
// weight2*overhead1 > weight1*overhead2, else choice 1.
type Twos struct {
	rng *rand.Rand
}

// NewTwos returns a twos scheduler with a PRNG seeded with seed, so that
// benchmark runs are reproducible.
func NewTwos(seed uint64) *Twos {
	return &Twos{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Name implements Scheduler.
func (*Twos) Name() string { return "twos" }

// Update implements Scheduler.
func (*Twos) Update([]*Dest) {}

// Schedule implements Scheduler.
func (s *Twos) Schedule(dests []*Dest, _ ConnInfo) *Dest {
	var total int64
	for _, d := range dests {
		if d.eligible() {
			total += int64(d.Weight())
		}
	}
	if total == 0 {
		return nil
	}
	total++
	r1, r2 := s.rng.Int64N(total), s.rng.Int64N(total)
	var c1, c2 *Dest
	for _, d := range dests {
		if !d.eligible() {
			continue
		}
		w := int64(d.Weight())
		r1 -= w
		r2 -= w
		if r1 <= 0 && c1 == nil {
			c1 = d
		}
		if r2 <= 0 && c2 == nil {
			c2 = d
		}
		if c1 != nil && c2 != nil {
			break
		}
	}
	if c1 == nil || c2 == nil {
		return c1
	}
	if int64(c2.Weight())*c1.overhead() > int64(c1.Weight())*c2.overhead() {
		return c2
	}
	return c1
}

// sortedByAddr returns dests sorted by address, as ipvsadm -L lists them.
func sortedByAddr(dests []*Dest) []*Dest {
	out := append([]*Dest(nil), dests...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr().Compare(out[j].Addr()) < 0 })
	return out
}
