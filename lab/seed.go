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
	// Tunnel adds the LVS-TUN path: a VXLAN device on the director and on
	// each realserver over the realserver LAN, the TUN VIP on the
	// realservers' lo, and the director's mark rules into the tunnel.
	// VXLAN stands in for the seed's ipip, which this kernel lacks.
	Tunnel bool
}

// Tunnel constants of the seed lab (SeedOptions.Tunnel).
const (
	// TunnelDev is the VXLAN device's name on every host.
	TunnelDev = "tun0"
	// TunnelID is the VXLAN network identifier.
	TunnelID = 42
	// TunnelMarkBase + i is the firewall mark that sends a packet into
	// the tunnel toward realserver i (0-based), and TunnelTableBase + i
	// the director's routing table for it.
	TunnelMarkBase  = 0x100
	TunnelTableBase = 200
	// VXLANOverhead is what VXLAN encapsulation adds to each packet:
	// outer IPv4 (20), UDP (8), VXLAN header (8) and the inner Ethernet
	// header (14). IPIPOverhead is the seed's ipip: one outer IPv4 header.
	VXLANOverhead = 50
	IPIPOverhead  = 20
)

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
	// VIPTUN is the LVS-TUN VIP (invalid without SeedOptions.Tunnel): the
	// client routes it to the director, which holds no address for it and
	// sends it into the tunnel; the realservers hold it on lo, arp-silent.
	VIPTUN netip.Addr
	// TunnelMarks[i] is the mark that routes into the tunnel toward
	// realserver i, and RealTunnel[i] that realserver's address inside the
	// tunnel (the director's next hop).
	TunnelMarks []uint32
	RealTunnel  []netip.Addr
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
// .105 on the realservers only, .106 LVS-TUN (SeedOptions.Tunnel: VXLAN
// devices tun0 in 10.99.9.0/24 over the realserver LAN). Realservers hold the DR and martian VIPs on lo with
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
	if o.Tunnel {
		s.VIPTUN = ip("10.99." + cnet + ".106")
	}
	// VIPs the director holds no address for: a host route on the client.
	for _, v := range []netip.Addr{s.VIPMartian, s.VIPTP, s.VIPTPDirector, s.VIPTUN} {
		if !v.IsValid() {
			continue
		}
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
		if o.Tunnel {
			tin := ip(fmt.Sprintf("10.99.9.%d", 10+i))
			s.RealTunnel = append(s.RealTunnel, tin)
			s.TunnelMarks = append(s.TunnelMarks, uint32(TunnelMarkBase+i-1))
			h.Loopback = append(h.Loopback, netip.PrefixFrom(s.VIPTUN, 32))
			// TUN replies leave like DR's: from the VIP, straight to the client.
			h.Rules = append(h.Rules, Rule{From: netip.PrefixFrom(s.VIPTUN, 32), Table: s.ReturnTable})
			// The decapsulated packet arrives on tun0, its reply leaves by
			// another device: loose or no reverse-path filter.
			h.Sysctls["net/ipv4/conf/default/rp_filter"] = "0"
			sp.VXLANs = append(sp.VXLANs, VXLAN{Host: name, Name: TunnelDev, ID: TunnelID, Local: lan, Underlay: "eth0",
				Remotes: []netip.Addr{s.DirectorInside}, MAC: fmt.Sprintf("02:99:09:00:00:%02x", 0x10+i),
				Addrs: []netip.Prefix{netip.PrefixFrom(tin, 24)}})
			dh := &sp.Hosts[1]
			dh.Rules = append(dh.Rules, Rule{Mark: s.TunnelMarks[i-1], IIF: s.DirectorInDev, Table: TunnelTableBase + i - 1})
			dh.Routes = append(dh.Routes, Route{Dst: pfx("0.0.0.0/0"), Via: tin, Dev: TunnelDev, Table: TunnelTableBase + i - 1})
		}
		sp.Hosts = append(sp.Hosts, h)
	}
	if o.Tunnel {
		sp.VXLANs = append(sp.VXLANs, VXLAN{Host: Director, Name: TunnelDev, ID: TunnelID, Local: s.DirectorInside, Underlay: "br0",
			Remotes: s.RealLAN, MAC: "02:99:09:00:00:01", Addrs: []netip.Prefix{pfx("10.99.9.1/24")}})
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
