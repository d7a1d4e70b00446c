package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// needRoot skips (or, under CI=true, fails) a test that needs root and the
// given binaries.
func needRoot(t *testing.T, bins ...string) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil && why == "" {
			why = "binary " + b + " not found"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab test needs root and %v, but %s (CI=true: failing instead of skipping)", bins, why)
	}
	t.Skipf("lab test needs root and %v: %s", bins, why)
}

func up(t *testing.T, spec Spec) *Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Up(ctx, spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return l
}

// listen starts a TCP echo-once server inside h on addr; it says its host
// name to every connection.
func listen(t *testing.T, h *HostNS, addr string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, h.Name+"\n")
			c.Close()
		}
	}()
}

// hello dials addr from inside h and returns the first line it reads.
func hello(h *HostNS, addr string) (string, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestSeedReachability(t *testing.T) {
	needRoot(t, "tc", "ethtool")
	for _, one := range []bool{false, true} {
		t.Run(fmt.Sprintf("onenic=%v", one), func(t *testing.T) {
			s, err := NewSeed(SeedOptions{Realservers: 2, OneNIC: one, ClientMTU: 750, Rate: 100e6, OffloadsOff: true})
			if err != nil {
				t.Fatal(err)
			}
			l := up(t, s.Spec)
			for i := range 2 {
				listen(t, l.Host(Realserver(i+1)), ":7000")
			}
			listen(t, l.Host(Director), ":7001")
			targets := map[string]string{net.JoinHostPort(s.DirectorAddr.String(), "7001"): Director}
			for i := range 2 {
				targets[net.JoinHostPort(s.RealLAN[i].String(), "7000")] = Realserver(i + 1)
				targets[net.JoinHostPort(s.DirectTarget(i).String(), "7000")] = Realserver(i + 1)
			}
			for addr, want := range targets {
				got, err := hello(l.Host(Client), addr)
				if err != nil || got != want {
					t.Errorf("client → %s: got %q, %v; want %q", addr, got, err, want)
				}
			}
			// Realservers reach the director on their LAN.
			if got, err := hello(l.Host(Realserver(1)), net.JoinHostPort(s.DirectorInside.String(), "7001")); err != nil || got != Director {
				t.Errorf("rs1 → director: got %q, %v", got, err)
			}
			c0, err := l.Host(Client).Netlink().LinkByName("c0")
			if err != nil {
				t.Fatal(err)
			}
			if c0.Attrs().MTU != 750 {
				t.Errorf("c0 MTU = %d, want 750", c0.Attrs().MTU)
			}
			qs, err := l.Host(Client).Netlink().QdiscList(c0)
			if err != nil {
				t.Fatal(err)
			}
			var tbf *netlink.Tbf
			for _, q := range qs {
				if q, ok := q.(*netlink.Tbf); ok {
					tbf = q
				}
			}
			if tbf == nil || tbf.Rate != 100e6/8 {
				t.Errorf("c0 qdiscs %v: want tbf at 12500000 bytes/s", qs)
			}
			out, err := l.Host(Client).Exec(context.Background(), "ethtool", "-k", "c0")
			if err != nil || !strings.Contains(out, "tcp-segmentation-offload: off") || !strings.Contains(out, "generic-receive-offload: off") {
				t.Errorf("c0 offloads not off: %v\n%s", err, out)
			}
		})
	}
}

func TestDoStaysInHost(t *testing.T) {
	needRoot(t)
	l := up(t, Spec{Hosts: []Host{{Name: "a"}, {Name: "b"}},
		Links: []Link{{A: End{Host: "a", Dev: "x0", Addrs: []netip.Prefix{pfx("10.98.0.1/24")}},
			B: End{Host: "b", Dev: "x1", Addrs: []netip.Prefix{pfx("10.98.0.2/24")}}}}})
	// Both hosts listen on the same port: possible only because they are
	// separate namespaces.
	listen(t, l.Host("a"), "127.0.0.1:7002")
	listen(t, l.Host("b"), "127.0.0.1:7002")
	for _, h := range []string{"a", "b"} {
		if got, err := hello(l.Host(h), "127.0.0.1:7002"); err != nil || got != h {
			t.Errorf("%s → its own loopback: got %q, %v", h, got, err)
		}
	}
	out, err := l.Host("b").Exec(context.Background(), "cat", "/proc/net/dev")
	if err != nil || !strings.Contains(out, "x1:") || strings.Contains(out, "x0:") {
		t.Errorf("process started in b sees the wrong devices (%v):\n%s", err, out)
	}
}

func rootLinks(t *testing.T) []string {
	ls, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatal(err)
	}
	var names []string
	for _, l := range ls {
		names = append(names, l.Attrs().Name)
	}
	return names
}

func ourNamespaces(t *testing.T, owner string) []string {
	ns, err := Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		if n.Owner == owner {
			out = append(out, n.String())
		}
	}
	return out
}

func TestTeardownLeavesNothing(t *testing.T) {
	needRoot(t, "tc", "ethtool")
	before := len(rootLinks(t))
	s, err := NewSeed(SeedOptions{Realservers: 2, Rate: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Up(context.Background(), s.Spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	me := fmt.Sprint(os.Getpid())
	if n := len(ourNamespaces(t, me)); n != 4 {
		t.Fatalf("%d namespaces of this run while the lab is up, want 4", n)
	}
	// A process left running inside must not keep the namespace alive.
	sleeper := exec.Command("sleep", "30")
	if err := l.Host(Realserver(1)).Start(sleeper); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if left := ourNamespaces(t, me); len(left) != 0 {
		t.Errorf("namespaces left after Close: %v", left)
	}
	if err := syscall.Kill(sleeper.Process.Pid, 0); err == nil {
		time.Sleep(100 * time.Millisecond)
		if err := syscall.Kill(sleeper.Process.Pid, 0); err == nil {
			t.Errorf("process %d inside the lab survived teardown", sleeper.Process.Pid)
		}
	}
	if after := len(rootLinks(t)); after != before {
		t.Errorf("root namespace has %d links after the lab, %d before", after, before)
	}
}

func TestUpFailureCleansUp(t *testing.T) {
	needRoot(t)
	me := fmt.Sprint(os.Getpid())
	// The route's gateway is unreachable, so Up fails after the namespaces exist.
	_, err := Up(context.Background(), Spec{Hosts: []Host{{Name: "a", Routes: []Route{{Dst: pfx("10.97.0.0/24"), Via: ip("10.96.0.1")}}}}}, Options{})
	if err == nil {
		t.Fatal("Up with an unreachable gateway succeeded")
	}
	if left := ourNamespaces(t, me); len(left) != 0 {
		t.Errorf("namespaces left after a failed Up: %v", left)
	}
}

// TestStaleSweepAfterKill builds a lab in a child process, SIGKILLs it,
// and checks that the sweep removes what it left.
func TestStaleSweepAfterKill(t *testing.T) {
	needRoot(t)
	if os.Getenv("LVSPERF_LAB_CHILD") == "1" {
		return // the child's work is in TestMain
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LVSPERF_LAB_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not build its lab: %q, %v", line, err)
	}
	child := fmt.Sprint(cmd.Process.Pid)
	if n := len(ourNamespaces(t, child)); n != 3 {
		t.Fatalf("child has %d namespaces, want 3", n)
	}
	// While the owner lives the sweep must leave its namespaces alone.
	if _, err := SweepStale(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if n := len(ourNamespaces(t, child)); n != 3 {
		t.Fatalf("sweep removed a live run's namespaces: %d left", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := len(ourNamespaces(t, child)); n != 3 {
		t.Fatalf("after SIGKILL the child's %d namespaces should still be there to sweep, found %d", 3, n)
	}
	removed, err := SweepStale(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if left := ourNamespaces(t, child); len(left) != 0 {
		t.Errorf("stale namespaces left after the sweep: %v (removed %v)", left, removed)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("LVSPERF_LAB_CHILD") == "1" {
		s, err := NewSeed(SeedOptions{})
		if err == nil {
			_, err = Up(context.Background(), s.Spec, Options{NoSweep: true})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute) // killed by the parent
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseNSName(t *testing.T) {
	for s, ok := range map[string]bool{
		"lvsperf-123-abcdef-client": true, "lvsperf-keep-0a1b2c-rs1": true,
		"lvsperf-123-abcdef": false, "other-123-abcdef-client": false, "lvsperf-12x-abcdef-client": false,
	} {
		n, got := ParseNSName(s)
		if got != ok {
			t.Errorf("ParseNSName(%q) ok = %v, want %v", s, got, ok)
		}
		if ok && n.String() != s {
			t.Errorf("ParseNSName(%q).String() = %q", s, n.String())
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Spec{
		{Hosts: []Host{{Name: "Client"}}},
		{Hosts: []Host{{Name: "a"}, {Name: "a"}}},
		{Hosts: []Host{{Name: "a"}}, Links: []Link{{A: End{Host: "a", Dev: "x"}, B: End{Host: "b", Dev: "y"}}}},
		{Hosts: []Host{{Name: "a"}}, Links: []Link{{A: End{Host: "a", Dev: "x", Bridge: "br9"}, B: End{Host: "a", Dev: "y"}}}},
		// A VXLAN over a device the host does not have, with a bad id, without a local address.
		{Hosts: []Host{{Name: "a"}}, VXLANs: []VXLAN{{Host: "a", Name: "t0", ID: 1, Local: ip("10.0.0.1"), Underlay: "eth9"}}},
		{Hosts: []Host{{Name: "a"}}, Bridges: []Bridge{{Host: "a", Name: "br0"}}, VXLANs: []VXLAN{{Host: "a", Name: "t0", ID: 0, Local: ip("10.0.0.1"), Underlay: "br0"}}},
		{Hosts: []Host{{Name: "a"}}, Bridges: []Bridge{{Host: "a", Name: "br0"}}, VXLANs: []VXLAN{{Host: "a", Name: "t0", ID: 7, Underlay: "br0"}}},
	}
	for i, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("spec %d: Validate accepted %+v", i, s)
		}
	}
}
