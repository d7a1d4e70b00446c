package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/lab"
)

// mtuProbePort is the realserver port of the path-MTU probe.
const mtuProbePort = netpipePort + 2

// mtuProbeBytes is what the probe sends: enough full-sized segments for
// the director's "fragmentation needed" to come back and the client's
// TCP to settle on the smaller MSS.
const mtuProbeBytes = 1 << 20

// pathMTU is what the client's kernel settled on toward one target after
// a bulk TCP send.
type pathMTU struct {
	// pmtu is IP_MTU of the connected socket, mss TCP_INFO's snd_mss.
	pmtu, mss int
	// udp is the largest UDP payload the client's kernel lets out with
	// DF set (EMSGSIZE one byte above).
	udp int
}

// tunnelMTUs are the DR and TUN paths' MTU figures.
type tunnelMTUs struct{ dr, tun pathMTU }

// tunnelMTU measures the path MTU the client learns toward the DR VIP and
// toward the TUN VIP. The director's tunnel device has the underlay's MTU
// less VXLAN's 50 bytes, but the realserver advertises the MSS of its
// 1500-byte return LAN, so the client first sends full-sized segments and
// learns the smaller MTU from the director's ICMP "fragmentation needed",
// as with the seed's ipip tunnel (20 bytes less).
func tunnelMTU(ctx context.Context, l *lab.Lab, s lab.Seed) (tunnelMTUs, error) {
	var out tunnelMTUs
	if !s.VIPTUN.IsValid() {
		return out, errors.New("the lab has no tunnel (SeedOptions.Tunnel)")
	}
	for _, p := range []struct {
		mode   nft.Mode
		target netip.Addr
		into   *pathMTU
	}{{nft.DR, s.VIPDR, &out.dr}, {nft.TUN, s.VIPTUN, &out.tun}} {
		undo, err := program(l, s, labPath{name: string(p.mode), mode: p.mode, target: p.target, port: mtuProbePort})
		if err != nil {
			return out, err
		}
		m, err := measurePathMTU(ctx, l.Host(lab.Realserver(1)), l.Host(lab.Client), p.target)
		if uerr := undo(); err == nil {
			err = uerr
		}
		if err != nil {
			return out, fmt.Errorf("%s path MTU: %w", p.mode, err)
		}
		*p.into = m
	}
	return out, nil
}

// measurePathMTU sends mtuProbeBytes from client to a sink on server at
// target, waits for the sink's one-byte acknowledgement, and reads the
// client socket's path MTU and MSS.
func measurePathMTU(ctx context.Context, server, client *lab.HostNS, target netip.Addr) (pathMTU, error) {
	var ln net.Listener
	if err := server.Do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", mtuProbePort))
		return err
	}); err != nil {
		return pathMTU{}, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.CopyN(io.Discard, c, mtuProbeBytes); err == nil {
			c.Write([]byte{1})
		}
	}()
	addr := net.JoinHostPort(target.String(), fmt.Sprint(mtuProbePort))
	c, err := client.DialTCP(ctx, addr, 3*time.Second)
	if err != nil {
		return pathMTU{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(make([]byte, mtuProbeBytes)); err != nil {
		return pathMTU{}, fmt.Errorf("send %d bytes to %s: %w", mtuProbeBytes, addr, err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return pathMTU{}, fmt.Errorf("acknowledgement from %s: %w", addr, err)
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return pathMTU{}, err
	}
	var m pathMTU
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if m.pmtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU); serr != nil {
			return
		}
		var ti *unix.TCPInfo
		if ti, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); serr == nil {
			m.mss = int(ti.Snd_mss)
		}
	}); err != nil || serr != nil {
		return pathMTU{}, fmt.Errorf("read IP_MTU and TCP_INFO: %w", errors.Join(err, serr))
	}
	if err := client.Do(func() (err error) { m.udp, err = largestDF(target, m.pmtu); return err }); err != nil {
		return m, err
	}
	return m, nil
}

// largestDF finds the largest UDP payload a DF socket may send to target
// (discard port), trying the sizes around what pmtu predicts: the kernel
// refuses a larger one with EMSGSIZE before anything leaves.
func largestDF(target netip.Addr, pmtu int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
		return 0, err
	}
	to := &unix.SockaddrInet4{Port: 9, Addr: target.As4()}
	if err := unix.Connect(fd, to); err != nil {
		return 0, err
	}
	best := 0
	for n := pmtu - 28 - 2; n <= pmtu-28+2; n++ {
		err := unix.Send(fd, make([]byte, n), 0)
		if errors.Is(err, syscall.EMSGSIZE) {
			break
		}
		if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return 0, fmt.Errorf("UDP %d bytes with DF: %w", n, err)
		}
		best = n
	}
	return best, nil
}

// text is the MTU table of the paths experiment, with ipip's figures
// (computed from its 20-byte header, not measured: this kernel has no
// ipip) and the max rate ratio tun/dr beside the MSS ratio.
func (t tunnelMTUs) text(by map[string]*measured) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tunnel MTU (\"tun\" is VXLAN-encapsulated: this kernel has no ipip, gre, fou or geneve; VXLAN adds %d bytes per packet, ipip %d):\n",
		lab.VXLANOverhead, lab.IPIPOverhead)
	fmt.Fprintf(&b, "%-28s %9s %8s %22s\n", "path", "path MTU", "TCP MSS", "largest DF UDP payload")
	for _, r := range []struct {
		name string
		m    pathMTU
	}{{"dr (measured)", t.dr}, {"tun, VXLAN (measured)", t.tun}} {
		fmt.Fprintf(&b, "%-28s %9d %8d %22d\n", r.name, r.m.pmtu, r.m.mss, r.m.udp)
	}
	ip := t.dr.pmtu - lab.IPIPOverhead
	fmt.Fprintf(&b, "%-28s %9d %8d %22d\n", "tun, ipip (computed)", ip, t.dr.mss-lab.IPIPOverhead, ip-28)
	if d, u := by["dr"], by["tun"]; d != nil && u != nil && d.rep.Fit != nil && u.rep.Fit != nil && t.dr.mss > 0 {
		fmt.Fprintf(&b, "max rate tun/dr %.3f (MSS ratio %d/%d = %.3f; offloads off, so every segment is one packet)\n",
			float64(u.rep.Fit.MaxRate)/float64(d.rep.Fit.MaxRate), t.tun.mss, t.dr.mss, float64(t.tun.mss)/float64(t.dr.mss))
	}
	return b.String()
}
