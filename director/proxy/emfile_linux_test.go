package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// emfileChildEnv makes the test binary run emfileChild instead of the
// tests: a proxy in a process of its own, whose descriptor limit the test
// can exhaust without starving itself.
const emfileChildEnv = "LVSPERF_PROXY_EMFILE_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(emfileChildEnv); v != "" {
		if err := emfileChild(v); err != nil {
			fmt.Fprintln(os.Stderr, "emfile child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// emfileChild runs a proxy (engine and realserver given as "MODE ADDR") on
// 127.0.0.1 and prints its address. On "full" from stdin it lowers its
// descriptor limit below the next free descriptor, so every accept fails
// with EMFILE; on "room" it restores the limit; at the end of stdin it
// prints the proxy's stats.
func emfileChild(arg string) error {
	mode, addr, _ := strings.Cut(arg, " ")
	m, err := strconv.Atoi(mode)
	if err != nil {
		return err
	}
	pk := &testPicker{dests: []netip.AddrPort{netip.MustParseAddrPort(addr)}, discard: true}
	px, err := New(context.Background(), pk, Options{Copy: CopyMode(m)})
	if err != nil {
		return err
	}
	defer px.Close()
	vip, err := px.Listen(dataplane.TCP, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		return err
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		return err
	}
	fmt.Println(vip)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "full":
			// Let the process settle first. In 2-5% of runs on the splice
			// engine a descriptor closed shortly after this point, leaving
			// a slot below the limit that accept took (and the realserver
			// dial, finding none, reset the client). Which one was not
			// found; a GC (files closed by finalizers) and 10 ms made it
			// 0 in 100 runs.
			runtime.GC()
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
			// The kernel hands out the lowest free descriptor: with the
			// limit at its number no new descriptor fits.
			f, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			next := f.Fd()
			f.Close()
			lim := orig
			lim.Cur = uint64(next)
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				return err
			}
		case "room":
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
				return err
			}
		}
		fmt.Println("ok")
	}
	fmt.Println("paused", px.Stats().AcceptPaused)
	return nil
}

// A proxy out of file descriptors neither spins on its readable listener
// nor loses the clients waiting in its queue: accepting pauses, and they
// are served once descriptors are free again.
func TestAcceptOutOfDescriptors(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	forEngines(t, func(t *testing.T, mode CopyMode) {
		echo := startEcho(t)
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", emfileChildEnv, int(mode), echo))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stdin.Close()
			cmd.Process.Kill()
			cmd.Wait()
		}()
		out := bufio.NewScanner(stdout)
		line := func() string {
			t.Helper()
			got := make(chan string, 1)
			go func() {
				if out.Scan() {
					got <- out.Text()
				}
				close(got)
			}()
			select {
			case s, ok := <-got:
				if !ok {
					t.Fatalf("proxy process ended: %v", out.Err())
				}
				return s
			case <-time.After(10 * time.Second):
				t.Fatal("proxy process said nothing for 10s")
			}
			return ""
		}
		vip := line()
		say := func(cmd string) {
			t.Helper()
			fmt.Fprintln(stdin, cmd)
			if s := line(); s != "ok" {
				t.Fatalf("proxy process answered %q to %q", s, cmd)
			}
		}
		say("full")
		c, err := net.Dial("tcp", vip) // completes in the listener's queue
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		// Give the proxy time to meet EMFILE, then measure its CPU: a proxy
		// that retries accept at once burns a whole CPU here.
		time.Sleep(100 * time.Millisecond)
		cpu0 := procTicks(t, cmd.Process.Pid)
		time.Sleep(500 * time.Millisecond)
		if used := procTicks(t, cmd.Process.Pid) - cpu0; used > 10 {
			t.Errorf("CPU while out of descriptors: want < 100ms in 500ms, got %dms", used*10)
		}
		say("room")
		c.SetDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
			t.Fatalf("client queued while out of descriptors: want its echo once descriptors are free, got %q (%v)", b, err)
		}
		c.Close()
		stdin.Close()
		if s := line(); !strings.HasPrefix(s, "paused ") || s == "paused 0" {
			t.Errorf("stats: want AcceptPaused > 0, got %q", s)
		}
	})
}

// procTicks is the user+system CPU of process pid in clock ticks (10 ms).
func procTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command (which may hold spaces) end at ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}
