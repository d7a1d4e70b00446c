package experiment

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	run := newRun("mtu")
	run.Options["offloads"] = "off"
	run.Options["path"] = "direct (return LAN MTU) and self (realserver lo MTU)"
	per := o.Budget / time.Duration(2*len(mtus))
	topt := timing.Options{Sizes: sizes(o.MaxSize), Budget: per, StopTime: 200 * time.Millisecond}
	type row struct {
		mtu              int
		pair, self       timing.Series
		pairTail, selfTl timing.BitsPerSecond
	}
	var rows []row
	for _, m := range mtus {
		s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OffloadsOff: true, ReturnMTU: m})
		if err != nil {
			return nil, err
		}
		r, err := mtuOne(ctx, s, m, topt)
		if err != nil {
			return nil, fmt.Errorf("MTU %d: %w", m, err)
		}
		rw := row{mtu: m, pair: r[0], self: r[1]}
		rw.pairTail, _ = tailRate(r[0])
		rw.selfTl, _ = tailRate(r[1])
		rows = append(rows, rw)
		for i, kind := range []string{"pairwise", "self"} {
			ser := r[i]
			ser.Label = fmt.Sprintf("%s mtu %d", kind, m)
			run.Series = append(run.Series, results.Series{Series: ser, Path: "lab/direct", Info: map[string]string{"mtu": fmt.Sprint(m), "kind": kind}})
			if ser.Fit != nil {
				fmt.Fprintf(o.Progress, "mtu: %-8s MTU %4d latency %v max rate %v lat×rate %v\n", kind, m, ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate, ser.Fit.LatencyBytes)
			}
		}
	}
	var b strings.Builder
	b.WriteString("experiment mtu: netpipe client → realserver (direct, MTU on the return LAN) and realserver → itself (MTU on lo), TSO/GSO/GRO off\n\n")
	fmt.Fprintf(&b, "%5s %12s %12s %10s %9s %12s %12s\n", "MTU", "latency", "max rate", "lat×rate", "ratio", "tail/peak", "self t/p")
	var prev timing.Bytes
	var ratio750 float64
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
			}
		}
		prev = f.LatencyBytes
		sp := 0.0
		if r.self.Fit != nil && r.self.Fit.PeakRate > 0 {
			sp = float64(r.selfTl) / float64(r.self.Fit.PeakRate)
		}
		fmt.Fprintf(&b, "%5d %12v %12v %10v %9s %12.2f %12.2f\n", r.mtu, f.Latency.Round(10*time.Nanosecond), f.MaxRate, f.LatencyBytes,
			ratio, float64(r.pairTail)/float64(f.PeakRate), sp)
	}
	fmt.Fprintf(&b, "\nlatency-equivalent bytes at MTU 750 / at MTU 1500 = %.2f (the seed: ca. 0.5; pass band 0.4-0.6: %v)\n", ratio750, ratio750 >= 0.4 && ratio750 <= 0.6)
	var collapsed, selfCollapsed []string
	for _, r := range rows {
		if r.pair.Fit != nil && float64(r.pairTail) < collapseShare*float64(r.pair.Fit.PeakRate) {
			collapsed = append(collapsed, fmt.Sprint(r.mtu))
		}
		if r.self.Fit != nil && float64(r.selfTl) < collapseShare*float64(r.self.Fit.PeakRate) {
			selfCollapsed = append(selfCollapsed, fmt.Sprint(r.mtu))
		}
	}
	fmt.Fprintf(&b, "throughput collapse at large messages (tail < %.0f%% of peak): pairwise at MTU %v, to self at MTU %v\n",
		100*collapseShare, orNone(collapsed), orNone(selfCollapsed))
	b.WriteString("seed: \"the pole moved to the left by a factor of ca. 2 for each change of a factor of 2 in the mtu [...] at large\n" +
		"packet sizes, throughput dropped sharply for small mtu: mtu=400 and mtu=200 [...] netpipe tests to self [...] behaved normally.\"\n")
	run.Options["latbytes_ratio_750_1500"] = fmt.Sprintf("%.3f", ratio750)
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
	return &Report{Name: "mtu", Finding: b.String(), Files: files, Latency: latencyRows("mtu", pair)}, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// mtuOne builds the lab at MTU m and measures pairwise and self curves.
func mtuOne(ctx context.Context, s lab.Seed, m int, topt timing.Options) ([2]timing.Series, error) {
	var out [2]timing.Series
	l, err := lab.Up(ctx, s.Spec, lab.Options{})
	if err != nil {
		return out, err
	}
	defer l.Close()
	rs, client := l.Host(lab.Realserver(1)), l.Host(lab.Client)
	if out[0], _, err = netpipeOver(ctx, rs, client, s.DirectTarget(0).String(), netpipePort, topt); err != nil {
		return out, fmt.Errorf("pairwise: %w", err)
	}
	// To self: the realserver's lo at the same MTU, offloads off.
	if err := rs.SetMTU("lo", m); err != nil {
		return out, err
	}
	if _, err := rs.Exec(ctx, "ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off"); err != nil {
		return out, fmt.Errorf("offloads off on lo: %w", err)
	}
	if out[1], _, err = netpipeOver(ctx, rs, rs, "127.0.0.1", netpipePort+1, topt); err != nil {
		return out, fmt.Errorf("to self: %w", err)
	}
	return out, nil
}
