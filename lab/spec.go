package lab

import (
	"fmt"
	"net/netip"
	"regexp"

	"github.com/lvsperf/lvsperf/timing"
)

// Spec declares a topology. Hosts become network namespaces; Links are
// veth pairs between two hosts; Bridges live inside a host and take link
// ends as ports.
type Spec struct {
	Hosts   []Host
	Bridges []Bridge
	Links   []Link
	// VXLANs are tunnel devices, built after the links and bridges they
	// ride on.
	VXLANs []VXLAN
	// OffloadsOff turns TSO, GSO and GRO off on every veth end and bridge
	// (with the ethtool binary), so that the MTU sets the per-packet cost.
	OffloadsOff bool
}

// Host is one namespace.
type Host struct {
	// Name is short: lowercase letters and digits.
	Name string
	// Loopback addresses are added to lo (DR VIPs, host routes).
	Loopback []netip.Prefix
	// Forward turns on IPv4 forwarding.
	Forward bool
	// Sysctls are written under /proc/sys inside the host, keyed by path
	// relative to /proc/sys ("net/ipv4/conf/all/arp_ignore"). Keys that do
	// not exist in this kernel are an error.
	Sysctls map[string]string
	// Routes and Rules are added after every address is up.
	Routes []Route
	Rules  []Rule
}

// Route is one IPv4 route inside a host.
type Route struct {
	Dst netip.Prefix
	// Via is the gateway; zero for an on-link route through Dev.
	Via netip.Addr
	Dev string
	// Table is the routing table; 0 means main.
	Table int
	// Local makes it a local route (type local), as tproxy needs.
	Local bool
}

// Rule is one policy-routing rule inside a host.
type Rule struct {
	// From matches the source address (zero: any).
	From netip.Prefix
	// Mark matches the firewall mark (0: any).
	Mark uint32
	// IIF matches the device a packet came in on (empty: any). A packet
	// the host sends itself has none, so a tunnel's encapsulated packets,
	// which keep the inner packet's mark, do not loop back into the
	// tunnel through a mark rule restricted to the client-side device.
	IIF   string
	Table int
	// Priority orders rules (0: the kernel picks).
	Priority int
}

// Bridge is a bridge device inside a host.
type Bridge struct {
	Host, Name string
	MAC        string
	Addrs      []netip.Prefix
	// MTU, when set, is applied after the ports joined. Keep it at or
	// below the ports' MTU: a bridge drops larger frames silently.
	MTU int
}

// VXLANPort is the UDP port VXLAN devices of the lab use (IANA's 4789).
const VXLANPort = 4789

// VXLAN is a VXLAN device inside a host: Ethernet frames carried in UDP
// over an underlay device. The lab's LVS-TUN path uses it because this
// kernel has no ipip, gre, fou or geneve: "tun" here is VXLAN
// encapsulation (50 bytes of overhead: outer IPv4 20, UDP 8, VXLAN 8,
// inner Ethernet 14), not the 20 bytes of the seed's ipip.
type VXLAN struct {
	Host, Name string
	// ID is the VXLAN network identifier (1..16777215).
	ID int
	// Local is the underlay source address; Underlay the device the
	// encapsulated packets leave by.
	Local    netip.Addr
	Underlay string
	// Remotes each get a default forwarding entry (as `bridge fdb append
	// 00:00:00:00:00:00 dev NAME dst R`): broadcast and unknown frames go
	// to every remote, so ARP over the tunnel works.
	Remotes []netip.Addr
	MAC     string
	Addrs   []netip.Prefix
	// MTU 0 leaves the kernel's choice: the underlay's MTU less 50.
	MTU int
}

// Link is a veth pair.
type Link struct {
	A, B End
	// MTU of both ends; 0 leaves the kernel's 1500.
	MTU int
	// Rate, when set, shapes both ends' egress with tbf (the tc binary).
	Rate timing.BitsPerSecond
}

// End is one end of a veth pair.
type End struct {
	Host, Dev string
	MAC       string
	Addrs     []netip.Prefix
	// Bridge names a bridge in the same host that this end joins as a port.
	Bridge string
}

var nameOK = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// Validate checks names and references, so a typo fails before anything
// is built.
func (s Spec) Validate() error {
	hosts := map[string]bool{}
	devs := map[string]bool{}
	for _, h := range s.Hosts {
		if !nameOK.MatchString(h.Name) {
			return fmt.Errorf("host name %q: want 1-12 lowercase letters or digits, starting with a letter", h.Name)
		}
		if hosts[h.Name] {
			return fmt.Errorf("host %q declared twice", h.Name)
		}
		hosts[h.Name] = true
	}
	dev := func(host, name string) error {
		if !hosts[host] {
			return fmt.Errorf("device %s refers to host %q, which the spec does not declare", name, host)
		}
		if len(name) == 0 || len(name) > 15 {
			return fmt.Errorf("device name %q on %s: want 1-15 characters", name, host)
		}
		k := host + "/" + name
		if devs[k] {
			return fmt.Errorf("device %s declared twice on host %s", name, host)
		}
		devs[k] = true
		return nil
	}
	for _, b := range s.Bridges {
		if err := dev(b.Host, b.Name); err != nil {
			return err
		}
	}
	for _, l := range s.Links {
		for _, e := range []End{l.A, l.B} {
			if err := dev(e.Host, e.Dev); err != nil {
				return err
			}
			if e.Bridge != "" && !devs[e.Host+"/"+e.Bridge] {
				return fmt.Errorf("link end %s on %s joins bridge %q, which is not declared on that host", e.Dev, e.Host, e.Bridge)
			}
		}
		if l.MTU != 0 && (l.MTU < 68 || l.MTU > 65535) {
			return fmt.Errorf("link %s-%s: MTU %d out of range 68..65535", l.A.Dev, l.B.Dev, l.MTU)
		}
	}
	for _, v := range s.VXLANs {
		if err := dev(v.Host, v.Name); err != nil {
			return err
		}
		if v.ID < 1 || v.ID > 1<<24-1 {
			return fmt.Errorf("vxlan %s on %s: id %d out of range 1..16777215", v.Name, v.Host, v.ID)
		}
		if !devs[v.Host+"/"+v.Underlay] {
			return fmt.Errorf("vxlan %s on %s rides on %q, which is not a device declared on that host", v.Name, v.Host, v.Underlay)
		}
		if !v.Local.Is4() {
			return fmt.Errorf("vxlan %s on %s: local address %v is not IPv4", v.Name, v.Host, v.Local)
		}
	}
	return nil
}
