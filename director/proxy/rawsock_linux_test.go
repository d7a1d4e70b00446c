package proxy

import (
	"net"
	"net/netip"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// A realserver that never answers the handshake (its accept queue full, so
// the kernel drops the SYNs) takes dialRaw's slow path: the connect is
// still pending when connect(2) returns, and the dial timeout ends it.
func TestTCPUnansweredRealserverTimesOut(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	full := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue (backlog 0 holds one or two); nobody accepts.
	// A dial that times out shows it is full.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", full.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
		if i == 8 {
			t.Skip("the kernel keeps accepting handshakes on a full backlog-0 queue; cannot make an unanswered realserver")
		}
	}
	for _, mode := range []CopyMode{CopySplice, CopyEventLoop} {
		t.Run(mode.String(), func(t *testing.T) { testUnanswered(t, full, mode) })
	}
}

func testUnanswered(t *testing.T, full netip.AddrPort, mode CopyMode) {
	const timeout = 300 * time.Millisecond
	pk := &testPicker{dests: []netip.AddrPort{full}}
	px, vip := startProxy(t, pk, dataplane.TCP, Options{Copy: mode, DialTimeout: timeout})
	start := time.Now()
	c, err := net.Dial("tcp", vip.String())
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	took := time.Since(start)
	if !isResetOrEOF(err) {
		t.Fatalf("read from a client whose realserver does not answer: want EOF or reset, got %v", err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("unanswered realserver: want the client closed after the %v dial timeout, took %v", timeout, took)
	}
	f := waitClosed(t, pk, 1)[0]
	if ev := f.evs(); !slices.Equal(ev, []dataplane.Event{dataplane.DialFailed, dataplane.Closed}) {
		t.Errorf("events: want [dial-failed closed], got %v", ev)
	}
	if s := px.Stats(); s.DialFailed != 1 {
		t.Errorf("stats DialFailed: want 1, got %d", s.DialFailed)
	}
}

// On Linux the zero Options pick the event-loop engine with one loop fewer
// than Ps (at least one).
func TestDefaultEngineLinux(t *testing.T) {
	px, _ := startProxy(t, &testPicker{}, dataplane.TCP, Options{})
	o := px.Options()
	if o.Copy != CopyEventLoop {
		t.Errorf("default copy mode on Linux: want %v, got %v", CopyEventLoop, o.Copy)
	}
	if want := max(1, runtime.GOMAXPROCS(0)-1); o.Loops != want {
		t.Errorf("default event loops: want %d (GOMAXPROCS-1, at least 1), got %d", want, o.Loops)
	}
}
