package director

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Forward is a realserver's forwarding method (ipvsadm -m, -g, -i).
type Forward int

// Forwarding methods. The userspace proxy always behaves as Masq (both
// directions pass through the director); Route and Tunnel are kept so that
// configurations and listings round-trip.
const (
	// Route is direct routing (gatewaying, ipvsadm -g), IPVS's default.
	Route Forward = iota
	// Masq is NAT (masquerading, ipvsadm -m).
	Masq
	// Tunnel is IP-in-IP encapsulation (ipvsadm -i).
	Tunnel
	// Local is a realserver on the director itself (listed as "Local").
	Local
)

// String returns the name ipvsadm -L prints in the Forward column.
func (f Forward) String() string {
	switch f {
	case Route:
		return "Route"
	case Masq:
		return "Masq"
	case Tunnel:
		return "Tunnel"
	case Local:
		return "Local"
	}
	return fmt.Sprintf("Forward(%d)", int(f))
}

// ServiceFlags are a virtual service's flags.
type ServiceFlags uint32

// Service flags, with IPVS's values.
const (
	// FlagPersistent is set when the service has persistence (-p).
	FlagPersistent ServiceFlags = 0x0001
	// FlagHashed is IPVS's "service is hashed" flag (informational).
	FlagHashed ServiceFlags = 0x0002
	// FlagOnePacket is one-packet scheduling (-o, --ops), UDP only.
	FlagOnePacket ServiceFlags = 0x0004
	// FlagSched1 is the first scheduler flag (sh-fallback, mh-fallback).
	FlagSched1 ServiceFlags = 0x0008
	// FlagSched2 is the second scheduler flag (sh-port, mh-port).
	FlagSched2 ServiceFlags = 0x0010
	// FlagSched3 is the third scheduler flag (unused by any scheduler).
	FlagSched3 ServiceFlags = 0x0020
)

// DefaultPersistence is the persistence timeout ipvsadm uses for -p without
// a value (IPVS_SVC_PERSISTENT_TIMEOUT, 6 minutes; the man page's 300 s is
// wrong, the code wins).
const DefaultPersistence = 360 * time.Second

// ServiceKey identifies a virtual service.
type ServiceKey struct {
	Proto dataplane.Protocol
	Addr  netip.AddrPort
}

// String formats the key as ipvsadm does: "TCP  10.0.0.1:80".
func (k ServiceKey) String() string { return fmt.Sprintf("%s %s", protoName(k.Proto), k.Addr) }

// ServiceConfig is a virtual service (ipvsadm -A/-E).
type ServiceConfig struct {
	// Proto is TCP or UDP.
	Proto dataplane.Protocol
	// Addr is the virtual address and port.
	Addr netip.AddrPort
	// Scheduler is the scheduler's name (default "wlc", as ipvsadm).
	Scheduler string
	// Persistence is the persistence timeout; 0 means not persistent.
	Persistence time.Duration
	// Netmask is the persistence granularity as a prefix length (-M); 0
	// means a single address (32 for IPv4, 128 for IPv6).
	Netmask int
	// Flags are the service's flags (FlagOnePacket, FlagSched1, FlagSched2).
	// FlagPersistent is derived from Persistence.
	Flags ServiceFlags
}

// Key returns the service's key.
func (c ServiceConfig) Key() ServiceKey { return ServiceKey{Proto: c.Proto, Addr: c.Addr} }

// DestConfig is a realserver (ipvsadm -a/-e).
type DestConfig struct {
	// Addr is the realserver's address and port.
	Addr netip.AddrPort
	// Forward is the forwarding method.
	Forward Forward
	// Weight is 0..65535; 0 quiesces the realserver (no new connections).
	Weight int
	// UpperThreshold (-x) marks the realserver overloaded when its active
	// plus inactive connections reach it; 0 means no limit.
	UpperThreshold int
	// LowerThreshold (-y) clears the overload below it; 0 means clear below
	// three quarters of UpperThreshold.
	LowerThreshold int
}

// MaxWeight is the largest weight ipvsadm accepts.
const MaxWeight = 65535

func protoName(p dataplane.Protocol) string {
	switch p {
	case dataplane.TCP:
		return "TCP"
	case dataplane.UDP:
		return "UDP"
	}
	return string(p)
}

func (c *ServiceConfig) normalize() error {
	if c.Proto != dataplane.TCP && c.Proto != dataplane.UDP {
		return fmt.Errorf("service protocol %q: want %q or %q", c.Proto, dataplane.TCP, dataplane.UDP)
	}
	if !c.Addr.IsValid() {
		return fmt.Errorf("service address is not set: give VIP:port")
	}
	if c.Scheduler == "" {
		c.Scheduler = "wlc"
	}
	if _, err := NewScheduler(c.Scheduler, c.Flags); err != nil {
		return err
	}
	if c.Persistence < 0 {
		return fmt.Errorf("persistence %v: want 0 (off) or a positive duration", c.Persistence)
	}
	bits := 32
	if c.Addr.Addr().Is6() && !c.Addr.Addr().Is4In6() {
		bits = 128
	}
	if c.Netmask == 0 {
		c.Netmask = bits
	}
	if c.Netmask < 0 || c.Netmask > bits {
		return fmt.Errorf("netmask /%d: want 0 to %d", c.Netmask, bits)
	}
	if c.Persistence > 0 {
		c.Flags |= FlagPersistent
	} else {
		c.Flags &^= FlagPersistent
	}
	if c.Addr.Port() == 0 && c.Persistence == 0 {
		return fmt.Errorf("service %s has port 0: a port-zero (wildcard) service must be persistent (-p)", c.Addr)
	}
	return nil
}

func (c *DestConfig) normalize(svc netip.AddrPort) error {
	if !c.Addr.IsValid() {
		return fmt.Errorf("realserver address is not set: give RIP:port")
	}
	if c.Addr.Port() == 0 {
		c.Addr = netip.AddrPortFrom(c.Addr.Addr(), svc.Port())
	}
	if c.Weight < 0 || c.Weight > MaxWeight {
		return fmt.Errorf("weight %d: want 0 to %d", c.Weight, MaxWeight)
	}
	if c.UpperThreshold < 0 || c.LowerThreshold < 0 {
		return fmt.Errorf("thresholds %d/%d: want 0 or more", c.UpperThreshold, c.LowerThreshold)
	}
	if c.Forward < Route || c.Forward > Local {
		return fmt.Errorf("forwarding method %d: want Route, Masq, Tunnel or Local", int(c.Forward))
	}
	return nil
}
