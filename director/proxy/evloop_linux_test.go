package proxy

import (
	"bytes"
	"crypto/rand"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A copied read that the destination has no room for is parked in the
// direction's pipe, and the next pump delivers it after what was queued
// before, in order.
func TestEventLoopCopyParksInPipe(t *testing.T) {
	dst, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range [4]int{dst[0], dst[1], src[0], src[1]} {
		defer unix.Close(fd)
	}
	// Fill the destination until it takes nothing more.
	unix.SetsockoptInt(dst[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	var queued []byte
	chunk := make([]byte, 1000)
	for i := 0; ; i++ {
		chunk[0] = byte(i)
		n, err := unix.Write(dst[0], chunk)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, chunk[:n]...)
	}
	l := &evLoop{p: &Proxy{opts: Options{PipeBytes: 64 << 10}}, maxPipes: 1, buf: make([]byte, copyBytes)}
	d := &evDir{src: src[0], dst: dst[0]}
	c := &evConn{}
	msg := make([]byte, 10000)
	rand.Read(msg)
	if !l.copyOut(c, d, msg, false) {
		t.Fatal("copyOut into a full destination ended the connection; want the rest parked")
	}
	if d.inPipe == 0 || d.pipe == nil {
		t.Fatalf("copyOut into a full destination: want bytes parked in the pipe, got %d (pipe %v)", d.inPipe, d.pipe)
	}
	defer d.pipe.close()
	// The reader catches up; pumping again delivers the parked bytes.
	var got []byte
	buf := make([]byte, 64<<10)
	for len(got) < len(queued)+len(msg) {
		n, err := unix.Read(dst[1], buf)
		if err == unix.EAGAIN {
			if d.inPipe == 0 {
				break
			}
			if !l.pump(c, d, false) {
				t.Fatal("pump ended the connection")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if want := append(queued, msg...); !bytes.Equal(got, want) {
		t.Fatalf("destination got %d bytes, want %d in order (equal=%v)", len(got), len(want), bytes.Equal(got, want))
	}
	if d.inPipe != 0 || d.spliced {
		t.Errorf("after delivery: want an empty pipe and a direction still copying, got %d bytes in the pipe, spliced=%v", d.inPipe, d.spliced)
	}
}

// A dedicated process gets one loop per CPU (or the loops asked for) and
// one P more than loops, unless GOMAXPROCS was set by the environment.
func TestDedicatedProcess(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	if got := DedicatedProcess(0); got != runtime.NumCPU() {
		t.Errorf("DedicatedProcess(0): want %d loops (one per CPU), got %d", runtime.NumCPU(), got)
	}
	if got := runtime.GOMAXPROCS(0); got != runtime.NumCPU()+1 {
		t.Errorf("GOMAXPROCS after DedicatedProcess(0): want %d, got %d", runtime.NumCPU()+1, got)
	}
	if got := DedicatedProcess(runtime.NumCPU() + 3); got != runtime.NumCPU()+3 || runtime.GOMAXPROCS(0) != runtime.NumCPU()+4 {
		t.Errorf("DedicatedProcess(%d): want as many loops and GOMAXPROCS %d, got %d loops, GOMAXPROCS %d", runtime.NumCPU()+3, runtime.NumCPU()+4, got, runtime.GOMAXPROCS(0))
	}
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	DedicatedProcess(2)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with GOMAXPROCS=1 in the environment: want GOMAXPROCS left at 1, got %d", got)
	}
}

// tcpPair returns the two ends of a loopback TCP connection, non-blocking.
func tcpPair(t *testing.T) (a, b int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Duplicates outlive the net.Conns closed above.
	dup := func(conn net.Conn) int {
		f, err := conn.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		unix.SetNonblock(fd, true)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	return dup(c), dup(s)
}

// readFor reads fd until EOF or the time is up.
func readFor(fd int, d time.Duration) (got []byte, eof bool) {
	buf := make([]byte, 1024)
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, err := unix.Read(fd, buf)
		switch {
		case err == nil && n == 0:
			return got, true
		case err == nil:
			got = append(got, buf[:n]...)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	return got, false
}

// With the source's FIN seen, the last short read is sent with MSG_MORE and
// leaves with the half-close; should the end not follow, the held bytes
// are pushed out at once all the same.
func TestEventLoopLastDataCarriesFIN(t *testing.T) {
	for _, fin := range []bool{true, false} {
		srcW, srcR := tcpPair(t)
		dstW, dstR := tcpPair(t)
		unix.Write(srcW, []byte("last"))
		if fin {
			unix.Shutdown(srcW, unix.SHUT_WR)
		}
		time.Sleep(20 * time.Millisecond) // both have arrived
		l := &evLoop{p: &Proxy{opts: Options{PipeBytes: 64 << 10}}, maxPipes: 1, buf: make([]byte, copyBytes)}
		c := &evConn{flow: &testFlow{}}
		c.in = evDir{src: srcR, dst: dstW}
		c.out = evDir{ended: false}
		if !l.pump(c, &c.in, true) {
			t.Fatalf("fin=%v: pump ended the connection", fin)
		}
		if c.in.ended != fin {
			t.Errorf("fin=%v: direction ended=%v", fin, c.in.ended)
		}
		got, eof := readFor(dstR, 100*time.Millisecond)
		if string(got) != "last" || eof != fin {
			t.Errorf("fin=%v: destination read %q, end of stream %v; want %q and %v within 100 ms", fin, got, eof, "last", fin)
		}
	}
}
