package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/timing"
)

// Options say how a lab is built.
type Options struct {
	// Keep names the namespaces so that they outlive this process (for
	// `lvsperf lab up`); the stale sweep then leaves them alone and only
	// `lvsperf lab down` removes them.
	Keep bool
	// NoSweep skips removing stale namespaces of dead earlier runs first.
	NoSweep bool
}

// Lab is a built topology. Close tears it down.
type Lab struct {
	Spec  Spec
	Run   string
	hosts map[string]*HostNS
	order []string
}

// HostNS is one running host: a network namespace with a netlink handle.
type HostNS struct {
	Name   string
	NSName string
	ns     netns.NsHandle
	nl     *netlink.Handle
}

// Up builds spec. On any failure it removes what it built. It needs root.
func Up(ctx context.Context, spec Spec, o Options) (_ *Lab, err error) {
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if !o.NoSweep {
		if _, err := SweepStale(ctx, false); err != nil {
			return nil, fmt.Errorf("remove stale lab namespaces: %w", err)
		}
	}
	run, err := newRunID()
	if err != nil {
		return nil, err
	}
	owner := strconv.Itoa(os.Getpid())
	if o.Keep {
		owner = KeepOwner
	}
	l := &Lab{Spec: spec, Run: run, hosts: map[string]*HostNS{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	for _, h := range spec.Hosts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := NSName{Owner: owner, Run: run, Host: h.Name}.String()
		ns, err := createNamed(name)
		if err != nil {
			return nil, err
		}
		hn := &HostNS{Name: h.Name, NSName: name, ns: ns}
		l.hosts[h.Name] = hn
		l.order = append(l.order, h.Name)
		if hn.nl, err = netlink.NewHandleAt(ns); err != nil {
			return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
		}
		lo, err := hn.nl.LinkByName("lo")
		if err != nil {
			return nil, fmt.Errorf("%s: find lo: %w", h.Name, err)
		}
		if err := hn.nl.LinkSetUp(lo); err != nil {
			return nil, fmt.Errorf("%s: set lo up: %w", h.Name, err)
		}
		for _, a := range h.Loopback {
			if err := hn.addAddr(lo, a); err != nil {
				return nil, err
			}
		}
		sys := map[string]string{}
		for k, v := range h.Sysctls {
			sys[k] = v
		}
		if h.Forward {
			sys["net/ipv4/ip_forward"] = "1"
		}
		if err := hn.WriteSysctls(sys); err != nil {
			return nil, err
		}
	}
	if err := l.buildLinks(ctx); err != nil {
		return nil, err
	}
	for _, h := range spec.Hosts {
		hn := l.hosts[h.Name]
		for _, r := range h.Routes {
			if err := hn.addRoute(r); err != nil {
				return nil, err
			}
		}
		for _, r := range h.Rules {
			if err := hn.addRule(r); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

func (l *Lab) buildLinks(ctx context.Context) error {
	for _, b := range l.Spec.Bridges {
		h := l.hosts[b.Host]
		la := netlink.NewLinkAttrs()
		la.Name = b.Name
		if err := setMAC(&la, b.MAC); err != nil {
			return err
		}
		if err := h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return fmt.Errorf("%s: add bridge %s: %w", b.Host, b.Name, err)
		}
	}
	for _, lk := range l.Spec.Links {
		a, b := l.hosts[lk.A.Host], l.hosts[lk.B.Host]
		la := netlink.NewLinkAttrs()
		la.Name = lk.A.Dev
		la.MTU = lk.MTU
		la.Namespace = netlink.NsFd(a.ns)
		if err := setMAC(&la, lk.A.MAC); err != nil {
			return err
		}
		v := &netlink.Veth{LinkAttrs: la, PeerName: lk.B.Dev, PeerNamespace: netlink.NsFd(b.ns)}
		if lk.B.MAC != "" {
			m, err := net.ParseMAC(lk.B.MAC)
			if err != nil {
				return fmt.Errorf("link end %s: MAC %q: %w", lk.B.Dev, lk.B.MAC, err)
			}
			v.PeerHardwareAddr = m
		}
		// Created from the A host's handle; both ends land in their namespaces
		// directly, so nothing is ever left in the root namespace.
		if err := a.nl.LinkAdd(v); err != nil {
			return fmt.Errorf("add veth %s(%s)–%s(%s): %w", lk.A.Dev, lk.A.Host, lk.B.Dev, lk.B.Host, err)
		}
		for _, e := range []End{lk.A, lk.B} {
			h := l.hosts[e.Host]
			dev, err := h.nl.LinkByName(e.Dev)
			if err != nil {
				return fmt.Errorf("%s: find %s after creating it: %w", e.Host, e.Dev, err)
			}
			if lk.MTU != 0 && dev.Attrs().MTU != lk.MTU {
				if err := h.nl.LinkSetMTU(dev, lk.MTU); err != nil {
					return fmt.Errorf("%s: set MTU %d on %s: %w", e.Host, lk.MTU, e.Dev, err)
				}
			}
			if e.Bridge != "" {
				br, err := h.nl.LinkByName(e.Bridge)
				if err != nil {
					return fmt.Errorf("%s: find bridge %s: %w", e.Host, e.Bridge, err)
				}
				if err := h.nl.LinkSetMaster(dev, br); err != nil {
					return fmt.Errorf("%s: add %s to bridge %s: %w", e.Host, e.Dev, e.Bridge, err)
				}
			}
			for _, a := range e.Addrs {
				if err := h.addAddr(dev, a); err != nil {
					return err
				}
			}
			if err := h.nl.LinkSetUp(dev); err != nil {
				return fmt.Errorf("%s: set %s up: %w", e.Host, e.Dev, err)
			}
			if lk.Rate > 0 {
				if err := h.SetRate(ctx, e.Dev, lk.Rate); err != nil {
					return err
				}
			}
		}
	}
	for _, b := range l.Spec.Bridges {
		h := l.hosts[b.Host]
		dev, err := h.nl.LinkByName(b.Name)
		if err != nil {
			return fmt.Errorf("%s: find bridge %s: %w", b.Host, b.Name, err)
		}
		if b.MTU != 0 {
			if err := h.nl.LinkSetMTU(dev, b.MTU); err != nil {
				return fmt.Errorf("%s: set MTU %d on bridge %s: %w", b.Host, b.MTU, b.Name, err)
			}
		}
		for _, a := range b.Addrs {
			if err := h.addAddr(dev, a); err != nil {
				return err
			}
		}
		if err := h.nl.LinkSetUp(dev); err != nil {
			return fmt.Errorf("%s: set bridge %s up: %w", b.Host, b.Name, err)
		}
	}
	for _, v := range l.Spec.VXLANs {
		if err := l.hosts[v.Host].addVXLAN(v); err != nil {
			return err
		}
	}
	if l.Spec.OffloadsOff {
		if err := l.SetOffloads(ctx, false); err != nil {
			return err
		}
	}
	return nil
}

// addVXLAN creates v with its default forwarding entries and addresses,
// and sets it up.
func (h *HostNS) addVXLAN(v VXLAN) error {
	under, err := h.nl.LinkByName(v.Underlay)
	if err != nil {
		return fmt.Errorf("%s: vxlan %s: find underlay %s: %w", h.Name, v.Name, v.Underlay, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name = v.Name
	la.MTU = v.MTU
	if err := setMAC(&la, v.MAC); err != nil {
		return err
	}
	// Learning off: the forwarding entries below say where frames go.
	vx := &netlink.Vxlan{LinkAttrs: la, VxlanId: v.ID, VtepDevIndex: under.Attrs().Index,
		SrcAddr: v.Local.AsSlice(), Port: VXLANPort, Learning: false}
	if err := h.nl.LinkAdd(vx); err != nil {
		return fmt.Errorf("%s: add vxlan %s (id %d over %s): %w (does the kernel have vxlan?)", h.Name, v.Name, v.ID, v.Underlay, err)
	}
	dev, err := h.nl.LinkByName(v.Name)
	if err != nil {
		return fmt.Errorf("%s: find %s after creating it: %w", h.Name, v.Name, err)
	}
	for _, r := range v.Remotes {
		n := &netlink.Neigh{LinkIndex: dev.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: r.AsSlice(), HardwareAddr: make(net.HardwareAddr, 6)}
		if err := h.nl.NeighAppend(n); err != nil {
			return fmt.Errorf("%s: vxlan %s: forwarding entry to %v: %w", h.Name, v.Name, r, err)
		}
	}
	for _, a := range v.Addrs {
		if err := h.addAddr(dev, a); err != nil {
			return err
		}
	}
	if err := h.nl.LinkSetUp(dev); err != nil {
		return fmt.Errorf("%s: set %s up: %w", h.Name, v.Name, err)
	}
	return nil
}

func setMAC(la *netlink.LinkAttrs, mac string) error {
	if mac == "" {
		return nil
	}
	m, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("device %s: MAC %q: %w", la.Name, mac, err)
	}
	la.HardwareAddr = m
	return nil
}

func (h *HostNS) addAddr(dev netlink.Link, p netip.Prefix) error {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := h.nl.AddrAdd(dev, a); err != nil {
		return fmt.Errorf("%s: add %s to %s: %w", h.Name, p, dev.Attrs().Name, err)
	}
	return nil
}

func (h *HostNS) addRoute(r Route) error {
	rt := &netlink.Route{Table: r.Table,
		Dst: &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)}}
	if r.Via.IsValid() {
		rt.Gw = r.Via.AsSlice()
	}
	if r.Dev != "" {
		dev, err := h.nl.LinkByName(r.Dev)
		if err != nil {
			return fmt.Errorf("%s: route %s: find %s: %w", h.Name, r.Dst, r.Dev, err)
		}
		rt.LinkIndex = dev.Attrs().Index
	}
	if r.Local {
		rt.Type = 2 // RTN_LOCAL
		rt.Scope = netlink.SCOPE_HOST
	}
	if err := h.nl.RouteAdd(rt); err != nil {
		return fmt.Errorf("%s: add route %s via %v dev %q table %d: %w", h.Name, r.Dst, r.Via, r.Dev, r.Table, err)
	}
	return nil
}

func (h *HostNS) addRule(r Rule) error {
	rl := netlink.NewRule()
	rl.Table = r.Table
	if r.From.IsValid() {
		rl.Src = &net.IPNet{IP: r.From.Addr().AsSlice(), Mask: net.CIDRMask(r.From.Bits(), 32)}
	}
	if r.Mark != 0 {
		rl.Mark = r.Mark
	}
	rl.IifName = r.IIF
	if r.Priority != 0 {
		rl.Priority = r.Priority
	}
	if err := h.nl.RuleAdd(rl); err != nil {
		return fmt.Errorf("%s: add rule from %v mark %d iif %q table %d: %w", h.Name, r.From, r.Mark, r.IIF, r.Table, err)
	}
	return nil
}

// Close tears the lab down: it kills every process left in its namespaces
// and removes them, which removes their links and nft tables with them.
func (l *Lab) Close() error {
	var errs []error
	for i := len(l.order) - 1; i >= 0; i-- {
		h := l.hosts[l.order[i]]
		if h.nl != nil {
			h.nl.Close()
		}
		h.ns.Close()
		errs = append(errs, deleteNamed(h.NSName))
	}
	l.hosts, l.order = nil, nil
	return errors.Join(errs...)
}

// Host returns the running host by its Spec name, or nil.
func (l *Lab) Host(name string) *HostNS { return l.hosts[name] }

// Hosts returns the running hosts in Spec order.
func (l *Lab) Hosts() []*HostNS {
	out := make([]*HostNS, 0, len(l.order))
	for _, n := range l.order {
		out = append(out, l.hosts[n])
	}
	return out
}

// Do runs fn on an OS thread inside the host's namespace. Sockets fn opens
// (listeners, dialed connections) stay in the namespace, so in-process
// servers and clients can live in different hosts. Goroutines started by
// fn do not run in the namespace, but may use sockets fn created.
func (h *HostNS) Do(fn func() error) error { return inNS(h.ns, fn) }

// DialTCP connects to addr from inside the host, giving up after timeout.
func (h *HostNS) DialTCP(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		d := net.Dialer{Timeout: timeout}
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// Start starts cmd inside the host; the caller waits for it. Processes
// still running at Close are killed.
func (h *HostNS) Start(cmd *exec.Cmd) error {
	if err := startIn(h.ns, cmd); err != nil {
		return fmt.Errorf("%s: start %s: %w", h.Name, cmd.Path, err)
	}
	return nil
}

// Exec runs a command to completion inside the host and returns its
// combined output.
func (h *HostNS) Exec(ctx context.Context, name string, args ...string) (string, error) {
	out, err := runIn(ctx, h.ns, name, args...)
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", h.Name, err)
	}
	return string(out), nil
}

// Netlink is the host's netlink handle (usable from any goroutine).
func (h *HostNS) Netlink() *netlink.Handle { return h.nl }

// FD is the namespace's file descriptor (for nftables.WithNetNSFd).
func (h *HostNS) FD() int { return int(h.ns) }

// Path is the namespace's file under /run/netns.
func (h *HostNS) Path() string { return filepath.Join(nsDir, h.NSName) }

// WriteSysctls writes values under /proc/sys inside the host.
func (h *HostNS) WriteSysctls(kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return h.Do(func() error {
		for _, k := range keys {
			p := filepath.Join("/proc/sys", k)
			if err := os.WriteFile(p, []byte(kv[k]), 0o644); err != nil {
				return fmt.Errorf("%s: sysctl %s=%s: %w (does this kernel have it?)", h.Name, strings.ReplaceAll(k, "/", "."), kv[k], err)
			}
		}
		return nil
	})
}

// SetMTU changes a device's MTU.
func (h *HostNS) SetMTU(dev string, mtu int) error {
	d, err := h.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("%s: find %s: %w", h.Name, dev, err)
	}
	if err := h.nl.LinkSetMTU(d, mtu); err != nil {
		return fmt.Errorf("%s: set MTU %d on %s: %w", h.Name, mtu, dev, err)
	}
	return nil
}

// SetRate shapes a device's egress with tbf at rate (burst of two frames
// and at least 4000 bytes, latency 50ms), or removes the shaping when rate
// is 0.
func (h *HostNS) SetRate(ctx context.Context, dev string, rate timing.BitsPerSecond) error {
	if rate <= 0 {
		_, err := h.Exec(ctx, "tc", "qdisc", "del", "dev", dev, "root")
		return err
	}
	d, err := h.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("%s: find %s: %w", h.Name, dev, err)
	}
	burst := max(4000, 2*(d.Attrs().MTU+14))
	_, err = h.Exec(ctx, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(int64(rate), 10)+"bit", "burst", strconv.Itoa(burst), "latency", "50ms")
	if err != nil {
		return fmt.Errorf("tbf at %v: %w (install iproute2; the kernel needs sch_tbf)", rate, err)
	}
	return nil
}

// SetOffloads turns TSO, GSO and GRO on or off on every veth end and bridge
// of the lab, with the ethtool binary.
func (l *Lab) SetOffloads(ctx context.Context, on bool) error {
	v := "off"
	if on {
		v = "on"
	}
	for _, h := range l.Hosts() {
		links, err := h.nl.LinkList()
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return fmt.Errorf("%s: list links: %w", h.Name, err)
		}
		for _, d := range links {
			if d.Attrs().Name == "lo" {
				continue
			}
			if _, err := h.Exec(ctx, "ethtool", "-K", d.Attrs().Name, "tso", v, "gso", v, "gro", v); err != nil {
				return fmt.Errorf("offloads %s: %w (install the ethtool package)", v, err)
			}
		}
	}
	return nil
}

// Pids lists the processes running in the host's namespace (other than
// this one), e.g. to find what a launcher started there.
func (h *HostNS) Pids() ([]int, error) { return pidsIn(h.Path()) }
