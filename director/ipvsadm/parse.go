package ipvsadm

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Op is the command an ipvsadm invocation performs.
type Op int

// Commands, one per ipvsadm command option.
const (
	OpNone Op = iota
	OpAddService
	OpEditService
	OpDeleteService
	OpClear
	OpRestore
	OpSave
	OpAddDest
	OpEditDest
	OpDeleteDest
	OpList
	OpZero
	OpSetTimeouts
)

var opFlags = map[Op]string{
	OpAddService: "-A", OpEditService: "-E", OpDeleteService: "-D", OpClear: "-C", OpRestore: "-R",
	OpSave: "-S", OpAddDest: "-a", OpEditDest: "-e", OpDeleteDest: "-d", OpList: "-L", OpZero: "-Z",
	OpSetTimeouts: "--set",
}

// String returns the command's short option.
func (o Op) String() string { return opFlags[o] }

// ListOptions are the listing flags.
type ListOptions struct {
	Numeric        bool // -n (listings are always numeric; kept for -S)
	Stats          bool // --stats
	Rate           bool // --rate
	Conns          bool // -c, --connection
	Exact          bool // --exact
	Thresholds     bool // --thresholds
	PersistentConn bool // --persistent-conn
	Timeout        bool // --timeout
	NoSort         bool // --nosort (accepted; listings are sorted)
}

// Command is one parsed ipvsadm invocation.
type Command struct {
	Op Op
	// HasService is set when a -t or -u service was given.
	HasService bool
	Service    director.ServiceConfig
	// HasDest is set when -r was given.
	HasDest bool
	Dest    director.DestConfig
	List    ListOptions
	// Timeouts are --set's tcp, tcpfin and udp (0 = unchanged).
	Timeouts [3]time.Duration
}

// Error is a parse or apply error naming the offending argument.
type Error struct {
	Arg string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("ipvsadm: %s: %v", e.Arg, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

func argErr(arg, format string, a ...any) error {
	return &Error{Arg: arg, Err: fmt.Errorf(format, a...)}
}

type optSpec struct {
	long  string
	short byte
	arg   int // 0 none, 1 required, 2 optional (-p)
}

var optSpecs = []optSpec{
	{"add-service", 'A', 0}, {"edit-service", 'E', 0}, {"delete-service", 'D', 0}, {"clear", 'C', 0},
	{"restore", 'R', 0}, {"save", 'S', 0}, {"add-server", 'a', 0}, {"edit-server", 'e', 0},
	{"delete-server", 'd', 0}, {"list", 'L', 0}, {"zero", 'Z', 0}, {"set", 0, 0},
	{"tcp-service", 't', 1}, {"udp-service", 'u', 1}, {"fwmark-service", 'f', 1}, {"sctp-service", 0, 1},
	{"scheduler", 's', 1}, {"persistent", 'p', 2}, {"netmask", 'M', 1}, {"real-server", 'r', 1},
	{"gatewaying", 'g', 0}, {"ipip", 'i', 0}, {"masquerading", 'm', 0}, {"weight", 'w', 1},
	{"u-threshold", 'x', 1}, {"l-threshold", 'y', 1}, {"ops", 'o', 0}, {"sched-flags", 'b', 1},
	{"pe", 0, 1}, {"connection", 'c', 0}, {"numeric", 'n', 0}, {"stats", 0, 0}, {"rate", 0, 0},
	{"exact", 0, 0}, {"thresholds", 0, 0}, {"persistent-conn", 0, 0}, {"nosort", 0, 0}, {"timeout", 0, 0},
	{"help", 'h', 0}, {"version", 'v', 0},
}

func specShort(c byte) (optSpec, bool) {
	if c == 'l' {
		c = 'L'
	}
	for _, s := range optSpecs {
		if s.short == c {
			return s, true
		}
	}
	return optSpec{}, false
}

func specLong(name string) (optSpec, bool) {
	for _, s := range optSpecs {
		if s.long == name {
			return s, true
		}
	}
	return optSpec{}, false
}

type opt struct {
	name string // as typed, for errors: "-w", "--weight"
	spec optSpec
	val  string
	has  bool
}

// tokenize splits args into options, expanding bundled short flags (-Ln).
func tokenize(args []string) ([]opt, []string, error) {
	var opts []opt
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, val, hasVal := strings.Cut(a[2:], "=")
			s, ok := specLong(name)
			if !ok {
				return nil, nil, argErr(a, "unknown option (see ipvsadm -h)")
			}
			o := opt{name: "--" + name, spec: s}
			switch {
			case hasVal:
				if s.arg == 0 {
					return nil, nil, argErr(o.name, "takes no value, got %q", val)
				}
				o.val, o.has = val, true
			case s.arg == 1:
				if i+1 >= len(args) {
					return nil, nil, argErr(o.name, "needs a value")
				}
				i++
				o.val, o.has = args[i], true
			case s.arg == 2 && i+1 < len(args) && isNumber(args[i+1]):
				i++
				o.val, o.has = args[i], true
			}
			opts = append(opts, o)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				s, ok := specShort(a[j])
				if !ok {
					return nil, nil, argErr("-"+string(a[j]), "unknown option (see ipvsadm -h)")
				}
				o := opt{name: "-" + string(a[j]), spec: s}
				if s.arg != 0 {
					switch {
					case j+1 < len(a):
						o.val, o.has = a[j+1:], true
					case s.arg == 1:
						if i+1 >= len(args) {
							return nil, nil, argErr(o.name, "needs a value")
						}
						i++
						o.val, o.has = args[i], true
					case i+1 < len(args) && isNumber(args[i+1]):
						i++
						o.val, o.has = args[i], true
					}
					opts = append(opts, o)
					break
				}
				opts = append(opts, o)
			}
		default:
			rest = append(rest, a)
		}
	}
	return opts, rest, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

var cmdOf = map[string]Op{
	"add-service": OpAddService, "edit-service": OpEditService, "delete-service": OpDeleteService,
	"clear": OpClear, "restore": OpRestore, "save": OpSave, "add-server": OpAddDest, "edit-server": OpEditDest,
	"delete-server": OpDeleteDest, "list": OpList, "zero": OpZero, "set": OpSetTimeouts,
}

// legal says which options each command accepts (ipvsadm's
// commands_v_options matrix, reduced to what the director supports).
var legal = map[Op]string{
	OpAddService:    "tufspMob pe",
	OpEditService:   "tufspMob pe",
	OpDeleteService: "tuf",
	OpClear:         "",
	OpRestore:       "",
	OpSave:          "n",
	OpAddDest:       "tufrgimwxy",
	OpEditDest:      "tufrgimwxy",
	OpDeleteDest:    "tufr",
	OpList:          "tufcn stats rate exact thresholds persistent-conn nosort timeout",
	OpZero:          "tuf",
	OpSetTimeouts:   "",
}

func isLegal(op Op, s optSpec) bool {
	l := legal[op]
	if s.short != 0 {
		short, _, _ := strings.Cut(l, " ")
		return strings.IndexByte(short, s.short) >= 0
	}
	for _, f := range strings.Fields(l)[1:] {
		if f == s.long {
			return true
		}
	}
	return false
}

// Parse parses one ipvsadm invocation's arguments (without "ipvsadm").
func Parse(args []string) (Command, error) {
	opts, rest, err := tokenize(args)
	if err != nil {
		return Command{}, err
	}
	var cmd Command
	cmdName := ""
	for _, o := range opts {
		if op, ok := cmdOf[o.spec.long]; ok {
			if cmd.Op != OpNone {
				return Command{}, argErr(o.name, "only one command at a time, already have %s", cmdName)
			}
			cmd.Op, cmdName = op, o.name
		}
		if o.spec.long == "help" || o.spec.long == "version" {
			return Command{}, argErr(o.name, "not supported by the embedded director")
		}
	}
	if cmd.Op == OpNone {
		if len(opts) == 0 && len(rest) == 0 {
			cmd.Op = OpList // bare ipvsadm lists, as the real one does
		} else {
			return Command{}, argErr(strings.Join(args, " "), "no command: want one of -A -E -D -C -R -S -a -e -d -L -Z --set")
		}
	}
	if cmd.Op == OpSetTimeouts {
		if len(rest) != 3 {
			return Command{}, argErr("--set", "needs three timeouts in seconds (tcp tcpfin udp), got %d", len(rest))
		}
		for i, r := range rest {
			n, err := strconv.ParseUint(r, 10, 31)
			if err != nil {
				return Command{}, argErr("--set", "timeout %q is not a number of seconds", r)
			}
			cmd.Timeouts[i] = time.Duration(n) * time.Second
		}
		rest = nil
	}
	if len(rest) > 0 {
		return Command{}, argErr(rest[0], "unexpected argument")
	}
	cmd.Dest.Weight = 1
	cmd.Dest.Forward = director.Route
	cmd.Service.Scheduler = "wlc"
	var schedFlags string
	seenFwd := ""
	for _, o := range opts {
		if _, isCmd := cmdOf[o.spec.long]; isCmd {
			continue
		}
		if !isLegal(cmd.Op, o.spec) {
			return Command{}, argErr(o.name, "illegal with %s", cmdName)
		}
		switch o.spec.long {
		case "tcp-service", "udp-service":
			if cmd.HasService {
				return Command{}, argErr(o.name, "only one virtual service at a time")
			}
			proto := dataplane.TCP
			if o.spec.long == "udp-service" {
				proto = dataplane.UDP
			}
			ap, err := ParseAddrPort(o.val)
			if err != nil {
				return Command{}, argErr(o.name, "%v", err)
			}
			cmd.HasService = true
			cmd.Service.Proto, cmd.Service.Addr = proto, ap
		case "fwmark-service", "sctp-service":
			return Command{}, argErr(o.name, "not supported by the embedded director: use -t or -u")
		case "scheduler":
			if _, err := director.NewScheduler(o.val, 0); err != nil {
				return Command{}, argErr(o.name, "unknown scheduler %q (want one of %s)", o.val, strings.Join(director.SchedulerNames(), " "))
			}
			cmd.Service.Scheduler = o.val
		case "persistent":
			cmd.Service.Persistence = director.DefaultPersistence
			if o.has {
				n, err := strconv.ParseUint(o.val, 10, 32)
				if err != nil || n < 1 || n > 31*86400 {
					return Command{}, argErr(o.name, "persistence timeout %q: want 1 to %d seconds", o.val, 31*86400)
				}
				cmd.Service.Persistence = time.Duration(n) * time.Second
			}
		case "netmask":
			bits, err := parseNetmask(o.val)
			if err != nil {
				return Command{}, argErr(o.name, "%v", err)
			}
			cmd.Service.Netmask = bits
		case "ops":
			cmd.Service.Flags |= director.FlagOnePacket
		case "sched-flags":
			schedFlags = o.val
		case "pe":
			return Command{}, argErr(o.name, "persistence engines are not supported by the embedded director")
		case "real-server":
			ap, err := ParseAddrPort(o.val)
			if err != nil {
				return Command{}, argErr(o.name, "%v", err)
			}
			cmd.HasDest, cmd.Dest.Addr = true, ap
		case "gatewaying", "ipip", "masquerading":
			if seenFwd != "" && seenFwd != o.name {
				return Command{}, argErr(o.name, "conflicts with %s: give one forwarding method", seenFwd)
			}
			seenFwd = o.name
			cmd.Dest.Forward = map[string]director.Forward{"gatewaying": director.Route, "ipip": director.Tunnel, "masquerading": director.Masq}[o.spec.long]
		case "weight":
			n, err := strconv.ParseInt(o.val, 10, 32)
			if err != nil || n < 0 || n > director.MaxWeight {
				return Command{}, argErr(o.name, "weight %q: want a number from 0 to %d", o.val, director.MaxWeight)
			}
			cmd.Dest.Weight = int(n)
		case "u-threshold", "l-threshold":
			n, err := strconv.ParseInt(o.val, 10, 32)
			if err != nil || n < 0 {
				return Command{}, argErr(o.name, "threshold %q: want a number of connections, 0 for none", o.val)
			}
			if o.spec.short == 'x' {
				cmd.Dest.UpperThreshold = int(n)
			} else {
				cmd.Dest.LowerThreshold = int(n)
			}
		case "connection":
			cmd.List.Conns = true
		case "numeric":
			cmd.List.Numeric = true
		case "stats":
			cmd.List.Stats = true
		case "rate":
			cmd.List.Rate = true
		case "exact":
			cmd.List.Exact = true
		case "thresholds":
			cmd.List.Thresholds = true
		case "persistent-conn":
			cmd.List.PersistentConn = true
		case "nosort":
			cmd.List.NoSort = true
		case "timeout":
			cmd.List.Timeout = true
		}
	}
	if schedFlags != "" {
		f, err := parseSchedFlags(cmd.Service.Scheduler, schedFlags)
		if err != nil {
			return Command{}, argErr("-b", "%v", err)
		}
		cmd.Service.Flags |= f
	}
	switch cmd.Op {
	case OpAddService, OpEditService, OpDeleteService, OpAddDest, OpEditDest, OpDeleteDest:
		if !cmd.HasService {
			return Command{}, argErr(cmdName, "needs a virtual service: -t|-u VIP:port")
		}
	}
	switch cmd.Op {
	case OpAddDest, OpEditDest, OpDeleteDest:
		if !cmd.HasDest {
			return Command{}, argErr(cmdName, "needs a realserver: -r RIP[:port]")
		}
	case OpAddService, OpEditService:
		if cmd.Service.Addr.Port() == 0 && cmd.Service.Persistence == 0 {
			return Command{}, argErr("-t", "service %s has no port: a port-zero service must be persistent (-p)", cmd.Service.Addr.Addr())
		}
		if cmd.Service.Flags&director.FlagOnePacket != 0 && cmd.Service.Proto != dataplane.UDP {
			return Command{}, argErr("-o", "one-packet scheduling is for UDP services only")
		}
	}
	if n := btoi(cmd.List.Stats) + btoi(cmd.List.Rate) + btoi(cmd.List.Conns) + btoi(cmd.List.Thresholds) + btoi(cmd.List.PersistentConn) + btoi(cmd.List.Timeout); n > 1 {
		return Command{}, argErr(cmdName, "give one of -c, --stats, --rate, --thresholds, --persistent-conn, --timeout")
	}
	return cmd, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ports are the service names ipvsadm's getservbyname would resolve that
// matter here.
var ports = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "www": 80,
	"pop3": 110, "https": 443, "shell": 514, "rsh": 514, "printer": 515, "nfs": 2049, "netpipe": 5002,
}

// ParseAddrPort parses ipvsadm's host[:port] (IPv6 as [addr]:port); a
// missing port is 0, a port may be a service name such as http.
func ParseAddrPort(s string) (netip.AddrPort, error) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return netip.AddrPort{}, fmt.Errorf("address %q: missing ] after an IPv6 address", s)
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return netip.AddrPort{}, fmt.Errorf("address %q: want [IPv6]:port", s)
			}
			port = rest[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			return netip.AddrPort{}, fmt.Errorf("address %q: write an IPv6 address as [addr]:port", s)
		}
		host, port = s[:i], s[i+1:]
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: want a numeric IP address, got %q", s, host)
	}
	var p uint16
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err == nil {
			p = uint16(n)
		} else if n, ok := ports[port]; ok {
			p = n
		} else {
			return netip.AddrPort{}, fmt.Errorf("address %q: port %q is neither 0-65535 nor a known service name", s, port)
		}
	}
	return netip.AddrPortFrom(a, p), nil
}

func parseNetmask(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 128 {
			return 0, fmt.Errorf("netmask %q: a prefix length is 1 to 128", s)
		}
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("netmask %q: want a dotted IPv4 mask such as 255.255.255.0 or a prefix length", s)
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for bits < 32 && v&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && v<<bits != 0 {
		return 0, fmt.Errorf("netmask %q: the mask's one bits must be contiguous", s)
	}
	if bits == 0 {
		return 0, fmt.Errorf("netmask %q: 0.0.0.0 would put every client in one template; give a real mask", s)
	}
	return bits, nil
}

func parseSchedFlags(sched, s string) (director.ServiceFlags, error) {
	var f director.ServiceFlags
	for _, name := range strings.Split(s, ",") {
		switch name {
		case "sh-fallback", "mh-fallback", "flag-1":
			f |= director.FlagSched1
		case "sh-port", "mh-port", "flag-2":
			f |= director.FlagSched2
		case "flag-3":
			f |= director.FlagSched3
		default:
			return 0, fmt.Errorf("unknown scheduler flag %q (want sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)", name)
		}
		if p, _, _ := strings.Cut(name, "-"); (p == "sh" || p == "mh") && p != sched {
			return 0, fmt.Errorf("flag %q is for the %s scheduler, not %s", name, p, sched)
		}
	}
	return f, nil
}
