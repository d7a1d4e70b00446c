package experiment

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/timing"
)

// runTP compares accepting the VIP with VIP devices (LVS-DR as usual) and
// by transparent proxy on the realserver, on the director, and on both
// (seed §3.3-3.6).
func runTP(ctx context.Context, o Options) (*Report, error) {
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OffloadsOff: true})
	if err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, s.Spec, lab.Options{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	rs := l.Host(lab.Realserver(1))
	// One transparent receiver serves every curve: a tproxied connection
	// needs an IP_TRANSPARENT listener, and a plain VIP-device connection
	// is served by it all the same.
	var srv *netpipe.Server
	if err := rs.Do(func() (err error) {
		// IPv4 only, so the socket is in /proc/net/tcp and IP_TRANSPARENT applies.
		srv, err = netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: fmt.Sprintf("0.0.0.0:%d", netpipePort)})
		if err != nil {
			return err
		}
		return makeTransparent(netpipePort)
	}); err != nil {
		if srv != nil {
			srv.Close()
		}
		return nil, fmt.Errorf("transparent netpipe receiver: %w", err)
	}
	defer srv.Close()
	tp, err := nft.ProgramTProxy(rs.FD(), []netip.Addr{s.VIPTP, s.VIPTPReal}, netpipePort, s.TProxyMark)
	if err != nil {
		return nil, err
	}
	defer tp.Close()
	paths := []labPath{
		{name: "vip devices", mode: nft.DR, target: s.VIPDR},
		{name: "tp realserver", mode: nft.DR, target: s.VIPTPReal},
		{name: "tp director", mode: nft.DR, target: s.VIPTPDirector},
		{name: "tp both", mode: nft.DR, target: s.VIPTP},
	}
	unpin, err := affinity.PinAll(0)
	if err != nil {
		return nil, err
	}
	defer unpin()
	const rounds = 3
	topt := sweepOptions(o.MaxSize, o.Budget/time.Duration(rounds*len(paths)))
	ms := make([]*measured, len(paths))
	for i, p := range paths {
		ms[i] = &measured{label: p.name}
	}
	for r := 1; r <= rounds; r++ {
		for i, p := range paths {
			undo, err := program(l, s, p)
			if err != nil {
				return nil, err
			}
			ser, err := sweepTo(ctx, l.Host(lab.Client), net.JoinHostPort(p.target.String(), fmt.Sprint(netpipePort)), topt)
			if uerr := undo(); err == nil {
				err = uerr
			}
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", p.name, r, err)
			}
			if err := ms[i].add(o, "tp", r, rounds, ser); err != nil {
				return nil, err
			}
		}
	}
	if n, err := tp.Packets(); err != nil || n == 0 {
		return nil, fmt.Errorf("the realserver's tproxy rules took %d packets (%v): the tp curves did not go through tproxy", n, err)
	}
	run := newRun("tp")
	run.Options["offloads"] = "off"
	run.Options["rounds"] = fmt.Sprint(rounds)
	for _, m := range ms {
		m.finish()
		run.Series = append(run.Series, m.rep)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "experiment tp: netpipe client → realserver by LVS-DR, the VIP accepted by VIP devices (director's d0, realserver's lo)\n"+
		"or by nft tproxy on the realserver, by routing to a director without the VIP, or both; offloads off, %d rounds\n\n", rounds)
	table(&b, ms)
	base := medianDur(ms[0].small)
	b.WriteString("\n")
	for _, m := range ms[1:] {
		fmt.Fprintf(&b, "%s vs vip devices: %+.1f%% small-message time\n", m.label, 100*(float64(medianDur(m.small))-float64(base))/float64(base))
	}
	b.WriteString("seed: \"accepting packets by TP dropped network speed by 10% at high network load and ca. 25% at mid and [...] low\n" +
		"network load\" (realserver); on the director \"ca. 25% at mid and low network load\"; \"Once you accept packets by TP on one\n" +
		"of the machines, accepting packets on the other node by TP incurs no further speed penalty.\"\n" +
		"note: 2000's director TP was a kernel hook in front of IPVS; here the director's nft DR rule catches the VIP at ingress\n" +
		"whether or not the director holds it, so \"tp director\" differs from \"vip devices\" only by routing instead of ARP.\n")
	vs := tpVerdicts(smallByLabel(ms), ratesByLabel(ms))
	writeVerdicts(&b, vs)
	files, err := save(o, "tp", run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: "tp", Finding: b.String(), Files: files, Latency: latencyRows("tp", run.Series), Verdicts: vs}, nil
}

// sweepTo runs a ping-pong sweep from client against a receiver at addr.
func sweepTo(ctx context.Context, client *lab.HostNS, addr string, topt timing.Options) (timing.Series, error) {
	var tx *netpipe.Transmitter
	if err := client.Do(func() (err error) {
		tx, err = netpipe.Dial(ctx, netpipe.Options{Addr: addr, DialTimeout: 3 * time.Second})
		return err
	}); err != nil {
		return timing.Series{}, err
	}
	s, err := timing.Sweep(ctx, tx, topt, nil)
	if cerr := tx.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return s, err
}

// makeTransparent sets IP_TRANSPARENT (IPV6_TRANSPARENT for a dual-stack
// socket, which sets the same flag) on this process's TCP listener on port
// in the calling thread's namespace. netpipe.ServerOptions cannot take a
// listener or socket options yet, so the socket is found through /proc:
// its inode in /proc/thread-self/net/tcp{,6}, then the fd pointing at it.
func makeTransparent(port int) error {
	want := fmt.Sprintf(":%04X", port)
	inode, v6 := "", false
	for _, tab := range []string{"tcp", "tcp6"} {
		f, err := os.Open("/proc/thread-self/net/" + tab)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) > 9 && strings.HasSuffix(fs[1], want) && fs[3] == "0A" { // 0A: LISTEN
				inode, v6 = fs[9], tab == "tcp6"
			}
		}
		f.Close()
		if inode != "" {
			break
		}
	}
	if inode == "" {
		return fmt.Errorf("no TCP listener on port %d in this namespace", port)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || link != "socket:["+inode+"]" {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		level, opt := unix.SOL_IP, unix.IP_TRANSPARENT
		if v6 {
			level, opt = unix.SOL_IPV6, unix.IPV6_TRANSPARENT
		}
		if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
			return fmt.Errorf("transparent flag on the receiver's socket: %w", err)
		}
		return nil
	}
	return fmt.Errorf("listener socket inode %s not found among this process's fds", inode)
}
