// Command http-bench compares lvsperf's ptester with wrk and hey against
// nginx on loopback, in one run: for a 1-byte and a 1 MiB file, persistent
// and non-persistent connections, the same connection count, interleaved
// rounds (the tool order rotates every round), medians and ratios. It starts
// nginx itself from a generated config in a temp dir and stops it after.
//
// Needs the Debian packages nginx-light (or any nginx), wrk and hey.
//
//	go run ./bench/http -d 5s -rounds 3 -c 32
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/timing"
)

type config struct {
	ownSession bool
	baseline   string
	cpuprofile string
	only       string
	dur        time.Duration
	rounds     int
	conns      int
	loops      int
	tools      []string
}

func main() {
	var c config
	var tools string
	flag.DurationVar(&c.dur, "d", 5*time.Second, "duration of each measurement")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds (medians are over these)")
	flag.IntVar(&c.conns, "c", 32, "connections (every tool)")
	flag.IntVar(&c.loops, "loops", 0, "event loops of ptester's loop engine (0 = GOMAXPROCS, as wrk runs with -t2 here)")
	flag.StringVar(&tools, "tools", "ptester,ptester-goroutines,ptester-copy,wrk,hey", "tools to compare (ptester and ptester-copy let ptester pick its engine; ptester-loop and ptester-goroutines force one)")
	flag.BoolVar(&c.ownSession, "nginx-own-session", false, "start nginx in its own session, as a daemon runs; with kernel.sched_autogroup_enabled=1 it then gets its own CPU scheduling group instead of sharing the clients' (see README)")
	flag.StringVar(&c.baseline, "baseline", "", "another lvsperf binary (an older build) to run as tool ptester-baseline, for before/after comparisons in one run")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the ptester runs to this file")
	flag.StringVar(&c.only, "only", "", "run only the cases whose name contains this (e.g. \"file.0 persistent\")")
	flag.Parse()
	c.tools = strings.Split(tools, ",")
	if c.baseline != "" && !slices.Contains(c.tools, "ptester-baseline") {
		c.tools = append(c.tools, "ptester-baseline")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "http-bench:", err)
		os.Exit(1)
	}
}

// sample is one measurement.
type sample struct {
	rate   float64       // requests/s
	cpu    time.Duration // client CPU (user+sys)
	csw    int64         // client context switches (voluntary + involuntary)
	vcsw   int64         // of which voluntary (the client blocked)
	errors uint64
	engine string // the ptester engine that ran, for in-process ptester tools
}

type caseKey struct {
	file       string
	persistent bool
}

func (k caseKey) String() string {
	m := "non-persistent"
	if k.persistent {
		m = "persistent"
	}
	return k.file + " " + m
}

func run(ctx context.Context, c config) error {
	for _, t := range c.tools {
		switch t {
		case "ptester", "ptester-copy", "ptester-loop", "ptester-goroutines":
		case "ptester-baseline":
			if c.baseline == "" {
				return errors.New("tool ptester-baseline needs -baseline OLD-LVSPERF")
			}
		case "wrk", "hey":
			if _, err := exec.LookPath(t); err != nil {
				return fmt.Errorf("%s not installed: apt-get install -y %s", t, t)
			}
		default:
			return fmt.Errorf("tool %q: want ptester, ptester-copy, ptester-loop, ptester-goroutines, ptester-baseline, wrk or hey", t)
		}
	}
	ng, err := startNginx(ctx, c.ownSession)
	if err != nil {
		return err
	}
	defer ng.stop()
	session := "the clients' session (shared scheduling autogroup)"
	if c.ownSession {
		session = "its own session (own scheduling autogroup)"
	}
	fmt.Printf("nginx %s on %s (1 worker, %s, autogroup %s), %d connections, %v per run, %d rounds, tools %v\n",
		ng.version, ng.addr, session, strings.TrimSpace(readFile("/proc/sys/kernel/sched_autogroup_enabled")), c.conns, c.dur, c.rounds, c.tools)
	cases := []caseKey{{"file.0", true}, {"file.20", true}, {"file.0", false}, {"file.20", false}}
	cases = slices.DeleteFunc(cases, func(k caseKey) bool { return !strings.Contains(k.String(), c.only) })
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res := map[caseKey]map[string][]sample{}
	loadStart := loadavg()
	for r := range c.rounds {
		for _, k := range cases {
			if res[k] == nil {
				res[k] = map[string][]sample{}
			}
			order := slices.Clone(c.tools)
			for range r % len(order) {
				order = append(order[1:], order[0])
			}
			for _, tool := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s, err := measure(ctx, tool, ng.addr, k, c)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", r+1, k, tool, err)
				}
				res[k][tool] = append(res[k][tool], s)
				engine := ""
				if s.engine != "" {
					engine = "  engine " + s.engine
				}
				fmt.Fprintf(os.Stderr, "round %d  %-22s %-18s %10.0f req/s  %5.1f µs CPU/req  %5.3f csw/req (%5.3f voluntary)  errors %d  load %.2f%s\n",
					r+1, k, tool, s.rate, float64(s.cpu.Microseconds())/(s.rate*c.dur.Seconds()), float64(s.csw)/(s.rate*c.dur.Seconds()), float64(s.vcsw)/(s.rate*c.dur.Seconds()), s.errors, loadavg(), engine)
			}
		}
	}
	loadEnd := loadavg()
	report(res, cases, c)
	fmt.Printf("load average (1 min): %.2f at start, %.2f at end", loadStart, loadEnd)
	if loadStart > 0.5 {
		fmt.Printf("  — the machine was busy before the run started: compare ratios, not absolute figures")
	}
	fmt.Println()
	return nil
}

func report(res map[caseKey]map[string][]sample, cases []caseKey, c config) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\ttool\tmedian req/s\tmin\tmax\tclient CPU µs/req\tcsw/req\terrors\tvs wrk\tvs hey\t")
	med := map[caseKey]map[string]float64{}
	for _, k := range cases {
		med[k] = map[string]float64{}
		for _, tool := range c.tools {
			rates := make([]float64, len(res[k][tool]))
			for i, s := range res[k][tool] {
				rates[i] = s.rate
			}
			med[k][tool] = timing.Median(rates)
		}
		for _, tool := range c.tools {
			ss := res[k][tool]
			rates := make([]float64, len(ss))
			cpus := make([]float64, len(ss))
			csws := make([]float64, len(ss))
			var errs uint64
			for i, s := range ss {
				rates[i] = s.rate
				if s.rate > 0 {
					cpus[i] = float64(s.cpu.Microseconds()) / (s.rate * c.dur.Seconds())
					csws[i] = float64(s.csw) / (s.rate * c.dur.Seconds())
				}
				errs += s.errors
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.1f\t%.3f\t%d\t%s\t%s\t\n", k, tool, timing.Median(rates), slices.Min(rates), slices.Max(rates),
				timing.Median(cpus), timing.Median(csws), errs, ratio(med[k][tool], med[k]["wrk"]), ratio(med[k][tool], med[k]["hey"]))
		}
	}
	tw.Flush()
	fmt.Println("goals (issue 4):")
	goal := func(name string, got, want float64) {
		v := "MET"
		if got < want {
			v = "BELOW"
		}
		fmt.Printf("  %-62s %6.2f (want ≥ %.2f)  %s\n", name, got, want, v)
	}
	for _, f := range []string{"file.0", "file.20"} {
		p := med[caseKey{f, true}]
		n := med[caseKey{f, false}]
		if p["wrk"] > 0 && p["ptester"] > 0 {
			goal(f+" persistent hits/s, ptester / wrk", p["ptester"]/p["wrk"], 0.9)
		}
		if p["hey"] > 0 && p["ptester"] > 0 {
			goal(f+" persistent hits/s, ptester / hey", p["ptester"]/p["hey"], 1.5)
		}
		if n["wrk"] > 0 && n["ptester"] > 0 {
			goal(f+" non-persistent conns/s, ptester / wrk (Connection: close)", n["ptester"]/n["wrk"], 1.0)
		}
	}
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

var (
	wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrs = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	heyRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyErrs = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) errors|\[([0-9]{3})\]\s+(\d+) responses`)
)

func measure(ctx context.Context, tool, addr string, k caseKey, c config) (sample, error) {
	url := "http://" + addr + "/" + k.file
	switch tool {
	case "ptester", "ptester-copy", "ptester-loop", "ptester-goroutines":
		// ptester-copy copies bodies into user space as wrk and hey do;
		// the others splice bodies of 64 KiB and more to /dev/null.
		// ptester and ptester-copy let ptester choose the engine;
		// ptester-loop and ptester-goroutines force one.
		o := ptester.Options{Target: addr, Path: "/" + k.file, Duration: c.dur, Clients: c.conns, KeepAlive: 1, NoSplice: tool == "ptester-copy", Loops: c.loops}
		switch tool {
		case "ptester-loop":
			o.Engine = ptester.EngineLoop
		case "ptester-goroutines":
			o.Engine = ptester.EngineGoroutines
		}
		if k.persistent {
			o.KeepAlive = 1 << 30
		}
		before := selfUsage()
		rep, err := ptester.Run(ctx, o)
		u := selfUsage().minus(before)
		if err != nil {
			return sample{}, err
		}
		return sample{rate: rep.HitsPerSec, cpu: u.cpu, csw: u.csw, vcsw: u.vcsw, errors: rep.Errs(), engine: string(rep.Engine)}, nil
	case "ptester-baseline":
		// An older build in its own process; its CPU includes its start-up
		// and prefetch, a few milliseconds against a run of seconds.
		k1 := "1"
		if k.persistent {
			k1 = strconv.Itoa(1 << 30)
		}
		out, u, err := runTool(ctx, c.baseline, "ptester", "-h", addr, "-t", c.dur.String(), "-c", strconv.Itoa(c.conns), "-k", k1, "--json", "/"+k.file)
		if err != nil {
			return sample{}, err
		}
		var rep struct {
			HitsPerSec float64           `json:"hits_per_sec"`
			Errors     map[string]uint64 `json:"errors"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			return sample{}, fmt.Errorf("%s ptester --json: %w\n%s", c.baseline, err, out)
		}
		var errs uint64
		for _, n := range rep.Errors {
			errs += n
		}
		return sample{rate: rep.HitsPerSec, cpu: u.cpu, csw: u.csw, vcsw: u.vcsw, errors: errs}, nil
	case "wrk":
		args := []string{"-t2", "-c" + strconv.Itoa(c.conns), "-d" + strconv.Itoa(int(c.dur.Seconds())) + "s"}
		if !k.persistent {
			args = append(args, "-H", "Connection: close")
		}
		out, u, err := runTool(ctx, "wrk", append(args, url)...)
		if err != nil {
			return sample{}, err
		}
		m := wrkRate.FindSubmatch(out)
		if m == nil {
			return sample{}, fmt.Errorf("wrk printed no Requests/sec:\n%s", out)
		}
		rate, _ := strconv.ParseFloat(string(m[1]), 64)
		var errs uint64
		for _, em := range wrkErrs.FindAllSubmatch(out, -1) {
			for _, g := range em[1:] {
				n, _ := strconv.ParseUint(string(g), 10, 64)
				errs += n
			}
		}
		return sample{rate: rate, cpu: u.cpu, csw: u.csw, vcsw: u.vcsw, errors: errs}, nil
	case "hey":
		args := []string{"-z", c.dur.String(), "-c", strconv.Itoa(c.conns)}
		if !k.persistent {
			args = append(args, "-disable-keepalive")
		}
		out, u, err := runTool(ctx, "hey", append(args, url)...)
		if err != nil {
			return sample{}, err
		}
		m := heyRate.FindSubmatch(out)
		if m == nil {
			return sample{}, fmt.Errorf("hey printed no Requests/sec:\n%s", out)
		}
		rate, _ := strconv.ParseFloat(string(m[1]), 64)
		var errs uint64
		for _, em := range heyErrs.FindAllSubmatch(out, -1) {
			if len(em[3]) > 0 && em[3][0] != '2' {
				n, _ := strconv.ParseUint(string(em[4]), 10, 64)
				errs += n
			} else if len(em[2]) > 0 {
				n, _ := strconv.ParseUint(string(em[2]), 10, 64)
				errs += n
			}
		}
		return sample{rate: rate, cpu: u.cpu, csw: u.csw, vcsw: u.vcsw, errors: errs}, nil
	}
	return sample{}, fmt.Errorf("unknown tool %q", tool)
}

// usage is a client's CPU time and context switches.
type usage struct {
	cpu       time.Duration
	csw, vcsw int64 // all and voluntary context switches
}

func (u usage) minus(v usage) usage { return usage{u.cpu - v.cpu, u.csw - v.csw, u.vcsw - v.vcsw} }

func rusage(ru *syscall.Rusage) usage {
	return usage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw, ru.Nvcsw}
}

// runTool runs a client and returns its output and resource usage.
func runTool(ctx context.Context, name string, args ...string) ([]byte, usage, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, usage{}, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	var u usage
	if ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage); ru != nil {
		u = rusage(ru)
	}
	return out.Bytes(), u, nil
}

// selfUsage is this process's usage so far; a ptester run's is the difference.
func selfUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return rusage(&ru)
}

func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

type nginx struct {
	addr, version, dir string
	cmd                *exec.Cmd
}

// startNginx writes a config and two files into a temp dir and starts nginx
// in the foreground on a free loopback port.
func startNginx(ctx context.Context, ownSession bool) (_ *nginx, err error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, errors.New("nginx not installed: apt-get install -y nginx-light")
	}
	dir, err := os.MkdirTemp("", "lvsperf-http-bench-")
	if err != nil {
		return nil, err
	}
	ng := &nginx{dir: dir}
	defer func() {
		if err != nil {
			ng.stop()
		}
	}()
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		return nil, err
	}
	for name, n := range map[string]int{"file.0": 1, "file.20": 1 << 20} {
		if err := os.WriteFile(filepath.Join(www, name), bytes.Repeat([]byte("0"), n), 0o644); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ng.addr = ln.Addr().String()
	ln.Close()
	temps := []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}
	conf := filepath.Join(dir, "nginx.conf")
	for attempt := 0; ; attempt++ {
		var b strings.Builder
		fmt.Fprintf(&b, "worker_processes 1;\nuser root;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n", dir, dir)
		b.WriteString("events { worker_connections 8192; }\nhttp {\n  access_log off;\n")
		for _, t := range temps {
			fmt.Fprintf(&b, "  %s_temp_path %s/tmp_%s;\n", t, dir, t)
		}
		b.WriteString("  sendfile on; tcp_nopush on; tcp_nodelay on;\n  keepalive_requests 10000000; keepalive_timeout 65;\n  open_file_cache max=100;\n")
		fmt.Fprintf(&b, "  server { listen %s backlog=4096; root %s; location / { } }\n}\n", ng.addr, www)
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		out, err := exec.CommandContext(ctx, bin, "-t", "-p", dir, "-e", dir+"/error.log", "-c", conf).CombinedOutput()
		if err == nil {
			break
		}
		// A flavour without some module rejects its temp path directive: drop it.
		m := regexp.MustCompile(`unknown directive "(\w+)_temp_path"`).FindSubmatch(out)
		if m == nil || attempt > len(temps) {
			return nil, fmt.Errorf("nginx -t: %w\n%s", err, out)
		}
		temps = slices.DeleteFunc(temps, func(s string) bool { return s == string(m[1]) })
	}
	if v, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		ng.version = strings.TrimSpace(strings.TrimPrefix(string(v), "nginx version: "))
	}
	ng.cmd = exec.Command(bin, "-p", dir, "-e", dir+"/error.log", "-c", conf, "-g", "daemon off;")
	ng.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if ownSession {
		// A new session is also a new process group (setpgid would fail).
		ng.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	var stderr bytes.Buffer
	ng.cmd.Stderr = &stderr
	if err := ng.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", ng.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 50 {
			return nil, fmt.Errorf("nginx did not listen on %s within 5 s: %s", ng.addr, tail(filepath.Join(dir, "error.log")))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ng, nil
}

func (ng *nginx) stop() {
	if ng.cmd != nil && ng.cmd.Process != nil {
		// nginx's master and worker share the process group started above.
		_ = syscall.Kill(-ng.cmd.Process.Pid, syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { ng.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-ng.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	os.RemoveAll(ng.dir)
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return string(b)
}
