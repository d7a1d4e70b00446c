package ipvsadm

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// WriteList prints snap as ipvsadm -L -n does, in the format opts select
// (plain, --stats, --rate, --thresholds, --persistent-conn, --timeout).
// Only the service only, when non-nil, is listed. Addresses are always
// numeric, as with -n.
func WriteList(w io.Writer, snap director.Snapshot, opts ListOptions, only *director.ServiceKey) error {
	bw := bufio.NewWriter(w)
	if opts.Timeout {
		t := snap.Timeouts
		fmt.Fprintf(bw, "Timeout (tcp tcpfin udp): %d %d %d\n",
			int(t[director.StateEstablished]/time.Second), int(t[director.StateFinWait]/time.Second), int(t[director.StateUDP]/time.Second))
		return bw.Flush()
	}
	if only == nil {
		fmt.Fprintf(bw, "IP Virtual Server version %s (size=%d)\n", snap.Version, snap.TableSize)
	}
	switch {
	case opts.Stats:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case opts.Rate:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case opts.Thresholds:
		fmt.Fprintf(bw, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case opts.PersistentConn:
		fmt.Fprintf(bw, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	default:
		fmt.Fprint(bw, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
	found := false
	for _, s := range snap.Services {
		if only != nil && s.Key() != *only {
			continue
		}
		found = true
		name := svcName(s.Proto, s.Addr)
		switch {
		case opts.Stats:
			fmt.Fprintf(bw, "%-33s", name)
			writeStats(bw, s.Stats, opts.Exact)
		case opts.Rate:
			fmt.Fprintf(bw, "%-33s", name)
			writeRates(bw, s.Rates, opts.Exact)
		default:
			fmt.Fprintf(bw, "%s %s%s\n", name, s.Scheduler, svcFlags(s))
		}
		for _, d := range s.Dests {
			dn := truncate(d.Addr.String(), 28)
			switch {
			case opts.Stats:
				fmt.Fprintf(bw, "  -> %-28s", dn)
				writeStats(bw, d.Stats, opts.Exact)
			case opts.Rate:
				fmt.Fprintf(bw, "  -> %-28s", dn)
				writeRates(bw, d.Rates, opts.Exact)
			case opts.Thresholds:
				fmt.Fprintf(bw, "  -> %-28s %-10d %-10d %-10d %-10d\n", dn, d.UpperThreshold, d.LowerThreshold, d.ActiveConns, d.InactConns)
			case opts.PersistentConn:
				fmt.Fprintf(bw, "  -> %-28s %-9d %-11d %-10d %-10d\n", dn, d.Weight, d.PersistConns, d.ActiveConns, d.InactConns)
			default:
				fmt.Fprintf(bw, "  -> %-28s %-7s %-6d %-10d %-10d\n", dn, d.Forward, d.Weight, d.ActiveConns, d.InactConns)
			}
		}
	}
	if only != nil && !found {
		return &Error{Arg: only.String(), Err: fmt.Errorf("no such service: list them with -L -n")}
	}
	return bw.Flush()
}

func svcName(p dataplane.Protocol, a netip.AddrPort) string {
	return truncate(fmt.Sprintf("%-4s %s", strings.ToUpper(string(p)), a), 33)
}

func truncate(s string, n int) string {
	if len(s) > n-1 {
		return s[:n-1]
	}
	return s
}

func svcFlags(s director.ServiceSnapshot) string {
	var b strings.Builder
	if f := s.Flags & (director.FlagSched1 | director.FlagSched2 | director.FlagSched3); f != 0 {
		b.WriteString(" (" + schedFlagNames(s.Scheduler, f) + ")")
	}
	if s.Persistent() {
		fmt.Fprintf(&b, " persistent %d", s.PersistenceSeconds())
		if s.Addr.Addr().Is4() && s.Netmask != 32 {
			fmt.Fprintf(&b, " mask %s", maskString(s.Netmask))
		} else if !s.Addr.Addr().Is4() && s.Netmask != 128 {
			fmt.Fprintf(&b, " mask %d", s.Netmask)
		}
	}
	if s.Flags&director.FlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	return b.String()
}

func schedFlagNames(sched string, f director.ServiceFlags) string {
	n1, n2, n3 := "flag-1", "flag-2", "flag-3"
	if sched == "sh" || sched == "mh" {
		n1, n2 = sched+"-fallback", sched+"-port"
	}
	var names []string
	if f&director.FlagSched1 != 0 {
		names = append(names, n1)
	}
	if f&director.FlagSched2 != 0 {
		names = append(names, n2)
	}
	if f&director.FlagSched3 != 0 {
		names = append(names, n3)
	}
	return strings.Join(names, ",")
}

func maskString(bits int) string {
	var b [4]byte
	for i := 0; i < bits && i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b).String()
}

// largenum is ipvsadm's print_largenum: %9d below 1e8, then K, M, G, T
// suffixes in 8 columns; --exact prints the full number at width
// max(9, digits+1).
func largenum(w io.Writer, n uint64, exact bool) {
	if exact {
		width := len(fmt.Sprint(n)) + 1
		if width < 9 {
			width = 9
		}
		fmt.Fprintf(w, "%*d", width, n)
		return
	}
	switch {
	case n < 100000000:
		fmt.Fprintf(w, "%9d", n)
	case n < 1000000000:
		fmt.Fprintf(w, "%8dK", n/1000)
	case n < 100000000000:
		fmt.Fprintf(w, "%8dM", n/1000000)
	case n < 100000000000000:
		fmt.Fprintf(w, "%8dG", n/1000000000)
	default:
		fmt.Fprintf(w, "%8dT", n/1000000000000)
	}
}

func writeStats(w io.Writer, c director.Counters, exact bool) {
	for _, v := range []uint64{c.Conns, c.InPkts, c.OutPkts, c.InBytes, c.OutBytes} {
		largenum(w, v, exact)
	}
	fmt.Fprintln(w)
}

func writeRates(w io.Writer, r director.Rates, exact bool) {
	fmt.Fprintf(w, " %8d %8d %8d", r.CPS, r.InPPS, r.OutPPS)
	largenum(w, r.InBPS, exact)
	largenum(w, r.OutBPS, exact)
	fmt.Fprintln(w)
}

// WriteConns prints the connection table as ipvsadm -L -n -c does.
func WriteConns(w io.Writer, conns []director.ConnEntry, only *director.ServiceKey) error {
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "IPVS connection entries\n")
	fmt.Fprintf(bw, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	for _, c := range conns {
		if only != nil && (c.Proto != only.Proto || c.VIP != only.Addr) {
			continue
		}
		secs := int(c.Expires / time.Second) // the kernel truncates, hence 14:59 for a fresh entry
		fmt.Fprintf(bw, "%-3s %-6s %-11s %-18s %-18s %s\n", strings.ToUpper(string(c.Proto)),
			fmt.Sprintf("%02d:%02d", secs/60, secs%60), c.State, c.Client, c.VIP, c.Dest)
	}
	return bw.Flush()
}

// WriteSave prints the configuration as ipvsadm -S -n does: rules that -R
// restores.
func WriteSave(w io.Writer, snap director.Snapshot) error {
	bw := bufio.NewWriter(w)
	for _, s := range snap.Services {
		svc := fmt.Sprintf("-%c %s", s.Proto[0], s.Addr)
		fmt.Fprintf(bw, "-A %s -s %s", svc, s.Scheduler)
		if s.Persistent() {
			fmt.Fprintf(bw, " -p %d", s.PersistenceSeconds())
			if s.Addr.Addr().Is4() && s.Netmask != 32 {
				fmt.Fprintf(bw, " -M %s", maskString(s.Netmask))
			}
		}
		if s.Flags&director.FlagOnePacket != 0 {
			fmt.Fprint(bw, " -o")
		}
		if f := s.Flags & (director.FlagSched1 | director.FlagSched2 | director.FlagSched3); f != 0 {
			fmt.Fprintf(bw, " -b %s", schedFlagNames(s.Scheduler, f))
		}
		fmt.Fprintln(bw)
		for _, d := range s.Dests {
			fwd := map[director.Forward]string{director.Route: "-g", director.Masq: "-m", director.Tunnel: "-i", director.Local: "-m"}[d.Forward]
			fmt.Fprintf(bw, "-a %s -r %s %s -w %d", svc, d.Addr, fwd, d.Weight)
			if d.UpperThreshold != 0 {
				fmt.Fprintf(bw, " -x %d", d.UpperThreshold)
			}
			if d.LowerThreshold != 0 {
				fmt.Fprintf(bw, " -y %d", d.LowerThreshold)
			}
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}
