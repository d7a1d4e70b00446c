package netpipe

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/timing"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(context.Background(), ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, o Options) *Transmitter {
	t.Helper()
	tr, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestLoopbackSweepEndToEnd(t *testing.T) {
	s := startServer(t)
	tr := dial(t, Options{Addr: s.Addr(), Verify: true})
	sizes, _ := timing.NetPIPESizes(1, 256*timing.KiB, 3)
	series, err := timing.Sweep(context.Background(), tr, timing.Options{Sizes: sizes, TrialTime: 2 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(series.Points) != len(sizes) {
		t.Fatalf("%d points, want %d", len(series.Points), len(sizes))
	}
	for _, p := range series.Points {
		if p.Min <= 0 || p.Min > p.Median || p.Median > p.Max || p.Transfers != p.Reps*3 {
			t.Errorf("size %d: inconsistent point %+v", p.Bytes, p)
		}
	}
	small, large := series.Points[0], series.Points[len(series.Points)-1]
	if large.Min <= small.Min {
		t.Errorf("256 KiB (%v) not slower than 1 B (%v)", large.Min, small.Min)
	}
	if series.Fit == nil || series.Fit.Latency <= 0 || series.Fit.MaxRate <= 0 {
		t.Errorf("no usable fit: %+v %s", series.Fit, series.FitError)
	}
	if s.Errors() != 0 {
		t.Errorf("receiver counted %d errors", s.Errors())
	}
}

func TestReconnectPerSize(t *testing.T) {
	s := startServer(t)
	tr := dial(t, Options{Addr: s.Addr(), Reconnect: true})
	each := make([]time.Duration, 5)
	for _, n := range []timing.Bytes{1, 2, 2, 3} {
		if _, err := tr.Run(context.Background(), n, each); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Served(); got != 3 {
		t.Errorf("receiver saw %d connections for 3 distinct sizes, want 3", got)
	}
}

func TestStreamAck(t *testing.T) {
	s := startServer(t)
	tr := dial(t, Options{Addr: s.Addr(), Verify: true})
	d, err := tr.Stream(context.Background(), 64*timing.KiB, 50)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d > 10*time.Second {
		t.Errorf("receiver time %v for 50×64 KiB", d)
	}
}

func TestReceiverDiesMidRun(t *testing.T) {
	s, err := NewServer(context.Background(), ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tr := dial(t, Options{Addr: s.Addr()})
	sizes, _ := timing.PowersOfTwo(0, 22)
	killed := false
	series, err := timing.Sweep(context.Background(), tr, timing.Options{Sizes: sizes, TrialTime: 2 * time.Millisecond, Warmup: -1},
		func(p timing.Progress) {
			if p.Index == 4 && !killed {
				killed = true
				s.Close()
			}
		})
	if err == nil || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("err = %v, want a message saying the receiver went away", err)
	}
	if len(series.Points) != 5 {
		t.Errorf("kept %d points, want the 5 finished before the receiver died", len(series.Points))
	}
}

func TestBadInput(t *testing.T) {
	s := startServer(t)
	// A port in use.
	if _, err := NewServer(context.Background(), ServerOptions{Listen: s.Addr()}); err == nil || !strings.Contains(err.Error(), "pick another port") {
		t.Errorf("second receiver on %s: %v", s.Addr(), err)
	}
	// Nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), Options{Addr: dead, DialTimeout: time.Second}); !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), dead) {
		// The CLI adds the hint for the error's kind (internal/hint); the
		// library names the address and keeps the cause.
		t.Errorf("dial to a closed port: %v", err)
	}
	// A server that is not a netpipe receiver.
	junk, _ := net.Listen("tcp", "127.0.0.1:0")
	defer junk.Close()
	go func() {
		c, err := junk.Accept()
		if err == nil {
			c.Write([]byte("SSH-2.0-OpenSSH\r\n"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	if _, err := Dial(context.Background(), Options{Addr: junk.Addr().String(), DialTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("dial to a non-netpipe server: %v", err)
	}
	tr := dial(t, Options{Addr: s.Addr()})
	if _, err := tr.Run(context.Background(), 0, make([]time.Duration, 1)); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestReceiverSurvivesGarbage(t *testing.T) {
	s := startServer(t)
	send := func(b []byte) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c) // the receiver must hang up, not hang
	}
	var hdr [wire.HeaderLen]byte
	wire.Header{Op: wire.OpPingPong, Reps: 1, Size: wire.MaxSize + 1}.Encode(hdr[:])
	send([]byte("GET / HTTP/1.0\r\n\r\n"))
	send(append([]byte(wire.Magic), hdr[:]...))       // oversized message
	send(append([]byte(wire.Magic), 'Z', 0, 0, 0, 1)) // unknown op, truncated
	send(append([]byte(wire.Magic), make([]byte, 16)...))
	// Still serving.
	tr := dial(t, Options{Addr: s.Addr()})
	if _, err := tr.Run(context.Background(), 100, make([]time.Duration, 10)); err != nil {
		t.Fatalf("receiver stopped serving after garbage: %v", err)
	}
}

func TestCancelWakesBlockedTransfer(t *testing.T) {
	// A receiver that accepts the greeting and then goes silent.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, len(wire.Magic))
		io.ReadFull(c, b)
		c.Write(b)
		time.Sleep(5 * time.Second)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	tr, err := Dial(ctx, Options{Addr: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = tr.Run(ctx, 10, make([]time.Duration, 1))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("Run on a silent receiver returned %v after %v; want context.Canceled promptly", err, time.Since(start))
	}
}

func FuzzDecodeHeader(f *testing.F) {
	var b [wire.HeaderLen]byte
	wire.Header{Op: wire.OpPingPong, Reps: 3, Size: 1500}.Encode(b[:])
	f.Add(b[:])
	f.Add([]byte("QQQQQQQQQQQQQQQQ"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := wire.DecodeHeader(data)
		if err != nil {
			return
		}
		if h.Op != wire.OpQuit && (h.Size > wire.MaxSize || h.Reps == 0 || h.Reps > wire.MaxReps) {
			t.Fatalf("accepted out-of-range header %+v", h)
		}
		var out [wire.HeaderLen]byte
		h.Encode(out[:])
		if h2, err := wire.DecodeHeader(out[:]); err != nil || h2 != h {
			t.Fatalf("header %+v does not round-trip: %+v %v", h, h2, err)
		}
	})
}
