package lvsconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Limits that keep a hostile file from using unbounded memory.
const (
	MaxLineBytes = 4096
	MaxLines     = 10000
)

// Resolver maps a host name to an address.
type Resolver interface {
	Resolve(host string) (netip.Addr, error)
}

// MapResolver resolves names from a map; literal IP addresses resolve to
// themselves.
type MapResolver map[string]netip.Addr

// Resolve implements Resolver.
func (m MapResolver) Resolve(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	if a, ok := m[host]; ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("unknown host %q: add it to the resolver (e.g. --host %s=ADDR)", host, host)
}

// LVSType is the forwarding method of the whole LVS.
type LVSType string

// LVS types.
const (
	VSDR  LVSType = "VS_DR"
	VSNAT LVSType = "VS_NAT"
	VSTUN LVSType = "VS_TUN"
)

// Forward is the realservers' forwarding method for the type.
func (t LVSType) Forward() director.Forward {
	switch t {
	case VSNAT:
		return director.Masq
	case VSTUN:
		return director.Tunnel
	}
	return director.Route
}

// Iface is an interface line: VIP= or DIRECTOR_INSIDEIP=.
type Iface struct {
	Device string
	Host   string
	Addr   netip.Addr
	// Fields are the rest of the line as written (netmask, broadcast, …).
	Fields []string
}

// Realserver is one realserver of a SERVICE line: host[:port][,weight].
type Realserver struct {
	Host   string
	Addr   netip.Addr
	Port   uint16 // 0 = the service's port
	Weight int
}

// Service is one SERVICE= line.
type Service struct {
	Line        int
	Proto       dataplane.Protocol
	Port        uint16
	PortName    string
	Scheduler   string
	Realservers []Realserver
}

// Setting is a well-formed KEY=value line the director does not use.
type Setting struct {
	Line  int
	Key   string
	Value string
}

// Config is a parsed lvs.conf.
type Config struct {
	Name             string
	Type             LVSType
	InitialState     string
	VIP              *Iface
	DirectorInsideIP *Iface
	Services         []Service
	// Other keeps the other settings (SERVER_VIP_DEVICE, DIRECTOR_DEFAULT_GW, …).
	Other []Setting
}

// Ports are the service names lvs.conf files use.
var ports = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53, "http": 80, "www": 80,
	"pop3": 110, "https": 443, "rsh": 514, "shell": 514, "printer": 515, "lpd": 515, "nfs": 2049,
	"netpipe": 5002,
}

// LineError is an error on one line of a file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Parse reads an lvs.conf from r; name is used in errors. Host names
// resolve through res.
func Parse(name string, r io.Reader, res Resolver) (*Config, error) {
	c := &Config{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), MaxLineBytes)
	line := 0
	fail := func(format string, a ...any) error {
		return &LineError{File: name, Line: line, Err: fmt.Errorf(format, a...)}
	}
	seen := map[string]int{}
	for sc.Scan() {
		line++
		if line > MaxLines {
			return nil, fail("more than %d lines; this is not an lvs.conf", MaxLines)
		}
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || !validKey(key) {
			return nil, fail("want KEY=value, got %q", text)
		}
		if prev, dup := seen[key]; dup && key != "SERVICE" {
			return nil, fail("%s given twice (first on line %d)", key, prev)
		}
		seen[key] = line
		fields := strings.Fields(val)
		switch key {
		case "LVS_TYPE":
			switch t := LVSType(val); t {
			case VSDR, VSNAT, VSTUN:
				c.Type = t
			default:
				return nil, fail("LVS_TYPE must be VS_DR, VS_NAT or VS_TUN, got %q", val)
			}
		case "INITIAL_STATE":
			if val != "on" && val != "off" {
				return nil, fail("INITIAL_STATE must be on or off, got %q", val)
			}
			c.InitialState = val
		case "VIP", "DIRECTOR_INSIDEIP":
			if len(fields) < 2 {
				return nil, fail("%s needs a device and a host (e.g. %s=eth0:110 lvs 255.255.255.255 lvs), got %q", key, key, val)
			}
			a, err := res.Resolve(fields[1])
			if err != nil {
				return nil, fail("%s: %v", key, err)
			}
			ifc := &Iface{Device: fields[0], Host: fields[1], Addr: a, Fields: fields[2:]}
			if key == "VIP" {
				c.VIP = ifc
			} else {
				c.DirectorInsideIP = ifc
			}
		case "SERVICE":
			s, err := parseService(fields, res)
			if err != nil {
				return nil, fail("%v", err)
			}
			s.Line = line
			c.Services = append(c.Services, s)
		default:
			c.Other = append(c.Other, Setting{Line: line, Key: key, Value: val})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			line++
			return nil, fail("line longer than %d bytes", MaxLineBytes)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(c.Services) > 0 && c.VIP == nil {
		return nil, &LineError{File: name, Line: c.Services[0].Line, Err: errors.New("SERVICE needs a VIP= line to say which address to serve")}
	}
	if c.Type == "" {
		c.Type = VSDR
	}
	return c, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func parsePort(s string) (uint16, error) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil && n > 0 {
		return uint16(n), nil
	}
	if p, ok := ports[s]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("port %q is neither 1-65535 nor a known service (telnet, http, netpipe, rsh, printer, nfs, ftp, …)", s)
}

func parseService(f []string, res Resolver) (Service, error) {
	var s Service
	if len(f) == 0 {
		return s, errors.New(`SERVICE needs a protocol (t or u), got ""`)
	}
	switch f[0] {
	case "t", "tcp":
		s.Proto = dataplane.TCP
	case "u", "udp":
		s.Proto = dataplane.UDP
	default:
		return s, fmt.Errorf("SERVICE needs a protocol (t or u), got %q", f[0])
	}
	if len(f) < 2 {
		return s, errors.New("SERVICE needs a port or service name after the protocol")
	}
	p, err := parsePort(f[1])
	if err != nil {
		return s, fmt.Errorf("SERVICE %w", err)
	}
	s.Port, s.PortName = p, f[1]
	if len(f) < 3 {
		return s, fmt.Errorf("SERVICE %s needs a scheduler (one of %s)", f[1], strings.Join(director.SchedulerNames(), " "))
	}
	if _, err := director.NewScheduler(f[2], 0); err != nil {
		return s, fmt.Errorf("SERVICE %s: %v", f[1], err)
	}
	s.Scheduler = f[2]
	if len(f) < 4 {
		return s, fmt.Errorf("SERVICE %s needs at least one realserver", f[1])
	}
	for _, r := range f[3:] {
		rs, err := parseRealserver(r, res)
		if err != nil {
			return s, fmt.Errorf("SERVICE %s: realserver %q: %v", f[1], r, err)
		}
		s.Realservers = append(s.Realservers, rs)
	}
	return s, nil
}

func parseRealserver(s string, res Resolver) (Realserver, error) {
	rs := Realserver{Weight: 1}
	host := s
	if h, w, ok := strings.Cut(s, ","); ok {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > director.MaxWeight {
			return rs, fmt.Errorf("weight %q: want 0 to %d", w, director.MaxWeight)
		}
		host, rs.Weight = h, n
	}
	if h, p, ok := strings.Cut(host, ":"); ok {
		port, err := parsePort(p)
		if err != nil {
			return rs, err
		}
		host, rs.Port = h, port
	}
	if host == "" {
		return rs, errors.New("empty host")
	}
	a, err := res.Resolve(host)
	if err != nil {
		return rs, err
	}
	rs.Host, rs.Addr = host, a
	return rs, nil
}

// Apply adds the services and realservers to d, with the forwarding
// method of LVS_TYPE (INITIAL_STATE=off adds the realservers quiesced).
// vip, when valid, replaces the VIP= address (a director on loopback).
func (c *Config) Apply(d *director.Director, vip netip.Addr) error {
	if !vip.IsValid() {
		if c.VIP == nil {
			return fmt.Errorf("%s: no VIP= line and no address given", c.Name)
		}
		vip = c.VIP.Addr
	}
	for _, s := range c.Services {
		va := netip.AddrPortFrom(vip, s.Port)
		if err := d.AddService(director.ServiceConfig{Proto: s.Proto, Addr: va, Scheduler: s.Scheduler}); err != nil {
			return &LineError{File: c.Name, Line: s.Line, Err: err}
		}
		for _, r := range s.Realservers {
			port := r.Port
			if port == 0 {
				port = s.Port
			}
			w := r.Weight
			if c.InitialState == "off" {
				w = 0
			}
			if err := d.AddDest(s.Proto, va, director.DestConfig{Addr: netip.AddrPortFrom(r.Addr, port), Weight: w, Forward: c.Type.Forward()}); err != nil {
				return &LineError{File: c.Name, Line: s.Line, Err: err}
			}
		}
	}
	return nil
}
