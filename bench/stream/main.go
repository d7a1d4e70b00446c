// Command stream-vs-iperf3 runs Debian's iperf3 and lvsperf's timed stream
// on the same loopback in one run, interleaved (iperf3, lvsperf, iperf3,
// …), each as a server and a client process of its own, and prints the
// ratios the project's goals are stated in: receiver throughput for 1 and
// 4 TCP streams, UDP loss and jitter at a target rate, and CPU seconds per
// GB moved (both processes' user+system time, from their rusage).
//
//	go run ./bench/stream -lvsperf bin/lvsperf [-rounds 5] [-t 3s] [-udp-rate 1G] [-modes tcp1,tcp4,udp]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// figures are what one run of either tool gives.
type figures struct {
	bps      float64 // receiver throughput, bits/s
	bytes    float64 // received
	cpu      float64 // client+server user+system seconds
	lossPct  float64 // UDP
	jitterMs float64 // UDP
	busyPct  float64 // other work on the machine in the second before
	load     float64
}

func (f figures) cpuPerGB() float64 { return f.cpu / (f.bytes / 1e9) }

type mode struct {
	name  string
	flags []string // the same for both tools
	udp   bool
}

func main() {
	lvs := flag.String("lvsperf", "bin/lvsperf", "lvsperf binary (make build)")
	rounds := flag.Int("rounds", 5, "interleaved rounds of each tool per mode")
	dur := flag.Duration("t", 3*time.Second, "duration of each run (whole seconds: iperf3's -t)")
	rate := flag.String("udp-rate", "1G", "UDP target rate (-b)")
	length := flag.Int("udp-length", 1460, "UDP datagram size (-l), the same for both")
	modes := flag.String("modes", "tcp1,tcp4,udp", "comparisons: tcp1, tcp4, udp")
	flag.Parse()
	if _, err := exec.LookPath("iperf3"); err != nil {
		fmt.Fprintln(os.Stderr, "iperf3 not found: apt-get install -y iperf3")
		os.Exit(2)
	}
	if _, err := os.Stat(*lvs); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (make build)\n", *lvs, err)
		os.Exit(2)
	}
	secs := strconv.Itoa(max(1, int(dur.Seconds()+0.5)))
	all := map[string]mode{
		"tcp1": {name: "TCP, 1 stream", flags: []string{"-t", secs}},
		"tcp4": {name: "TCP, 4 streams", flags: []string{"-t", secs, "-P", "4"}},
		"udp":  {name: "UDP at " + *rate + "bit/s, " + strconv.Itoa(*length) + " B datagrams", flags: []string{"-t", secs, "-u", "-b", *rate, "-l", strconv.Itoa(*length)}, udp: true},
	}
	ctx := context.Background()
	fmt.Printf("bench/stream: %s, %d CPUs, iperf3 %s, %d rounds of %ss per tool and mode\n\n", runtime.GOARCH, runtime.NumCPU(), iperf3Version(), *rounds, secs)
	for _, m := range strings.Split(*modes, ",") {
		md, ok := all[m]
		if !ok {
			fail(fmt.Errorf("-modes %q: want tcp1, tcp4 or udp", m))
		}
		compare(ctx, md, *rounds, *lvs)
	}
}

func iperf3Version() string {
	out, _ := exec.Command("iperf3", "--version").Output()
	return strings.TrimPrefix(strings.Fields(string(out) + " ? ?")[1], "")
}

func compare(ctx context.Context, m mode, rounds int, lvs string) {
	fmt.Printf("== %s\n", m.name)
	var ip, ours []figures
	var rt, rc []float64
	for r := range rounds {
		a, err := runIperf3(ctx, m)
		if err != nil {
			fail(fmt.Errorf("iperf3: %w", err))
		}
		o, err := runLvsperf(ctx, m, lvs)
		if err != nil {
			fail(fmt.Errorf("lvsperf: %w", err))
		}
		ip, ours = append(ip, a), append(ours, o)
		rt, rc = append(rt, o.bps/a.bps), append(rc, o.cpuPerGB()/a.cpuPerGB())
		for _, x := range []struct {
			tool string
			f    figures
		}{{"iperf3 ", a}, {"lvsperf", o}} {
			line := fmt.Sprintf("round %d: %s %9.0f Mbit/s  CPU %5.2f s/GB", r+1, x.tool, x.f.bps/1e6, x.f.cpuPerGB())
			if m.udp {
				line += fmt.Sprintf("  loss %6.2f%%  jitter %.4f ms", x.f.lossPct, x.f.jitterMs)
			}
			fmt.Printf("%s  load %.2f  busy before %.0f%%\n", line, x.f.load, x.f.busyPct)
		}
	}
	get := func(fs []figures, g func(figures) float64) []float64 {
		v := make([]float64, len(fs))
		for i, f := range fs {
			v[i] = g(f)
		}
		return v
	}
	bps := func(f figures) float64 { return f.bps / 1e6 }
	fmt.Printf("medians over %d interleaved rounds\n", rounds)
	fmt.Printf("  receiver throughput  lvsperf %.0f  iperf3 %.0f Mbit/s  median ratio %.3f  goal ≥ 0.95  %s\n",
		timing.Median(get(ours, bps)), timing.Median(get(ip, bps)), timing.Median(rt), verdict(timing.Median(rt) >= 0.95))
	fmt.Printf("  CPU per GB           lvsperf %.3f  iperf3 %.3f s/GB  median ratio %.3f  goal ≤ 1.00  %s\n",
		timing.Median(get(ours, figures.cpuPerGB)), timing.Median(get(ip, figures.cpuPerGB)), timing.Median(rc), verdict(timing.Median(rc) <= 1))
	if m.udp {
		loss := func(f figures) float64 { return f.lossPct }
		jit := func(f figures) float64 { return f.jitterMs }
		for _, q := range []struct {
			name, unit string
			g          func(figures) float64
		}{{"loss", "%", loss}, {"jitter", " ms", jit}} {
			iv, ov := get(ip, q.g), get(ours, q.g)
			lo, hi := slices.Min(iv), slices.Max(iv)
			within := timing.Median(ov) <= hi
			fmt.Printf("  UDP %-16s lvsperf median %.4f%s (%.4f–%.4f)  iperf3 median %.4f%s, its spread %.4f–%.4f  goal: within or below iperf3's spread  %s\n",
				q.name, timing.Median(ov), q.unit, slices.Min(ov), slices.Max(ov), timing.Median(iv), q.unit, lo, hi, verdict(within))
		}
	}
	busy := max(timing.Median(get(ip, func(f figures) float64 { return f.busyPct })), timing.Median(get(ours, func(f figures) float64 { return f.busyPct })))
	if busy > 25 {
		fmt.Printf("  CONTENDED: other work kept %.0f%% of the CPUs busy in the second before the runs (median); the ratios are side by side but noisy\n", busy)
	} else {
		fmt.Printf("  not contended: other work kept %.0f%% of the CPUs busy in the second before the runs (median)\n", busy)
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
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for TCP and UDP")
}

// server is a one-test server process; done closes when it has exited.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer starts a one-test server and waits for its ready line.
func startServer(ctx context.Context, ready string, name string, args ...string) (*server, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ok := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), ready) {
				found = true
				ok <- true
			}
		}
		if !found {
			ok <- false
		}
	}()
	select {
	case good := <-ok:
		if good {
			s := &server{cmd: cmd, done: make(chan struct{})}
			go func() { _ = cmd.Wait(); pw.Close(); close(s.done) }()
			return s, nil
		}
	case <-time.After(5 * time.Second):
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	pw.Close()
	return nil, fmt.Errorf("%s did not say %q within 5s", name, ready)
}

// waitExit waits for a server that ends after its one test and returns its
// CPU seconds; it is killed after the timeout.
func waitExit(s *server, timeout time.Duration) (float64, error) {
	select {
	case <-s.done:
		return cpuOf(s.cmd.ProcessState), nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		return 0, errors.New("server did not exit after its one test")
	}
}

func cpuOf(ps *os.ProcessState) float64 { return (ps.UserTime() + ps.SystemTime()).Seconds() }

func runIperf3(ctx context.Context, m mode) (figures, error) {
	var f figures
	port, err := freePort()
	if err != nil {
		return f, err
	}
	p := strconv.Itoa(port)
	srv, err := startServer(ctx, "Server listening", "iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", p)
	if err != nil {
		return f, err
	}
	defer func() { _ = srv.cmd.Process.Kill(); <-srv.done }()
	f.busyPct, f.load = results.IdleCheck(time.Second)
	cli := exec.CommandContext(ctx, "iperf3", append([]string{"-c", "127.0.0.1", "-p", p, "--json"}, m.flags...)...)
	out, err := cli.Output()
	if err != nil {
		return f, fmt.Errorf("iperf3 -c: %w: %s", err, out)
	}
	var res struct {
		End struct {
			Sum         struct{ BitsPerSecond, Bytes, JitterMs, LostPercent float64 } `json:"sum"`
			SumReceived struct{ BitsPerSecond, Bytes float64 }                        `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(fixKeys(out), &res); err != nil || res.Error != "" {
		return f, fmt.Errorf("iperf3 -c --json: %v %s", err, res.Error)
	}
	f.bps, f.bytes = res.End.SumReceived.BitsPerSecond, res.End.SumReceived.Bytes
	f.lossPct, f.jitterMs = res.End.Sum.LostPercent, res.End.Sum.JitterMs
	scpu, err := waitExit(srv, 5*time.Second)
	if err != nil {
		return f, err
	}
	f.cpu = cpuOf(cli.ProcessState) + scpu
	return f, nil
}

// fixKeys maps iperf3's snake_case keys onto the Go field names above.
func fixKeys(b []byte) []byte {
	r := strings.NewReplacer(`"bits_per_second"`, `"BitsPerSecond"`, `"jitter_ms"`, `"JitterMs"`, `"lost_percent"`, `"LostPercent"`, `"bytes"`, `"Bytes"`)
	return []byte(r.Replace(string(b)))
}

func runLvsperf(ctx context.Context, m mode, lvs string) (figures, error) {
	var f figures
	port, err := freePort()
	if err != nil {
		return f, err
	}
	p := strconv.Itoa(port)
	srv, err := startServer(ctx, "stream server", lvs, "serve", "stream", "-1", "--listen", "127.0.0.1:"+p)
	if err != nil {
		return f, err
	}
	defer func() { _ = srv.cmd.Process.Kill(); <-srv.done }()
	f.busyPct, f.load = results.IdleCheck(time.Second)
	cli := exec.CommandContext(ctx, lvs, append([]string{"stream", "-c", "127.0.0.1", "-p", p, "--json", "--no-save"}, m.flags...)...)
	out, err := cli.Output()
	if err != nil {
		return f, fmt.Errorf("lvsperf stream: %w: %s", err, out)
	}
	run, err := results.DecodeJSON(strings.NewReader(string(out)))
	if err != nil {
		return f, err
	}
	info := run.Series[0].Info // the sum with several streams, else the stream
	num := func(k string) float64 {
		v, _ := strconv.ParseFloat(info[k], 64)
		return v
	}
	f.bps, f.bytes = num("receiver_bps"), num("received_bytes")
	if m.udp {
		f.jitterMs = num("jitter_ms")
		if e := num("expected_packets"); e > 0 {
			f.lossPct = 100 * num("lost") / e
		}
	}
	scpu, err := waitExit(srv, 5*time.Second)
	if err != nil {
		return f, err
	}
	f.cpu = cpuOf(cli.ProcessState) + scpu
	return f, nil
}
