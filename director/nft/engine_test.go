package nft

import (
	"bufio"
	"bytes"
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

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/lab"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nft engine test needs root (CI=true: failing instead of skipping)")
	}
	t.Skip("nft engine test needs root to build a namespace lab")
}

// serveEcho starts, inside h, a server that says h's name and then echoes.
func serveEcho(t *testing.T, h *lab.HostNS, addr string) {
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
			go func() {
				defer c.Close()
				io.WriteString(c, h.Name+"\n")
				io.Copy(c, c)
			}()
		}
	}()
}

// exchange connects from h to addr, reads the server's name, then sends
// 256 KiB and checks it comes back intact: a connection split between two
// realservers would break here.
func exchange(h *lab.HostNS, addr string) (string, error) {
	var c net.Conn
	if err := h.Do(func() (err error) { c, err = net.DialTimeout("tcp", addr, 2*time.Second); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	name, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read server name: %w", err)
	}
	msg := bytes.Repeat([]byte("lvsperf."), 32<<10)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(r, got); err != nil {
		return "", fmt.Errorf("echo of %d bytes: %w", len(msg), err)
	}
	if !bytes.Equal(got, msg) {
		return "", fmt.Errorf("echo came back corrupted")
	}
	return strings.TrimSpace(name), nil
}

func TestModes(t *testing.T) {
	needRoot(t)
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 2, Tunnel: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(context.Background(), s.Spec, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := 1; i <= 2; i++ {
		serveEcho(t, l.Host(lab.Realserver(i)), ":7000")
	}
	client, dir := l.Host(lab.Client), l.Host(lab.Director)
	var rs []Realserver
	for i := range s.RealLAN {
		mac, _ := net.ParseMAC(s.RealMAC[i])
		rs = append(rs, Realserver{Addr: s.RealLAN[i], MAC: mac, Mark: s.TunnelMarks[i]})
	}
	outMAC, _ := net.ParseMAC(s.DirectorOutMAC)
	cases := []struct {
		mode        Mode
		target      netip.Addr
		replies     bool // replies must cross the director
		bothServers bool
	}{
		{Forward, s.RealLAN[0], true, false},
		{NAT, s.VIPNAT, true, true},
		{DR, s.VIPDR, false, true},
		{Martian, s.VIPMartian, true, true},
		// VXLAN stands in for ipip (this kernel has none): the director
		// forwards into tun0, the realserver replies over the return LAN.
		{TUN, s.VIPTUN, false, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			e, err := Program(dir.FD(), Config{Mode: tc.mode, VIP: tc.target, Port: 7000, Realservers: rs, Scheduler: "rr",
				InDev: s.DirectorInDev, OutDev: s.DirectorOutDev, OutMAC: outMAC, TunDev: lab.TunnelDev})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := e.Close(); err != nil {
					t.Error(err)
				}
			}()
			// Flows hash on source address and port: with 32 connections
			// the chance that all land on one of two realservers is 2^-31.
			seen := map[string]int{}
			for range 32 {
				name, err := exchange(client, net.JoinHostPort(tc.target.String(), "7000"))
				if err != nil {
					t.Fatalf("%s via %s: %v", tc.mode, tc.target, err)
				}
				seen[name]++
			}
			if tc.bothServers && len(seen) != 2 {
				t.Errorf("32 connections reached %v, want both realservers", seen)
			}
			cnt, err := e.Counters()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: servers %v, counters %+v", tc.mode, seen, cnt)
			if cnt.Requests == 0 {
				t.Errorf("no request counted on the director: the path did not go through it")
			}
			if tc.replies && cnt.Replies == 0 {
				t.Errorf("replies were not routed by the director, but mode %s must route them", tc.mode)
			}
			if !tc.replies && cnt.Replies != 0 {
				t.Errorf("%d reply packets crossed the director in mode %s; they must bypass it", cnt.Replies, tc.mode)
			}
		})
	}
	// Close removed every table.
	if out, err := dir.Exec(context.Background(), "nft", "list", "tables"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("tables left after Close: %s", out)
	} else if err != nil {
		if _, lerr := exec.LookPath("nft"); lerr == nil {
			t.Error(err)
		}
	}
}

// TestTunnelPathMTU checks the MTU effect of the VXLAN tunnel: after a
// bulk exchange the client's path MTU toward the TUN VIP is the link's
// 1500 less VXLAN's 50 bytes, learnt from the director's "fragmentation
// needed" (the realserver advertised an MSS for its 1500-byte return LAN).
func TestTunnelPathMTU(t *testing.T) {
	needRoot(t)
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, Tunnel: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(context.Background(), s.Spec, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	serveEcho(t, l.Host(lab.Realserver(1)), ":7000")
	mac, _ := net.ParseMAC(s.RealMAC[0])
	e, err := Program(l.Host(lab.Director).FD(), Config{Mode: TUN, VIP: s.VIPTUN, Port: 7000,
		Realservers: []Realserver{{Addr: s.RealLAN[0], MAC: mac, Mark: s.TunnelMarks[0]}},
		InDev:       s.DirectorInDev, OutDev: s.DirectorOutDev, TunDev: lab.TunnelDev})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := exchange(l.Host(lab.Client), net.JoinHostPort(s.VIPTUN.String(), "7000")); err != nil {
		t.Fatal(err)
	}
	var mtu int
	if err := l.Host(lab.Client).Do(func() error {
		// A fresh UDP socket connected to the VIP reads the route's cached
		// path MTU without sending anything.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: s.VIPTUN.As4()}); err != nil {
			return err
		}
		mtu, err = unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := 1500 - lab.VXLANOverhead; mtu != want {
		t.Errorf("client's path MTU to the TUN VIP is %d, want %d (1500 less VXLAN's %d bytes)", mtu, want, lab.VXLANOverhead)
	}
}

func TestTUNNeedsTunnelDevice(t *testing.T) {
	_, err := Program(-1, Config{Mode: TUN, VIP: netip.MustParseAddr("10.0.0.1"), InDev: "d0", OutDev: "br0",
		Realservers: []Realserver{{Addr: netip.MustParseAddr("10.0.0.2"), Mark: 1}}})
	if err == nil || !strings.Contains(err.Error(), "TunDev") {
		t.Errorf("tun without a tunnel device: err = %v, want one naming TunDev", err)
	}
}

func TestBuckets(t *testing.T) {
	rs := []Realserver{{Addr: netip.MustParseAddr("10.0.0.1"), Weight: 3}, {Addr: netip.MustParseAddr("10.0.0.2"), Weight: 1}}
	b, err := Buckets(rs, "wrr", 64)
	if err != nil {
		t.Fatal(err)
	}
	n := [2]int{}
	for _, i := range b {
		n[i]++
	}
	if n[0] != 48 || n[1] != 16 {
		t.Errorf("wrr 3:1 over 64 buckets gave %v, want [48 16]", n)
	}
	if _, err := Buckets(nil, "rr", 8); err == nil {
		t.Error("no realservers accepted")
	}
	if _, err := Buckets(rs, "nosuch", 8); err == nil {
		t.Error("unknown scheduler accepted")
	}
}

// transparentListen listens with IP_TRANSPARENT, as tproxy needs.
func transparentListen(t *testing.T, h *lab.HostNS, addr string) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_TRANSPARENT, 1) })
		return errors.Join(err, serr)
	}}
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = lc.Listen(context.Background(), "tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestTProxyOnRealserver(t *testing.T) {
	needRoot(t)
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(context.Background(), s.Spec, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rs := l.Host(lab.Realserver(1))
	ln := transparentListen(t, rs, ":7100")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Say which address the client reached: the VIP, which the
				// realserver holds no address for.
				io.WriteString(c, c.LocalAddr().(*net.TCPAddr).IP.String()+"\n")
				io.Copy(c, c)
			}()
		}
	}()
	mac, _ := net.ParseMAC(s.RealMAC[0])
	out, _ := net.ParseMAC(s.DirectorOutMAC)
	for _, vip := range []netip.Addr{s.VIPTP, s.VIPTPReal} {
		t.Run(vip.String(), func(t *testing.T) {
			e, err := Program(l.Host(lab.Director).FD(), Config{Mode: DR, VIP: vip, Port: 7100,
				Realservers: []Realserver{{Addr: s.RealLAN[0], MAC: mac}}, InDev: s.DirectorInDev, OutDev: s.DirectorOutDev, OutMAC: out})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			// Without tproxy the realserver has no socket for the VIP.
			if _, err := exchange(l.Host(lab.Client), net.JoinHostPort(vip.String(), "7100")); err == nil {
				t.Fatal("the realserver accepted the VIP before tproxy was programmed: it must not hold the VIP")
			}
			tp, err := ProgramTProxy(rs.FD(), []netip.Addr{vip}, 7100, s.TProxyMark)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Close()
			got, err := exchange(l.Host(lab.Client), net.JoinHostPort(vip.String(), "7100"))
			if err != nil || got != vip.String() {
				t.Fatalf("through tproxy: got %q, %v; want the VIP %v as the local address", got, err, vip)
			}
			n, err := tp.Packets()
			if err != nil || n == 0 {
				t.Errorf("tproxy counted %d packets (%v), want some", n, err)
			}
			cnt, _ := e.Counters()
			if cnt.Replies != 0 {
				t.Errorf("%d replies crossed the director; DR replies must bypass it", cnt.Replies)
			}
		})
	}
}
