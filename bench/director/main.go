package main

import (
	"github.com/lvsperf/lvsperf/internal/cpuidle"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lvsperf/lvsperf/director/embed"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/timing"
)

type options struct {
	rounds      int
	latIters    int
	bigSize     timing.Bytes
	bigIters    int
	streamReps  int
	crClients   int
	crDuration  time.Duration
	crMax       int
	paths       string
	requireHAP  bool
	timeLimit   time.Duration
	showConfigs bool
	lvsperfBin  string
	baseline    string
	idlePoll    bool
}

func main() {
	if be := os.Getenv(childEnv); be != "" {
		if err := runChild(be); err != nil {
			fmt.Fprintln(os.Stderr, "director process:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	big := "1MiB"
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds (each runs every path)")
	flag.IntVar(&o.latIters, "lat-iters", 5000, "1-byte round trips per path per round")
	flag.StringVar(&big, "big", big, "large message size for ping-pong throughput and the stream")
	flag.IntVar(&o.bigIters, "big-iters", 60, "large-message round trips per path per round")
	flag.IntVar(&o.streamReps, "stream-reps", 400, "large messages per one-way stream")
	flag.IntVar(&o.crClients, "conn-clients", 32, "concurrent clients in the new-connection test")
	flag.DurationVar(&o.crDuration, "conn-time", 1500*time.Millisecond, "duration of the new-connection test per path per round")
	flag.IntVar(&o.crMax, "conn-max", 12000, "most connections per path per round")
	flag.StringVar(&o.paths, "paths", "direct,director,director-eventloop,director-blocking,director-iocopy,lvsperf-director,haproxy", "paths to compare (direct is always run)")
	flag.DurationVar(&o.timeLimit, "time-limit", 5*time.Minute, "abort the whole run after this long")
	flag.StringVar(&o.lvsperfBin, "lvsperf", "", "lvsperf binary for the lvsperf-director path (default: build ./cmd/lvsperf)")
	flag.StringVar(&o.baseline, "baseline", "", "another lvsperf binary (an older build) to run as path lvsperf-baseline, for before/after comparisons")
	flag.BoolVar(&o.idlePoll, "idle-poll", false, "hold /dev/cpu_dma_latency at 0 for the run, so idle CPUs poll instead of halting (root)")
	flag.Parse()
	o.requireHAP = os.Getenv("CI") == "true"
	var err error
	if o.bigSize, err = timing.ParseBytes(big); err != nil {
		fmt.Fprintln(os.Stderr, "-big:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeLimit)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench director:", err)
		os.Exit(1)
	}
}

// path is one way from the client to the servers.
type path struct {
	name   string
	np, cr string // netpipe receiver and connect-rate server as seen through the path
	pid    int    // the proxy's own process, when it runs apart (its CPU is measured)
}

// sample is one path's figures in one round.
type sample struct {
	rttP50, rttP99 time.Duration
	ppRate         timing.BitsPerSecond
	streamRate     timing.BitsPerSecond
	cps            float64
	crErrors       int64
	firstErr       error
	// CPU the proxy process spent, when it runs apart: per connection in
	// the new-connection test and per GB in the stream (NaN otherwise).
	cpuPerConn time.Duration
	cpuPerGB   time.Duration
	hasCPU     bool
}

func run(ctx context.Context, o options, w io.Writer) error {
	want := map[string]bool{"direct": true}
	for _, p := range strings.Split(o.paths, ",") {
		want[strings.TrimSpace(p)] = true
	}
	np, err := netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	defer np.Close()
	cr, err := startConnServer()
	if err != nil {
		return err
	}
	defer cr.close()
	backends := []string{np.Addr(), cr.addr()}
	paths := []path{{"direct", np.Addr(), cr.addr(), 0}}
	pids := []int{os.Getpid()}
	configs := map[string]string{}

	for _, v := range directorVariants {
		if !want[v.name] {
			continue
		}
		if v.process {
			c, err := startChild(ctx, backends, v)
			if err != nil {
				return err
			}
			defer c.stop()
			paths = append(paths, path{v.name, c.fronts[0], c.fronts[1], c.pid()})
			pids = append(pids, c.pid())
			configs[v.name] = fmt.Sprintf("embedded director in a separate process (pid %d), %s", c.pid(), v.desc)
			continue
		}
		var fronts []string
		for _, be := range backends {
			d, err := embed.Start(ctx, embed.Options{Scheduler: "rr", Realservers: []string{be}, Proxy: v.opts})
			if err != nil {
				return err
			}
			defer d.Close()
			fronts = append(fronts, d.Addr())
		}
		paths = append(paths, path{v.name, fronts[0], fronts[1], 0})
		configs[v.name] = "embedded in this process, " + v.desc
	}
	if want["lvsperf-director"] {
		l, err := startLvsperfDirector(ctx, o.lvsperfBin, backends)
		if err != nil {
			return fmt.Errorf("path lvsperf-director (leave it out with -paths): %w", err)
		}
		defer l.stop()
		paths = append(paths, path{"lvsperf-director", l.fronts[0], l.fronts[1], l.pid()})
		pids = append(pids, l.pid())
		configs["lvsperf-director"] = fmt.Sprintf("`lvsperf director --rules` in its own process (pid %d), proxy engine", l.pid())
	}
	if o.baseline != "" {
		l, err := startLvsperfDirector(ctx, o.baseline, backends)
		if err != nil {
			return fmt.Errorf("path lvsperf-baseline (-baseline %s): %w", o.baseline, err)
		}
		defer l.stop()
		paths = append(paths, path{"lvsperf-baseline", l.fronts[0], l.fronts[1], l.pid()})
		pids = append(pids, l.pid())
		configs["lvsperf-baseline"] = fmt.Sprintf("`%s director --rules` in its own process (pid %d), the -baseline build", o.baseline, l.pid())
	}
	if want["haproxy"] {
		h, err := startHAProxy(ctx, backends)
		switch {
		case err != nil && o.requireHAP:
			return fmt.Errorf("CI=true and HAProxy is needed: %w", err)
		case err != nil:
			fmt.Fprintf(w, "SKIP haproxy: %v\n", err)
		default:
			defer h.stop()
			paths = append(paths, path{"haproxy", h.fronts[0], h.fronts[1], h.pid()})
			pids = append(pids, h.pid())
			configs["haproxy"] = fmt.Sprintf("%s, mode tcp, default threads (pid %d)", h.version, h.pid())
		}
	}

	idle := "off: idle CPUs may halt, and a halted vCPU's wake-up adds to every latency (-idle-poll)"
	if o.idlePoll {
		req, err := cpuidle.Hold()
		if err != nil {
			return fmt.Errorf("-idle-poll: %w", err)
		}
		defer req.Close()
		idle = "on: /dev/cpu_dma_latency held at 0 µs, idle CPUs poll"
	}
	load0 := loadavg()
	fmt.Fprintf(w, "lvsperf director benchmark: %d rounds, %d CPUs, GOMAXPROCS %d, %s\n", o.rounds, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(w, "idle polling %s\n", idle)
	fmt.Fprintf(w, "load average before the run: %s\n", load0)
	for _, p := range paths[1:] {
		fmt.Fprintf(w, "  %-16s %s\n", p.name, configs[p.name])
		if p.pid > 0 {
			fmt.Fprintf(w, "  %-16s CPU measured over %s (/proc/PID/stat utime+stime+cutime+cstime of the process and its descendants)\n", "", procShape(p.pid))
		}
	}
	fmt.Fprintf(w, "per round, per path: %d × 1-byte ping-pong, %d × %v ping-pong, a %d × %v one-way stream, %v (≤ %d) of connect/1-byte exchange/close by %d clients\n\n",
		o.latIters, o.bigIters, o.bigSize, o.streamReps, o.bigSize, o.crDuration, o.crMax, o.crClients)

	results := map[string][]sample{}
	var others []float64
	for r := range o.rounds {
		cpu0 := readCPU(pids)
		// Rotate the order each round so no path always runs first.
		order := append(append([]path(nil), paths[r%len(paths):]...), paths[:r%len(paths)]...)
		round := map[string]*sample{}
		for _, p := range order {
			round[p.name] = &sample{}
		}
		for _, p := range order {
			if err := measureNetpipe(ctx, o, p, round[p.name]); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, p.name, err)
			}
		}
		for _, p := range order {
			if err := measureConnRate(ctx, o, p, round[p.name]); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, p.name, err)
			}
		}
		cpu1 := readCPU(pids)
		other := cpu1.otherCores(cpu0)
		others = append(others, other)
		fmt.Fprintf(w, "round %d: other processes used %.2f of %d cores; load average %s\n", r+1, other, runtime.NumCPU(), loadavg())
		for _, p := range paths {
			s := round[p.name]
			fmt.Fprintf(w, "  %-16s rtt p50 %7.1fµs p99 %7.1fµs  pp %v %6.2f Gbit/s  stream %6.2f Gbit/s  %7.0f conn/s (%d errors)\n",
				p.name, us(s.rttP50), us(s.rttP99), o.bigSize, float64(s.ppRate)/1e9, float64(s.streamRate)/1e9, s.cps, s.crErrors)
			if s.hasCPU {
				fmt.Fprintf(w, "  %-16s proxy process CPU: %.1fµs per connection, %.2fs per GB streamed\n", "", us(s.cpuPerConn), s.cpuPerGB.Seconds())
			}
			if hap, ok := round["haproxy"]; ok && slices.Contains(cpuPaths, p.name) {
				roundCPULine(w, p.name, *s, *hap)
			}
			if s.firstErr != nil {
				fmt.Fprintf(w, "  %-16s first connection error: %v\n", "", s.firstErr)
			}
			results[p.name] = append(results[p.name], *s)
		}
	}
	report(w, o, paths, results, others)
	return nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func measureNetpipe(ctx context.Context, o options, p path, s *sample) error {
	t, err := netpipe.Dial(ctx, netpipe.Options{Addr: p.np})
	if err != nil {
		return err
	}
	defer t.Close()
	warm := make([]time.Duration, 500)
	if _, err := t.Run(ctx, 1, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	each := make([]time.Duration, o.latIters)
	if _, err := t.Run(ctx, 1, each); err != nil {
		return fmt.Errorf("1-byte ping-pong: %w", err)
	}
	slices.Sort(each)
	s.rttP50 = 2 * each[len(each)/2]
	s.rttP99 = 2 * each[len(each)*99/100]

	if _, err := t.Run(ctx, o.bigSize, make([]time.Duration, 5)); err != nil {
		return fmt.Errorf("large warm-up: %w", err)
	}
	each = make([]time.Duration, o.bigIters)
	if _, err := t.Run(ctx, o.bigSize, each); err != nil {
		return fmt.Errorf("%v ping-pong: %w", o.bigSize, err)
	}
	slices.Sort(each)
	s.ppRate = timing.Rate(o.bigSize, each[len(each)/2])

	if _, err := t.Stream(ctx, o.bigSize, 20); err != nil {
		return fmt.Errorf("stream warm-up: %w", err)
	}
	c0 := procCPU(p.pid)
	d, err := t.Stream(ctx, o.bigSize, o.streamReps)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if p.pid > 0 {
		s.hasCPU = true
		gb := float64(o.bigSize) * float64(o.streamReps) / 1e9
		s.cpuPerGB = time.Duration(float64(procCPU(p.pid).since(c0)) / gb)
	}
	s.streamRate = timing.Rate(o.bigSize*timing.Bytes(o.streamReps), d)
	return nil
}

// connServer answers each connection's byte with one byte and closes.
type connServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startConnServer() (*connServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &connServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(time.Millisecond)
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var b [1]byte
				if _, err := io.ReadFull(c, b[:]); err == nil {
					c.Write(b[:])
				}
			}()
		}
	}()
	return s, nil
}

func (s *connServer) addr() string { return s.ln.Addr().String() }

func (s *connServer) close() { s.ln.Close(); s.wg.Wait() }

func measureConnRate(ctx context.Context, o options, p path, s *sample) error {
	var done, errs atomic.Int64
	var firstErr atomic.Pointer[error]
	var budget atomic.Int64
	budget.Store(int64(o.crMax))
	var wg sync.WaitGroup
	c0 := procCPU(p.pid)
	start := time.Now()
	// The window is checked before each connection, not imposed on it, so
	// connections cut short by the end of the window do not count as errors.
	end := start.Add(o.crDuration)
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	for range o.crClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 5 * time.Second}
			b := []byte{'x'}
			for ctx.Err() == nil && time.Now().Before(end) && budget.Add(-1) >= 0 {
				c, err := d.DialContext(ctx, "tcp", p.cr)
				if err != nil {
					fail(err)
					continue
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Write(b)
				if err == nil {
					_, err = io.ReadFull(c, b)
				}
				c.Close()
				if err != nil {
					fail(err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	s.cps = float64(done.Load()) / time.Since(start).Seconds()
	if p.pid > 0 && done.Load() > 0 {
		s.cpuPerConn = procCPU(p.pid).since(c0) / time.Duration(done.Load())
	}
	s.crErrors = errs.Load()
	if e := firstErr.Load(); e != nil {
		s.firstErr = *e
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if done.Load() == 0 {
		return fmt.Errorf("new-connection test: no connection completed (%d errors)", errs.Load())
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func report(w io.Writer, o options, paths []path, res map[string][]sample, others []float64) {
	direct := res["direct"]
	col := func(name string, f func(sample) float64) []float64 {
		var xs []float64
		for _, s := range res[name] {
			xs = append(xs, f(s))
		}
		return xs
	}
	// Per-round differences and ratios against direct, then their medians.
	per := func(name string, f func(a, b sample) float64) float64 {
		var xs []float64
		for i, s := range res[name] {
			xs = append(xs, f(s, direct[i]))
		}
		return timing.Median(xs)
	}
	mr := func(xs []float64) string {
		return fmt.Sprintf("%.2f [%.2f–%.2f]", timing.Median(xs), slices.Min(xs), slices.Max(xs))
	}
	fmt.Fprintf(w, "\nmedians over %d rounds [min–max]; Δ and × are medians of per-round differences and ratios against direct\n", o.rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "path\tRTT p50 µs\tΔ RTT p50 µs\tΔ RTT p99 µs\tpp %v Gbit/s\t×direct\tstream Gbit/s\t×direct\tconn/s\t×direct\terrors\tCPU µs/conn\tCPU s/GB\t\n", o.bigSize)
	added := map[string]float64{}
	ppx := map[string]float64{}
	stx := map[string]float64{}
	cpx := map[string]float64{}
	for _, p := range paths {
		n := p.name
		added[n] = per(n, func(a, b sample) float64 { return us(a.rttP50 - b.rttP50) })
		ppx[n] = per(n, func(a, b sample) float64 { return float64(a.ppRate / b.ppRate) })
		stx[n] = per(n, func(a, b sample) float64 { return float64(a.streamRate / b.streamRate) })
		cpx[n] = per(n, func(a, b sample) float64 { return a.cps / b.cps })
		var errs int64
		for _, s := range res[n] {
			errs += s.crErrors
		}
		cpuConn, cpuGB := "-", "-"
		if len(res[n]) > 0 && res[n][0].hasCPU {
			cpuConn = fmt.Sprintf("%.1f", timing.Median(col(n, func(s sample) float64 { return us(s.cpuPerConn) })))
			cpuGB = fmt.Sprintf("%.2f", timing.Median(col(n, func(s sample) float64 { return s.cpuPerGB.Seconds() })))
		}
		fmt.Fprintf(tw, "%s\t%s\t%+.1f\t%+.1f\t%s\t%.2f\t%s\t%.2f\t%.0f\t%.2f\t%d\t%s\t%s\t\n", n,
			mr(col(n, func(s sample) float64 { return us(s.rttP50) })),
			added[n], per(n, func(a, b sample) float64 { return us(a.rttP99 - b.rttP99) }),
			mr(col(n, func(s sample) float64 { return float64(s.ppRate) / 1e9 })), ppx[n],
			mr(col(n, func(s sample) float64 { return float64(s.streamRate) / 1e9 })), stx[n],
			timing.Median(col(n, func(s sample) float64 { return s.cps })), cpx[n], errs, cpuConn, cpuGB)
	}
	tw.Flush()
	oc := timing.Median(others)
	contended := "quiet"
	if oc > 0.25 {
		contended = "CONTENDED"
	}
	contention := fmt.Sprintf("machine: other processes used a median %.2f of %d cores during the rounds (%s); load average now %s", oc, runtime.NumCPU(), contended, loadavg())
	if len(others) > 0 {
		contention = fmt.Sprintf("machine: other processes used a median %.2f [%.2f–%.2f] of %d cores during the rounds (%s); load average now %s",
			oc, slices.Min(others), slices.Max(others), runtime.NumCPU(), contended, loadavg())
	}
	fmt.Fprintf(w, "\n%s\n", contention)
	if _, ok := res["haproxy"]; !ok {
		fmt.Fprintln(w, "goals not checked: no HAProxy in this run")
		return
	}
	reportCPUGoal(w, res, contention)
	for _, d := range []string{"director", "director-proc", "lvsperf-director"} {
		if _, ok := res[d]; !ok {
			continue
		}
		check := func(ok bool) string {
			if ok {
				return "met"
			}
			return "MISSED"
		}
		fmt.Fprintf(w, "goals for %s vs haproxy:\n", d)
		fmt.Fprintf(w, "  added RTT %+.1fµs ≤ haproxy's %+.1fµs: %s\n", added[d], added["haproxy"], check(added[d] <= added["haproxy"]))
		fmt.Fprintf(w, "  %v ping-pong throughput %.2f× direct ≥ haproxy's %.2f× and ≥ 0.80×: %s\n", o.bigSize, ppx[d], ppx["haproxy"], check(ppx[d] >= ppx["haproxy"] && ppx[d] >= 0.8))
		fmt.Fprintf(w, "  stream throughput %.2f× direct ≥ haproxy's %.2f× and ≥ 0.80×: %s\n", stx[d], stx["haproxy"], check(stx[d] >= stx["haproxy"] && stx[d] >= 0.8))
		fmt.Fprintf(w, "  new connections %.2f× direct ≥ haproxy's %.2f×: %s\n", cpx[d], cpx["haproxy"], check(cpx[d] >= cpx["haproxy"]))
	}
}
