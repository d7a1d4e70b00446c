package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
	"golang.org/x/sync/errgroup"
)

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func TestTCPRelayAllModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"default", Options{}},
		{"splice", Options{Copy: CopySplice}},
		{"iocopy", Options{Copy: CopyIOCopy}},
		{"blocking", Options{Copy: CopySplice, BlockingConns: 1}},
		{"eventloop", Options{Copy: CopyEventLoop}},
	} {
		mode := tc.o.Copy
		t.Run(tc.name, func(t *testing.T) {
			pk := &testPicker{dests: []netip.AddrPort{startEcho(t)}}
			o := tc.o
			o.PipeBytes = 64 << 10
			_, vip := startProxy(t, pk, dataplane.TCP, o)
			c, err := net.Dial("tcp", vip.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// 3 MiB: several pipe-fulls, so the loop must go round.
			msg := make([]byte, 3<<20)
			rand.Read(msg)
			go func() {
				c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read echo: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echo through the proxy: want %d bytes back unchanged, got %d bytes (equal=%v)", len(msg), len(got), bytes.Equal(got, msg))
			}
			fl := waitClosed(t, pk, 1)
			f := fl[0]
			if f.inBytes.Load() != int64(len(msg)) || f.outBytes.Load() != int64(len(msg)) {
				t.Errorf("counted bytes in/out: want %d/%d, got %d/%d", len(msg), len(msg), f.inBytes.Load(), f.outBytes.Load())
			}
			if mode == CopySplice && (f.inPkts.Load() < 3 || f.outPkts.Load() < 3) {
				t.Errorf("counted packets in/out: want at least 3 each for 3 MiB through 64 KiB pipes, got %d/%d", f.inPkts.Load(), f.outPkts.Load())
			}
			ev := f.evs()
			if ev[0] != dataplane.Established || ev[len(ev)-1] != dataplane.Closed ||
				!slices.Contains(ev, dataplane.ClientFin) || !slices.Contains(ev, dataplane.ServerFin) {
				t.Errorf("events: want established, client-fin, server-fin, closed; got %v", ev)
			}
			if f.late != 0 {
				t.Errorf("calls on the flow after Closed: want 0, got %d", f.late)
			}
			if f.client.Port() == 0 || f.vip != vip {
				t.Errorf("Connect args: want client with a port and vip %s, got client %s vip %s", vip, f.client, f.vip)
			}
		})
	}
}

// A request/response protocol that ends the request with a half-close (rsh,
// lpd) needs the FIN passed on while the answer still flows back.
func TestTCPHalfClose(t *testing.T) {
	t.Run("poller", func(t *testing.T) { testHalfClose(t, Options{Copy: CopySplice}) })
	t.Run("blocking", func(t *testing.T) { testHalfClose(t, Options{Copy: CopySplice, BlockingConns: 1}) })
	t.Run("eventloop", func(t *testing.T) { testHalfClose(t, Options{Copy: CopyEventLoop}) })
}

// tcpEngines are the TCP engines every behavioural test runs over.
var tcpEngines = []CopyMode{CopySplice, CopyIOCopy, CopyEventLoop}

// forEngines runs f once per TCP engine, as a subtest named after it.
func forEngines(t *testing.T, f func(t *testing.T, mode CopyMode)) {
	t.Helper()
	for _, m := range tcpEngines {
		t.Run(m.String(), func(t *testing.T) { f(t, m) })
	}
}

func testHalfClose(t *testing.T, o Options) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c) // until the client's FIN
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintf(c, "got %d bytes", n)
	}()
	pk := &testPicker{dests: []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}}
	_, vip := startProxy(t, pk, dataplane.TCP, o)
	c, err := net.Dial("tcp", vip.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 100000))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "got 100000 bytes" {
		t.Fatalf("answer after half-close: want %q, got %q (err %v)", "got 100000 bytes", got, err)
	}
}

func TestTCPDeadRealserverFailsFast(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		pk := &testPicker{}
		px, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode, DialTimeout: 5 * time.Second})
		// A port nobody listens on: bind, note it, close (and not the VIP's,
		// or the proxy would dial itself).
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().(*net.TCPAddr).AddrPort()
		ln.Close()
		if dead == vip {
			t.Fatalf("the kernel gave the proxy's port %s twice", vip)
		}
		pk.setDests(dead)
		start := time.Now()
		c, err := net.Dial("tcp", vip.String())
		if err == nil {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
		}
		took := time.Since(start)
		if !isResetOrEOF(err) {
			t.Fatalf("read from a client whose realserver is dead: want EOF or reset, got %v", err)
		}
		if took > time.Second {
			t.Errorf("dead realserver: want the client closed at once (refused connect), took %v", took)
		}
		f := waitClosed(t, pk, 1)[0]
		if ev := f.evs(); !slices.Equal(ev, []dataplane.Event{dataplane.DialFailed, dataplane.Closed}) {
			t.Errorf("events: want [dial-failed closed], got %v", ev)
		}
		if s := px.Stats(); s.DialFailed != 1 {
			t.Errorf("stats DialFailed: want 1, got %d", s.DialFailed)
		}
	})
}

func TestTCPNoDestinationRefused(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		pk := &testPicker{none: true}
		px, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		c, err := net.Dial("tcp", vip.String())
		if err == nil {
			// The reset may come before or after the dial returns.
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
		}
		if !isResetOrEOF(err) {
			t.Fatalf("connect and read with no realserver: want EOF or reset, got %v", err)
		}
		if n := settle(0, func() int { return 1 - int(px.Stats().Refused) }); n != 0 {
			t.Errorf("stats Refused: want 1, got %d", px.Stats().Refused)
		}
	})
}

func TestUnlistenKeepsFlows(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		pk := &testPicker{dests: []netip.AddrPort{startEcho(t)}}
		px, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		c, err := net.Dial("tcp", vip.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := px.Unlisten(dataplane.TCP, vip); err != nil {
			t.Fatal(err)
		}
		if _, err := net.DialTimeout("tcp", vip.String(), time.Second); err == nil {
			t.Errorf("dial after Unlisten: want refused, got a connection")
		}
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Errorf("existing flow after Unlisten: want %q echoed, got %q (%v)", "ping", buf, err)
		}
		if err := px.Unlisten(dataplane.TCP, vip); err == nil {
			t.Errorf("second Unlisten: want an error, got nil")
		}
	})
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// settle waits until f() <= want or the settle time passes, returning f().
func settle(want int, f func() int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := f()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 10,000 connections through the proxy (2,000 more with half the clients on
// blocking splice) leave no goroutines or descriptors.
func TestNoLeaks10000Connections(t *testing.T) {
	t.Run("poller", func(t *testing.T) { testNoLeaks(t, Options{Copy: CopySplice}, 10000) })
	t.Run("mixed", func(t *testing.T) { testNoLeaks(t, Options{Copy: CopySplice, BlockingConns: 25}, 2000) })
	t.Run("eventloop", func(t *testing.T) { testNoLeaks(t, Options{Copy: CopyEventLoop}, 10000) })
}

func testNoLeaks(t *testing.T, o Options, conns int) {
	const clients = 50
	echo := startEcho(t)
	runtime.GC()
	fds0 := openFDs(t)
	g0 := runtime.NumGoroutine()

	pk := &testPicker{dests: []netip.AddrPort{echo}}
	px, err := New(context.Background(), pk, o)
	if err != nil {
		t.Fatal(err)
	}
	vip, err := px.Listen(dataplane.TCP, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var g errgroup.Group
	var mu sync.Mutex
	done := 0
	for range clients {
		g.Go(func() error {
			buf := make([]byte, 1)
			for i := 0; i < conns/clients; i++ {
				if ctx.Err() != nil {
					return fmt.Errorf("after %d connections: %w", done, ctx.Err())
				}
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", vip.String())
				if err != nil {
					return err
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte{'x'}); err != nil {
					c.Close()
					return err
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					c.Close()
					return fmt.Errorf("1-byte exchange: %w", err)
				}
				c.Close()
				mu.Lock()
				done++
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("client: %v", err)
	}
	// While still running, every flow must end and only the bounded pipe
	// pool may hold descriptors (2 per pipe).
	waitClosed(t, pk, conns)
	pool := 2 * 2 * px.Options().PoolPipes // poller and blocking pools
	if n := settle(fds0+2+pool, func() int { return openFDs(t) }); n > fds0+2+pool {
		t.Errorf("open descriptors with the proxy idle: want at most %d (baseline %d + listener + pipe pool %d), got %d", fds0+2+pool, fds0, pool, n)
	}
	if s := px.Stats(); s.Active != 0 || s.Accepted != int64(conns) {
		t.Errorf("stats: want %d accepted, 0 active; got %+v", conns, s)
	}
	if err := px.Close(); err != nil {
		t.Fatal(err)
	}
	if n := settle(fds0, func() int { return openFDs(t) }); n > fds0 {
		t.Errorf("open descriptors after %d connections and Close: want at most %d as before, got %d: %v", conns, fds0, n, fdKinds())
	}
	if n := settle(g0, runtime.NumGoroutine); n > g0 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines after %d connections and Close: want %d as before, got %d\n%s", conns, g0, n, buf[:runtime.Stack(buf, true)])
	}
	for _, f := range pk.all() {
		if f.late != 0 {
			t.Fatalf("calls on a flow after Closed: want 0, got %d", f.late)
		}
	}
}

func TestCloseEndsOpenConnections(t *testing.T) {
	// Three of the five on blocking splice: Close must wake them too.
	t.Run("mixed", func(t *testing.T) { testCloseEnds(t, Options{Copy: CopySplice, BlockingConns: 3}) })
	t.Run("eventloop", func(t *testing.T) { testCloseEnds(t, Options{Copy: CopyEventLoop}) })
}

func testCloseEnds(t *testing.T, o Options) {
	pk := &testPicker{dests: []netip.AddrPort{startEcho(t)}}
	px, vip := startProxy(t, pk, dataplane.TCP, o)
	var cs []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", vip.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("a"))
		io.ReadFull(c, make([]byte, 1))
		cs = append(cs, c)
	}
	done := make(chan struct{})
	go func() { px.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close with 5 open connections: want it to return, still waiting after 5s")
	}
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !isResetOrEOF(err) {
			t.Errorf("client after Close: want EOF or reset, got %v", err)
		}
	}
	waitClosed(t, pk, 5)
	if _, err := px.Listen(dataplane.TCP, netip.MustParseAddrPort("127.0.0.1:0")); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: want ErrClosed, got %v", err)
	}
}

// fdKinds counts open descriptors by what they point at.
func fdKinds() map[string]int {
	m := map[string]int{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue
		}
		if i := strings.IndexByte(l, ':'); i > 0 {
			l = l[:i]
		}
		m[l]++
	}
	return m
}

func startUDPEcho(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func udpExchange(t *testing.T, c net.Conn, msg string) error {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != msg {
		return fmt.Errorf("want %q echoed, got %q", msg, buf[:n])
	}
	return nil
}

// UDP flows end after their idle timeout, and the table is bounded:
// datagrams from clients beyond it are dropped and counted.
func TestUDPIdleTimeoutAndBound(t *testing.T) {
	pk := &testPicker{dests: []netip.AddrPort{startUDPEcho(t)}}
	px, vip := startProxy(t, pk, dataplane.UDP, Options{UDPIdleTimeout: 100 * time.Millisecond, UDPMaxFlows: 2})
	var cs []net.Conn
	for i := range 3 {
		c, err := net.Dial("udp", vip.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
		err = udpExchange(t, c, fmt.Sprintf("hello %d", i))
		if i < 2 && err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if i == 2 && err == nil {
			t.Fatalf("client 3 with a table of 2 flows: want its datagram dropped, got an answer")
		}
	}
	if s := px.Stats(); s.UDPDropped == 0 || s.Accepted != 2 {
		t.Errorf("stats with a full table: want 2 flows and drops counted, got %+v", s)
	}
	// After the idle timeout the two flows end, and the third client gets in.
	fl := waitClosed(t, pk, 2)
	for _, f := range fl {
		if f.inPkts.Load() != 1 || f.outPkts.Load() != 1 || f.inBytes.Load() != 7 {
			t.Errorf("flow counts: want 1 datagram (7 bytes) each way, got in %d/%d out %d", f.inPkts.Load(), f.inBytes.Load(), f.outPkts.Load())
		}
		if ev := f.evs(); !slices.Equal(ev, []dataplane.Event{dataplane.Established, dataplane.Closed}) {
			t.Errorf("UDP flow events: want [established closed], got %v", ev)
		}
	}
	if err := udpExchange(t, cs[2], "again"); err != nil {
		t.Errorf("client 3 after the idle flows expired: %v", err)
	}
}

// A realserver that is the virtual service itself is refused, not dialled
// in a loop.
func TestTCPRealserverIsVIP(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		pk := &testPicker{}
		px, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		pk.setDests(vip)
		c, err := net.Dial("tcp", vip.String())
		if err == nil {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
		}
		if !isResetOrEOF(err) {
			t.Fatalf("read when the realserver is the VIP: want EOF or reset, got %v", err)
		}
		time.Sleep(50 * time.Millisecond)
		if n := len(pk.all()); n != 1 {
			t.Errorf("flows: want 1 (no self-dial loop), got %d", n)
		}
		if s := px.Stats(); s.DialFailed != 1 {
			t.Errorf("stats DialFailed: want 1, got %d", s.DialFailed)
		}
	})
}

// A client's reset reaches the realserver as a reset, as LVS-NAT forwards it.
func TestTCPResetForwarded(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- err
				return
			}
			defer c.Close()
			buf := make([]byte, 1)
			if _, err := io.ReadFull(c, buf); err != nil {
				got <- err
				return
			}
			c.Write(buf)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(buf)
			got <- err
		}()
		pk := &testPicker{dests: []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}}
		_, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		c, err := net.Dial("tcp", vip.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("1-byte exchange before the reset: %v", err)
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		if err := <-got; !isReset(err) {
			t.Errorf("realserver read after the client's reset: want ECONNRESET, got %v", err)
		}
		f := waitClosed(t, pk, 1)[0]
		if ev := f.evs(); !slices.Contains(ev, dataplane.Reset) {
			t.Errorf("events: want a reset among them, got %v", ev)
		}
	})
}

// A realserver's reset reaches the client as a reset.
func TestTCPRealserverResetForwarded(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1)
			if _, err := io.ReadFull(c, buf); err == nil {
				c.Write(buf)
			}
			// Wait for the client's second byte, then reset.
			io.ReadFull(c, buf)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
		pk := &testPicker{dests: []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}}
		_, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		c, err := net.Dial("tcp", vip.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("x"))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("1-byte exchange before the reset: %v", err)
		}
		c.Write([]byte("y"))
		if _, err := c.Read(make([]byte, 1)); !isReset(err) {
			t.Errorf("client read after the realserver's reset: want ECONNRESET, got %v", err)
		}
		f := waitClosed(t, pk, 1)[0]
		if ev := f.evs(); !slices.Contains(ev, dataplane.Reset) {
			t.Errorf("events: want a reset among them, got %v", ev)
		}
	})
}

// A realserver that speaks first (an FTP banner) is heard before the client
// sends anything.
func TestTCPRealserverSpeaksFirst(t *testing.T) {
	forEngines(t, func(t *testing.T, mode CopyMode) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("220 ready\r\n"))
				c.Close()
			}
		}()
		pk := &testPicker{dests: []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}}
		_, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode})
		for i := range 20 {
			c, err := net.Dial("tcp", vip.String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != "220 ready\r\n" {
				t.Fatalf("connection %d: want the banner %q, got %q (%v)", i, "220 ready\r\n", got, err)
			}
		}
	})
}
