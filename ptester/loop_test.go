package ptester

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bothEngines lists the engines every fault test runs on.
func bothEngines() []Engine { return []Engine{EngineLoop, EngineGoroutines} }

func TestEnginesKeepAliveCounts(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	for _, e := range bothEngines() {
		for _, k := range []int{1, 5} {
			before := s.Stats()
			rep, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(6), KeepAlive: k, Clients: 5,
				Duration: 300 * time.Millisecond, NoPrefetch: true, Verify: true, Engine: e})
			if err != nil {
				t.Fatal(err)
			}
			after := s.Stats()
			conns, reqs := after.Conns-before.Conns, after.Requests-before.Requests
			if rep.Engine != e {
				t.Errorf("engine %s ran as %s", e, rep.Engine)
			}
			if rep.Errs() != 0 || rep.Requests == 0 {
				t.Fatalf("%s -k %d: %d requests, errors %v (%s)", e, k, rep.Requests, rep.Errors, rep.LastError)
			}
			if reqs != rep.Requests || conns != rep.Conns {
				t.Errorf("%s -k %d: hammer counted %d requests on %d conns, server %d on %d", e, k, rep.Requests, rep.Conns, reqs, conns)
			}
			// Every client's last connection may carry fewer than k requests.
			if full := conns - 5; reqs < full*uint64(k) || reqs > conns*uint64(k) {
				t.Errorf("%s -k %d: %d requests on %d connections, want %d per connection but the last of each client", e, k, reqs, conns, k)
			}
			if want := int64(rep.Requests) * 64; rep.BodyBytes != want {
				t.Errorf("%s -k %d: %d body bytes, want %d", e, k, rep.BodyBytes, want)
			}
			if rep.Connect.Count != rep.Conns || rep.Transfer.Count != rep.Requests {
				t.Errorf("%s -k %d: %d connect and %d transfer times for %d connections and %d requests", e, k, rep.Connect.Count, rep.Transfer.Count, rep.Conns, rep.Requests)
			}
		}
	}
}

func TestLoopEngineSourcesAndLargeBodies(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	for _, o := range []Options{
		{Path: FilePath(0), Clients: 4, Sources: 4, Linger0: true},
		{Path: FilePath(20), Clients: 2, KeepAlive: 3},
		{Path: FilePath(20), Clients: 2, KeepAlive: 3, NoSplice: true},
		{Path: FilePath(17), Clients: 3, Verify: true},
	} {
		o.Target, o.Duration, o.Engine = s.Addr(), 200*time.Millisecond, EngineLoop
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(rep.Notes, "\n"), "listens in this process") {
			t.Errorf("%+v: no note that the server is in this process: %q", o, rep.Notes)
		}
		n, _ := ParseFilePath(o.Path)
		if rep.Errs() != 0 || rep.Requests == 0 || rep.BodyBytes != int64(rep.Requests)<<n {
			t.Errorf("%+v: %d requests, %d body bytes, errors %v (%s)", o, rep.Requests, rep.BodyBytes, rep.Errors, rep.LastError)
		}
	}
}

func TestEnginesCountFaults(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(c net.Conn)
		kinds   []string // the kinds the failures may have; the first must occur
		timeout time.Duration
	}{
		{"closes mid-body", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("0", 500))
			}
		}, []string{"short_body"}, 0},
		{"closes mid-body, chunked", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n000")
			}
		}, []string{"short_body"}, 0},
		{"resets mid-body", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n000")
				c.(*net.TCPConn).SetLinger(0)
			}
		}, []string{"reset", "short_body"}, 0},
		{"404", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
			}
		}, []string{"bad_status"}, 0},
		{"500", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror")
			}
		}, []string{"bad_status"}, 0},
		{"garbage", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n")
			}
		}, []string{"protocol"}, 0},
		{"stalls", func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0")
				io.Copy(io.Discard, c) // until the client gives up
			}
		}, []string{"timeout"}, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		addr := rawServer(t, tc.handle)
		for _, e := range bothEngines() {
			rep, err := Run(context.Background(), Options{Target: addr, Path: "/x", KeepAlive: 3, Clients: 2,
				Duration: 250 * time.Millisecond, Timeout: tc.timeout, NoPrefetch: true, Engine: e})
			if err != nil {
				t.Fatal(err)
			}
			var counted uint64
			for _, k := range tc.kinds {
				counted += rep.Errors[k]
			}
			if rep.Requests != 0 || rep.Errors[tc.kinds[0]] == 0 || counted != rep.Errs() {
				t.Errorf("%s, engine %s: %d successes, errors %v (%s); want only %v", tc.name, e, rep.Requests, rep.Errors, rep.LastError, tc.kinds)
			}
		}
	}
}

func TestEnginesRefused(t *testing.T) {
	// A closed port below the ephemeral range: one the kernel handed out
	// (127.0.0.1:0) can be handed out again to another test's socket in the
	// same suite run, which then resets our connects.
	addr := ""
	for port := 23000 + os.Getpid()%5000; addr == "" && port < 32000; port++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	if addr == "" {
		t.Fatal("no free port between 23000 and 32000")
	}
	for _, e := range bothEngines() {
		rep, err := Run(context.Background(), Options{Target: addr, Duration: 50 * time.Millisecond, NoPrefetch: true, Engine: e})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors["refused"] == 0 || rep.Errors["refused"] != rep.Errs() {
			t.Errorf("engine %s, nothing listening: errors %v (%s), want only refused", e, rep.Errors, rep.LastError)
		}
	}
}

func TestLoopEngineRetriesIdleClose(t *testing.T) {
	// The server closes a kept-alive connection after 2 responses without
	// saying so: the third request is sent again on a new connection, not
	// counted as failed.
	addr := rawServer(t, func(c net.Conn) {
		for range 2 {
			if !readRequest(c) {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0")
		}
	})
	rep, err := Run(context.Background(), Options{Target: addr, Path: "/x", KeepAlive: 10, Clients: 2,
		Duration: 200 * time.Millisecond, NoPrefetch: true, Engine: EngineLoop})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errs() != 0 || rep.Requests == 0 {
		t.Errorf("%d requests, errors %v (%s), want no errors", rep.Requests, rep.Errors, rep.LastError)
	}
}

func TestEnginesCancel(t *testing.T) {
	s := startServer(t, ServerOptions{})
	stall := rawServer(t, func(c net.Conn) {
		if readRequest(c) {
			io.Copy(io.Discard, c)
		}
	})
	for _, addr := range []string{s.Addr(), stall} {
		for _, e := range bothEngines() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			start := time.Now()
			rep, err := Run(ctx, Options{Target: addr, Path: FilePath(0), KeepAlive: 10, Clients: 4,
				Duration: time.Minute, Timeout: time.Minute, NoPrefetch: true, Engine: e})
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || rep == nil {
				t.Fatalf("engine %s: cancelled run returned %v", e, err)
			}
			// The goroutine engine finishes a request in progress (bounded
			// by the timeout); the loop engine abandons it.
			if d := time.Since(start); e == EngineLoop && d > 2*time.Second {
				t.Errorf("engine %s took %v to stop after a cancel at 100 ms", e, d)
			}
			if addr == stall {
				break
			}
		}
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(des)
}

func TestLoopEngineLeaksNothing(t *testing.T) {
	s := startServer(t, ServerOptions{MaxKeepAliveRequests: -1})
	// Warm up: the server's and the runtime's own descriptors and goroutines.
	if _, err := Run(context.Background(), Options{Target: s.Addr(), Path: FilePath(0), Duration: 50 * time.Millisecond, Engine: EngineLoop}); err != nil {
		t.Fatal(err)
	}
	settle := func(fds, gs int) (int, int) {
		// Server-side connections close after the client's; give them time.
		for range 100 {
			if openFDs(t) <= fds && runtime.NumGoroutine() <= gs {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return openFDs(t), runtime.NumGoroutine()
	}
	fds0, gs0 := settle(0, 0)
	for _, o := range []Options{
		{Path: FilePath(0), Clients: 8},
		{Path: FilePath(0), Clients: 8, KeepAlive: 4},
		{Path: FilePath(20), Clients: 2, KeepAlive: 2},
	} {
		o.Target, o.Duration, o.Engine = s.Addr(), 150*time.Millisecond, EngineLoop
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		o.Duration = time.Minute
		_, _ = Run(ctx, o)
		cancel()
	}
	if fds, gs := settle(fds0, gs0); fds > fds0 || gs > gs0 {
		t.Errorf("after the runs: %d descriptors and %d goroutines, before %d and %d", fds, gs, fds0, gs0)
	}
}

func TestChooseEngine(t *testing.T) {
	tests := []struct {
		o         Options
		raw, here bool
		want      Engine
	}{
		{Options{}, true, false, EngineLoop},
		{Options{}, true, true, EngineGoroutines},
		{Options{Rate: 100}, true, false, EngineGoroutines},
		{Options{}, false, false, EngineGoroutines},
		{Options{Engine: EngineLoop}, true, true, EngineLoop},
		{Options{Engine: EngineGoroutines}, true, false, EngineGoroutines},
	}
	for _, tc := range tests {
		if got, err := chooseEngine(tc.o, tc.raw, tc.here); err != nil || got != tc.want {
			t.Errorf("%+v, raw %v, here %v: %s, %v; want %s", tc.o, tc.raw, tc.here, got, err, tc.want)
		}
	}
	if _, err := chooseEngine(Options{Engine: EngineLoop, Target: "localhost:80"}, false, false); err == nil {
		t.Error("engine loop against a host name: no error")
	}
	if _, err := (Options{Target: "127.0.0.1", Engine: "threads"}).Normalize(); err == nil {
		t.Error("engine threads: no error")
	}
	if _, err := (Options{Target: "127.0.0.1", Engine: EngineLoop, Rate: 10}).Normalize(); err == nil {
		t.Error("engine loop with a rate: no error")
	}
}

func TestServedHere(t *testing.T) {
	s := startServer(t, ServerOptions{})
	any, err := net.Listen("tcp", ":0") // dual-stack [::] on most systems
	if err != nil {
		t.Fatal(err)
	}
	defer any.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	anyAddr := "127.0.0.1:" + strings.TrimPrefix(any.Addr().String()[strings.LastIndex(any.Addr().String(), ":"):], ":")
	for addr, want := range map[string]bool{s.Addr(): true, anyAddr: true, closed.Addr().String(): false} {
		d, ok := newRawDialer(addr, nil, false, false, time.Second)
		if !ok {
			t.Fatalf("%s: no raw dialer", addr)
		}
		if got := servedHere(&d.dst); got != want {
			t.Errorf("servedHere(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestSchedBatchRestores(t *testing.T) {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before, err := unix.SchedGetAttr(0, 0)
		if err != nil {
			done <- nil // cannot tell; nothing to check
			return
		}
		restore := schedBatch()
		during, _ := unix.SchedGetAttr(0, 0)
		ok := restore()
		after, _ := unix.SchedGetAttr(0, 0)
		switch {
		case during != nil && during.Policy != unix.SCHED_BATCH && during.Policy != before.Policy:
			done <- fmt.Errorf("policy %d while batch, want %d or unchanged %d", during.Policy, unix.SCHED_BATCH, before.Policy)
		case !ok || after == nil || after.Policy != before.Policy || after.Nice != before.Nice:
			done <- fmt.Errorf("restore %v: policy %+v after, %+v before", ok, after, before)
		default:
			done <- nil
		}
	}()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
