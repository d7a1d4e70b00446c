package proxy

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"testing"

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
	if !l.copyOut(c, d, msg) {
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
			if !l.pump(c, d) {
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
