// Command cluster benchmarks synchronised multi-host runs in a namespace
// lab: the start skew of `lvsperf cluster run` over many runs, and the
// merged throughput of 1, 2 and 4 agents against wrk started in the same
// client namespaces at the same moment, interleaved round by round.
//
//	go run ./bench/cluster [-rounds 3] [-skew-runs 20] [-t 2s]
//
// Needs root (namespaces), wrk, and the lvsperf binary (built here).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/cluster"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

const token = "bench-cluster-token-0123456789"

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds of lvsperf vs wrk per agent count")
	skewRuns := flag.Int("skew-runs", 20, "cluster runs whose start skew is measured")
	d := flag.Duration("t", 2*time.Second, "duration of each throughput run")
	clients := flag.Int("c", 4, "connections per agent (and per wrk)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := run(ctx, *rounds, *skewRuns, *d, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rounds, skewRuns int, d time.Duration, clients int) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk: %w (apt-get install wrk)", err)
	}
	dir, err := os.MkdirTemp("", "bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "lvsperf")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/lvsperf").CombinedOutput(); err != nil {
		return fmt.Errorf("build lvsperf: %v\n%s", err, out)
	}
	spec := lab.Spec{Hosts: []lab.Host{{Name: "srv"}},
		Bridges: []lab.Bridge{{Host: "srv", Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.95.0.1/24")}}}}
	var agents []string
	for i := 1; i <= 4; i++ {
		h := fmt.Sprintf("c%d", i)
		spec.Hosts = append(spec.Hosts, lab.Host{Name: h})
		spec.Links = append(spec.Links, lab.Link{A: lab.End{Host: "srv", Dev: "p" + h, Bridge: "br0"},
			B: lab.End{Host: h, Dev: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.95.0.1%d/24", i))}}})
		agents = append(agents, fmt.Sprintf("10.95.0.1%d:7412", i))
	}
	l, err := lab.Up(ctx, spec, lab.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	env := append(os.Environ(), cluster.DefaultTokenEnv+"="+token)
	start := func(host string, args ...string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		return cmd, l.Host(host).Start(cmd)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	srv, err := start("srv", "serve", "http", "--addr", "10.95.0.1:8080")
	if err != nil {
		return err
	}
	procs = append(procs, srv)
	for i, a := range agents {
		p, err := start(fmt.Sprintf("c%d", i+1), "agent", "--listen", a, "--index", strconv.Itoa(i), "--name", fmt.Sprintf("c%d", i+1))
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	time.Sleep(500 * time.Millisecond)
	cpu0, _ := results.SampleCPU()

	// Start skew over many runs of 4 agents.
	var skews []time.Duration
	for i := range skewRuns {
		res, err := coordinate(ctx, l.Host("c1"), bin, env, agents, 300*time.Millisecond, clients)
		if err != nil {
			return fmt.Errorf("skew run %d: %w", i+1, err)
		}
		skews = append(skews, res.SkewOwnClocks)
	}
	sort.Slice(skews, func(i, j int) bool { return skews[i] < skews[j] })
	fmt.Printf("start skew of 4 agents over %d runs (their shared clock): median %v, p99 %v, max %v (goal p99 ≤ 1 ms, moonshot ≤ 100 µs)\n",
		len(skews), skews[len(skews)/2], skews[min(len(skews)-1, len(skews)*99/100)], skews[len(skews)-1])

	// Throughput: lvsperf cluster vs wrk in the same namespaces, A/B/A/B.
	fmt.Printf("\n%-7s %-14s %-14s %-8s  (hits/s, median of %d interleaved rounds, %v each, -c %d per agent)\n", "agents", "lvsperf", "wrk", "ratio", rounds, d, clients)
	for _, n := range []int{1, 2, 4} {
		var ours, theirs, ratios []float64
		for range rounds {
			res, err := coordinate(ctx, l.Host("c1"), bin, env, agents[:n], d, clients)
			if err != nil {
				return fmt.Errorf("%d agents: %w", n, err)
			}
			w, err := wrkAll(ctx, l, n, d, clients)
			if err != nil {
				return err
			}
			ours, theirs = append(ours, res.HitsPerSec), append(theirs, w)
			ratios = append(ratios, res.HitsPerSec/w)
		}
		fmt.Printf("%-7d %-14.0f %-14.0f %-8.2f (per-round ratios %s; goal ≥ 0.90)\n", n, timing.Median(ours), timing.Median(theirs), timing.Median(ratios), fmtAll(ratios))
	}
	cpu1, _ := results.SampleCPU()
	c := results.Contention(cpu0, cpu1, runtime.NumCPU())
	// The bench's own load runs in child processes, which rusage of this
	// process does not count: the load averages say whether other work ran.
	fmt.Printf("\nmachine: %.0f%% of the CPUs busy during the bench, load average %.1f before and %.1f after (this bench alone keeps it near 2)\n",
		c.BusyPct, c.LoadBefore, c.LoadAfter)
	return nil
}

func coordinate(ctx context.Context, h *lab.HostNS, bin string, env, agents []string, d time.Duration, clients int) (*cluster.Result, error) {
	out, err := os.MkdirTemp("", "bench-cluster-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	args := []string{"cluster", "run", "--json", "--out", out, "-h", "10.95.0.1:8080", "-t", d.String(), "-k", "100000", "-c", strconv.Itoa(clients), "/file/file.0"}
	for _, a := range agents {
		args = append(args, "--agent", a)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := h.Start(cmd); err != nil {
		return nil, err
	}
	werr := cmd.Wait()
	var res cluster.Result
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		return nil, fmt.Errorf("cluster run: %v, %v: %s", werr, err, stderr.String())
	}
	if res.Complete != len(agents) {
		return nil, fmt.Errorf("%d of %d agents completed: %v", res.Complete, len(agents), res.Lost)
	}
	return &res, nil
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrkAll runs wrk in the first n client namespaces at once and sums their
// rates.
func wrkAll(ctx context.Context, l *lab.Lab, n int, d time.Duration, clients int) (float64, error) {
	var wg sync.WaitGroup
	rates := make([]float64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			out, err := l.Host(fmt.Sprintf("c%d", i+1)).Exec(ctx, "wrk", "-t1", "-c"+strconv.Itoa(clients), "-d"+strconv.Itoa(int(d.Seconds()))+"s", "http://10.95.0.1:8080/file/file.0")
			if err != nil {
				errs[i] = err
				return
			}
			m := wrkRate.FindStringSubmatch(out)
			if m == nil {
				errs[i] = fmt.Errorf("wrk printed no Requests/sec: %s", out)
				return
			}
			rates[i], _ = strconv.ParseFloat(m[1], 64)
		})
	}
	wg.Wait()
	var sum float64
	for i, r := range rates {
		if errs[i] != nil {
			return 0, errs[i]
		}
		sum += r
	}
	return sum, nil
}

func fmtAll(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return strings.Join(s, " ")
}
