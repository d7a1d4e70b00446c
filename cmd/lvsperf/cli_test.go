package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// runCLI runs lvsperf in-process as main does and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// listener accepts connections and hands each to handle until the test ends.
func listener(t *testing.T, handle func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().String()
}

func TestExitCodesAndHints(t *testing.T) {
	dir := t.TempDir()
	stalled := listener(t, func(c net.Conn) {
		time.Sleep(3 * time.Second) // never answers within the client's timeout
		c.Close()
	})
	resets := listener(t, func(c net.Conn) {
		_ = c.(*net.TCPConn).SetLinger(0)
		_, _ = bufio.NewReader(c).ReadString('\n') // take the request line, then RST
		c.Close()
	})
	for _, tc := range []struct {
		name string
		args []string
		code int
		// stderr must hold every one of want.
		want []string
	}{
		{"help", []string{"--help"}, 0, nil},
		{"version", []string{"--version"}, 0, nil},
		{"unknown command", []string{"nosuch"}, 2, []string{`unknown command "nosuch"`, "see: lvsperf --help"}},
		{"unknown flag", []string{"netpipe", "--bogus"}, 2, []string{"unknown flag: --bogus"}},
		{"bad flag value", []string{"netpipe", "-u", "foo", "--out", dir}, 2, []string{"--end"}},
		{"bad value after parse", []string{"netpipe", "--via", "sideways", "--out", dir, "-q"}, 2, nil},
		{"too many arguments", []string{"compare", "a"}, 2, nil},
		{"cannot compare", []string{"compare", dir + "/none.msgpack", dir + "/none.msgpack"}, 2, []string{"cannot compare"}},
		{"unknown experiment", []string{"experiment", "nosuch"}, 2, []string{"want one of"}},
		{"ptester bad -t", []string{"ptester", "-t", "soon"}, 2, nil},
		{"refused", []string{"ptester", "-h", closedPort(t), "-t", "0.2"}, 1,
			[]string{"connection refused", "hint: nothing listens on that port: is `lvsperf serve http`"}},
		{"netpipe refused", []string{"netpipe", "-h", closedPort(t), "-u", "64", "--out", dir, "-q"}, 1,
			[]string{"hint: nothing listens on that port: is `lvsperf netpipe --serve`"}},
		{"dns", []string{"ptester", "-h", "no-such-host.invalid:80", "-t", "0.2"}, 1, []string{"hint: the "}},
		{"timeout", []string{"ptester", "-h", stalled, "-t", "0.2", "--timeout", "300ms"}, 1, []string{"hint: no answer in time"}},
		{"reset", []string{"ptester", "-h", resets, "-t", "0.2", "--timeout", "2s"}, 1, []string{"hint: the peer closed the connection"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code, _, stderr := runCLI(t, ctx, tc.args...)
			if code != tc.code {
				t.Errorf("lvsperf %s: exit %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("lvsperf %s: stderr lacks %q:\n%s", strings.Join(tc.args, " "), w, stderr)
				}
			}
			if strings.Contains(stderr, "is the server running?") {
				t.Errorf("generic hint left in: %s", stderr)
			}
			if tc.name == "dns" && !strings.Contains(stderr, "host name does not resolve") && !strings.Contains(stderr, "name server did not answer") {
				t.Errorf("no DNS hint: %s", stderr)
			}
		})
	}
}

// TestQuietPrintsOnlyTheHeadline runs a short hammer: with -q, stdout is
// its one headline line, and the run succeeds.
func TestQuietPrintsOnlyTheHeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, out, stderr := runCLI(t, ctx, "ptester", "-t", "0.2", "-c", "1", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "ptester direct: ") || !strings.Contains(lines[0], "hits/s") {
		t.Errorf("-q stdout %q: want the headline alone", out)
	}
}

// TestServeListenAlias: every serve subcommand takes --listen; serve
// http's old --addr still works and is hidden from the help.
func TestServeListenAlias(t *testing.T) {
	for _, sub := range []string{"http", "netpipe", "rsh", "lpd", "nfs", "ftp"} {
		code, out, _ := runCLI(t, context.Background(), "serve", sub, "--help")
		if code != 0 || !strings.Contains(out, "--listen") || strings.Contains(out, "--addr") {
			t.Errorf("serve %s --help (exit %d): want --listen shown and --addr hidden:\n%s", sub, code, out)
		}
	}
	for _, flag := range []string{"--listen", "--addr"} {
		addr := closedPort(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			var out, errOut bytes.Buffer
			done <- run(ctx, []string{"serve", "http", flag, addr}, &out, &errOut)
		}()
		var resp *http.Response
		var err error
		for i := 0; i < 50; i++ {
			if resp, err = http.Get(fmt.Sprintf("http://%s/file/file.0", addr)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("serve http %s %s: %v", flag, addr, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("serve http %s: status %d", flag, resp.StatusCode)
			}
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve http %s: exit %d after interrupt, want 0", flag, code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("serve http %s did not stop", flag)
		}
	}
}
