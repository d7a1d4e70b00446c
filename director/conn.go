package director

import (
	"hash/maphash"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// connShards is how many independently locked parts the connection table
// has, so that inserts and expiry never take one global lock.
const connShards = 64

// connKey identifies a connection entry as IPVS does: protocol, client
// address:port, virtual address:port and realserver.
type connKey struct {
	proto  dataplane.Protocol
	client netip.AddrPort
	vip    netip.AddrPort
	dest   netip.AddrPort
}

type connShard struct {
	mu sync.Mutex
	m  map[connKey]*Conn
	// dup holds entries whose key is taken by a flow the engine still
	// holds (should not happen with real sockets); both live until expiry.
	dup []*Conn
}

func (d *Director) shard(k connKey) *connShard {
	var h maphash.Hash
	h.SetSeed(d.seed)
	b := k.client.Addr().As16()
	h.Write(b[:])
	p := k.client.Port()
	h.WriteByte(byte(p))
	h.WriteByte(byte(p >> 8))
	return &d.shards[h.Sum64()%connShards]
}

// insert enters c. An entry with the same key that the engine already
// released (a client reusing its port while the old entry lingers in
// TIME_WAIT) is expired at once, as IPVS does with conn_reuse_mode, so the
// table stays bounded by the clients' port ranges.
func (s *connShard) insert(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, taken := s.m[c.key]; taken {
		old.mu.Lock()
		held := old.held
		if !held {
			old.release()
		}
		old.mu.Unlock()
		if held {
			s.dup = append(s.dup, c)
			return
		}
	}
	s.m[c.key] = c
}

// Conn is one entry of the connection table; it implements dataplane.Flow.
type Conn struct {
	d         *Director
	key       connKey
	svc       *service
	dest      *Dest
	tmpl      *template
	onePacket bool

	inPkts, outPkts, inBytes, outBytes atomic.Uint64

	mu         sync.Mutex // guards the fields below; never shared between flows
	state      State
	active     bool // counted in dest's ActiveConn (else InActConn)
	held       bool // the engine still owns the flow
	lastActive time.Time
	seenPkts   uint64 // packets at the last expiry check
	gone       bool   // removed from the table
}

var _ dataplane.Flow = (*Conn)(nil)

// Dest implements dataplane.Flow.
func (c *Conn) Dest() netip.AddrPort { return c.key.dest }

// Client is the flow's client address.
func (c *Conn) Client() netip.AddrPort { return c.key.client }

// State is the flow's current state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Count implements dataplane.Flow with atomic adds only: on the flow, its
// realserver, its service and the director's totals.
func (c *Conn) Count(inbound bool, bytes, packets int64) {
	b, p := uint64(bytes), uint64(packets)
	if inbound {
		c.inPkts.Add(p)
		c.inBytes.Add(b)
		c.dest.stats.inPkts.Add(p)
		c.dest.stats.inBytes.Add(b)
		c.svc.stats.inPkts.Add(p)
		c.svc.stats.inBytes.Add(b)
		c.d.total.inPkts.Add(p)
		c.d.total.inBytes.Add(b)
		return
	}
	c.outPkts.Add(p)
	c.outBytes.Add(b)
	c.dest.stats.outPkts.Add(p)
	c.dest.stats.outBytes.Add(b)
	c.svc.stats.outPkts.Add(p)
	c.svc.stats.outBytes.Add(b)
	c.d.total.outPkts.Add(p)
	c.d.total.outBytes.Add(b)
}

// Event implements dataplane.Flow: it moves a TCP entry through IPVS's
// states (see nextState), moving it between ActiveConn and InActConn, and
// after Closed lets the entry expire after its state's timeout.
func (c *Conn) Event(e dataplane.Event) {
	now := c.d.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	if c.key.proto == dataplane.UDP {
		// UDP has no states: the entry times out 300 s after its last
		// datagram, however long the engine kept the flow open.
		if p := c.inPkts.Load() + c.outPkts.Load(); p != c.seenPkts || e != dataplane.Closed {
			c.seenPkts = p
			c.lastActive = now
		}
	} else {
		c.lastActive = now // every TCP state change re-arms the timer
	}
	if c.key.proto == dataplane.TCP {
		next := nextState(c.state, e)
		if next.Active() != c.active {
			if next.Active() {
				c.dest.active.Add(1)
				c.dest.inactive.Add(-1)
			} else {
				c.dest.inactive.Add(1)
				c.dest.active.Add(-1)
				c.dest.recheckOverload()
			}
			c.active = next.Active()
		}
		c.state = next
	}
	if e == dataplane.Closed || e == dataplane.DialFailed {
		c.held = false
	}
}

// expired reports, under c.mu, whether the entry's idle timeout ran out.
func (c *Conn) expiredAt(now time.Time, t *Timeouts) bool {
	if c.held {
		// The engine owns the socket: traffic since the last check
		// refreshes the idle timer, as every packet re-arms IPVS's timer.
		if p := c.inPkts.Load() + c.outPkts.Load(); p != c.seenPkts {
			c.seenPkts = p
			c.lastActive = now
		}
		return false
	}
	if c.onePacket {
		return true
	}
	return now.Sub(c.lastActive) >= t[c.state]
}

// release unbinds an expired entry from its realserver and template.
func (c *Conn) release() {
	c.gone = true
	c.dest.unbind(c.active)
	if t := c.tmpl; t != nil {
		c.svc.mu.Lock()
		t.controlled--
		c.svc.mu.Unlock()
	}
}

func (d *Director) expire(now time.Time) {
	t := d.timeouts.Load()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for k, c := range s.m {
			c.mu.Lock()
			if c.expiredAt(now, t) {
				c.release()
				delete(s.m, k)
			}
			c.mu.Unlock()
		}
		kept := s.dup[:0]
		for _, c := range s.dup {
			c.mu.Lock()
			if c.expiredAt(now, t) {
				c.release()
			} else {
				kept = append(kept, c)
			}
			c.mu.Unlock()
		}
		s.dup = kept
		s.mu.Unlock()
	}
	for _, s := range *d.svcs.Load() {
		s.mu.Lock()
		for k, tm := range s.templates {
			if tm.controlled <= 0 && now.Sub(tm.lastUse) >= tm.timeout {
				tm.dest.persist.Add(-1)
				delete(s.templates, k)
			}
		}
		s.mu.Unlock()
	}
}

// template is a persistence template: the client network's affinity to
// one realserver.
type template struct {
	proto      dataplane.Protocol
	key        netip.Addr
	vip        netip.AddrPort
	dest       *Dest
	lastUse    time.Time
	timeout    time.Duration
	controlled int // live connections using it; it cannot expire before they do
}

// valid is ip_vs_check_template: the realserver still exists and, with
// expire_quiescent_template, is not quiesced.
func (t *template) valid(expireQuiescent bool) bool {
	if !t.dest.available.Load() {
		return false
	}
	return !expireQuiescent || t.dest.Weight() > 0
}

// ConnEntry is one row of the connection table (ipvsadm -L -c).
type ConnEntry struct {
	Proto   dataplane.Protocol
	Client  netip.AddrPort
	VIP     netip.AddrPort
	Dest    netip.AddrPort
	State   State
	Expires time.Duration
	// Template is set for persistence templates (state NONE, port 0).
	Template bool
	// InBytes and OutBytes are the flow's payload bytes so far.
	InBytes, OutBytes uint64
}

// Conns returns the connection table and persistence templates, sorted by
// protocol, virtual address, client.
func (d *Director) Conns() []ConnEntry {
	now := d.opts.Now()
	t := d.timeouts.Load()
	var out []ConnEntry
	add := func(c *Conn) {
		c.mu.Lock()
		// Idle time left, as IPVS shows it; a flow the engine holds is
		// refreshed at every tick that saw traffic and never expires.
		left := t[c.state] - now.Sub(c.lastActive)
		if left < 0 {
			left = 0
		}
		out = append(out, ConnEntry{Proto: c.key.proto, Client: c.key.client, VIP: c.key.vip, Dest: c.key.dest,
			State: c.state, Expires: left, InBytes: c.inBytes.Load(), OutBytes: c.outBytes.Load()})
		c.mu.Unlock()
	}
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for _, c := range s.m {
			add(c)
		}
		for _, c := range s.dup {
			add(c)
		}
		s.mu.Unlock()
	}
	for _, s := range *d.svcs.Load() {
		s.mu.Lock()
		for _, tm := range s.templates {
			left := tm.timeout - now.Sub(tm.lastUse)
			if left < 0 {
				left = 0
			}
			out = append(out, ConnEntry{Proto: tm.proto, Client: netip.AddrPortFrom(tm.key, 0),
				VIP: s.cfg.Addr, Dest: tm.dest.Addr(), State: StateNone, Expires: left, Template: true})
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if c := a.VIP.Compare(b.VIP); c != 0 {
			return c < 0
		}
		if c := a.Client.Compare(b.Client); c != 0 {
			return c < 0
		}
		return a.Dest.Compare(b.Dest) < 0
	})
	return out
}

// OnePacket reports whether the flow belongs to a one-packet (--ops) UDP
// service: the engine should call Connect for every datagram and close the
// flow after forwarding it, as IPVS schedules each datagram on its own.
func (c *Conn) OnePacket() bool { return c.onePacket }
