package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/director"
)

// Mode is how the director passes a connection to a realserver.
type Mode string

// Modes.
const (
	// Forward: no rules; the director routes (ip_forward=1) and the client
	// targets a realserver's own address. Only counters are installed.
	Forward Mode = "forward"
	// NAT: dnat from the VIP to a realserver; replies come back through the
	// director, whose conntrack un-NATs them.
	NAT Mode = "nat"
	// DR: netdev ingress rewrites the destination MAC to the realserver's
	// and sends the frame out of the realserver LAN; replies go straight to
	// the client over the return LAN.
	DR Mode = "dr"
	// Martian: DR inbound, but the realservers' gateway is the director, so
	// replies pass through it as plain forwarded packets.
	Martian Mode = "martian"
	// TUN: LVS-TUN. The director marks packets for the VIP in prerouting;
	// the host's policy routing sends each mark into a tunnel device toward
	// one realserver, which decapsulates, holds the VIP (arp-silent) and
	// replies straight to the client. This kernel has no ipip, gre, fou or
	// geneve, so the lab's tunnel is VXLAN (UDP, 50 bytes of overhead
	// where ipip adds 20); the engine works with any tunnel device.
	TUN Mode = "tun"
)

// TableName is the nftables table the engine owns in its namespace.
const TableName = "lvsperf"

// Realserver is one destination.
type Realserver struct {
	Addr netip.Addr
	// MAC on the director's LAN (DR and martian).
	MAC net.HardwareAddr
	// Mark is the firewall mark whose policy route leads into the tunnel
	// toward this realserver (TUN; lab.Seed.TunnelMarks).
	Mark uint32
	// Weight for the scheduler (0 means 1).
	Weight int
}

// Config is one virtual service on the director.
type Config struct {
	Mode Mode
	// VIP the client connects to (unused by Forward).
	VIP netip.Addr
	// Port restricts the service to one TCP port; 0 takes every TCP port.
	Port        uint16
	Realservers []Realserver
	// Scheduler fills the hash buckets (default "wrr"); see Buckets.
	Scheduler string
	// Buckets is how many hash buckets flows fall into (default 64).
	Buckets int
	// InDev is the director device client traffic arrives on, OutDev the
	// device toward the realservers, OutMAC OutDev's MAC (DR and martian).
	InDev, OutDev string
	OutMAC        net.HardwareAddr
	// TunDev is the director's tunnel device (TUN).
	TunDev string
}

// Engine is a programmed director. Close removes its table.
type Engine struct {
	nsFD  int
	cfg   Config
	conn  *nftables.Conn
	table *nftables.Table
	// buckets[i] is the realserver index hash bucket i sends to.
	buckets []int
}

// Rule tags (UserData) that Counters reads back.
const (
	tagRequests = "requests"
	tagReplies  = "replies"
)

// Buckets fills n hash buckets with realserver indexes, asking the director
// model's scheduler once per bucket, as if each bucket were a new
// connection. With rr or wrr the buckets follow the weights; the kernel
// then hashes every flow (source address and port) to one bucket, so a
// connection always stays on its realserver.
func Buckets(rs []Realserver, scheduler string, n int) ([]int, error) {
	if len(rs) == 0 {
		return nil, errors.New("nft engine: no realservers given; add at least one")
	}
	if scheduler == "" {
		scheduler = "wrr"
	}
	s, err := director.NewScheduler(scheduler, 0)
	if err != nil {
		return nil, fmt.Errorf("nft engine: %w", err)
	}
	dests := make([]*director.Dest, len(rs))
	index := map[*director.Dest]int{}
	for i, r := range rs {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		dests[i] = director.NewDest(netip.AddrPortFrom(r.Addr, 0), w)
		index[dests[i]] = i
	}
	s.Update(dests)
	out := make([]int, n)
	for b := range out {
		d := s.Schedule(dests, director.ConnInfo{Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(b >> 8), byte(b)}), uint16(b))})
		if d == nil {
			return nil, fmt.Errorf("nft engine: scheduler %s chose no realserver for bucket %d (all weights 0?)", scheduler, b)
		}
		out[b] = index[d]
	}
	return out, nil
}

// Program installs cfg in the namespace whose file descriptor is nsFD,
// replacing any table the engine installed there before.
func Program(nsFD int, cfg Config) (*Engine, error) {
	if cfg.Buckets == 0 {
		cfg.Buckets = 64
	}
	switch cfg.Mode {
	case Forward, NAT, DR, Martian, TUN:
	default:
		return nil, fmt.Errorf("nft engine: unknown mode %q: want forward, nat, dr, martian or tun", cfg.Mode)
	}
	if cfg.Mode == TUN && cfg.TunDev == "" {
		return nil, errors.New("nft engine: mode tun needs TunDev, the director's tunnel device")
	}
	if cfg.Mode != Forward && !cfg.VIP.Is4() {
		return nil, fmt.Errorf("nft engine: mode %s needs an IPv4 VIP, got %v", cfg.Mode, cfg.VIP)
	}
	if cfg.InDev == "" || cfg.OutDev == "" {
		return nil, errors.New("nft engine: InDev and OutDev must name the director's client-side and realserver-side devices")
	}
	c, err := nftables.New(nftables.WithNetNSFd(nsFD))
	if err != nil {
		return nil, fmt.Errorf("nft engine: open netlink: %w", err)
	}
	e := &Engine{nsFD: nsFD, cfg: cfg, conn: c}
	if cfg.Mode != Forward {
		if e.buckets, err = Buckets(cfg.Realservers, cfg.Scheduler, cfg.Buckets); err != nil {
			return nil, err
		}
	}
	e.removeTables()
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nft engine: remove the old table: %w", err)
	}
	if err := e.install(); err != nil {
		e.removeTables()
		_ = c.Flush()
		return nil, err
	}
	return e, nil
}

// families the engine may have tables in.
var families = []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyNetdev, nftables.TableFamilyINet}

func (e *Engine) removeTables() {
	tables, err := e.conn.ListTables()
	if err != nil {
		return
	}
	for _, t := range tables {
		if t.Name == TableName && slices.Contains(families, t.Family) {
			e.conn.DelTable(t)
		}
	}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

// matchVIP loads ip daddr and compares it to the VIP, then the TCP port.
func (e *Engine) matchVIP(netdev bool) []expr.Any {
	var ex []expr.Any
	if netdev {
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x08, 0x00}})
	}
	vip := e.cfg.VIP.As4()
	ex = append(ex,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: vip[:]})
	if e.cfg.Port != 0 {
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, e.cfg.Port)})
	}
	return ex
}

// datum is what pick chooses per realserver: its address, MAC or mark.
type datum int

const (
	datumAddr datum = iota
	datumMAC
	datumMark
)

// pick leaves the chosen realserver's datum (address, MAC or mark) in
// register 1: a constant for one realserver, else jhash(ip saddr . tcp
// sport) mod buckets looked up in a map the scheduler filled.
func (e *Engine) pick(t *nftables.Table, kind datum) ([]expr.Any, error) {
	value := func(i int) []byte {
		switch kind {
		case datumMAC:
			return e.cfg.Realservers[i].MAC
		case datumMark:
			return u32(e.cfg.Realservers[i].Mark)
		}
		a := e.cfg.Realservers[i].Addr.As4()
		return a[:]
	}
	for i, r := range e.cfg.Realservers {
		if kind == datumMAC && len(r.MAC) != 6 {
			return nil, fmt.Errorf("nft engine: realserver %d (%v) needs its MAC for mode %s", i, r.Addr, e.cfg.Mode)
		}
		if kind == datumMark && r.Mark == 0 {
			return nil, fmt.Errorf("nft engine: realserver %d (%v) needs the mark of its tunnel route for mode %s", i, r.Addr, e.cfg.Mode)
		}
	}
	if len(e.cfg.Realservers) == 1 {
		return []expr.Any{&expr.Immediate{Register: 1, Data: value(0)}}, nil
	}
	dt := map[datum]nftables.SetDatatype{datumAddr: nftables.TypeIPAddr, datumMAC: nftables.TypeEtherAddr, datumMark: nftables.TypeMark}[kind]
	set := &nftables.Set{Table: t, Anonymous: true, Constant: true, IsMap: true, KeyType: nftables.TypeInteger, DataType: dt}
	var elems []nftables.SetElement
	for b, i := range e.buckets {
		elems = append(elems, nftables.SetElement{Key: u32(uint32(b)), Val: value(i)})
	}
	if err := e.conn.AddSet(set, elems); err != nil {
		return nil, fmt.Errorf("nft engine: bucket map: %w", err)
	}
	// Registers as nft(8) uses them for "jhash ip saddr . tcp sport":
	// saddr in reg 2 (bytes 16-19), sport in 32-bit reg 13 (bytes 20-23).
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Payload{DestRegister: 13, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Hash{SourceRegister: 2, DestRegister: 1, Length: 8, Modulus: uint32(len(e.buckets)), Type: expr.HashTypeJenkins},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetID: set.ID, SetName: set.Name},
	}, nil
}

func (e *Engine) install() error {
	c := e.conn
	// Counters in the forward hook prove the path: "replies" counts what the
	// director routes from the realserver side to the client side.
	it := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	accept := nftables.ChainPolicyAccept
	fw := c.AddChain(&nftables.Chain{Name: "forward", Table: it, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	dir := func(in, out, tag string) {
		c.AddRule(&nftables.Rule{Table: it, Chain: fw, UserData: []byte(tag), Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(in)},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(out)},
			&expr.Counter{},
		}})
	}
	dir(e.cfg.OutDev, e.cfg.InDev, tagReplies)
	if e.cfg.Mode == Forward || e.cfg.Mode == NAT {
		dir(e.cfg.InDev, e.cfg.OutDev, tagRequests)
	}
	if e.cfg.Mode == TUN {
		// Requests are what the director forwards into the tunnel; a reply
		// coming back out of it (or over the LAN) toward the client would
		// mean the realserver answered through the director.
		dir(e.cfg.InDev, e.cfg.TunDev, tagRequests)
		dir(e.cfg.TunDev, e.cfg.InDev, tagReplies)
	}
	switch e.cfg.Mode {
	case TUN:
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName})
		// Mangle priority: before the routing decision, which the mark steers.
		ch := c.AddChain(&nftables.Chain{Name: "pre", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle, Policy: &accept})
		pick, err := e.pick(t, datumMark)
		if err != nil {
			return err
		}
		ex := append(e.matchVIP(false), pick...)
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte("mark"), Exprs: ex})
	case NAT:
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName})
		ch := c.AddChain(&nftables.Chain{Name: "pre", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
		pick, err := e.pick(t, datumAddr)
		if err != nil {
			return err
		}
		ex := append(e.matchVIP(false), pick...)
		ex = append(ex, &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte("dnat"), Exprs: ex})
	case DR, Martian:
		if len(e.cfg.OutMAC) != 6 {
			return fmt.Errorf("nft engine: mode %s needs OutMAC, the MAC of %s", e.cfg.Mode, e.cfg.OutDev)
		}
		idx, err := e.outIndex()
		if err != nil {
			return err
		}
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyNetdev, Name: TableName})
		ch := c.AddChain(&nftables.Chain{Name: "in", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter, Device: e.cfg.InDev, Policy: &accept})
		pick, err := e.pick(t, datumMAC)
		if err != nil {
			return err
		}
		ex := append(e.matchVIP(true), &expr.Counter{})
		ex = append(ex, pick...)
		ex = append(ex,
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
			&expr.Immediate{Register: 1, Data: e.cfg.OutMAC},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
			&expr.Immediate{Register: 1, Data: u32(uint32(idx))},
			// google/nftables v0.3.0 has no "fwd" expression: "dup to dev;
			// drop" sends the rewritten frame out the same way, at the cost
			// of one skb clone.
			&expr.Dup{RegDev: 1, IsRegDevSet: true},
			&expr.Verdict{Kind: expr.VerdictDrop})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte(tagRequests), Exprs: ex})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft engine: install %s rules: %w (does the kernel have nf_tables with nat, netdev and dup?)", e.cfg.Mode, err)
	}
	return nil
}

// outIndex is OutDev's interface index inside the engine's namespace.
func (e *Engine) outIndex() (int, error) {
	h, err := netlink.NewHandleAt(netns.NsHandle(e.nsFD))
	if err != nil {
		return 0, fmt.Errorf("nft engine: netlink in the director namespace: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(e.cfg.OutDev)
	if err != nil {
		return 0, fmt.Errorf("nft engine: OutDev %q not found in the director namespace: %w", e.cfg.OutDev, err)
	}
	return l.Attrs().Index, nil
}

// Counters are what the engine's rules counted.
type Counters struct {
	// Requests counts client→realserver packets the director's rule
	// handled (the DR ingress rule, forwarded packets for forward/NAT, or
	// packets forwarded into the tunnel for TUN).
	Requests uint64
	// Replies counts packets the director routed from the realserver side
	// to the client side (for TUN also out of the tunnel). It stays 0 for
	// DR and TUN: replies bypass the director.
	Replies uint64
}

// Counters reads the engine's counters back from the kernel.
func (e *Engine) Counters() (Counters, error) {
	var out Counters
	tables, err := e.conn.ListTables()
	if err != nil {
		return out, fmt.Errorf("nft engine: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name != TableName {
			continue
		}
		chains, err := e.conn.ListChainsOfTableFamily(t.Family)
		if err != nil {
			return out, fmt.Errorf("nft engine: list chains: %w", err)
		}
		for _, ch := range chains {
			if ch.Table.Name != TableName {
				continue
			}
			rules, err := e.conn.GetRules(t, ch)
			if err != nil {
				return out, fmt.Errorf("nft engine: read rules of %s: %w", ch.Name, err)
			}
			for _, r := range rules {
				for _, x := range r.Exprs {
					cnt, ok := x.(*expr.Counter)
					if !ok {
						continue
					}
					switch string(r.UserData) {
					case tagRequests:
						out.Requests += cnt.Packets
					case tagReplies:
						out.Replies += cnt.Packets
					}
				}
			}
		}
	}
	return out, nil
}

// BucketsOf returns how many hash buckets each realserver got.
func (e *Engine) BucketsOf() []int {
	n := make([]int, len(e.cfg.Realservers))
	for _, i := range e.buckets {
		n[i]++
	}
	return n
}

// Close removes the engine's tables.
func (e *Engine) Close() error {
	e.removeTables()
	err := e.conn.Flush()
	if cerr := e.conn.CloseLasting(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("nft engine: remove table %s: %w", TableName, err)
	}
	return nil
}
