package netpipe

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

const mib8 = 8 * timing.MiB

func wireOpts(io time.Duration) wire.SockOptions { return wire.SockOptions{IOTimeout: io} }

// needNPtcp returns the path of Debian's NPtcp (package netpipe-tcp); a
// missing binary fails under CI=true and skips elsewhere.
func needNPtcp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("NPtcp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("NPtcp not found: install Debian's netpipe-tcp (CI=true, so this fails instead of skipping)")
		}
		t.Skip("NPtcp not found: install Debian's netpipe-tcp to run the interop tests")
	}
	return p
}

// freePorts finds n consecutive free ports. It looks below the ephemeral
// range (where the kernel hands out local ports to other tests' connections
// running at the same time, so a run of n rarely stays free there) and binds
// the wildcard address, as NPtcp does.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for try := 0; try < 200; try++ {
		base := 20000 + rng.IntN(12000-n)
		ok := true
		for i := 0; ok && i < n; i++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports between 20000 and 32000")
	return 0
}

// startNPtcp starts NPtcp with args in a temp dir and returns the dir and a
// wait function for its exit; the process is killed at cleanup.
func startNPtcp(t *testing.T, bin string, args ...string) (string, func() error) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	var result error
	waited := false
	wait := func() error {
		if waited {
			return result
		}
		waited = true
		select {
		case result = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			result = errors.New("NPtcp did not exit within 30s")
		}
		done <- result // for the cleanup
		if result != nil {
			t.Logf("NPtcp %v output:\n%s", args, out.String())
		}
		return result
	}
	return dir, wait
}

// waitListen waits until something accepts on addr.
func waitListen(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// A probe connection would be taken as NPtcp's one transmitter,
		// so look at the kernel's listening sockets instead.
		if listening(addr) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 5s", addr)
}

func listening(addr string) bool {
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := strings.ToUpper(strconv.FormatInt(int64(port), 16))
	for len(want) < 4 {
		want = "0" + want
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 3 && strings.HasSuffix(fs[1], ":"+want) && fs[3] == "0A" {
			return true
		}
	}
	return false
}

func flat(groups []NPGroup) []timing.Bytes {
	var out []timing.Bytes
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func TestNPScheduleMatchesNetPIPE(t *testing.T) {
	for _, c := range []struct{ start, end, pert timing.Bytes }{{1, mib8, 3}, {1, mib8, 0}, {1, 10_000_000, 3}, {7, 100000, 5}, {64, 64, 3}} {
		g, err := NPSchedule(c.start, c.end, c.pert)
		if err != nil {
			t.Fatal(err)
		}
		want, err := timing.NetPIPESizes(c.start, c.end, c.pert)
		if err != nil {
			t.Fatal(err)
		}
		if got := flat(g); !slices.Equal(got, want) {
			t.Errorf("%+v: schedule differs from timing.NetPIPESizes:\n%v\n%v", c, got, want)
		}
	}
	if g, _ := NPSchedule(1, mib8, 3); len(flat(g)) != 124 {
		t.Errorf("-u 8388608: %d points, NPtcp measures 124", len(flat(g)))
	}
}

// TestDriveNPtcpReceiver: lvsperf transmits to Debian's NPtcp receiver,
// every size to 8 MiB with NPtcp's default perturbation.
func TestDriveNPtcpReceiver(t *testing.T) {
	bin := needNPtcp(t)
	port := freePorts(t, 1)
	_, wait := startNPtcp(t, bin, "-P", strconv.Itoa(port), "-u", "8388608")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitListen(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	np := NPOptions{Start: 1, End: mib8, Perturbation: 3}
	res, err := RunNP(ctx, NPRunConfig{Addrs: []string{addr}, Remote: true, NP: np, TrialTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("NPtcp receiver: %v", err)
	}
	s := res.Run.Series[0]
	want, _ := timing.NetPIPESizes(1, mib8, 3)
	var got []timing.Bytes
	for _, p := range s.Points {
		got = append(got, p.Bytes)
		if p.Min <= 0 || len(p.Trials) != 3 || p.Reps < 3 {
			t.Errorf("%d bytes: point %+v, want 3 trials of ≥3 reps", p.Bytes, p)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("measured %d sizes, want NPtcp's %d", len(got), len(want))
	}
	if s.Points[len(s.Points)-1].Min <= s.Points[0].Min {
		t.Errorf("8 MiB (%v) not slower than 1 B (%v)", s.Points[len(s.Points)-1].Min, s.Points[0].Min)
	}
}

// npOut reads NPtcp's np.out: size → one-way time.
func npOut(t *testing.T, path string) map[timing.Bytes]time.Duration {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[timing.Bytes]time.Duration{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("np.out line %q", line)
		}
		n, err1 := strconv.ParseInt(f[0], 10, 64)
		sec, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("np.out line %q", line)
		}
		out[timing.Bytes(n)] = time.Duration(sec * 1e9)
	}
	return out
}

// compareNPOut checks our points against NPtcp's np.out of the same run:
// every size present, each time within a generous factor (a loaded
// machine), and the median ratio near 1.
func compareNPOut(t *testing.T, ours []timing.Point, theirs map[timing.Bytes]time.Duration) {
	t.Helper()
	if len(ours) != len(theirs) {
		t.Fatalf("%d points here, %d in np.out", len(ours), len(theirs))
	}
	var ratios []float64
	for _, p := range ours {
		th, ok := theirs[p.Bytes]
		if !ok {
			t.Fatalf("size %d not in np.out", p.Bytes)
		}
		r := p.Min.Seconds() / th.Seconds()
		ratios = append(ratios, r)
		if r < 0.1 || r > 10 {
			t.Errorf("%d bytes: %v here, %v by NPtcp (ratio %.2f)", p.Bytes, p.Min, th, r)
		}
	}
	sort.Float64s(ratios)
	med := ratios[len(ratios)/2]
	t.Logf("time ratio lvsperf/NPtcp over %d sizes: min %.2f median %.2f max %.2f", len(ratios), ratios[0], med, ratios[len(ratios)-1])
	if med < 0.6 || med > 1.6 {
		t.Errorf("median time ratio %.2f, want near 1", med)
	}
}

// TestAnswerNPtcpTransmitter: Debian's NPtcp transmits to lvsperf's
// receiver, every size to 8 MiB; the receiver's own times agree with
// NPtcp's np.out.
func TestAnswerNPtcpTransmitter(t *testing.T) {
	bin := needNPtcp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := NewNPServer(ctx, "127.0.0.1:0", NPOptions{Start: 1, End: mib8, Perturbation: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, p, _ := net.SplitHostPort(s.Addr())
	dir, wait := startNPtcp(t, bin, "-h", "127.0.0.1", "-P", p, "-u", "8388608", "-n", "10")
	if err := wait(); err != nil {
		t.Fatalf("NPtcp transmitter: %v (receiver: %v)", err, s.Err())
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Done() == 0 && s.Errors() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Done() != 1 {
		t.Fatalf("receiver finished %d runs, errors %d: %v", s.Done(), s.Errors(), s.Err())
	}
	pts := s.Last()
	for _, p := range pts {
		if p.Reps != 10 {
			t.Fatalf("%d bytes: %d repetitions, NPtcp -n 10 sent 10", p.Bytes, p.Reps)
		}
	}
	compareNPOut(t, pts, npOut(t, filepath.Join(dir, "np.out")))
}

// TestBidirWithNPtcp: -2 both ways against NPtcp -2.
func TestBidirWithNPtcp(t *testing.T) {
	bin := needNPtcp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	np := NPOptions{Start: 1, End: mib8, Perturbation: 3, Bidir: true}
	groups, err := np.Groups()
	if err != nil {
		t.Fatal(err)
	}
	sizes := flat(groups)

	t.Run("lvsperf transmits", func(t *testing.T) {
		port := freePorts(t, 1)
		_, wait := startNPtcp(t, bin, "-2", "-P", strconv.Itoa(port), "-u", "8388608")
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitListen(t, addr)
		res, err := RunNP(ctx, NPRunConfig{Addrs: []string{addr}, Remote: true, NP: np, TrialTime: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Fatalf("NPtcp -2 receiver: %v", err)
		}
		pts := res.Run.Series[0].Points
		if len(pts) != len(sizes) {
			t.Fatalf("%d points, want %d (capped at SO_SNDBUF+SO_RCVBUF)", len(pts), len(sizes))
		}
		for i, p := range pts {
			if p.Bytes != 2*sizes[i] {
				t.Errorf("point %d: %d bytes, want both directions' 2×%d as NPtcp -2 writes", i, p.Bytes, sizes[i])
			}
		}
	})
	t.Run("NPtcp transmits", func(t *testing.T) {
		s, err := NewNPServer(ctx, "127.0.0.1:0", np)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, p, _ := net.SplitHostPort(s.Addr())
		dir, wait := startNPtcp(t, bin, "-2", "-h", "127.0.0.1", "-P", p, "-u", "8388608", "-n", "20")
		if err := wait(); err != nil {
			t.Fatalf("NPtcp -2 transmitter: %v (receiver: %v)", err, s.Err())
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.Done() == 0 && s.Errors() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if s.Done() != 1 {
			t.Fatalf("receiver finished %d runs: %v", s.Done(), s.Err())
		}
		compareNPOut(t, s.Last(), npOut(t, filepath.Join(dir, "np.out")))
	})
}

// TestPairsWithNPtcp: 2 pairs against 2 NPtcp receivers, an aggregate row
// and one per pair.
func TestPairsWithNPtcp(t *testing.T) {
	bin := needNPtcp(t)
	port := freePorts(t, 2)
	var waits []func() error
	for i := range 2 {
		_, w := startNPtcp(t, bin, "-P", strconv.Itoa(port+i), "-u", "1048576")
		waits = append(waits, w)
		waitListen(t, "127.0.0.1:"+strconv.Itoa(port+i))
	}
	addrs, err := PairAddrs("127.0.0.1:"+strconv.Itoa(port), 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RunNP(ctx, NPRunConfig{Addrs: addrs, Remote: true, NP: NPOptions{Start: 1, End: timing.MiB, Perturbation: 3}, TrialTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range waits {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	checkPairs(t, res.Run.Series, 2)
}

func checkPairs(t *testing.T, series []results.Series, pairs int) {
	t.Helper()
	if len(series) != pairs+1 || !strings.Contains(series[0].Label, "aggregate") {
		t.Fatalf("%d series, want the aggregate and %d pairs", len(series), pairs)
	}
	for i, agg := range series[0].Points {
		if series[0].Options.Sizes[i] != agg.Bytes {
			t.Errorf("aggregate point %d: %d bytes, its options say %d", i, agg.Bytes, series[0].Options.Sizes[i])
		}
		var sum float64 // the pairs' own rates, summed
		for _, s := range series[1:] {
			p := s.Points[i]
			if agg.Bytes != timing.Bytes(pairs)*p.Bytes || len(agg.Trials) != 3 {
				t.Fatalf("aggregate %d bytes, %d trials; pair %d bytes", agg.Bytes, len(agg.Trials), p.Bytes)
			}
			sum += float64(p.Bytes) / p.Min.Seconds()
		}
		// All pairs together take at least as long as the slowest: the
		// aggregate cannot beat the pairs' best rates summed.
		if r := float64(agg.Bytes) / agg.Min.Seconds(); r > sum*1.01 || r <= 0 {
			t.Errorf("%d bytes: aggregate %.0f B/s, pairs' best summed %.0f B/s", agg.Bytes, r, sum)
		}
	}
	if series[0].Fit == nil {
		t.Errorf("aggregate has no fit: %s", series[0].FitError)
	}
}

// TestInProcessBidirAndPairs: -2 and --pairs between two lvsperf ends.
func TestInProcessBidirAndPairs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := RunOptions{End: 64 * timing.KiB, Pairs: 3, Bidir: true, TrialTime: time.Millisecond}
	cfg, stop, err := o.NPConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := RunNP(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkPairs(t, res.Run.Series, 3)
	if o := res.Run.Options; o["bidir"] != "true" || o["pairs"] != "3" {
		t.Errorf("options not recorded: %v", o)
	}
}

// TestNPWrongPeer: a peer speaking another protocol gives an error naming
// what was expected, within the handshake timeout.
func TestNPWrongPeer(t *testing.T) {
	ctx := context.Background()
	o := NPOptions{Start: 1, End: 1024, Perturbation: 3, HandshakeTimeout: 2 * time.Second}
	framed := startServer(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hi")) }))
	defer web.Close()
	junk, _ := net.Listen("tcp", "127.0.0.1:0")
	defer junk.Close()
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			time.Sleep(3 * time.Second)
			c.Close()
		}
	}()
	for name, addr := range map[string]string{"lvsperf framed receiver": framed.Addr(), "HTTP server": strings.TrimPrefix(web.URL, "http://"), "SSH-like banner": junk.Addr().String()} {
		start := time.Now()
		_, err := DialNP(ctx, addr, o)
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "not an NPtcp 3.7 receiver") || !strings.Contains(err.Error(), `"SyncMe"`) {
			t.Errorf("%s: err = %v, want one naming NPtcp's sync string", name, err)
		}
		if took > 4*time.Second {
			t.Errorf("%s: took %v to give up", name, took)
		}
		t.Logf("%s: %v (%v)", name, err, took.Round(time.Millisecond))
	}
	// Our framed transmitter against the NPtcp receiver.
	s, err := NewNPServer(ctx, "127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Dial(ctx, Options{Addr: s.Addr(), DialTimeout: 2 * time.Second}); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("framed transmitter to the NPtcp receiver: %v", err)
	}
	// Garbage, then a real run: the receiver keeps serving.
	for _, g := range []string{"GET / HTTP/1.0\r\n\r\n", "SyncMe\xff\xff\xff\xff", "SyncMe"} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(g))
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
	res, err := RunNP(ctx, NPRunConfig{Addrs: []string{s.Addr()}, NP: o, TrialTime: time.Millisecond})
	if err != nil || len(res.Run.Series[0].Points) == 0 {
		t.Fatalf("receiver stopped serving after garbage: %v", err)
	}
}

// TestNPtcpScheduleMismatch: ends given different -u lose step; both ways
// end in an error that says so, within seconds.
func TestNPtcpScheduleMismatch(t *testing.T) {
	bin := needNPtcp(t)
	for _, c := range []struct {
		theirs, ours string
		want         string
	}{{"4096", "1024", "QUIT"}, {"1024", "4096", "-u"}} {
		port := freePorts(t, 1)
		_, _ = startNPtcp(t, bin, "-P", strconv.Itoa(port), "-u", c.theirs)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitListen(t, addr)
		end, _ := strconv.Atoi(c.ours)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		_, err := RunNP(ctx, NPRunConfig{Addrs: []string{addr}, Remote: true, NP: NPOptions{Start: 1, End: timing.Bytes(end), Perturbation: 3, Sock: wireOpts(3 * time.Second)}, TrialTime: time.Millisecond})
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NPtcp -u %s, lvsperf -u %s: err = %v, want one mentioning %q", c.theirs, c.ours, err, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("NPtcp -u %s, lvsperf -u %s: gave up after %v", c.theirs, c.ours, d)
		}
		t.Logf("NPtcp -u %s, lvsperf -u %s: %v", c.theirs, c.ours, err)
	}
}

// TestAnswerNPtcpShorterTransmitter: an NPtcp transmitter with a smaller
// -u ends early; the receiver says so at once instead of waiting.
func TestAnswerNPtcpShorterTransmitter(t *testing.T) {
	bin := needNPtcp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := NewNPServer(ctx, "127.0.0.1:0", NPOptions{Start: 1, End: 4096, Perturbation: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, p, _ := net.SplitHostPort(s.Addr())
	start := time.Now()
	_, wait := startNPtcp(t, bin, "-h", "127.0.0.1", "-P", p, "-u", "1024", "-n", "5")
	if err := wait(); err != nil {
		t.Fatalf("NPtcp transmitter: %v", err)
	}
	for s.Errors() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "smaller -u") {
		t.Fatalf("receiver error %v, want one saying the transmitter has a smaller -u", err)
	}
	t.Logf("%v after %v", s.Err(), time.Since(start).Round(time.Millisecond))
}
