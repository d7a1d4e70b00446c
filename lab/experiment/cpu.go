package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	gplot "gonum.org/v1/plot"

	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/internal/cpuacct"
	"github.com/lvsperf/lvsperf/lab"
	lplot "github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// cpuPinned is the CPU every thread of the lab runs on during the cpu
// experiment; its /proc/stat line is what the kernel rows read.
const cpuPinned = 0

// cpuMaxBudget caps the cpu experiment's measuring time.
const cpuMaxBudget = 40 * time.Second

// cpuSample is one transfer over one method.
type cpuSample struct {
	wall time.Duration
	// pinned is CPU cpuPinned's time by kind during the transfer; others
	// is the kernel time of the other CPUs (background, not used).
	pinned cpuacct.Times
	others time.Duration
	// proc is the proxy process's CPU from its cpuacct group (proxy only).
	proc time.Duration
	// packets are what the director's veth links received.
	packets uint64
}

// cpuRow is one method's figures over the rounds.
type cpuRow struct {
	name, accounting string
	// extra is the director's CPU per round; perPacket and perKiB divide
	// it by the director's packets and the KiB moved (ns).
	extra             []time.Duration
	perPacket, perKiB []float64
	share             []float64 // extra / wall: share of one CPU
	packets           []float64
	wall              []time.Duration
}

func (r *cpuRow) add(extra time.Duration, s cpuSample, bulk timing.Bytes) {
	r.extra = append(r.extra, extra)
	r.wall = append(r.wall, s.wall)
	r.packets = append(r.packets, float64(s.packets))
	if s.packets > 0 {
		r.perPacket = append(r.perPacket, float64(extra)/float64(s.packets))
	}
	r.perKiB = append(r.perKiB, float64(extra)/(float64(2*bulk)/1024))
	if s.wall > 0 {
		r.share = append(r.share, float64(extra)/float64(s.wall))
	}
}

// runCPU measures the director's CPU per byte and per packet for each
// forwarding method. Kernel forwarding runs in softirq, which no process
// or namespace is charged for, so the kernel rows read the pinned CPU's
// system+irq+softirq time from /proc/stat during a fixed transfer and
// subtract the same for the direct path in the same round (the endpoints'
// own work, and whatever else the machine did meanwhile, cancel to the
// extent they are alike). The userspace proxy gets that row too, and a
// second row of its process's own CPU from a cgroup v1 cpuacct group.
func runCPU(ctx context.Context, o Options) (_ *Report, err error) {
	budget := min(o.Budget, cpuMaxBudget)
	if _, err := cpuacct.SweepStale(""); err != nil {
		return nil, err
	}
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OffloadsOff: true, Tunnel: true})
	if err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, s.Spec, lab.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	unpin, err := affinity.PinAll(cpuPinned)
	if err != nil {
		return nil, err
	}
	defer unpin()
	srv, err := startBulkServer(l.Host(lab.Realserver(1)), netpipePort, o.CPUBulk)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	type method struct {
		name  string
		path  labPath
		proxy bool
	}
	var ms []method
	for _, p := range seedPaths(s) {
		if p.name != "martian" {
			ms = append(ms, method{name: p.name, path: p})
		}
	}
	var group *cpuacct.Group
	var notes []string
	if o.Self == "" {
		notes = append(notes, "no proxy rows: Options.Self, the lvsperf binary that runs `lvsperf director`, not given")
	} else if group, err = cpuacct.NewGroup(""); err != nil {
		notes = append(notes, fmt.Sprintf("no proxy rows: %v", err))
		group = nil
	} else {
		defer func() { err = errors.Join(err, group.Close()) }()
		ms = append(ms, method{name: "proxy", path: labPath{name: "proxy", target: s.VIPNAT}, proxy: true})
	}
	rows := map[string]*cpuRow{}
	for _, m := range ms {
		if m.name != "direct" {
			rows[m.name] = &cpuRow{name: m.name, accounting: fmt.Sprintf("CPU %d sys+irq+softirq − direct", cpuPinned)}
		}
	}
	if group != nil {
		rows["proxy process"] = &cpuRow{name: "proxy process", accounting: "cgroup v1 cpuacct of `lvsperf director` (user+sys)"}
	}
	client := l.Host(lab.Client)
	start := time.Now()
	rounds, why := 0, ""
	var others []float64
	const minRounds, maxRounds = 3, 9
	for r := 1; r <= maxRounds; r++ {
		got := map[string]cpuSample{}
		// Rotate the order each round so no method always follows another.
		for k := range ms {
			m := ms[(k+r)%len(ms)]
			var undo func() error
			var pid int
			if m.proxy {
				p, u, err := startProxy(ctx, l, s, []string{o.Self, "director"})
				if err != nil {
					return nil, fmt.Errorf("cpu, round %d, proxy: %w", r, err)
				}
				if err := group.Add(p.Pid); err != nil {
					u()
					return nil, err
				}
				undo, pid = u, p.Pid
			} else if undo, err = program(l, s, m.path); err != nil {
				return nil, fmt.Errorf("cpu, round %d, %s: %w", r, m.name, err)
			}
			smp, err := cpuTransfer(ctx, l, client, m.path.target.String(), o.CPUBulk, group, pid != 0)
			if uerr := undo(); err == nil {
				err = uerr
			}
			if err != nil {
				return nil, fmt.Errorf("cpu, round %d, %s: %w", r, m.name, err)
			}
			got[m.name] = smp
			fmt.Fprintf(o.Progress, "cpu: round %d %-8s %v  CPU %d kernel %v  director packets %d\n", r, m.name,
				smp.wall.Round(time.Millisecond), cpuPinned, smp.pinned.Kernel(), smp.packets)
		}
		base := got["direct"].pinned.Kernel()
		for name, smp := range got {
			others = append(others, float64(smp.others))
			if row := rows[name]; row != nil {
				row.add(smp.pinned.Kernel()-base, smp, o.CPUBulk)
			}
			if name == "proxy" {
				rows["proxy process"].add(smp.proc, smp, o.CPUBulk)
			}
		}
		rounds = r
		if el := time.Since(start); r >= minRounds && (el+el/time.Duration(r) > budget || r == maxRounds) {
			why = fmt.Sprintf("%d rounds (the next would not fit the %v budget)", r, budget)
			break
		}
		why = fmt.Sprintf("%d rounds", r)
	}
	order := []string{"forward", "nat", "dr", "tun", "proxy", "proxy process"}
	var list []*cpuRow
	for _, n := range order {
		if rows[n] != nil {
			list = append(list, rows[n])
		}
	}
	vs := cpuVerdicts(rows)
	var b strings.Builder
	fmt.Fprintf(&b, "experiment cpu: director CPU per forwarding method; client ⇄ realserver bulk transfer of %v each way at once,\n"+
		"offloads off, every thread of the lab on CPU %d, %s interleaved (order rotated each round)\n", o.CPUBulk, cpuPinned, why)
	fmt.Fprintf(&b, "accounting: kernel forwarding runs in softirq, which no namespace or process is charged for, so the rows marked \"− direct\"\n"+
		"read CPU %d's system+irq+softirq from /proc/stat (USER_HZ ticks, 10 ms) during the transfer, less the same for the direct\n"+
		"path in that round; \"proxy process\" is the userspace director's own user+system CPU from its cgroup v1 cpuacct group\n"+
		"(its softirq work is in the \"proxy\" row). \"tun\" is VXLAN-encapsulated: this kernel has no ipip, gre, fou or geneve.\n\n", cpuPinned)
	b.WriteString(cpuTable(list))
	for _, n := range notes {
		fmt.Fprintf(&b, "(%s)\n", n)
	}
	fmt.Fprintf(&b, "(kernel time on the other CPUs, not counted: median %v per transfer — background from other work, or lab work that escaped the pinning)\n",
		time.Duration(timing.Median(others)).Round(time.Millisecond))
	if nat, dr := rows["nat"], rows["dr"]; nat != nil && dr != nil {
		fmt.Fprintf(&b, "\nNAT/DR director CPU per byte: %s (medians); the seed: 50%% vs 5%% system CPU, 10×\n",
			ratioOfMedians(nat.perKiB, dr.perKiB))
	}
	writeVerdicts(&b, vs)
	b.WriteString("seed: \"The director was a lot busier with VS-NAT (50% system CPU with \\\"top\\\") at high throughput than either VS-DR\n" +
		"(5% system CPU) or VS-TUN (5% system CPU) and the keyboard and mouse were quite sluggish.\"\n")
	run := newRun("cpu")
	run.Probe = "bulk"
	run.Options["bulk_bytes_each_way"] = fmt.Sprint(int64(o.CPUBulk))
	run.Options["offloads"] = "off"
	run.Options["pinned_cpu"] = fmt.Sprint(cpuPinned)
	run.Options["rounds"] = fmt.Sprint(rounds)
	for _, r := range list {
		run.Options["cpu_ns_per_packet_"+strings.ReplaceAll(r.name, " ", "_")] = fmt.Sprintf("%.0f", timing.Median(r.perPacket))
		run.Options["cpu_ns_per_kib_"+strings.ReplaceAll(r.name, " ", "_")] = fmt.Sprintf("%.0f", timing.Median(r.perKiB))
	}
	files, err := saveCPU(o, run, list, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: "cpu", Finding: b.String(), Files: files, Verdicts: vs}, nil
}

// cpuTransfer moves bulk bytes each way between client and the bulk
// server at target, and reads the CPU and the director's packets around it.
// The client sends while the realserver sends as much back, as the seed's
// netpipe at high throughput carried data both ways.
func cpuTransfer(ctx context.Context, l *lab.Lab, client *lab.HostNS, target string, bulk timing.Bytes, g *cpuacct.Group, proxy bool) (cpuSample, error) {
	addr := net.JoinHostPort(target, fmt.Sprint(netpipePort))
	c, err := client.DialTCP(ctx, addr, 3*time.Second)
	if err != nil {
		return cpuSample{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// Cancelling ends the transfer at once, not at its deadline.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	pk0, err := directorPackets(l)
	if err != nil {
		return cpuSample{}, err
	}
	st0, err := cpuacct.ReadStat()
	if err != nil {
		return cpuSample{}, err
	}
	var u0 time.Duration
	if proxy {
		if u0, err = g.Usage(); err != nil {
			return cpuSample{}, err
		}
	}
	t0 := time.Now()
	if err := bulkBothWays(c, bulk, false); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return cpuSample{}, fmt.Errorf("bulk transfer with %s: %w", addr, err)
	}
	wall := time.Since(t0)
	st1, err := cpuacct.ReadStat()
	if err != nil {
		return cpuSample{}, err
	}
	smp := cpuSample{wall: wall}
	if proxy {
		u1, err := g.Usage()
		if err != nil {
			return cpuSample{}, err
		}
		smp.proc = u1 - u0
	}
	pk1, err := directorPackets(l)
	if err != nil {
		return cpuSample{}, err
	}
	smp.packets = pk1 - pk0
	if cpuPinned >= len(st1.PerCPU) || cpuPinned >= len(st0.PerCPU) {
		return cpuSample{}, fmt.Errorf("/proc/stat has no line for CPU %d", cpuPinned)
	}
	smp.pinned = st1.PerCPU[cpuPinned].Sub(st0.PerCPU[cpuPinned])
	smp.others = st1.All.Sub(st0.All).Kernel() - smp.pinned.Kernel()
	return smp, nil
}

// bulkBothWays writes n bytes on c while reading as many back. The
// server then sends one more byte once it has read all n, and the client
// waits for it, so no data of a transfer is still in flight when the
// director's rules for it are removed.
func bulkBothWays(c net.Conn, n timing.Bytes, server bool) error {
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, werr = io.Copy(c, io.LimitReader(zeros{}, int64(n)))
	}()
	want := int64(n)
	if !server {
		want++
	}
	_, rerr := io.CopyN(io.Discard, c, want)
	wg.Wait()
	if err := errors.Join(werr, rerr); err != nil || !server {
		return err
	}
	_, err := c.Write([]byte{1})
	return err
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// directorPackets is the sum of the packets the director's veth ends
// received: every packet that crossed the director, whichever way.
func directorPackets(l *lab.Lab) (uint64, error) {
	links, err := l.Host(lab.Director).Netlink().LinkList()
	if err != nil {
		return 0, fmt.Errorf("director: list links: %w", err)
	}
	var n uint64
	for _, d := range links {
		if d.Type() == "veth" && d.Attrs().Statistics != nil {
			n += d.Attrs().Statistics.RxPackets
		}
	}
	return n, nil
}

// bulkServer accepts connections and, on each, sends n bytes while
// reading as many.
type bulkServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startBulkServer(h *lab.HostNS, port int, n timing.Bytes) (*bulkServer, error) {
	bs := &bulkServer{}
	if err := h.Do(func() (err error) { bs.ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); return err }); err != nil {
		return nil, err
	}
	bs.wg.Add(1)
	go func() {
		defer bs.wg.Done()
		for {
			c, err := bs.ln.Accept()
			if err != nil {
				return
			}
			bs.wg.Add(1)
			go func() {
				defer bs.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				bulkBothWays(c, n, true)
			}()
		}
	}()
	return bs, nil
}

// Close stops accepting and waits for the transfers in flight (each ends
// by its deadline at the latest).
func (bs *bulkServer) Close() error {
	err := bs.ln.Close()
	bs.wg.Wait()
	return err
}

func ratioOfMedians(a, b []float64) string {
	if mb := timing.Median(b); mb > 0 {
		return fmt.Sprintf("%.1f×", timing.Median(a)/mb)
	}
	return "n/a (DR's median ≤ 0: below the accounting's resolution)"
}

// medianCI is the distribution-free interval of the median: the order
// statistics x(k) and x(n+1-k) for the largest k whose coverage
// 1 - 2·P(Binomial(n, ½) < k) is still at least 95%. ok is false when no
// such k exists (fewer than 6 samples).
func medianCI(x []float64) (lo, hi float64, ok bool) {
	n := len(x)
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	// cdf[k] = P(B < k), B ~ Binomial(n, ½).
	p := math.Pow(0.5, float64(n))
	best, below, c := 0, 0.0, 1.0 // c = C(n, j)
	for k := 1; k <= n/2; k++ {
		below += c * p // adds P(B = k-1)
		c = c * float64(n-k+1) / float64(k)
		if 1-2*below >= 0.95 {
			best = k
		}
	}
	if best == 0 {
		return 0, 0, false
	}
	return s[best-1], s[n-best], true
}

// fmtNs prints a median with its 95% interval (medianCI), in ns.
func fmtNs(x []float64) string {
	lo, hi, ok := medianCI(x)
	if !ok {
		return fmt.Sprintf("%.0f (n=%d, no interval)", timing.Median(x), len(x))
	}
	return fmt.Sprintf("%.0f [%.0f, %.0f]", timing.Median(x), lo, hi)
}

func cpuTable(rows []*cpuRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %9s %9s %8s %24s %24s   %s\n", "method", "wall(med)", "dir pkts", "% of CPU", "ns/packet med [95%]", "ns/KiB med [95%]", "accounting")
	for _, r := range rows {
		var walls []float64
		for _, w := range r.wall {
			walls = append(walls, float64(w))
		}
		fmt.Fprintf(&b, "%-14s %9v %9.0f %7.1f%% %24s %24s   %s\n", r.name, time.Duration(timing.Median(walls)).Round(time.Millisecond),
			timing.Median(r.packets), 100*timing.Median(r.share), fmtNs(r.perPacket), fmtNs(r.perKiB), r.accounting)
	}
	return b.String()
}

// cpuVerdicts judges the seed's "the director was a lot busier with
// VS-NAT than with VS-DR or VS-TUN" on per-round paired differences of
// the director's CPU per byte and per packet.
func cpuVerdicts(rows map[string]*cpuRow) []Verdict {
	var vs []Verdict
	nat, dr, tun := rows["nat"], rows["dr"], rows["tun"]
	if nat == nil || dr == nil {
		return nil
	}
	judge := func(claim, seed string, a, b []float64, an, bn, unit string) Verdict {
		iv, o := judgeDiff(a, b)
		return Verdict{Experiment: "cpu", Claim: claim, Seed: seed,
			Ours:    fmt.Sprintf("%s %.0f, %s %.0f %s (medians); diff %.0f [%.0f, %.0f]", an, timing.Median(a), bn, timing.Median(b), unit, iv.Mean, iv.Lo, iv.Hi),
			Outcome: o, Why: "per-round paired difference of the director's extra kernel CPU, 95% interval vs 0"}
	}
	vs = append(vs, judge("NAT vs DR, per byte", "director busier under NAT than DR at high throughput: 50% vs 5% system CPU",
		nat.perKiB, dr.perKiB, "NAT", "DR", "ns/KiB"))
	vs = append(vs, judge("NAT vs DR, per packet", "NAT costs the director more CPU per packet than DR",
		nat.perPacket, dr.perPacket, "NAT", "DR", "ns/packet"))
	if tun != nil {
		vs = append(vs, judge("NAT vs TUN, per byte", "director busier under NAT than TUN: 50% vs 5% system CPU (TUN: ipip there, VXLAN here)",
			nat.perKiB, tun.perKiB, "NAT", "TUN", "ns/KiB"))
	}
	return vs
}

// saveCPU writes the run, the finding and the figures: the director's CPU
// per packet and per KiB by method (median, with its 95% interval's ends
// as dotted lines).
func saveCPU(o Options, run *results.Run, rows []*cpuRow, finding string) ([]string, error) {
	run.Finished, run.Complete = time.Now(), true
	path := filepath.Join(o.OutDir, "cpu"+results.Extension)
	if err := results.Save(path, run); err != nil {
		return nil, err
	}
	files := []string{path}
	tp := filepath.Join(o.OutDir, "cpu.txt")
	if err := results.WriteFileAtomic(tp, []byte(finding)); err != nil {
		return files, err
	}
	files = append(files, tp)
	var ticks []gplot.Tick
	for i, r := range rows {
		ticks = append(ticks, gplot.Tick{Value: float64(i), Label: r.name})
	}
	for _, fig := range []struct {
		name, y string
		val     func(*cpuRow) []float64
	}{
		{"cpu-per-packet", "director CPU per packet (ns)", func(r *cpuRow) []float64 { return r.perPacket }},
		{"cpu-per-kib", "director CPU per KiB moved (ns)", func(r *cpuRow) []float64 { return r.perKiB }},
	} {
		c := lplot.NewChart("seed §2.1: director CPU by forwarding method", "method", fig.y, lplot.Linear, lplot.Linear)
		c.X.Tick.Marker = gplot.ConstantTicks(ticks)
		var xs, med, lo, hi []float64
		for i, r := range rows {
			v := fig.val(r)
			if len(v) == 0 {
				continue
			}
			l, h, ok := medianCI(v)
			if !ok {
				l, h = math.NaN(), math.NaN()
			}
			xs, med = append(xs, float64(i)), append(med, timing.Median(v))
			lo, hi = append(lo, l), append(hi, h)
		}
		if _, err := c.Line(0, "median over rounds", xs, med, lplot.Measured); err != nil {
			return files, err
		}
		if _, err := c.Line(1, "95% interval of the median", xs, lo, lplot.Secondary); err != nil {
			return files, err
		}
		if _, err := c.Line(1, "", xs, hi, lplot.Secondary); err != nil {
			return files, err
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
