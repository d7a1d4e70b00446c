package director

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Options configure a Director. The zero value means IPVS's defaults.
type Options struct {
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
	// Timeouts overrides the per-state idle timeouts; zero entries take
	// DefaultTimeouts.
	Timeouts Timeouts
	// TableSize is the connection hash table size shown in listings
	// (default 4096, CONFIG_IP_VS_TAB_BITS=12).
	TableSize int
	// Seed seeds the twos scheduler's PRNG (default 1).
	Seed uint64
	// ExpireQuiescentTemplate invalidates persistence templates whose
	// realserver has weight 0 (sysctl expire_quiescent_template); by
	// default, as in IPVS, persistent clients keep going to a quiesced one.
	ExpireQuiescentTemplate bool
}

// Director is the model of an IPVS director. It is safe for concurrent use.
type Director struct {
	opts     Options
	timeouts atomic.Pointer[Timeouts]

	cfgMu sync.Mutex // serialises configuration changes
	svcs  atomic.Pointer[map[ServiceKey]*service]

	shards [connShards]connShard
	seed   maphash.Seed

	total    counters
	totalEst estimator
	lastEst  atomic.Int64 // unix nanos of the last estimator sample
}

type service struct {
	mu        sync.Mutex
	cfg       ServiceConfig
	sched     Scheduler
	dests     []*Dest // kernel order: newest added first
	templates map[netip.Addr]*template
	stats     counters
	est       estimator
}

// New returns an empty director.
func New(opts Options) *Director {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TableSize == 0 {
		opts.TableSize = 4096
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	d := &Director{opts: opts, seed: maphash.MakeSeed()}
	t := DefaultTimeouts()
	for i, v := range opts.Timeouts {
		if v > 0 {
			t[i] = v
		}
	}
	d.timeouts.Store(&t)
	empty := map[ServiceKey]*service{}
	d.svcs.Store(&empty)
	for i := range d.shards {
		d.shards[i].m = map[connKey]*Conn{}
	}
	d.lastEst.Store(opts.Now().UnixNano())
	return d
}

// ErrExists is wrapped when adding a service or realserver that exists.
var ErrExists = errors.New("already exists")

// ErrNotFound is wrapped when a service or realserver does not exist.
var ErrNotFound = errors.New("not found")

func (d *Director) newScheduler(cfg ServiceConfig) (Scheduler, error) {
	if cfg.Scheduler == "twos" {
		return NewTwos(d.opts.Seed), nil
	}
	return NewScheduler(cfg.Scheduler, cfg.Flags)
}

// AddService adds a virtual service (ipvsadm -A).
func (d *Director) AddService(cfg ServiceConfig) error {
	if err := cfg.normalize(); err != nil {
		return err
	}
	sched, err := d.newScheduler(cfg)
	if err != nil {
		return err
	}
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	old := *d.svcs.Load()
	if _, ok := old[cfg.Key()]; ok {
		return fmt.Errorf("service %s: %w; edit it with -E", cfg.Key(), ErrExists)
	}
	m := make(map[ServiceKey]*service, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[cfg.Key()] = &service{cfg: cfg, sched: sched, templates: map[netip.Addr]*template{}}
	d.svcs.Store(&m)
	return nil
}

func (d *Director) service(k ServiceKey) (*service, error) {
	s, ok := (*d.svcs.Load())[k]
	if !ok {
		return nil, fmt.Errorf("service %s: %w; add it with -A", k, ErrNotFound)
	}
	return s, nil
}

// EditService changes a service's scheduler, persistence and flags (ipvsadm -E).
func (d *Director) EditService(cfg ServiceConfig) error {
	if err := cfg.normalize(); err != nil {
		return err
	}
	s, err := d.service(cfg.Key())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.Scheduler != s.cfg.Scheduler || cfg.Flags&(FlagSched1|FlagSched2) != s.cfg.Flags&(FlagSched1|FlagSched2) {
		sched, err := d.newScheduler(cfg)
		if err != nil {
			return err
		}
		s.sched = sched
		s.sched.Update(s.dests)
	}
	s.cfg = cfg
	return nil
}

// DeleteService removes a service (ipvsadm -D). Its flows keep running.
func (d *Director) DeleteService(proto dataplane.Protocol, vip netip.AddrPort) error {
	k := ServiceKey{Proto: proto, Addr: vip}
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	old := *d.svcs.Load()
	s, ok := old[k]
	if !ok {
		return fmt.Errorf("service %s: %w", k, ErrNotFound)
	}
	m := make(map[ServiceKey]*service, len(old))
	for kk, v := range old {
		if kk != k {
			m[kk] = v
		}
	}
	d.svcs.Store(&m)
	s.mu.Lock()
	for _, dst := range s.dests {
		dst.available.Store(false)
	}
	s.mu.Unlock()
	return nil
}

// Clear removes every service (ipvsadm -C).
func (d *Director) Clear() {
	d.cfgMu.Lock()
	old := *d.svcs.Load()
	empty := map[ServiceKey]*service{}
	d.svcs.Store(&empty)
	d.cfgMu.Unlock()
	for _, s := range old {
		s.mu.Lock()
		for _, dst := range s.dests {
			dst.available.Store(false)
		}
		s.mu.Unlock()
	}
}

func findDest(dests []*Dest, a netip.AddrPort) int {
	for i, x := range dests {
		if x.Addr() == a {
			return i
		}
	}
	return -1
}

// AddDest adds a realserver to a service (ipvsadm -a). A zero port takes
// the service's port. Weight 0 adds it quiesced.
func (d *Director) AddDest(proto dataplane.Protocol, vip netip.AddrPort, c DestConfig) error {
	s, err := d.service(ServiceKey{Proto: proto, Addr: vip})
	if err != nil {
		return err
	}
	if err := c.normalize(vip); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if findDest(s.dests, c.Addr) >= 0 {
		return fmt.Errorf("realserver %s of %s: %w; edit it with -e", c.Addr, s.cfg.Key(), ErrExists)
	}
	// IPVS inserts at the list head: newest first.
	s.dests = append([]*Dest{newDest(c)}, s.dests...)
	s.sched.Update(s.dests)
	return nil
}

func (d *Director) destOf(proto dataplane.Protocol, vip, rip netip.AddrPort) (*service, error) {
	s, err := d.service(ServiceKey{Proto: proto, Addr: vip})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// EditDest changes a realserver's forwarding method, weight and thresholds (ipvsadm -e).
func (d *Director) EditDest(proto dataplane.Protocol, vip netip.AddrPort, c DestConfig) error {
	s, err := d.destOf(proto, vip, c.Addr)
	if err != nil {
		return err
	}
	if err := c.normalize(vip); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := findDest(s.dests, c.Addr)
	if i < 0 {
		return fmt.Errorf("realserver %s of %s: %w; add it with -a", c.Addr, s.cfg.Key(), ErrNotFound)
	}
	s.dests[i].setConfig(c)
	s.dests[i].recheckOverload()
	s.sched.Update(s.dests)
	return nil
}

// DeleteDest removes a realserver (ipvsadm -d). Its flows keep running.
func (d *Director) DeleteDest(proto dataplane.Protocol, vip, rip netip.AddrPort) error {
	s, err := d.destOf(proto, vip, rip)
	if err != nil {
		return err
	}
	if rip.Port() == 0 {
		rip = netip.AddrPortFrom(rip.Addr(), vip.Port())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := findDest(s.dests, rip)
	if i < 0 {
		return fmt.Errorf("realserver %s of %s: %w", rip, s.cfg.Key(), ErrNotFound)
	}
	s.dests[i].available.Store(false)
	s.dests = append(append([]*Dest(nil), s.dests[:i]...), s.dests[i+1:]...)
	s.sched.Update(s.dests)
	return nil
}

// SetWeight sets a realserver's weight; 0 quiesces it (no new
// connections, existing ones continue). Health checks use it.
func (d *Director) SetWeight(proto dataplane.Protocol, vip, rip netip.AddrPort, weight int) error {
	if weight < 0 || weight > MaxWeight {
		return fmt.Errorf("weight %d: want 0 to %d", weight, MaxWeight)
	}
	s, err := d.destOf(proto, vip, rip)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := findDest(s.dests, rip)
	if i < 0 {
		return fmt.Errorf("realserver %s of %s: %w", rip, s.cfg.Key(), ErrNotFound)
	}
	s.dests[i].setWeight(weight)
	s.sched.Update(s.dests)
	return nil
}

// Connect implements dataplane.Picker: it schedules a new flow from client
// to the virtual service (proto, vip), honouring persistence, and enters
// it in the connection table.
func (d *Director) Connect(proto dataplane.Protocol, vip, client netip.AddrPort) (dataplane.Flow, error) {
	c, err := d.connect(proto, vip, client)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (d *Director) lookup(proto dataplane.Protocol, vip netip.AddrPort) *service {
	m := *d.svcs.Load()
	if s, ok := m[ServiceKey{Proto: proto, Addr: vip}]; ok {
		return s
	}
	// A port-zero (wildcard) persistent service takes every port of the VIP.
	return m[ServiceKey{Proto: proto, Addr: netip.AddrPortFrom(vip.Addr(), 0)}]
}

func (d *Director) connect(proto dataplane.Protocol, vip, client netip.AddrPort) (*Conn, error) {
	s := d.lookup(proto, vip)
	if s == nil {
		return nil, fmt.Errorf("%s %s: %w", protoName(proto), vip, dataplane.ErrNoService)
	}
	now := d.opts.Now()
	s.mu.Lock()
	var (
		dst  *Dest
		tmpl *template
	)
	persistent := s.cfg.Persistence > 0
	if persistent {
		key := maskAddr(client.Addr(), s.cfg.Netmask)
		if t, ok := s.templates[key]; ok && t.valid(d.opts.ExpireQuiescentTemplate) {
			tmpl, dst = t, t.dest
		} else {
			if ok {
				t.dest.persist.Add(-1)
				delete(s.templates, key)
			}
			dst = s.sched.Schedule(s.dests, ConnInfo{Client: client, VIP: vip, Now: now})
			if dst != nil {
				tmpl = &template{key: key, dest: dst, vip: vip, proto: proto}
				s.templates[key] = tmpl
				dst.persist.Add(1)
			}
		}
		if tmpl != nil {
			tmpl.lastUse = now
			tmpl.timeout = s.cfg.Persistence
			tmpl.controlled++
		}
	} else {
		dst = s.sched.Schedule(s.dests, ConnInfo{Client: client, VIP: vip, Now: now})
	}
	if dst == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", s.cfg.Key(), dataplane.ErrNoDestination)
	}
	state := StateSynRecv
	if proto == dataplane.UDP {
		state = StateUDP
	}
	c := &Conn{
		d: d, svc: s, dest: dst, tmpl: tmpl, state: state, held: true, lastActive: now,
		active:    state.Active(),
		onePacket: proto == dataplane.UDP && s.cfg.Flags&FlagOnePacket != 0,
		key:       connKey{proto: proto, client: client, vip: vip, dest: dst.Addr()},
	}
	dst.bind(c.active)
	s.mu.Unlock()

	s.stats.conns.Add(1)
	dst.stats.conns.Add(1)
	d.total.conns.Add(1)
	d.shard(c.key).insert(c)
	return c, nil
}

// maskAddr is the persistence template key: the client address masked to
// the service's netmask.
func maskAddr(a netip.Addr, bits int) netip.Addr {
	a = a.Unmap()
	if a.Is4() && bits > 32 {
		bits = 32
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// Tick runs the periodic work at the director's clock: expire idle
// connection entries and templates, and sample the rate estimator when
// EstimatorInterval has passed. Run calls it every second.
func (d *Director) Tick() {
	now := d.opts.Now()
	d.expire(now)
	last := time.Unix(0, d.lastEst.Load())
	if now.Sub(last) >= EstimatorInterval {
		d.lastEst.Store(last.Add(EstimatorInterval).UnixNano())
		if now.Sub(last) >= 2*EstimatorInterval {
			d.lastEst.Store(now.UnixNano()) // we fell behind; do not replay samples
		}
		d.estimate()
	}
}

// Run calls Tick every second until ctx is done, then returns ctx.Err().
func (d *Director) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			d.Tick()
		}
	}
}

func (d *Director) estimate() {
	for _, s := range *d.svcs.Load() {
		s.est.sample(s.stats.load())
		s.mu.Lock()
		dests := append([]*Dest(nil), s.dests...)
		s.mu.Unlock()
		for _, dst := range dests {
			dst.est.sample(dst.stats.load())
		}
	}
	d.totalEst.sample(d.total.load())
}

// Zero resets the counters and rates of one service and its realservers,
// or of everything when key is nil (ipvsadm -Z).
func (d *Director) Zero(key *ServiceKey) error {
	m := *d.svcs.Load()
	zero := func(s *service) {
		s.stats.zero()
		s.est.reset(Counters{})
		s.mu.Lock()
		for _, dst := range s.dests {
			dst.stats.zero()
			dst.est.reset(Counters{})
		}
		s.mu.Unlock()
	}
	if key != nil {
		s, ok := m[*key]
		if !ok {
			return fmt.Errorf("service %s: %w", *key, ErrNotFound)
		}
		zero(s)
		return nil
	}
	for _, s := range m {
		zero(s)
	}
	d.total.zero()
	d.totalEst.reset(Counters{})
	return nil
}

// SetTimeouts sets the ESTABLISHED, FIN_WAIT and UDP timeouts (ipvsadm
// --set tcp tcpfin udp); a zero value leaves that timeout unchanged.
func (d *Director) SetTimeouts(tcp, tcpFin, udp time.Duration) {
	t := *d.timeouts.Load()
	if tcp > 0 {
		t[StateEstablished] = tcp
	}
	if tcpFin > 0 {
		t[StateFinWait] = tcpFin
	}
	if udp > 0 {
		t[StateUDP] = udp
	}
	d.timeouts.Store(&t)
}

// Timeouts returns the current per-state timeouts.
func (d *Director) Timeouts() Timeouts { return *d.timeouts.Load() }
