package director

import (
	"sort"
	"time"
)

// Version is the IPVS version the listings report (IP_VS_VERSION_CODE 0x010201).
const Version = "1.2.1"

// Snapshot is a point-in-time copy of the director's services,
// realservers, counters and rates.
type Snapshot struct {
	// Version is the IPVS version string, "1.2.1".
	Version string
	// TableSize is the connection table size the listing header shows.
	TableSize int
	// Timeouts are the current per-state timeouts.
	Timeouts Timeouts
	// Total counts every service together.
	Total Counters
	// TotalRates are the director-wide rates.
	TotalRates Rates
	// Services are sorted by protocol, then address.
	Services []ServiceSnapshot
}

// ServiceSnapshot is one virtual service in a Snapshot.
type ServiceSnapshot struct {
	ServiceConfig
	Stats Counters
	Rates Rates
	// Dests are sorted by address, as ipvsadm -L lists them.
	Dests []DestSnapshot
}

// DestSnapshot is one realserver in a Snapshot.
type DestSnapshot struct {
	DestConfig
	ActiveConns  int64
	InactConns   int64
	PersistConns int64
	Overloaded   bool
	Stats        Counters
	Rates        Rates
}

// Snapshot copies the current state.
func (d *Director) Snapshot() Snapshot {
	snap := Snapshot{
		Version: Version, TableSize: d.opts.TableSize, Timeouts: d.Timeouts(),
		Total: d.total.load(), TotalRates: d.totalEst.rates(),
	}
	for _, s := range *d.svcs.Load() {
		s.mu.Lock()
		ss := ServiceSnapshot{ServiceConfig: s.cfg, Stats: s.stats.load(), Rates: s.est.rates()}
		for _, dst := range sortedByAddr(s.dests) {
			ss.Dests = append(ss.Dests, DestSnapshot{
				DestConfig: dst.Config(), ActiveConns: dst.ActiveConns(), InactConns: dst.InactConns(),
				PersistConns: dst.PersistConns(), Overloaded: dst.Overloaded(),
				Stats: dst.stats.load(), Rates: dst.est.rates(),
			})
		}
		s.mu.Unlock()
		snap.Services = append(snap.Services, ss)
	}
	sort.Slice(snap.Services, func(i, j int) bool {
		a, b := snap.Services[i], snap.Services[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		return a.Addr.Compare(b.Addr) < 0
	})
	return snap
}

// Persistent reports whether the service is persistent.
func (s ServiceSnapshot) Persistent() bool { return s.Persistence > 0 }

// PersistenceSeconds is the persistence timeout in whole seconds, as listed.
func (s ServiceSnapshot) PersistenceSeconds() uint64 { return uint64(s.Persistence / time.Second) }
