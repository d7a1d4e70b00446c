package director

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// addrFold is ntohl of an IPv4 address, or the XOR of the four 32-bit
// words of an IPv6 address, as IPVS folds addresses for hashing.
func addrFold(a netip.Addr) uint32 {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return binary.BigEndian.Uint32(b[:])
	}
	b := a.As16()
	return binary.BigEndian.Uint32(b[0:]) ^ binary.BigEndian.Uint32(b[4:]) ^
		binary.BigEndian.Uint32(b[8:]) ^ binary.BigEndian.Uint32(b[12:])
}

const goldenPrime = 2654435761

// hashTabSize is the bucket count of sh and dh (2^8).
const hashTabSize = 256

// SH is source hashing (ip_vs_sh.c): 256 buckets tiled by weight (each
// realserver in list order fills weight consecutive buckets; a weight-0
// one still fills one), bucket = (offset + (port + addr)*2654435761) & 255
// of the client address (port 0 unless Port, ipvsadm -b sh-port). An
// unusable bucket gives no realserver, unless Fallback (sh-fallback)
// probes offsets 0..255 for the first usable one.
type SH struct {
	Fallback bool
	Port     bool
	buckets  [hashTabSize]*Dest
}

// Name implements Scheduler.
func (*SH) Name() string { return "sh" }

// Update implements Scheduler: refill the buckets.
func (s *SH) Update(dests []*Dest) {
	p, count := 0, 0
	for i := range s.buckets {
		if len(dests) == 0 {
			s.buckets[i] = nil
			continue
		}
		d := dests[p]
		s.buckets[i] = d
		count++
		if count >= d.Weight() {
			p = (p + 1) % len(dests)
			count = 0
		}
	}
}

func shHash(addr uint32, port uint16, offset uint32) uint32 {
	return (offset + (uint32(port)+addr)*goldenPrime) & (hashTabSize - 1)
}

// Schedule implements Scheduler.
func (s *SH) Schedule(dests []*Dest, c ConnInfo) *Dest {
	if s.buckets[0] == nil && len(dests) > 0 {
		s.Update(dests)
	}
	addr := addrFold(c.Client.Addr())
	var port uint16
	if s.Port {
		port = c.Client.Port()
	}
	ihash := shHash(addr, port, 0)
	if d := s.buckets[ihash]; d != nil && d.usable() {
		return d
	}
	if !s.Fallback {
		return nil
	}
	for off := uint32(0); off < hashTabSize; off++ {
		roff := (off + ihash) % hashTabSize
		if d := s.buckets[shHash(addr, port, roff)]; d != nil && d.usable() {
			return d
		}
	}
	return nil
}

// DH is destination hashing (ip_vs_dh.c): 256 buckets filled round robin
// over the list, one bucket per realserver per cycle (not weighted),
// bucket = (addr*2654435761) & 255 of the destination address; an
// unusable bucket gives no realserver.
type DH struct {
	buckets [hashTabSize]*Dest
}

// Name implements Scheduler.
func (*DH) Name() string { return "dh" }

// Update implements Scheduler.
func (s *DH) Update(dests []*Dest) {
	for i := range s.buckets {
		if len(dests) == 0 {
			s.buckets[i] = nil
			continue
		}
		s.buckets[i] = dests[i%len(dests)]
	}
}

// Schedule implements Scheduler.
func (s *DH) Schedule(dests []*Dest, c ConnInfo) *Dest {
	if s.buckets[0] == nil && len(dests) > 0 {
		s.Update(dests)
	}
	if d := s.buckets[(addrFold(c.VIP.Addr())*goldenPrime)&(hashTabSize-1)]; d != nil && d.usable() {
		return d
	}
	return nil
}

// MHTableSize is mh's lookup table size, the prime at the kernel's default
// CONFIG_IP_VS_MH_TAB_INDEX=12.
const MHTableSize = 4093

// mhKey1 and mhKey2 are the fixed hash keys the kernel uses so that every
// director computes the same table.
const (
	mhKey1 = 2654435761
	mhKey2 = 2654446892
)

// mhHash is a keyed 32-bit hash of v. It is deterministic across runs and
// directors, but it is not the kernel's hsiphash: tables have the kernel's
// size, population and fallback, not bit-identical slots.
func mhHash(v uint32, key uint64) uint32 {
	x := uint64(v) ^ key*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return uint32(x) ^ uint32(x>>32)
}

func mhKeyOf(a netip.AddrPort, offset uint32, key uint64) uint32 {
	return mhHash(offset+uint32(a.Port())+addrFold(a.Addr()), key)
}

// MH is Maglev hashing (ip_vs_mh.c, NSDI'16 §3.4): each realserver gets a
// permutation of the MHTableSize slots from offset = h1(addr+port) % M and
// skip = h2(addr+port) % (M-1) + 1; the table is populated round robin over
// the list, each realserver claiming turns = (lastWeight/gcd) >> rshift
// slots per round (rshift = max(0, bitlen(maxw/gcd) - 6), at least one
// turn for a positive last weight). Lookup is slot h1(client addr [+ port
// with Port, mh-port]) % M; an unusable realserver gives none, unless
// Fallback (mh-fallback) probes as sh does. Built from the last non-zero
// weight, so quiescing (weight 0) remaps nobody else.
type MH struct {
	Fallback bool
	Port     bool
	lookup   []*Dest
}

// Name implements Scheduler.
func (*MH) Name() string { return "mh" }

// Update implements Scheduler: repopulate the lookup table.
func (s *MH) Update(dests []*Dest) {
	if s.lookup == nil {
		s.lookup = make([]*Dest, MHTableSize)
	}
	for i := range s.lookup {
		s.lookup[i] = nil
	}
	g, maxw := 0, 0
	for _, d := range dests {
		if d.lastWeight > 0 {
			g = gcd(d.lastWeight, g)
			maxw = max(maxw, d.lastWeight)
		}
	}
	if g < 1 {
		return
	}
	rshift := bits.Len(uint(maxw/g)) - 6
	if rshift < 0 {
		rshift = 0
	}
	type setup struct{ perm, skip, turns int }
	ds := make([]setup, len(dests))
	for i, d := range dests {
		off := int(mhKeyOf(d.Addr(), 0, mhKey1) % MHTableSize)
		skip := int(mhKeyOf(d.Addr(), 0, mhKey2)%(MHTableSize-1)) + 1
		turns := (d.lastWeight / g) >> rshift
		if turns == 0 && d.lastWeight != 0 {
			turns = 1
		}
		ds[i] = setup{perm: off, skip: skip, turns: turns}
	}
	n := 0
	for n < MHTableSize {
		for i, d := range dests {
			for t := 0; t < ds[i].turns; t++ {
				c := ds[i].perm
				for s.lookup[c] != nil {
					ds[i].perm += ds[i].skip
					if ds[i].perm >= MHTableSize {
						ds[i].perm -= MHTableSize
					}
					c = ds[i].perm
				}
				s.lookup[c] = d
				if n++; n == MHTableSize {
					return
				}
			}
		}
	}
}

// Schedule implements Scheduler.
func (s *MH) Schedule(dests []*Dest, c ConnInfo) *Dest {
	if s.lookup == nil {
		s.Update(dests)
	}
	client := c.Client
	if !s.Port {
		client = netip.AddrPortFrom(client.Addr(), 0)
	}
	ihash := mhKeyOf(client, 0, mhKey1) % MHTableSize
	if d := s.lookup[ihash]; d != nil && d.eligible() {
		return d
	}
	if !s.Fallback {
		return nil
	}
	for off := uint32(0); off < MHTableSize; off++ {
		roff := (off + ihash) % MHTableSize
		if d := s.lookup[mhKeyOf(client, roff, mhKey1)%MHTableSize]; d != nil && d.eligible() {
			return d
		}
	}
	return nil
}

// LBLCExpiration is lblc's and lblcr's default entry expiration (sysctl
// lblc_expiration / lblcr_expiration, 24 hours).
const LBLCExpiration = 24 * time.Hour

// lblcOverloaded is lblc's local notion of overloaded: activeconns >
// weight while some realserver of the service has activeconns*2 < weight.
func lblcOverloaded(d *Dest, dests []*Dest) bool {
	if d.ActiveConns() <= int64(d.Weight()) {
		return false
	}
	for _, o := range dests {
		if o.ActiveConns()*2 < int64(o.Weight()) {
			return true
		}
	}
	return false
}

type lblcEntry struct {
	dest    *Dest
	lastUse time.Time
}

// LBLC is locality-based least connection (ip_vs_lblc.c), keyed by the
// destination address: reuse the realserver remembered for it unless that
// one is unusable or locally overloaded (activeconns > weight while
// another has activeconns*2 < weight); otherwise choose by WLC and
// remember. Entries idle longer than LBLCExpiration are forgotten.
type LBLC struct {
	table map[netip.Addr]*lblcEntry
}

// NewLBLC returns an empty lblc scheduler.
func NewLBLC() *LBLC { return &LBLC{table: map[netip.Addr]*lblcEntry{}} }

// Name implements Scheduler.
func (*LBLC) Name() string { return "lblc" }

// Update implements Scheduler: forget entries of removed realservers.
func (s *LBLC) Update(dests []*Dest) {
	for k, e := range s.table {
		if !contains(dests, e.dest) {
			delete(s.table, k)
		}
	}
}

// Schedule implements Scheduler.
func (s *LBLC) Schedule(dests []*Dest, c ConnInfo) *Dest {
	key := c.VIP.Addr()
	if e, ok := s.table[key]; ok && c.Now.Sub(e.lastUse) <= LBLCExpiration {
		e.lastUse = c.Now
		if d := e.dest; d.usable() && !lblcOverloaded(d, dests) {
			return d
		}
	}
	d := weightedLeast(dests, (*Dest).overhead)
	if d == nil {
		return nil
	}
	s.table[key] = &lblcEntry{dest: d, lastUse: c.Now}
	return d
}

func contains(dests []*Dest, d *Dest) bool {
	for _, x := range dests {
		if x == d {
			return true
		}
	}
	return false
}

type lblcrEntry struct {
	set     []*Dest // newest inserted first
	lastMod time.Time
	lastUse time.Time
}

// LBLCR is locality-based least connection with replication
// (ip_vs_lblcr.c): each destination address maps to a set of realservers;
// use the set's weighted-least-loaded member; when the set has more than
// one member and was not modified for LBLCExpiration, drop its
// weighted-most-loaded member; when the chosen one is missing or locally
// overloaded, choose by WLC over the service and add it to the set.
type LBLCR struct {
	table map[netip.Addr]*lblcrEntry
}

// NewLBLCR returns an empty lblcr scheduler.
func NewLBLCR() *LBLCR { return &LBLCR{table: map[netip.Addr]*lblcrEntry{}} }

// Name implements Scheduler.
func (*LBLCR) Name() string { return "lblcr" }

// Update implements Scheduler: drop removed realservers from the sets.
func (s *LBLCR) Update(dests []*Dest) {
	for k, e := range s.table {
		kept := e.set[:0]
		for _, d := range e.set {
			if contains(dests, d) {
				kept = append(kept, d)
			}
		}
		e.set = kept
		if len(kept) == 0 {
			delete(s.table, k)
		}
	}
}

func setMax(set []*Dest) *Dest {
	var most *Dest
	var moh int64
	for _, d := range set {
		if d.Weight() <= 0 {
			continue
		}
		doh := d.overhead()
		if most == nil || moh*int64(d.Weight()) < doh*int64(most.Weight()) {
			most, moh = d, doh
		}
	}
	return most
}

// Schedule implements Scheduler.
func (s *LBLCR) Schedule(dests []*Dest, c ConnInfo) *Dest {
	key := c.VIP.Addr()
	e, ok := s.table[key]
	if ok && c.Now.Sub(e.lastUse) > LBLCExpiration {
		delete(s.table, key)
		ok = false
	}
	if !ok {
		d := weightedLeast(dests, (*Dest).overhead)
		if d == nil {
			return nil
		}
		s.table[key] = &lblcrEntry{set: []*Dest{d}, lastMod: c.Now, lastUse: c.Now}
		return d
	}
	e.lastUse = c.Now
	d := weightedLeast(e.set, (*Dest).overhead)
	if len(e.set) > 1 && c.Now.Sub(e.lastMod) > LBLCExpiration {
		if m := setMax(e.set); m != nil {
			for i, x := range e.set {
				if x == m {
					e.set = append(e.set[:i], e.set[i+1:]...)
					break
				}
			}
			e.lastMod = c.Now
		}
	}
	if d != nil && !lblcOverloaded(d, dests) {
		return d
	}
	d = weightedLeast(dests, (*Dest).overhead)
	if d == nil {
		return nil
	}
	if !contains(e.set, d) {
		e.set = append([]*Dest{d}, e.set...)
		e.lastMod = c.Now
	}
	return d
}
