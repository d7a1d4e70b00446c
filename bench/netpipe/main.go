// Command netpipe-vs-nptcp runs Debian's NPtcp and lvsperf's netpipe on the
// same loopback in one run, interleaved (A/B/A/B), and prints the ratios the
// project's goals are stated in: small-message latency, peak throughput and
// the wall time of the full sweep to 8 MiB. -mode bidir compares NPtcp -2
// with lvsperf netpipe -2, -mode pairs 4 NPtcp pairs at once with lvsperf
// netpipe --pairs 4 (aggregate rate: the pairs' rates summed per size).
//
//	go run ./bench/netpipe [-mode pingpong,bidir,pairs] [-rounds 3] [-end 8388608] [-n 0] [-pairs 4]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// figures are what one run of either tool gives.
type figures struct {
	latency time.Duration // best half round trip over sizes ≤ 64 B
	peak    float64       // best rate, Mbit/s (10^6)
	wall    time.Duration // the whole sweep
	points  int
	load    float64
	other   float64 // % of the CPUs busy in the second before the run
	// sumPeak is, for pairs, the best size's pairs' own rates summed, the
	// way N NPtcp pairs' np.out files are added up (Mbit/s).
	sumPeak float64
}

// bench is one comparison: how to run each tool once.
type bench struct {
	name       string
	npt, ours  func(context.Context) (figures, error)
	latencyFor string
}

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds of each tool")
	end := flag.Int64("end", 8<<20, "largest base size (NetPIPE -u)")
	modes := flag.String("mode", "pingpong", "comparisons to run, comma-separated: pingpong, bidir (NPtcp -2), pairs (N NPtcp pairs at once)")
	reps := flag.Int("n", 0, "fixed repetitions per trial for both tools (NPtcp -n); 0 lets each calibrate")
	pairs := flag.Int("pairs", 4, "pairs for -mode pairs")
	flag.Parse()
	if _, err := exec.LookPath("NPtcp"); err != nil {
		fmt.Fprintln(os.Stderr, "NPtcp not found: apt-get install -y netpipe-tcp")
		os.Exit(2)
	}
	ctx := context.Background()
	for _, m := range strings.Split(*modes, ",") {
		var b bench
		switch m {
		case "pingpong":
			b = bench{name: "ping-pong", npt: func(ctx context.Context) (figures, error) { return runNPtcp(ctx, *end, *reps) },
				ours: func(ctx context.Context) (figures, error) { return runOurs(ctx, *end, *reps) }}
		case "bidir":
			b = bench{name: "bidirectional (-2)", npt: func(ctx context.Context) (figures, error) { return runNPtcpPairs(ctx, *end, *reps, 1, true) },
				ours: func(ctx context.Context) (figures, error) { return runOursNP(ctx, *end, *reps, 1, true) }}
		case "pairs":
			b = bench{name: fmt.Sprintf("%d pairs, aggregate", *pairs), npt: func(ctx context.Context) (figures, error) { return runNPtcpPairs(ctx, *end, *reps, *pairs, false) },
				ours: func(ctx context.Context) (figures, error) { return runOursNP(ctx, *end, *reps, *pairs, false) }}
		default:
			fail(fmt.Errorf("-mode %q: want pingpong, bidir or pairs", m))
		}
		compare(ctx, b, *rounds)
	}
}

func compare(ctx context.Context, b bench, rounds int) {
	fmt.Printf("== %s\n", b.name)
	var np, ours []figures
	for r := range rounds {
		a, err := b.npt(ctx)
		if err != nil {
			fail(err)
		}
		o, err := b.ours(ctx)
		if err != nil {
			fail(err)
		}
		np, ours = append(np, a), append(ours, o)
		fmt.Printf("round %d: NPtcp    latency %8v  peak %9.0f Mbit/s  sweep %6.1fs (%d sizes)  load %.2f  busy before %.0f%%\n", r+1, a.latency, a.peak, a.wall.Seconds(), a.points, a.load, a.other)
		fmt.Printf("round %d: lvsperf  latency %8v  peak %9.0f Mbit/s  sweep %6.1fs (%d sizes)  load %.2f  busy before %.0f%%\n", r+1, o.latency, o.peak, o.wall.Seconds(), o.points, o.load, o.other)
	}
	med := func(fs []figures, get func(figures) float64) float64 {
		v := make([]float64, len(fs))
		for i, f := range fs {
			v[i] = get(f)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	lat := func(f figures) float64 { return f.latency.Seconds() }
	peak := func(f figures) float64 { return f.peak }
	wall := func(f figures) float64 { return f.wall.Seconds() }
	other := func(f figures) float64 { return f.other }
	rl := med(ours, lat) / med(np, lat)
	rp := med(ours, peak) / med(np, peak)
	rw := med(ours, wall) / med(np, wall)
	fmt.Printf("medians over %d interleaved rounds (%s, %d CPUs)\n", rounds, runtime.GOARCH, runtime.NumCPU())
	fmt.Printf("  small-message latency  lvsperf %v  NPtcp %v  ratio %.3f  goal ≤ 1.10  %s\n",
		time.Duration(med(ours, lat)*1e9), time.Duration(med(np, lat)*1e9), rl, verdict(rl <= 1.10))
	fmt.Printf("  peak throughput        lvsperf %.0f  NPtcp %.0f Mbit/s  ratio %.3f  goal ≥ 0.95  %s\n", med(ours, peak), med(np, peak), rp, verdict(rp >= 0.95))
	fmt.Printf("  sweep wall time        lvsperf %.1fs  NPtcp %.1fs  ratio %.3f  goal ≤ 1.00  %s\n", med(ours, wall), med(np, wall), rw, verdict(rw <= 1.0))
	if sum := func(f figures) float64 { return f.sumPeak }; med(ours, sum) > 0 {
		rs := med(ours, sum) / med(np, peak)
		fmt.Printf("  peak, pairs' rates summed as NPtcp's are  lvsperf %.0f  NPtcp %.0f Mbit/s  ratio %.3f  (like for like; the aggregate above is all bytes over the pairs' common wall time)\n", med(ours, sum), med(np, peak), rs)
	}
	if o := max(med(ours, other), med(np, other)); o > 25 {
		fmt.Printf("  CONTENDED: other work kept %.0f%% of the CPUs busy just before the runs (median); the ratios are side by side but noisy\n", o)
	}
	fmt.Println()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runNPtcp runs NPtcp's receiver and transmitter on loopback and reads np.out.
func runNPtcp(ctx context.Context, end int64, reps int) (figures, error) {
	var f figures
	dir, err := os.MkdirTemp("", "nptcp")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return f, err
	}
	args := []string{"-P", strconv.Itoa(port), "-u", strconv.FormatInt(end, 10)}
	if reps > 0 {
		args = append(args, "-n", strconv.Itoa(reps))
	}
	rx := exec.CommandContext(ctx, "NPtcp", args...)
	rx.Dir = dir
	if err := rx.Start(); err != nil {
		return f, err
	}
	defer func() { rx.Process.Kill(); rx.Wait() }()
	time.Sleep(300 * time.Millisecond)
	out := filepath.Join(dir, "np.out")
	f.other, f.load = results.IdleCheck(time.Second)
	start := time.Now()
	tx := exec.CommandContext(ctx, "NPtcp", append(args, "-h", "127.0.0.1", "-o", out)...)
	tx.Dir = dir
	if b, err := tx.CombinedOutput(); err != nil {
		return f, fmt.Errorf("NPtcp: %w: %s", err, b)
	}
	f.wall = time.Since(start)
	file, err := os.Open(out)
	if err != nil {
		return f, err
	}
	defer file.Close()
	f.latency = time.Hour
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		t, _ := strconv.ParseFloat(fs[2], 64)
		f.points++
		if n <= 64 {
			f.latency = min(f.latency, time.Duration(t*1e9))
		}
		f.peak = max(f.peak, float64(8*n)/t/1e6)
	}
	return f, sc.Err()
}

// runOurs runs `lvsperf netpipe`'s code path with its defaults: an
// in-process receiver on loopback and the same schedule.
func runOurs(ctx context.Context, end int64, reps int) (figures, error) {
	var f figures
	cfg, err := netpipe.RunOptions{End: timing.Bytes(end), Reps: reps}.Config("netpipe", netpipe.DialProbe)
	if err != nil {
		return f, err
	}
	f.other, f.load = results.IdleCheck(time.Second)
	start := time.Now()
	res, err := runner.Run(ctx, cfg)
	if err != nil {
		return f, err
	}
	f.wall = time.Since(start)
	f.latency = time.Hour
	for _, p := range res.Run.Series[0].Points {
		f.points++
		if p.Bytes <= 64 {
			f.latency = min(f.latency, p.Min)
		}
		f.peak = max(f.peak, p.Rate().Mbps())
	}
	return f, nil
}
