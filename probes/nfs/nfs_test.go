package nfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/timing"
)

func startServer(t *testing.T, o ServerOptions) *Server {
	t.Helper()
	return probetest.Server(t, func(ctx context.Context) (*Server, error) { return NewServer(ctx, o) })
}

func dial(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	return probetest.Client(t, func(ctx context.Context) (*Client, error) { return Dial(ctx, o) })
}

func TestCopyBothWays(t *testing.T) {
	s := startServer(t, ServerOptions{Files: 4})
	c := dial(t, ClientOptions{Addr: s.Addr(), RSize: 4096, WSize: 8192, Verify: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c.RSize() != 4096 || c.WSize() != 8192 {
		t.Fatalf("rsize %v wsize %v, want 4KiB and 8KiB (go-nfs allows up to 1GiB)", c.RSize(), c.WSize())
	}
	// file.3 was made by the server.
	if _, err := c.Read(ctx, "file.3", 8); err != nil {
		t.Fatal(err)
	}
	for _, n := range []timing.Bytes{0, 1, 4095, 4096, 100_000, 1 << 20} {
		name := probes.NameFor(n)
		if _, err := c.Write(ctx, name, n); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(s.Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, n)
		probes.FillFile(want, 0)
		if i := firstDiff(got, want); i >= 0 || len(got) != len(want) {
			t.Fatalf("%s on the server: %d bytes, first difference at %d; want %d bytes of Pattern", name, len(got), i, n)
		}
		d, err := c.Read(ctx, name, n)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 {
			t.Fatalf("read of %d bytes took %v", n, d)
		}
	}
	// Writing a shorter file over a longer one truncates it, as cp does.
	if err := os.WriteFile(filepath.Join(s.Dir(), "file.2"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(ctx, "file.2", 4); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(s.Dir(), "file.2")); err != nil || st.Size() != 4 {
		t.Fatalf("file.2 after writing 4 bytes over 1000: %v, %v", st, err)
	}
	// A read that finds another size fails.
	if _, err := c.Read(ctx, "file.2", 8); err == nil {
		t.Fatal("reading 8 bytes of a 4-byte file succeeded")
	}
}

func TestProbeSweep(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range []Direction{Read, Write} {
		sizes, err := timing.PowersOfTwo(0, 16)
		if err != nil {
			t.Fatal(err)
		}
		ser, err := timing.Sweep(ctx, NewProbe(c, d), timing.Options{Sizes: sizes, Budget: 2 * time.Second}, nil)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ser.Points) < 4 || ser.Fit == nil {
			t.Fatalf("%s: %d points, fit %v (%s)", d, len(ser.Points), ser.Fit, ser.FitError)
		}
		t.Logf("%s: latency %v max_rate %v", d, ser.Fit.Latency, ser.Fit.MaxRate)
	}
}
