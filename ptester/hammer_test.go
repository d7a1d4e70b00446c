package ptester

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckRejectsBadInput(t *testing.T) {
	good := Options{Target: "127.0.0.1:8080", Path: "/file/file.0", KeepAlive: 1, Clients: 1, Duration: time.Second}
	if err := good.Check(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	bad := map[string]func(o *Options){
		"-k 0":          func(o *Options) { o.KeepAlive = 0 },
		"-c 0":          func(o *Options) { o.Clients = 0 },
		"-t negative":   func(o *Options) { o.Duration = -time.Second },
		"no host":       func(o *Options) { o.Target = "" },
		"bad port":      func(o *Options) { o.Target = "127.0.0.1:99999" },
		"port word":     func(o *Options) { o.Target = "127.0.0.1:http" },
		"slash in host": func(o *Options) { o.Target = "http//x" },
		"https":         func(o *Options) { o.Target = "https://127.0.0.1/" },
		"relative path": func(o *Options) { o.Path = "file/file.0" },
		"space in path": func(o *Options) { o.Path = "/a b" },
		"negative rate": func(o *Options) { o.Rate = -1 },
		"sources off lo": func(o *Options) {
			o.Target, o.Sources = "10.0.0.1:80", 4
		},
	}
	for name, mut := range bad {
		o := good
		mut(&o)
		err := o.Check()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
	o, err := Options{Target: "http://localhost:81/file/file.3"}.Normalize()
	if err != nil || o.Target != "localhost:81" || o.Path != "/file/file.3" {
		t.Errorf("URL target: %+v, %v", o, err)
	}
	o, err = Options{Target: "example.org"}.Normalize()
	if err != nil || o.Target != "example.org:80" {
		t.Errorf("host without port: %q, %v", o.Target, err)
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "0.5": 500 * time.Millisecond, "250ms": 250 * time.Millisecond} {
		if d, err := ParseSeconds(in); err != nil || d != want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"-1", "x", "-2s"} {
		if _, err := ParseSeconds(in); err == nil {
			t.Errorf("ParseSeconds(%q): no error", in)
		}
	}
}

func TestHammerKeepAliveCounts(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	for _, k := range []int{1, 5} {
		before := s.Stats()
		rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(6), KeepAlive: k, Clients: 3,
			Duration: 300 * time.Millisecond, NoPrefetch: true, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		after := s.Stats()
		conns, reqs := after.Conns-before.Conns, after.Requests-before.Requests
		if rep.Errs() != 0 || rep.Requests == 0 {
			t.Fatalf("-k %d: %d requests, errors %v (%s)", k, rep.Requests, rep.Errors, rep.LastError)
		}
		if reqs != rep.Requests || conns != rep.Conns {
			t.Errorf("-k %d: hammer counted %d requests on %d conns, server %d on %d", k, rep.Requests, rep.Conns, reqs, conns)
		}
		// Every client's last connection may carry fewer than k requests.
		if lo, hi := (reqs-3*uint64(k))/uint64(k), (reqs+uint64(k)-1)/uint64(k)+3; conns < lo || conns > hi {
			t.Errorf("-k %d: %d requests took %d connections, want %d to %d", k, reqs, conns, lo, hi)
		}
		if want := int64(rep.Requests) * 64; rep.BodyBytes != want {
			t.Errorf("-k %d: %d body bytes, want %d", k, rep.BodyBytes, want)
		}
	}
}

func TestHammerServerClosesEarlier(t *testing.T) {
	// The server allows 3 requests per connection; the hammer wants 10. The
	// server's "Connection: close" must be obeyed, not counted as an error.
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: 3})
	rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(0), KeepAlive: 10, Clients: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errs() != 0 {
		t.Fatalf("errors %v: %s", rep.Errors, rep.LastError)
	}
	if per := float64(rep.Requests) / float64(rep.Conns); per > 3.01 || per < 2 {
		t.Errorf("%.2f requests per connection, want about 3", per)
	}
}

func TestHammerPercentilesMatchSort(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(8), KeepAlive: 50, Clients: 4,
		Duration: 300 * time.Millisecond, keepSamples: true})
	if err != nil {
		t.Fatal(err)
	}
	sm := slices.Clone(rep.samples)
	if uint64(len(sm)) != rep.Requests || len(sm) < 100 {
		t.Fatalf("%d samples for %d requests", len(sm), rep.Requests)
	}
	slices.Sort(sm)
	if rep.Latency.Min != sm[0] || rep.Latency.Max != sm[len(sm)-1] {
		t.Errorf("min/max %v/%v, sorted samples give %v/%v", rep.Latency.Min, rep.Latency.Max, sm[0], sm[len(sm)-1])
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		// hdrhistogram-go's rank: the sample at round(q·n), at least the first.
		rank := max(int(q/100*float64(len(sm))+0.5), 1)
		want := sm[rank-1]
		got := time.Duration(rep.latency.ValueAtPercentile(q))
		// 3 significant digits: the histogram's value is the top of the
		// bucket holding the sample, within 0.1% (+1 ns) of it.
		if math.Abs(float64(got-want)) > 0.001*float64(want)+1 {
			t.Errorf("p%g: histogram %v, sorted samples %v", q, got, want)
		}
	}
	var sum time.Duration
	for _, d := range sm {
		sum += d
	}
	if mean := sum / time.Duration(len(sm)); math.Abs(float64(rep.Latency.Mean-mean)) > 0.001*float64(mean)+1 {
		t.Errorf("mean %v, samples give %v", rep.Latency.Mean, mean)
	}
}

func TestHammerOpenLoopShowsStall(t *testing.T) {
	var once sync.Once
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1, Stall: func(n uint64) time.Duration {
		// Stall one request a third of the way into the run.
		if n == 150 {
			d := time.Duration(0)
			once.Do(func() { d = 200 * time.Millisecond })
			return d
		}
		return 0
	}})
	rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(0), KeepAlive: 1000, Clients: 1,
		Rate: 500, Duration: time.Second, NoPrefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errs() != 0 || rep.Requests < 400 {
		t.Fatalf("%d requests, errors %v (%s)", rep.Requests, rep.Errors, rep.LastError)
	}
	// About 100 requests (200 ms at 500/s) queue behind the stall: from the
	// intended send time they waited 200 ms down to 0, so the top 10% sit
	// above ~100 ms. From the actual send time only the one stalled request does.
	if rep.Latency.P99 < 150*time.Millisecond || rep.Latency.Max < 190*time.Millisecond {
		t.Errorf("corrected p99 %v max %v: the 200 ms stall is hidden", rep.Latency.P99, rep.Latency.Max)
	}
	if rep.Uncorrected == nil || rep.Uncorrected.P99 > 100*time.Millisecond {
		t.Errorf("uncorrected p99 %+v: want well below the stall (only one request stalled)", rep.Uncorrected)
	}
	if rep.Behind == 0 {
		t.Error("no request counted as sent behind schedule")
	}
}

// rawServer answers every connection with handle and closes it.
func rawServer(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			})
		}
	})
	return ln.Addr().String()
}

// readRequest reads up to the end of one request head.
func readRequest(c net.Conn) bool {
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 512)
	for !strings.Contains(string(buf), "\r\n\r\n") {
		n, err := c.Read(tmp)
		if err != nil {
			return false
		}
		buf = append(buf, tmp[:n]...)
	}
	return true
}

func TestHammerShortBodyIsAnError(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		if readRequest(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("0", 500))
		}
	})
	rep, err := Run(context.Background(), Options{Target: addr, Path: "/x", KeepAlive: 5, Clients: 2, Duration: 200 * time.Millisecond, NoPrefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 0 || rep.Errors["short_body"] == 0 || rep.Errs() != rep.Errors["short_body"] {
		t.Errorf("server closing mid-body: %d successes, errors %v; want only short_body errors", rep.Requests, rep.Errors)
	}
}

func TestHammerResetIsAnError(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		if readRequest(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n000")
			c.(*net.TCPConn).SetLinger(0) // close with RST
		}
	})
	rep, err := Run(context.Background(), Options{Target: addr, Path: "/x", Clients: 1, Duration: 150 * time.Millisecond, NoPrefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 0 || rep.Errors["reset"]+rep.Errors["short_body"] == 0 {
		t.Errorf("server resetting mid-body: %d successes, errors %v", rep.Requests, rep.Errors)
	}
}

func TestHammerReports404(t *testing.T) {
	s := startServer(t, ServerOptions{})
	rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: "/file/nope", Clients: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 0 || rep.Errors["bad_status"] == 0 || !strings.Contains(rep.LastError, "404") {
		t.Errorf("unknown path: %d successes, errors %v, last %q; want bad_status with 404", rep.Requests, rep.Errors, rep.LastError)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "bad_status=") || !strings.Contains(b.String(), "404") {
		t.Errorf("text report does not show the 404:\n%s", b.String())
	}
}

func TestHammerRefusedBeforeRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Run(context.Background(), Options{Target: addr, Duration: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("nothing listening: %v, want a connection refused error", err)
	}
	rep, err := Run(context.Background(), Options{Target: addr, Duration: 100 * time.Millisecond, NoPrefetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors["refused"] == 0 {
		t.Errorf("errors %v, want refused", rep.Errors)
	}
}

func TestHammerSources(t *testing.T) {
	s := startServer(t, ServerOptions{})
	rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(0), Clients: 4, Sources: 4, Linger0: true, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errs() != 0 || rep.Requests == 0 {
		t.Errorf("with 4 source addresses and linger0: %d requests, errors %v (%s)", rep.Requests, rep.Errors, rep.LastError)
	}
}

func TestHammerCancel(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Options{Target: s.Addr(), Path: FilePath(0), KeepAlive: 10, Clients: 2, Duration: time.Minute})
	if err == nil || rep == nil {
		t.Fatalf("cancelled run: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

// cannedServer answers every request on a connection with the same bytes,
// allocating nothing per request, so allocation counts see only the client.
func cannedServer(t testing.TB, resp string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				out := []byte(resp)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					// One response per request head in what was read.
					for range bytes.Count(buf[:n], []byte("\r\n\r\n")) {
						if _, err := c.Write(out); err != nil {
							return
						}
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func TestRoundTripDoesNotAllocate(t *testing.T) {
	addr := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: keep-alive\r\n\r\n"+strings.Repeat("0", 1024))
	o, err := Options{Target: addr, Path: "/file/file.10"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(0, &o)
	c, err := w.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w.rd.conn = c
	var failed error
	allocs := testing.AllocsPerRun(2000, func() {
		resp, n, err := w.roundTrip(c, w.reqKeep, false)
		if err != nil || resp.status != 200 || n != 1024 {
			failed = fmt.Errorf("status %d, %d bytes, %v", resp.status, n, err)
		}
		record(w.lat, time.Millisecond)
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per keep-alive request, want 0", allocs)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	addr := cannedServer(b, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0")
	o, err := Options{Target: addr, Path: "/file/file.0"}.Normalize()
	if err != nil {
		b.Fatal(err)
	}
	w := newWorker(0, &o)
	c, err := w.dial()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w.rd.conn = c
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := w.roundTrip(c, w.reqKeep, false); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHammerLargeBodiesSpliceAndCopy(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	for _, noSplice := range []bool{false, true} {
		rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(20), KeepAlive: 4, Clients: 2,
			Duration: 300 * time.Millisecond, NoSplice: noSplice})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errs() != 0 || rep.Requests == 0 || rep.BodyBytes != int64(rep.Requests)<<20 {
			t.Errorf("no-splice %v: %d requests, %d body bytes, errors %v (%s)", noSplice, rep.Requests, rep.BodyBytes, rep.Errors, rep.LastError)
		}
	}
}

func TestHammerShortLargeBodyIsAnError(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		if readRequest(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("0", 300<<10))
		}
	})
	for _, noSplice := range []bool{false, true} {
		rep, err := Run(context.Background(), Options{Target: addr, Path: "/x", KeepAlive: 2, Clients: 2, Duration: 200 * time.Millisecond, NoPrefetch: true, NoSplice: noSplice})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 0 || rep.Errors["short_body"] == 0 || rep.Errs() != rep.Errors["short_body"] {
			t.Errorf("no-splice %v: server closing after 300 KiB of 1 MiB: %d successes, errors %v (%s)", noSplice, rep.Requests, rep.Errors, rep.LastError)
		}
	}
}
