package director

import (
	"net/netip"
	"sync/atomic"
)

// Dest is a realserver as schedulers see it: its address, weight and
// connection counts. Weight and thresholds change only under the owning
// service's lock; the connection counters are atomics updated by flows.
type Dest struct {
	addr       netip.AddrPort
	forward    atomic.Int32
	weight     atomic.Int64
	upper      atomic.Int64
	lower      atomic.Int64
	lastWeight int // last non-zero weight (mh builds its table from it); service lock

	active     atomic.Int64
	inactive   atomic.Int64
	persist    atomic.Int64
	overloaded atomic.Bool
	available  atomic.Bool

	stats counters
	est   estimator
}

// NewDest returns a standalone realserver with the given weight, for
// engines and tests that use a Scheduler without a Director.
func NewDest(addr netip.AddrPort, weight int) *Dest {
	d := &Dest{addr: addr}
	d.setConfig(DestConfig{Addr: addr, Weight: weight, Forward: Masq})
	d.available.Store(true)
	return d
}

func newDest(c DestConfig) *Dest {
	d := NewDest(c.Addr, c.Weight)
	d.setConfig(c)
	return d
}

// setConfig applies an edit (the address never changes).
func (d *Dest) setConfig(c DestConfig) {
	d.forward.Store(int32(c.Forward))
	d.setWeight(c.Weight)
	d.upper.Store(int64(c.UpperThreshold))
	d.lower.Store(int64(c.LowerThreshold))
}

func (d *Dest) setWeight(w int) {
	d.weight.Store(int64(w))
	if w > 0 {
		d.lastWeight = w
	}
}

// Config returns the realserver's configuration.
func (d *Dest) Config() DestConfig {
	return DestConfig{Addr: d.addr, Forward: Forward(d.forward.Load()), Weight: d.Weight(),
		UpperThreshold: int(d.upper.Load()), LowerThreshold: int(d.lower.Load())}
}

// Addr is the realserver's address and port.
func (d *Dest) Addr() netip.AddrPort { return d.addr }

// Weight is the realserver's current weight (0 = quiesced).
func (d *Dest) Weight() int { return int(d.weight.Load()) }

// ActiveConns counts connections in an active TCP state.
func (d *Dest) ActiveConns() int64 { return d.active.Load() }

// InactConns counts the other connections (all UDP ones included).
func (d *Dest) InactConns() int64 { return d.inactive.Load() }

// PersistConns counts the persistence templates pointing here.
func (d *Dest) PersistConns() int64 { return d.persist.Load() }

// Overloaded reports whether the upper threshold was reached.
func (d *Dest) Overloaded() bool { return d.overloaded.Load() }

// SetConns sets the connection counters; for tests and for engines that
// count connections themselves (nft).
func (d *Dest) SetConns(active, inactive int64) {
	d.active.Store(active)
	d.inactive.Store(inactive)
}

// SetOverloaded sets the overload flag directly (tests, other engines).
func (d *Dest) SetOverloaded(v bool) { d.overloaded.Store(v) }

// overhead is ip_vs_dest_conn_overhead: activeconns*256 + inactconns.
func (d *Dest) overhead() int64 { return d.active.Load()<<8 + d.inactive.Load() }

// eligible is the check every scheduler makes: not overloaded, weight > 0.
func (d *Dest) eligible() bool { return !d.overloaded.Load() && d.weight.Load() > 0 }

// usable is the hash schedulers' check: available as well.
func (d *Dest) usable() bool { return d.available.Load() && d.eligible() }

// bind counts a new connection on d (inactive first, as IPVS does) and
// sets the overload flag when the upper threshold is reached.
func (d *Dest) bind(active bool) {
	if active {
		d.active.Add(1)
	} else {
		d.inactive.Add(1)
	}
	if u := d.upper.Load(); u != 0 && d.active.Load()+d.inactive.Load() >= u {
		d.overloaded.Store(true)
	}
}

// unbind releases a connection and clears the overload flag with IPVS's
// hysteresis (below -y, or below 3/4 of -x when -y is 0).
func (d *Dest) unbind(active bool) {
	if active {
		d.active.Add(-1)
	} else {
		d.inactive.Add(-1)
	}
	d.recheckOverload()
}

func (d *Dest) recheckOverload() {
	total := d.active.Load() + d.inactive.Load()
	l, u := d.lower.Load(), d.upper.Load()
	switch {
	case l != 0:
		if total < l {
			d.overloaded.Store(false)
		}
	case u != 0:
		if total*4 < u*3 {
			d.overloaded.Store(false)
		}
	default:
		d.overloaded.Store(false)
	}
}
