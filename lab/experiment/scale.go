package experiment

import (
	"bytes"
	"context"
	"encoding/json"
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

	lplot "github.com/lvsperf/lvsperf/plot"
	gplot "gonum.org/v1/plot"

	"github.com/lvsperf/lvsperf/cluster"
	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// The scale experiment's shape: realserver counts, client lines, the rate
// of each realserver's links (the seed's era: 100 Mbit/s Ethernet), the
// file every request fetches.
var (
	scaleRealservers = []int{1, 2, 4}
	scaleLines       = []scaleLine{{agents: 1, clients: 1}, {agents: 2, clients: 4}, {agents: 4, clients: 4}}
)

const (
	scaleRate      = timing.BitsPerSecond(100e6)
	scaleFileExp   = 16 // 64 KiB: 5.2 ms on a 100 Mbit/s link
	scaleKeepAlive = 10
	scaleAgentPort = 7412
	scaleToken     = "lvsperf-scale-experiment-token" // namespaces of this run only
)

// scaleLine is one line of the plot: agents × clients per agent.
type scaleLine struct{ agents, clients int }

func (l scaleLine) String() string {
	if l.agents == 1 && l.clients == 1 {
		return "1 serial client"
	}
	return fmt.Sprintf("%d agents × %d clients", l.agents, l.clients)
}

// scaleTopo is the lab of the scale experiment:
//
//	cN eth0 10.96.1.1N ─┐ sw: brc ── d0 10.96.1.1 director (VIPs .100 NAT, .101 DR) br0 10.96.2.1 ── rsN eth0 10.96.2.1N
//	cN eth1 10.96.3.1N ─┘ sw: bret (return LAN) ────────────────────────────────────────────────── rsN eth1 10.96.3.2N
//
// Every realserver link is shaped to scaleRate both ways, so aggregate
// throughput can only grow by adding realservers. NAT replies go back
// through the director (the realservers' default route); DR replies leave
// from the VIP over the return LAN straight to the client.
type scaleTopo struct {
	spec           lab.Spec
	clients        []netip.Addr
	vipNAT, vipDR  netip.Addr
	rsAddr         []netip.Addr
	rsMAC          []string
	directorBrMAC  string
	directorInDev  string
	directorOutDev string
}

func newScaleTopo(agents, realservers int) scaleTopo {
	t := scaleTopo{vipNAT: ip4("10.96.1.100"), vipDR: ip4("10.96.1.101"),
		directorBrMAC: "02:96:02:00:00:01", directorInDev: "d0", directorOutDev: "br0"}
	noRP := map[string]string{"net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/default/rp_filter": "0"}
	sp := lab.Spec{
		Hosts: []lab.Host{
			{Name: "sw", Sysctls: map[string]string{"net/bridge/bridge-nf-call-iptables": "0"}},
			{Name: "dir", Forward: true, Sysctls: map[string]string{"net/bridge/bridge-nf-call-iptables": "0"}},
		},
		Bridges: []lab.Bridge{
			{Host: "sw", Name: "brc"}, {Host: "sw", Name: "bret"},
			{Host: "dir", Name: "br0", MAC: t.directorBrMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("10.96.2.1/24")}},
		},
		Links: []lab.Link{{
			A: lab.End{Host: "dir", Dev: "d0", MAC: "02:96:01:00:00:01", Addrs: []netip.Prefix{
				netip.MustParsePrefix("10.96.1.1/24"), netip.PrefixFrom(t.vipNAT, 32), netip.PrefixFrom(t.vipDR, 32)}},
			B: lab.End{Host: "sw", Dev: "pd", Bridge: "brc"}}},
	}
	for i := 1; i <= agents; i++ {
		name := fmt.Sprintf("c%d", i)
		addr := ip4(fmt.Sprintf("10.96.1.%d", 10+i))
		t.clients = append(t.clients, addr)
		sp.Hosts = append(sp.Hosts, lab.Host{Name: name, Sysctls: noRP})
		sp.Links = append(sp.Links,
			lab.Link{A: lab.End{Host: name, Dev: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(addr, 24)}},
				B: lab.End{Host: "sw", Dev: "pc" + strconv.Itoa(i), Bridge: "brc"}},
			lab.Link{A: lab.End{Host: name, Dev: "eth1", Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.96.3.%d/24", 10+i))}},
				B: lab.End{Host: "sw", Dev: "rc" + strconv.Itoa(i), Bridge: "bret"}})
	}
	for j := 1; j <= realservers; j++ {
		name := fmt.Sprintf("rs%d", j)
		addr := ip4(fmt.Sprintf("10.96.2.%d", 10+j))
		mac := fmt.Sprintf("02:96:02:00:00:%02x", 0x10+j)
		t.rsAddr, t.rsMAC = append(t.rsAddr, addr), append(t.rsMAC, mac)
		h := lab.Host{Name: name, Loopback: []netip.Prefix{netip.PrefixFrom(t.vipDR, 32)}, Sysctls: map[string]string{
			"net/ipv4/conf/all/arp_ignore": "1", "net/ipv4/conf/all/arp_announce": "2",
			"net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/default/rp_filter": "0"},
			Routes: []lab.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: ip4("10.96.2.1")}},
			Rules:  []lab.Rule{{From: netip.PrefixFrom(t.vipDR, 32), Table: 101, Priority: 100}}}
		for i, c := range t.clients {
			h.Routes = append(h.Routes, lab.Route{Dst: netip.PrefixFrom(c, 32), Via: ip4(fmt.Sprintf("10.96.3.%d", 11+i)), Dev: "eth1", Table: 101})
		}
		sp.Hosts = append(sp.Hosts, h)
		sp.Links = append(sp.Links,
			lab.Link{Rate: scaleRate, A: lab.End{Host: name, Dev: "eth0", MAC: mac, Addrs: []netip.Prefix{netip.PrefixFrom(addr, 24)}},
				B: lab.End{Host: "dir", Dev: "pr" + strconv.Itoa(j), Bridge: "br0"}},
			lab.Link{Rate: scaleRate, A: lab.End{Host: name, Dev: "eth1", Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.96.3.%d/24", 20+j))}},
				B: lab.End{Host: "sw", Dev: "rr" + strconv.Itoa(j), Bridge: "bret"}})
	}
	t.spec = sp
	return t
}

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// scaleCell is one measurement: a forwarding method, a realserver count, a
// client line.
type scaleCell struct {
	mode        nft.Mode
	realservers int
	line        scaleLine
}

// scaleFigure is what a cell measured.
type scaleFigure struct {
	hits       float64
	throughput timing.BitsPerSecond
	p99        time.Duration
	skew       time.Duration
	errors     uint64
	lost       int
}

// scaleBudget is the scale experiment's own default budget (3 interleaved
// rounds); `all` gives it its share instead.
const scaleBudget = 210 * time.Second

// runScale reproduces the seed's scalability claim (§4.4): with one serial
// client a second realserver adds nothing; synchronised clients on several
// hosts make throughput grow with the realservers. One lab holds the most
// realservers; the director is programmed with the first 1, 2, 4 of them,
// so rounds interleave every cell and the figures are medians of rounds.
func runScale(ctx context.Context, o Options) (*Report, error) {
	if o.Self == "" {
		return nil, fmt.Errorf("not implemented yet: experiment scale without Options.Self (the lvsperf binary whose agent and cluster commands run inside the client namespaces)")
	}
	if o.Budget == DefaultBudget {
		o.Budget = scaleBudget
	}
	maxAgents, maxRS := 0, scaleRealservers[len(scaleRealservers)-1]
	for _, l := range scaleLines {
		maxAgents = max(maxAgents, l.agents)
	}
	cells := len(scaleRealservers) * len(scaleLines) * 2
	// Each cell costs its run plus ~1.3 s of coordinator start-up.
	const overhead = 1300 * time.Millisecond
	per := 2 * time.Second
	rounds := min(max(int((o.Budget-10*time.Second)/(time.Duration(cells)*(per+overhead))), 1), 3)
	if rounds == 1 {
		per = min(max(o.Budget/time.Duration(cells)-overhead, time.Second), 2*time.Second)
	}
	run := newRun("scale")
	run.Probe = "http"
	run.Options["file"] = ptester.FilePath(scaleFileExp)
	run.Options["realserver_rate"] = scaleRate.String()
	run.Options["time_per_cell"] = per.String()
	run.Options["rounds"] = strconv.Itoa(rounds)
	start := time.Now()
	figs, err := scaleLab(ctx, o, maxAgents, maxRS, per, rounds, run)
	if err != nil {
		return nil, err
	}
	finding, verdicts := scaleFinding(figs, per, rounds, time.Since(start))
	files, err := saveScale(o, run, figs, finding)
	if err != nil {
		return nil, err
	}
	return &Report{Name: "scale", Finding: finding, Files: files, Verdicts: verdicts}, nil
}

// scaleLab builds the lab and measures every cell, rounds times.
func scaleLab(ctx context.Context, o Options, agents, nrs int, per time.Duration, rounds int, run *results.Run) (map[scaleCell][]scaleFigure, error) {
	topo := newScaleTopo(agents, nrs)
	l, err := lab.Up(ctx, topo.spec, lab.Options{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for j := 1; j <= nrs; j++ {
		var srv *ptester.Server
		if err := l.Host(fmt.Sprintf("rs%d", j)).Do(func() (err error) {
			srv, err = ptester.NewFileServer(ctx, ptester.ServerOptions{Addr: fmt.Sprintf("0.0.0.0:%d", httpPort), MaxKeepAliveRequests: -1})
			return err
		}); err != nil {
			return nil, fmt.Errorf("file server in rs%d: %w", j, err)
		}
		defer srv.Close()
	}
	var agentAddrs []string
	for i, c := range topo.clients {
		addr := net.JoinHostPort(c.String(), strconv.Itoa(scaleAgentPort))
		cmd := exec.CommandContext(ctx, o.Self, "agent", "--listen", addr, "--index", strconv.Itoa(i), "--name", fmt.Sprintf("c%d", i+1))
		cmd.Env = append(os.Environ(), cluster.DefaultTokenEnv+"="+scaleToken)
		if err := l.Host(fmt.Sprintf("c%d", i+1)).Start(cmd); err != nil {
			return nil, err
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		agentAddrs = append(agentAddrs, addr)
	}
	figs := map[scaleCell][]scaleFigure{}
	for round := range rounds {
		for _, mode := range []nft.Mode{nft.NAT, nft.DR} {
			vip := topo.vipNAT
			if mode == nft.DR {
				vip = topo.vipDR
			}
			for _, r := range scaleRealservers {
				undo, err := topo.program(l, mode, vip, r)
				if err != nil {
					return nil, fmt.Errorf("program %s with %d realservers: %w", mode, r, err)
				}
				for _, line := range scaleLines {
					c := scaleCell{mode, r, line}
					res, err := coordinate(ctx, l.Host("c1"), o.Self, agentAddrs[:line.agents], net.JoinHostPort(vip.String(), strconv.Itoa(httpPort)), line.clients, per)
					if err != nil {
						undo()
						return nil, fmt.Errorf("%s, %d realservers, %v: %w", mode, r, line, err)
					}
					f := scaleFigure{hits: res.HitsPerSec, throughput: res.Throughput, p99: res.Latency.P99, skew: res.SkewOwnClocks, errors: res.Errors, lost: len(res.Lost)}
					figs[c] = append(figs[c], f)
					fmt.Fprintf(o.Progress, "scale: round %d/%d %-4s %d rs  %-22v %6.0f hits/s %12v  p99 %v  skew %v\n", round+1, rounds, mode, r, line, f.hits, f.throughput, f.p99.Round(time.Microsecond), f.skew.Round(time.Microsecond))
					rr := res.ToRun()
					s := rr.Series[0]
					s.Label = fmt.Sprintf("%s %drs %v round %d", mode, r, line, round+1)
					s.Path = "lab/" + string(mode) + "/cluster"
					s.Info["mode"], s.Info["realservers"], s.Info["agents"], s.Info["clients_per_agent"] = string(mode), strconv.Itoa(r), strconv.Itoa(line.agents), strconv.Itoa(line.clients)
					s.Info["round"] = strconv.Itoa(round + 1)
					s.Info["throughput_bps"] = strconv.FormatFloat(float64(res.Throughput), 'f', 0, 64)
					run.Series = append(run.Series, s)
				}
				if err := undo(); err != nil {
					return nil, fmt.Errorf("remove %s rules: %w", mode, err)
				}
			}
		}
	}
	return figs, nil
}

// program sends the VIP to the first n realservers.
func (t scaleTopo) program(l *lab.Lab, mode nft.Mode, vip netip.Addr, n int) (func() error, error) {
	var rs []nft.Realserver
	for i, a := range t.rsAddr[:n] {
		mac, err := net.ParseMAC(t.rsMAC[i])
		if err != nil {
			return nil, err
		}
		rs = append(rs, nft.Realserver{Addr: a, MAC: mac})
	}
	out, err := net.ParseMAC(t.directorBrMAC)
	if err != nil {
		return nil, err
	}
	e, err := nft.Program(l.Host("dir").FD(), nft.Config{Mode: mode, VIP: vip, Port: httpPort, Realservers: rs,
		InDev: t.directorInDev, OutDev: t.directorOutDev, OutMAC: out})
	if err != nil {
		return nil, err
	}
	return e.Close, nil
}

// coordinate runs `lvsperf cluster run` inside the client host against the
// given agents and decodes its result.
func coordinate(ctx context.Context, h *lab.HostNS, self string, agents []string, target string, clients int, d time.Duration) (*cluster.Result, error) {
	out, err := os.MkdirTemp("", "lvsperf-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	args := []string{"cluster", "run", "--json", "--idle-poll", "--out", out, "--ready-timeout", "20s",
		"-h", target, "-t", d.String(), "-k", strconv.Itoa(scaleKeepAlive), "-c", strconv.Itoa(clients), ptester.FilePath(scaleFileExp)}
	for _, a := range agents {
		args = append(args, "--agent", a)
	}
	ctx, cancel := context.WithTimeout(ctx, d+40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append(os.Environ(), cluster.DefaultTokenEnv+"="+scaleToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := h.Start(cmd); err != nil {
		return nil, err
	}
	werr := cmd.Wait()
	var res cluster.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); jerr != nil {
		return nil, fmt.Errorf("lvsperf cluster run: %v (no result: %v): %s", werr, jerr, lastLines(stderr.String(), 5))
	}
	if res.Complete == 0 {
		return nil, fmt.Errorf("no agent completed: %s", strings.Join(res.Lost, "; "))
	}
	return &res, nil
}

// medianFig is the cell's median throughput and median p99 over rounds.
func medianFig(fs []scaleFigure) scaleFigure {
	if len(fs) == 0 {
		return scaleFigure{}
	}
	var tp []float64
	var p99 []time.Duration
	var m scaleFigure
	for _, f := range fs {
		tp = append(tp, float64(f.throughput))
		p99 = append(p99, f.p99)
		m.skew = max(m.skew, f.skew)
		m.errors += f.errors
		m.lost += f.lost
	}
	m.throughput = timing.BitsPerSecond(timing.Median(tp))
	m.p99 = medianDur(p99)
	return m
}

// roundRatios are each round's throughput with r realservers over the same
// round's with one: interleaved, so slow phases of the machine cancel.
func roundRatios(figs map[scaleCell][]scaleFigure, mode nft.Mode, l scaleLine, r int) []float64 {
	one, many := figs[scaleCell{mode, 1, l}], figs[scaleCell{mode, r, l}]
	var out []float64
	for i := range min(len(one), len(many)) {
		if one[i].throughput > 0 {
			out = append(out, float64(many[i].throughput)/float64(one[i].throughput))
		}
	}
	return out
}

func spanOf(v []float64) (lo, med, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[0], timing.Median(s), s[len(s)-1]
}

// serialVerdict judges "a second realserver gives one serial client
// nothing": every round within ±20% and the median within ±10% is
// reproduced; every round above +20% is not; anything else inconclusive.
func serialVerdict(ratios []float64) Outcome {
	lo, med, hi := spanOf(ratios)
	switch {
	case len(ratios) == 0:
		return Inconclusive
	case med >= 0.9 && med <= 1.1 && lo >= 0.8 && hi <= 1.2:
		return Reproduced
	case lo > 1.2 || hi < 0.8:
		return NotReproduced
	}
	return Inconclusive
}

// scalingVerdict judges "synchronised clients grow with the realservers":
// every round's 2-realserver ratio at least 1.6 is reproduced, every one
// below 1.2 is not.
func scalingVerdict(two []float64) Outcome {
	lo, _, hi := spanOf(two)
	switch {
	case len(two) == 0:
		return Inconclusive
	case lo >= 1.6:
		return Reproduced
	case hi < 1.2:
		return NotReproduced
	}
	return Inconclusive
}

// scaleFinding states the seed's two claims as comparisons and judges them.
func scaleFinding(figs map[scaleCell][]scaleFigure, per time.Duration, rounds int, took time.Duration) (string, []Verdict) {
	var b strings.Builder
	fmt.Fprintf(&b, "experiment scale: GET %s (keep-alive %d) through the nft director;\n", ptester.FilePath(scaleFileExp), scaleKeepAlive)
	fmt.Fprintf(&b, "every realserver link shaped to %v; agents in separate client namespaces started together by\n", scaleRate)
	fmt.Fprintf(&b, "lvsperf cluster; %v per cell, %d interleaved rounds, %v\n\n", per, rounds, took.Round(time.Second))
	fmt.Fprintf(&b, "%-4s %-22s", "mode", "clients (median Mbit/s)")
	for _, r := range scaleRealservers {
		fmt.Fprintf(&b, " %8s", fmt.Sprintf("%d rs", r))
	}
	fmt.Fprintf(&b, "  p99 at %d rs, max skew\n", scaleRealservers[len(scaleRealservers)-1])
	for _, mode := range []nft.Mode{nft.NAT, nft.DR} {
		for _, l := range scaleLines {
			fmt.Fprintf(&b, "%-4s %-22v", mode, l)
			var skew time.Duration
			for _, r := range scaleRealservers {
				m := medianFig(figs[scaleCell{mode, r, l}])
				skew = max(skew, m.skew)
				fmt.Fprintf(&b, " %8.1f", float64(m.throughput)/1e6)
			}
			last := medianFig(figs[scaleCell{mode, scaleRealservers[len(scaleRealservers)-1], l}])
			fmt.Fprintf(&b, "  %v, %v\n", last.p99.Round(100*time.Microsecond), skew.Round(time.Microsecond))
		}
	}
	serial, multi := scaleLines[0], scaleLines[len(scaleLines)-1]
	span := func(v []float64) string {
		lo, med, hi := spanOf(v)
		if len(v) < 2 {
			return fmt.Sprintf("%.2f× (one round)", med)
		}
		return fmt.Sprintf("%.2f× (rounds %.2f–%.2f)", med, lo, hi)
	}
	var vs []Verdict
	for _, mode := range []nft.Mode{nft.NAT, nft.DR} {
		g := roundRatios(figs, mode, serial, 2)
		vs = append(vs, Verdict{Experiment: "scale", Claim: string(mode) + ": serial client, 2nd rs",
			Seed:    "one serial client: 2 rs / 1 rs ≈ 1.0× (\"no performance improvement with 2 realservers\")",
			Ours:    span(g),
			Outcome: serialVerdict(g), Why: "per-round throughput ratio 2 rs / 1 rs; ±10% (median) and ±20% (every round) count as no gain"})
		g2, g4 := roundRatios(figs, mode, multi, 2), roundRatios(figs, mode, multi, 4)
		_, m4, _ := spanOf(g4)
		why := fmt.Sprintf("%v: 2 rs %s, 4 rs %s", multi, span(g2), span(g4))
		if m4 < 3.4 {
			why += "; short of linear at 4 rs: " + saturation(figs, mode)
		} else {
			why += "; linear to 4 rs"
		}
		vs = append(vs, Verdict{Experiment: "scale", Claim: string(mode) + ": synchronised clients",
			Seed:    "synchronised multi-clients: throughput grows ~linearly with realservers until the client side or the director saturates",
			Ours:    why,
			Outcome: scalingVerdict(g2), Why: "every round's 2 rs / 1 rs ratio ≥ 1.6 is growth"})
	}
	b.WriteString("\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "%-30s %s\n    ours: %s\n", v.Claim, v.Outcome, v.Ours)
	}
	b.WriteString("seed: \"It is clear that there is no performance improvement with 2 realservers The reason for this is\n" +
		"that the requests are serialised.\" and \"The property of an LVS of most interest is the scalability, which\n" +
		"requires synchronised multi-clients.\"\n" +
		"note: every namespace shares the machine's 2 CPUs; the links are shaped so that the realservers' links set the ceiling.\n")
	return b.String(), vs
}

// saturation says which side stopped the growth at the most realservers:
// more clients raising it means the clients were short; NAT below DR means
// the director's return path.
func saturation(figs map[scaleCell][]scaleFigure, mode nft.Mode) string {
	r := scaleRealservers[len(scaleRealservers)-1]
	a, b := scaleLines[len(scaleLines)-2], scaleLines[len(scaleLines)-1]
	fa, fb := medianFig(figs[scaleCell{mode, r, a}]).throughput, medianFig(figs[scaleCell{mode, r, b}]).throughput
	nat, dr := medianFig(figs[scaleCell{nft.NAT, r, b}]).throughput, medianFig(figs[scaleCell{nft.DR, r, b}]).throughput
	switch {
	case fa > 0 && float64(fb) > 1.15*float64(fa):
		return fmt.Sprintf("the client side (%v made %.2f× of %v)", b, float64(fb)/float64(fa), a)
	case mode == nft.NAT && dr > 0 && float64(nat) < 0.85*float64(dr):
		return fmt.Sprintf("the director (NAT carries the replies and made %.2f× of DR)", float64(nat)/float64(dr))
	}
	return "the shared CPUs (neither more clients nor DR raised it; every namespace runs on the same 2 CPUs)"
}

// saveScale writes the run, the finding and the plot (aggregate throughput
// and p99 vs realservers, one line per client count and mode).
func saveScale(o Options, run *results.Run, figs map[scaleCell][]scaleFigure, finding string) ([]string, error) {
	run.Finished, run.Complete = time.Now(), true
	path := filepath.Join(o.OutDir, "scale"+results.Extension)
	if err := results.Save(path, run); err != nil {
		return nil, err
	}
	files := []string{path}
	tp := filepath.Join(o.OutDir, "scale.txt")
	if err := results.WriteFileAtomic(tp, []byte(finding)); err != nil {
		return files, err
	}
	files = append(files, tp)
	for _, fig := range []struct {
		name, y string
		scale   lplot.Scale
		val     func(scaleFigure) float64
	}{
		{"scale-throughput", "aggregate body throughput", lplot.LogBits, func(f scaleFigure) float64 { return float64(f.throughput) }},
		{"scale-p99", "p99 request time", lplot.LogSeconds, func(f scaleFigure) float64 { return f.p99.Seconds() }},
	} {
		c := lplot.NewChart("seed §4.4: synchronised clients against realservers", "realservers", fig.y, lplot.Linear, fig.scale)
		var ticks []gplot.Tick
		for _, r := range scaleRealservers {
			ticks = append(ticks, gplot.Tick{Value: float64(r), Label: strconv.Itoa(r)})
		}
		c.X.Tick.Marker = gplot.ConstantTicks(ticks)
		i := 0
		for _, mode := range []nft.Mode{nft.NAT, nft.DR} {
			for _, l := range scaleLines {
				var xs, ys []float64
				for _, r := range scaleRealservers {
					xs, ys = append(xs, float64(r)), append(ys, fig.val(medianFig(figs[scaleCell{mode, r, l}])))
				}
				st := lplot.Measured
				if mode == nft.DR {
					st = lplot.Secondary
				}
				if _, err := c.Line(i, fmt.Sprintf("%s, %v", mode, l), xs, ys, st); err != nil {
					return files, err
				}
				i++
			}
		}
		if c.Empty() {
			continue
		}
		saved, err := saveChart(o.OutDir, fig.name, c)
		files = append(files, saved...)
		if err != nil {
			return files, err
		}
	}
	return files, nil
}

// saveChart writes c as dir/name.svg and dir/name.png and returns the
// files written.
func saveChart(dir, name string, c *lplot.Chart) ([]string, error) {
	var files []string
	for _, ext := range []string{".svg", ".png"} {
		f := filepath.Join(dir, name+ext)
		if err := lplot.Save(f, c); err != nil {
			return files, fmt.Errorf("plot %s: %w", f, err)
		}
		files = append(files, f)
	}
	return files, nil
}
