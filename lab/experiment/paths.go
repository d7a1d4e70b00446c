package experiment

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/timing"
)

const netpipePort = 5002

// labPath is one way from the client to realserver 1 in a seed lab.
type labPath struct {
	name   string
	mode   nft.Mode // "" for direct: no director rules
	target netip.Addr
	// port of the service (default netpipePort).
	port uint16
}

// seedPaths are the paths of a seed lab; "tun" (LVS-TUN, VXLAN-encapsulated
// since this kernel has no ipip) only when the lab was built with a tunnel.
func seedPaths(s lab.Seed) []labPath {
	ps := []labPath{
		{name: "direct", mode: "", target: s.DirectTarget(0)},
		{name: "forward", mode: nft.Forward, target: s.RealLAN[0]},
		{name: "nat", mode: nft.NAT, target: s.VIPNAT},
		{name: "dr", mode: nft.DR, target: s.VIPDR},
	}
	if s.VIPTUN.IsValid() {
		ps = append(ps, labPath{name: "tun", mode: nft.TUN, target: s.VIPTUN})
	}
	return append(ps, labPath{name: "martian", mode: nft.Martian, target: s.VIPMartian})
}

// program installs p's director rules (nothing for direct) and returns a
// function that removes them.
func program(l *lab.Lab, s lab.Seed, p labPath) (func() error, error) {
	if p.mode == "" {
		return func() error { return nil }, nil
	}
	var rs []nft.Realserver
	for i := range s.RealLAN {
		mac, err := net.ParseMAC(s.RealMAC[i])
		if err != nil {
			return nil, err
		}
		r := nft.Realserver{Addr: s.RealLAN[i], MAC: mac}
		if i < len(s.TunnelMarks) {
			r.Mark = s.TunnelMarks[i]
		}
		rs = append(rs, r)
	}
	out, err := net.ParseMAC(s.DirectorOutMAC)
	if err != nil {
		return nil, err
	}
	port := p.port
	if port == 0 {
		port = netpipePort
	}
	e, err := nft.Program(l.Host(lab.Director).FD(), nft.Config{Mode: p.mode, VIP: p.target, Port: port,
		Realservers: rs, InDev: s.DirectorInDev, OutDev: s.DirectorOutDev, OutMAC: out, TunDev: lab.TunnelDev})
	if err != nil {
		return nil, err
	}
	return e.Close, nil
}

// pathCurves turns paths of a seed lab into curves from the client to rs1.
func pathCurves(l *lab.Lab, s lab.Seed, prefix string, ps []labPath) []curve {
	var cs []curve
	for _, p := range ps {
		cs = append(cs, curve{label: prefix + p.name, server: l.Host(lab.Realserver(1)), client: l.Host(lab.Client),
			target: p.target.String(), setup: func() (func() error, error) { return program(l, s, p) }})
	}
	return cs
}

func runPaths(ctx context.Context, o Options) (*Report, error) {
	return pathsLike(ctx, o, "paths", pingPong)
}

func runStream(ctx context.Context, o Options) (*Report, error) {
	return pathsLike(ctx, o, "stream", stream)
}

func pathsLike(ctx context.Context, o Options, name string, kind probeKind) (*Report, error) {
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OffloadsOff: true, Tunnel: true})
	if err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, s.Spec, lab.Options{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	unpin, err := affinity.PinAll(0)
	if err != nil {
		return nil, err
	}
	defer unpin()
	paths := seedPaths(s)
	curves := pathCurves(l, s, "", paths)
	if o.Self != "" {
		curves = append(curves, proxyCurve(ctx, l, s, []string{o.Self, "director"}))
	}
	if kind == stream {
		// The seed compared streaming with the two-way test: the same paths
		// ping-pong, interleaved with the streams.
		for _, p := range paths {
			if p.name == "direct" || p.name == "dr" {
				c := pathCurves(l, s, "", []labPath{p})[0]
				c.label, c.pingPong = p.name+" ping-pong", true
				curves = append(curves, c)
			}
		}
	}
	// At least 3 interleaved rounds, then more until the headline interval
	// settles or the budget ends; each sweep is sized for 4 rounds.
	rule := stopRule{min: 3, max: 8, budget: o.Budget, settled: func(ms []*measured) (bool, string) {
		return headlineSettled(name, ms)
	}}
	ms, left, stopped, err := measureUntil(ctx, o, name, curves, rule, sweepOptions(o.MaxSize, o.Budget/time.Duration(4*len(curves))), kind)
	if err != nil {
		return nil, err
	}
	rounds := len(ms[0].rounds)
	run := newRun(name)
	if kind == stream {
		run.Probe = "stream"
	}
	run.Options["offloads"] = "off"
	run.Options["pinned_cpu"] = "0"
	run.Options["rounds"] = fmt.Sprint(rounds)
	by := map[string]*measured{}
	for _, m := range ms {
		run.Series = append(run.Series, m.rep)
		by[m.label] = m
	}
	var b strings.Builder
	var vs []Verdict
	what := "netpipe ping-pong"
	if kind == stream {
		what = "netpipe streaming (one way, small acknowledgements)"
	}
	fmt.Fprintf(&b, "experiment %s: %s client → realserver over each path, offloads off, MTU 1500, both ends on CPU 0, %d interleaved rounds\n(%s)\n\n", name, what, rounds, stopped)
	table(&b, ms)
	if o.Self == "" {
		b.WriteString("(no proxy curve: Options.Self, the lvsperf binary that runs `lvsperf director`, not given)\n")
	}
	for _, d := range left {
		fmt.Fprintf(&b, "(%s)\n", d)
	}
	if kind == pingPong {
		nat, dr := medianDur(by["nat"].small), medianDur(by["dr"].small)
		pen := 100 * (float64(nat) - float64(dr)) / float64(dr)
		fnat, fdr := medianDur(by["nat"].fitLat), medianDur(by["dr"].fitLat)
		fpen := 100 * (float64(fnat) - float64(fdr)) / float64(fdr)
		if mt, err := tunnelMTU(ctx, l, s); err != nil {
			fmt.Fprintf(&b, "\n(path MTU of DR and TUN not measured: %v)\n", err)
		} else {
			b.WriteString("\n" + mt.text(by))
			run.Options["tun_path_mtu"] = fmt.Sprint(mt.tun.pmtu)
			run.Options["dr_path_mtu"] = fmt.Sprint(mt.dr.pmtu)
			run.Options["tun_mss"] = fmt.Sprint(mt.tun.mss)
			run.Options["dr_mss"] = fmt.Sprint(mt.dr.mss)
		}
		fmt.Fprintf(&b, "\nNAT latency penalty over DR: %+.1f%% on the small-message time (median over rounds: NAT %v, DR %v); %+.1f%% on the fitted latency\n",
			pen, nat.Round(10*time.Nanosecond), dr.Round(10*time.Nanosecond), fpen)
		run.Options["nat_vs_dr_latency_pct"] = fmt.Sprintf("%.1f", pen)
		vs = pathsVerdicts(smallByLabel(ms))
		writeVerdicts(&b, vs)
		b.WriteString("seed (2000, 100 Mbit, 133 MHz director): \"The lowest latency connection between the client and the realserver is the direct\n" +
			"connection. [...] VS-NAT has a 15% latency penalty over VS-DR and VS-TUN [...] Julian's martian modification [...] had a\n" +
			"greater latency than with VS-DR, but better latency than with VS-NAT.\" (its VS-TUN was ipip; ours is VXLAN, see above)\n")
	} else {
		vs = streamVerdicts(ms)
		writeVerdicts(&b, vs)
		b.WriteString("seed: \"it appears that the netpipe one-way stream test give the same throughput and node position as does the\n" +
			"two-way netpipe test, indicating that LVS has no preference for the direction in which the large packets travel\"\n" +
			"compare the max rates above with `lvsperf experiment paths`.\n")
	}
	files, err := save(o, name, run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: name, Finding: b.String(), Files: files, Latency: latencyRows(name, run.Series), Verdicts: vs}, nil
}

// smallByLabel is each curve's per-round small-message times.
func smallByLabel(ms []*measured) map[string][]float64 {
	m := map[string][]float64{}
	for _, x := range ms {
		m[x.label] = durs(x.small)
	}
	return m
}

// ratesByLabel is each curve's per-round large-message rate (see
// largeRate). Neither the fitted max rate nor the best point's rate is
// used: a stream's fit can put its slope at zero (max rate +Inf), and a
// stream's best point can be a batch the receiver found already buffered
// (a quiet run read 7-9× the ping-pong's peak that way, against 1.1-1.8×
// by the fits).
func ratesByLabel(ms []*measured) map[string][]float64 {
	m := map[string][]float64{}
	for _, x := range ms {
		for _, r := range x.rounds {
			m[x.label] = append(m[x.label], largeRate(r))
		}
	}
	return m
}

// largeSizes is how many of the largest sizes largeRate reads.
const largeSizes = 3

// largeRate is the median rate, in bits/s, of a series' largeSizes
// largest sizes: where the rate limit shows, and no single point decides.
func largeRate(s timing.Series) float64 {
	pts := make([]timing.Point, 0, len(s.Points))
	for _, p := range s.Points {
		if p.Min > 0 {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return 0
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Bytes > pts[j].Bytes })
	pts = pts[:min(largeSizes, len(pts))]
	rates := make([]float64, len(pts))
	for i, p := range pts {
		rates[i] = float64(timing.Rate(p.Bytes, p.Min))
	}
	return timing.Median(rates)
}

func streamVerdicts(ms []*measured) []Verdict {
	r := ratesByLabel(ms)
	var vs []Verdict
	for _, p := range []string{"direct", "dr"} {
		if r[p] != nil && r[p+" ping-pong"] != nil {
			vs = append(vs, streamVerdict(p, r[p], r[p+" ping-pong"]))
		}
	}
	return vs
}

// headlineTol is the half-width (of a ratio) at which an experiment's
// headline interval counts as settled: ±5 percentage points.
const headlineTol = 0.05

// headlineSettled says whether the headline ratio of paths (NAT/DR
// small-message time) or stream (DR stream/ping-pong rate) is known
// within ±headlineTol.
func headlineSettled(name string, ms []*measured) (bool, string) {
	var iv Interval
	if name == "stream" {
		r := ratesByLabel(ms)
		iv = ci95(pairedRatios(r["dr"], r["dr ping-pong"]))
	} else {
		sm := smallByLabel(ms)
		iv = ci95(pairedRatios(sm["nat"], sm["dr"]))
	}
	return iv.Half() <= headlineTol, fmt.Sprintf("±%.1f%%", 100*iv.Half())
}

// writeVerdicts appends the verdicts to a finding.
func writeVerdicts(b *strings.Builder, vs []Verdict) {
	for _, v := range vs {
		fmt.Fprintf(b, "verdict %s: %s\n    seed: %s\n    ours: %s (%s)\n", v.Claim, v.Outcome, v.Seed, v.Ours, v.Why)
	}
}

// proxyCurve runs the userspace proxy engine (`lvsperf director`) as a
// process inside the director namespace, serving the NAT VIP, so that it
// crosses the same links as the nft engine's paths.
func proxyCurve(ctx context.Context, l *lab.Lab, s lab.Seed, command []string) curve {
	return curve{label: "proxy", optional: true, server: l.Host(lab.Realserver(1)), client: l.Host(lab.Client), target: s.VIPNAT.String(),
		setup: func() (func() error, error) {
			_, undo, err := startProxy(ctx, l, s, command)
			return undo, err
		}}
}

// startProxy starts `lvsperf director` (command) in the director namespace
// for the NAT VIP's netpipe port toward realserver 1, waits until it is
// ready, and returns its process and the function that stops it.
func startProxy(ctx context.Context, l *lab.Lab, s lab.Seed, command []string) (*os.Process, func() error, error) {
	vip := net.JoinHostPort(s.VIPNAT.String(), fmt.Sprint(netpipePort))
	dir, err := os.MkdirTemp("", "lvsperf-lab-proxy-")
	if err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(dir, "director.sock")
	args := append(append([]string{}, command[1:]...), "--service", vip, "-s", "rr", "--allow-remote", "--control", sock,
		"--realserver", net.JoinHostPort(s.RealLAN[0].String(), fmt.Sprint(netpipePort)))
	pctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(pctx, command[0], args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := l.Host(lab.Director).Start(cmd); err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	undo := func() error {
		cancel()
		<-done
		return os.RemoveAll(dir)
	}
	// Ready once its control socket exists (bounded: 5 s).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return cmd.Process, undo, nil
		}
		select {
		case err := <-done:
			done <- err
			undo()
			return nil, nil, fmt.Errorf("userspace director exited: %w: %s", err, strings.TrimSpace(stderr.String()))
		default:
		}
		if time.Now().After(deadline) {
			undo()
			return nil, nil, fmt.Errorf("userspace director did not create %s within 5s: %s", sock, strings.TrimSpace(stderr.String()))
		}
	}
}
