package lab

import (
	"fmt"
	"net/netip"

	"github.com/lvsperf/lvsperf/timing"
)

// Host names of the seed topology.
const (
	Client   = "client"
	Director = "director"
)

// Realserver names the i-th realserver host (1-based).
func Realserver(i int) string { return fmt.Sprintf("rs%d", i) }

// SeedOptions choose one of the seed experiments' shapes.
type SeedOptions struct {
	// Realservers is 1 (the default) or 2.
	Realservers int
	// OneNIC puts client, director and realservers on one LAN (the seed's
	// 1-NIC VS-DR). The default is the two-NIC director: client link and
	// realserver LAN, with a separate return LAN from realservers to client.
	OneNIC bool
	// ClientMTU is the MTU of the client–director link (default 1500).
	ClientMTU int
	// ReturnMTU is the MTU of the return LAN (two-NIC only; default 1500).
	ReturnMTU int
	// Rate shapes the client–director link with tbf when set.
	Rate timing.BitsPerSecond
	// OffloadsOff turns TSO/GSO/GRO off everywhere.
	OffloadsOff bool
}

// Seed is a seed-shaped topology: its Spec and the addresses a client uses
// for each path.
type Seed struct {
	Spec Spec
	Opts SeedOptions
	// ClientAddr is the client's address on the client–director link.
	ClientAddr netip.Addr
	// DirectorAddr is the director's address facing the client, and
	// DirectorInside its address on the realserver LAN.
	DirectorAddr, DirectorInside netip.Addr
	// DirectorInDev is the director device client traffic arrives on, and
	// DirectorOutDev the one toward the realservers (the same bridge port
	// and bridge in a one-NIC lab).
	DirectorInDev, DirectorOutDev string
	// DirectorOutMAC is the MAC of DirectorOutDev (the source of frames a
	// DR director sends).
	DirectorOutMAC string
	// VIPNAT, VIPDR, VIPMartian and VIPTP are the virtual addresses of
	// LVS-NAT, LVS-DR, the martian DR variant and transparent proxy.
	VIPNAT, VIPDR, VIPMartian, VIPTP netip.Addr
	// VIPTPDirector is accepted by "transparent proxy" on the director only
	// (routed to it, no address there) and held on the realservers' lo;
	// VIPTPReal is held by the director (answers ARP) and accepted by
	// tproxy on the realservers only. VIPTP is accepted that way on both.
	VIPTPDirector, VIPTPReal netip.Addr
	// TProxyMark and TProxyTable are the firewall mark and routing table
	// the realservers use to deliver tproxied packets locally.
	TProxyMark  uint32
	TProxyTable int
	// RealLAN are the realservers' addresses on the director's LAN (the
	// forward and NAT targets), RealMAC their MACs there, and RealReturn
	// their addresses on the return LAN (the direct target; empty in a
	// one-NIC lab, where RealLAN is direct).
	RealLAN    []netip.Addr
	RealMAC    []string
	RealReturn []netip.Addr
	// ReturnTable is the realservers' routing table for DR replies.
	ReturnTable int
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// NewSeed builds the seed topology (notes/lab.md §1):
//
//	two-NIC: client c0 10.99.1.2 ══ d0 10.99.1.1 director br0 10.99.2.1 ── rsN eth0 10.99.2.1N
//	         client br1 10.99.3.1 (return LAN) ── rsN eth1 10.99.3.1N
//	one-NIC: client c0 10.99.2.2, director br0 10.99.2.1, rsN eth0 10.99.2.1N on one bridge
//
// VIPs sit in the client's subnet: .100 NAT, .101 DR, .102 martian, .103
// transparent proxy on director and realservers, .104 on the director only,
// .105 on the realservers only. Realservers hold the DR and martian VIPs on lo with
// arp_ignore=1/arp_announce=2; a rule sends replies from the DR VIP over the
// return LAN, while martian replies follow the default route through the
// director. MACs are fixed: 02:99:<net>:00:00:<host>.
func NewSeed(o SeedOptions) (Seed, error) {
	if o.Realservers == 0 {
		o.Realservers = 1
	}
	if o.Realservers < 1 || o.Realservers > 2 {
		return Seed{}, fmt.Errorf("seed lab: %d realservers asked for, want 1 or 2", o.Realservers)
	}
	if o.ClientMTU == 0 {
		o.ClientMTU = 1500
	}
	if o.ReturnMTU == 0 {
		o.ReturnMTU = 1500
	}
	cnet := "1" // the client's subnet
	if o.OneNIC {
		cnet = "2"
	}
	s := Seed{
		Opts:           o,
		ClientAddr:     ip("10.99." + cnet + ".2"),
		DirectorAddr:   ip("10.99." + cnet + ".1"),
		DirectorInside: ip("10.99.2.1"),
		DirectorOutDev: "br0",
		DirectorOutMAC: "02:99:02:00:00:01",
		VIPNAT:         ip("10.99." + cnet + ".100"),
		VIPDR:          ip("10.99." + cnet + ".101"),
		VIPMartian:     ip("10.99." + cnet + ".102"),
		VIPTP:          ip("10.99." + cnet + ".103"),
		VIPTPDirector:  ip("10.99." + cnet + ".104"),
		VIPTPReal:      ip("10.99." + cnet + ".105"),
		ReturnTable:    101,
		TProxyMark:     1,
		TProxyTable:    100,
	}
	sp := Spec{OffloadsOff: o.OffloadsOff}
	sp.Hosts = append(sp.Hosts,
		Host{Name: Client, Sysctls: map[string]string{
			"net/ipv4/conf/all/rp_filter":     "0",
			"net/ipv4/conf/default/rp_filter": "0",
		}},
		Host{Name: Director, Forward: true, Sysctls: map[string]string{
			"net/bridge/bridge-nf-call-iptables": "0",
		}})
	sp.Bridges = append(sp.Bridges, Bridge{Host: Director, Name: "br0", MAC: s.DirectorOutMAC,
		Addrs: []netip.Prefix{pfx("10.99.2.1/24")}})
	if o.OneNIC {
		s.DirectorInDev = "cp"
		sp.Links = append(sp.Links, Link{MTU: o.ClientMTU, Rate: o.Rate,
			A: End{Host: Client, Dev: "c0", MAC: "02:99:02:00:00:02", Addrs: []netip.Prefix{pfx("10.99.2.2/24")}},
			B: End{Host: Director, Dev: "cp", MAC: "02:99:02:00:00:f2", Bridge: "br0"}})
		// The director answers ARP for the NAT and DR VIPs; the martian and
		// tproxy VIPs are routed to it by the client.
		sp.Bridges[0].Addrs = append(sp.Bridges[0].Addrs, netip.PrefixFrom(s.VIPNAT, 32), netip.PrefixFrom(s.VIPDR, 32), netip.PrefixFrom(s.VIPTPReal, 32))
	} else {
		s.DirectorInDev = "d0"
		sp.Hosts[0].Sysctls["net/bridge/bridge-nf-call-iptables"] = "0"
		sp.Bridges = append(sp.Bridges, Bridge{Host: Client, Name: "br1", MAC: "02:99:03:00:00:01",
			Addrs: []netip.Prefix{pfx("10.99.3.1/24")}})
		sp.Links = append(sp.Links, Link{MTU: o.ClientMTU, Rate: o.Rate,
			A: End{Host: Client, Dev: "c0", MAC: "02:99:01:00:00:02", Addrs: []netip.Prefix{pfx("10.99.1.2/24")}},
			B: End{Host: Director, Dev: "d0", MAC: "02:99:01:00:00:01", Addrs: []netip.Prefix{
				pfx("10.99.1.1/24"), netip.PrefixFrom(s.VIPNAT, 32), netip.PrefixFrom(s.VIPDR, 32), netip.PrefixFrom(s.VIPTPReal, 32)}}})
		sp.Hosts[0].Routes = append(sp.Hosts[0].Routes, Route{Dst: pfx("10.99.2.0/24"), Via: s.DirectorAddr})
	}
	// VIPs the director holds no address for: a host route on the client.
	for _, v := range []netip.Addr{s.VIPMartian, s.VIPTP, s.VIPTPDirector} {
		sp.Hosts[0].Routes = append(sp.Hosts[0].Routes, Route{Dst: netip.PrefixFrom(v, 32), Via: s.DirectorAddr})
	}
	for i := 1; i <= o.Realservers; i++ {
		name := Realserver(i)
		lan := ip(fmt.Sprintf("10.99.2.%d", 10+i))
		mac := fmt.Sprintf("02:99:02:00:00:%02x", 0x10+i)
		s.RealLAN = append(s.RealLAN, lan)
		s.RealMAC = append(s.RealMAC, mac)
		h := Host{Name: name,
			Loopback: []netip.Prefix{netip.PrefixFrom(s.VIPDR, 32), netip.PrefixFrom(s.VIPMartian, 32), netip.PrefixFrom(s.VIPTPDirector, 32)},
			Sysctls: map[string]string{
				"net/ipv4/conf/all/arp_ignore":   "1",
				"net/ipv4/conf/all/arp_announce": "2",
				"net/ipv4/conf/all/rp_filter":    "0",
			},
			Routes: []Route{{Dst: pfx("0.0.0.0/0"), Via: s.DirectorInside},
				// tproxy: marked packets are delivered locally.
				{Dst: pfx("0.0.0.0/0"), Dev: "lo", Table: s.TProxyTable, Local: true}},
			Rules: []Rule{{Mark: s.TProxyMark, Table: s.TProxyTable}},
		}
		sp.Links = append(sp.Links, Link{
			A: End{Host: name, Dev: "eth0", MAC: mac, Addrs: []netip.Prefix{netip.PrefixFrom(lan, 24)}},
			B: End{Host: Director, Dev: fmt.Sprintf("r%dp", i), Bridge: "br0", MAC: fmt.Sprintf("02:99:02:00:00:%02x", 0xe0+i)}})
		if o.OneNIC {
			// Replies from the DR VIP go straight to the client on the LAN.
			h.Routes = append(h.Routes, Route{Dst: pfx("0.0.0.0/0"), Via: s.ClientAddr, Dev: "eth0", Table: s.ReturnTable})
		} else {
			ret := ip(fmt.Sprintf("10.99.3.%d", 10+i))
			s.RealReturn = append(s.RealReturn, ret)
			sp.Links = append(sp.Links, Link{MTU: o.ReturnMTU,
				A: End{Host: name, Dev: "eth1", MAC: fmt.Sprintf("02:99:03:00:00:%02x", 0x10+i), Addrs: []netip.Prefix{netip.PrefixFrom(ret, 24)}},
				B: End{Host: Client, Dev: fmt.Sprintf("r%dq", i), Bridge: "br1", MAC: fmt.Sprintf("02:99:03:00:00:%02x", 0xe0+i)}})
			h.Routes = append(h.Routes, Route{Dst: pfx("0.0.0.0/0"), Via: ip("10.99.3.1"), Dev: "eth1", Table: s.ReturnTable})
		}
		for _, v := range []netip.Addr{s.VIPDR, s.VIPTP, s.VIPTPDirector, s.VIPTPReal} {
			h.Rules = append(h.Rules, Rule{From: netip.PrefixFrom(v, 32), Table: s.ReturnTable})
		}
		sp.Hosts = append(sp.Hosts, h)
	}
	if !o.OneNIC {
		sp.Bridges[1].MTU = o.ReturnMTU
	}
	s.Spec = sp
	return s, sp.Validate()
}

// DirectTarget is the address the client reaches realserver i (0-based)
// at without the director.
func (s Seed) DirectTarget(i int) netip.Addr {
	if len(s.RealReturn) > i {
		return s.RealReturn[i]
	}
	return s.RealLAN[i]
}
