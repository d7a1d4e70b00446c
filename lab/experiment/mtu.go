package experiment

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// MTUs of the seed's experiment.
var mtus = []int{1500, 750, 400, 200}

// collapseShare flags a curve whose large-message rate falls below this
// share of its peak.
const collapseShare = 0.5

// tailRate is the median rate of the points of 128 KiB and more.
func tailRate(s timing.Series) (timing.BitsPerSecond, bool) {
	var d []time.Duration
	var n []timing.Bytes
	for _, p := range s.Points {
		if p.Bytes >= 128<<10 {
			d = append(d, p.Min)
			n = append(n, p.Bytes)
		}
	}
	if len(d) == 0 {
		return 0, false
	}
	var rates []float64
	for i := range d {
		rates = append(rates, float64(timing.Rate(n[i], d[i])))
	}
	// median
	for i := range rates {
		for j := i + 1; j < len(rates); j++ {
			if rates[j] < rates[i] {
				rates[i], rates[j] = rates[j], rates[i]
			}
		}
	}
	return timing.BitsPerSecond(rates[len(rates)/2]), true
}

func runMTU(ctx context.Context, o Options) (*Report, error) {
	const rounds = 5
	run := newRun("mtu")
	run.Options["offloads"] = "off"
	run.Options["pinned_cpu"] = "0"
	run.Options["path"] = "direct (return LAN MTU) and self (realserver lo MTU)"
	run.Options["rounds"] = fmt.Sprint(rounds)
	per := o.Budget / time.Duration((rounds+1)*len(mtus))
	topt := sweepOptions(o.MaxSize, per)
	// One lab per MTU, all up at once (their namespaces keep the same
	// addresses apart), so that the rounds can interleave the MTUs.
	seeds := make([]lab.Seed, len(mtus))
	labs := make([]*lab.Lab, len(mtus))
	defer func() {
		for _, l := range labs {
			if l != nil {
				l.Close()
			}
		}
	}()
	for i, m := range mtus {
		s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OffloadsOff: true, ReturnMTU: m})
		if err != nil {
			return nil, err
		}
		if labs[i], err = lab.Up(ctx, s.Spec, lab.Options{}); err != nil {
			return nil, fmt.Errorf("MTU %d: %w", m, err)
		}
		seeds[i] = s
	}
	// Both ends on one CPU, as notes/lab.md ran NPtcp: the latency, and so
	// latency × rate, is far steadier than with cross-CPU wake-ups.
	unpin, err := affinity.PinAll(0)
	if err != nil {
		return nil, err
	}
	defer unpin()
	type row struct {
		mtu              int
		pairs            []timing.Series
		pair, self       timing.Series
		pairTail, selfTl timing.BitsPerSecond
		// pairOK and selfOK say whether the sweep reached 128 KiB.
		pairOK, selfOK bool
	}
	rows := make([]row, len(mtus))
	for r := 1; r <= rounds; r++ {
		for i, m := range mtus {
			rows[i].mtu = m
			rs, client := labs[i].Host(lab.Realserver(1)), labs[i].Host(lab.Client)
			ser, _, err := netpipeOver(ctx, rs, client, seeds[i].DirectTarget(0).String(), netpipePort, topt)
			if err != nil {
				return nil, fmt.Errorf("MTU %d, round %d, pairwise: %w", m, r, err)
			}
			if ser.Fit == nil {
				return nil, fmt.Errorf("MTU %d, round %d: no fit: %s", m, r, ser.FitError)
			}
			rows[i].pairs = append(rows[i].pairs, ser)
			fmt.Fprintf(o.Progress, "mtu: round %d/%d MTU %4d pairwise latency %v max rate %v lat×rate %v\n", r, rounds, m,
				ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate, ser.Fit.LatencyBytes)
		}
	}
	// Per-round latency-equivalent bytes ratio MTU 750 / MTU 1500 (the
	// rounds interleave the MTUs, so they pair), before the sort below.
	var lbRatios []float64
	for r := range rows[0].pairs {
		a, b := rows[1].pairs[r].Fit.LatencyBytes, rows[0].pairs[r].Fit.LatencyBytes
		if b > 0 {
			lbRatios = append(lbRatios, float64(a)/float64(b))
		}
	}
	for i, m := range mtus {
		// The round with the median latency-equivalent bytes represents the MTU.
		ps := rows[i].pairs
		sort.Slice(ps, func(a, b int) bool { return ps[a].Fit.LatencyBytes < ps[b].Fit.LatencyBytes })
		rows[i].pair = ps[len(ps)/2]
		self, err := mtuSelf(ctx, labs[i].Host(lab.Realserver(1)), m, topt)
		if err != nil {
			return nil, fmt.Errorf("MTU %d, to self: %w", m, err)
		}
		rows[i].self = self
		if self.Fit != nil {
			fmt.Fprintf(o.Progress, "mtu: self MTU %4d latency %v max rate %v lat×rate %v\n", m, self.Fit.Latency.Round(10*time.Nanosecond), self.Fit.MaxRate, self.Fit.LatencyBytes)
		}
		rows[i].pairTail, rows[i].pairOK = tailRate(rows[i].pair)
		rows[i].selfTl, rows[i].selfOK = tailRate(self)
		var lb []string
		for _, p := range ps {
			lb = append(lb, fmt.Sprint(int64(p.Fit.LatencyBytes)))
		}
		for k, ser := range []timing.Series{rows[i].pair, self} {
			kind := []string{"pairwise", "self"}[k]
			ser.Label = fmt.Sprintf("%s mtu %d", kind, m)
			info := map[string]string{"mtu": fmt.Sprint(m), "kind": kind}
			if k == 0 {
				info["latency_bytes_rounds"] = strings.Join(lb, " ")
			}
			run.Series = append(run.Series, results.Series{Series: ser, Path: "lab/direct", Info: info})
		}
	}
	var b strings.Builder
	b.WriteString("experiment mtu: netpipe client → realserver (direct, MTU on the return LAN) and realserver → itself (MTU on lo), TSO/GSO/GRO off,\n" +
		"both ends on CPU 0; each MTU's curve is the median of 5 interleaved rounds by latency × rate\n\n")
	fmt.Fprintf(&b, "%5s %12s %12s %10s %9s %12s %12s\n", "MTU", "latency", "max rate", "lat×rate", "ratio", "tail/peak", "self t/p")
	var prev timing.Bytes
	var ratio750, rate750 float64
	for _, r := range rows {
		f := r.pair.Fit
		if f == nil {
			fmt.Fprintf(&b, "%5d  no fit: %s\n", r.mtu, r.pair.FitError)
			prev = 0
			continue
		}
		ratio := "-"
		if prev > 0 {
			x := float64(f.LatencyBytes) / float64(prev)
			ratio = fmt.Sprintf("%.2f", x)
			if r.mtu == 750 {
				ratio750 = x
				rate750 = float64(f.MaxRate) / float64(rows[0].pair.Fit.MaxRate)
			}
		}
		prev = f.LatencyBytes
		sp := 0.0
		if r.self.Fit != nil && r.self.Fit.PeakRate > 0 {
			sp = float64(r.selfTl) / float64(r.self.Fit.PeakRate)
		}
		tp := "-"
		if r.pairOK {
			tp = fmt.Sprintf("%.2f", float64(r.pairTail)/float64(f.PeakRate))
		}
		ts := "-"
		if r.selfOK {
			ts = fmt.Sprintf("%.2f", sp)
		}
		fmt.Fprintf(&b, "%5d %12v %12v %10v %9s %12s %12s\n", r.mtu, f.Latency.Round(10*time.Nanosecond), f.MaxRate, f.LatencyBytes,
			ratio, tp, ts)
	}
	fmt.Fprintf(&b, "\nlatency-equivalent bytes at MTU 750 / at MTU 1500 = %.2f (the seed: ca. 0.5; pass band 0.4-0.6: %v); max rate ratio %.2f\n",
		ratio750, ratio750 >= 0.4 && ratio750 <= 0.6, rate750)
	var collapsed, selfCollapsed, unmeasured []string
	for _, r := range rows {
		if !r.pairOK {
			unmeasured = append(unmeasured, fmt.Sprintf("pairwise %d", r.mtu))
		} else if r.pair.Fit != nil && float64(r.pairTail) < collapseShare*float64(r.pair.Fit.PeakRate) {
			collapsed = append(collapsed, fmt.Sprint(r.mtu))
		}
		if !r.selfOK {
			unmeasured = append(unmeasured, fmt.Sprintf("self %d", r.mtu))
		} else if r.self.Fit != nil && float64(r.selfTl) < collapseShare*float64(r.self.Fit.PeakRate) {
			selfCollapsed = append(selfCollapsed, fmt.Sprint(r.mtu))
		}
	}
	fmt.Fprintf(&b, "throughput collapse at large messages (tail < %.0f%% of peak): pairwise at MTU %v, to self at MTU %v\n",
		100*collapseShare, orNone(collapsed), orNone(selfCollapsed))
	if len(unmeasured) > 0 {
		fmt.Fprintf(&b, "not judged (the budget ended the sweep before 128 KiB; give more --budget): %s\n", strings.Join(unmeasured, ", "))
	}
	fmt.Fprintf(&b, "a tunnel lowers the client's path MTU by its header: VXLAN (the lab's tun, no ipip in this kernel) by %d to %d, ipip by %d\n"+
		"to %d; if lat×rate scales with the MSS as above, that moves it by %.1f%% and %.1f%%, below this experiment's resolution\n"+
		"(`lvsperf experiment paths` measures the tunnel's path MTU and max rate beside DR's)\n",
		lab.VXLANOverhead, 1500-lab.VXLANOverhead, lab.IPIPOverhead, 1500-lab.IPIPOverhead,
		100*float64(lab.VXLANOverhead)/1448, 100*float64(lab.IPIPOverhead)/1448)
	b.WriteString("seed: \"the pole moved to the left by a factor of ca. 2 for each change of a factor of 2 in the mtu [...] at large\n" +
		"packet sizes, throughput dropped sharply for small mtu: mtu=400 and mtu=200 [...] netpipe tests to self [...] behaved normally.\"\n")
	run.Options["latbytes_ratio_750_1500"] = fmt.Sprintf("%.3f", ratio750)
	vs := []Verdict{mtuVerdict(lbRatios)}
	writeVerdicts(&b, vs)
	files, err := save(o, "mtu", run, b.String())
	if err != nil {
		return nil, err
	}
	var pair []results.Series
	for _, s := range run.Series {
		if s.Info["kind"] == "pairwise" {
			pair = append(pair, s)
		}
	}
	return &Report{Name: "mtu", Finding: b.String(), Files: files, Latency: latencyRows("mtu", pair), Verdicts: vs}, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// mtuSelf measures the realserver to itself over lo at MTU m, offloads off.
func mtuSelf(ctx context.Context, rs *lab.HostNS, m int, topt timing.Options) (timing.Series, error) {
	if err := rs.SetMTU("lo", m); err != nil {
		return timing.Series{}, err
	}
	if _, err := rs.Exec(ctx, "ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off"); err != nil {
		return timing.Series{}, fmt.Errorf("offloads off on lo: %w", err)
	}
	s, _, err := netpipeOver(ctx, rs, rs, "127.0.0.1", netpipePort+1, topt)
	return s, err
}
