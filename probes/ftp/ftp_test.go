package ftp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

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

func readAll(t *testing.T, fs afero.Fs, name string) []byte {
	t.Helper()
	b, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGetPutEveryMode(t *testing.T) {
	for _, storage := range []Storage{Memory, Disk} {
		s := startServer(t, ServerOptions{Storage: storage, Files: 3, User: "bench", Password: "pw"})
		for _, o := range []ClientOptions{
			{},
			{DisableEPSV: true},
			{Active: true},
			{LoginPerTransfer: true},
			{Active: true, LoginPerTransfer: true},
		} {
			o.Addr, o.User, o.Password, o.Verify = s.Addr(), "bench", "pw", true
			c := dial(t, o)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if _, err := c.Get(ctx, "file.2", 4); err != nil {
				t.Fatalf("%s %+v: %v", storage, o, err)
			}
			for _, n := range []timing.Bytes{0, 1, 1000, 1 << 20} {
				if _, err := c.Put(ctx, probes.NameFor(n), n); err != nil {
					t.Fatalf("%s %+v: %v", storage, o, err)
				}
				got := readAll(t, s.FS(), "/"+probes.NameFor(n))
				want := make([]byte, n)
				probes.FillFile(want, 0)
				if string(got) != string(want) {
					t.Fatalf("%s %+v: %s on the server has %d bytes, not the %d put", storage, o, probes.NameFor(n), len(got), n)
				}
				if d, err := c.Get(ctx, probes.NameFor(n), n); err != nil || d <= 0 {
					t.Fatalf("%s %+v: get %d bytes: %v, %v", storage, o, n, d, err)
				}
			}
			cancel()
			c.Close()
		}
		if storage == Disk {
			entries, _ := os.ReadDir(s.Dir())
			for _, e := range entries {
				if strings.Contains(e.Name(), ".part-") {
					t.Errorf("left a temporary upload %s", e.Name())
				}
			}
		}
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	s := startServer(t, ServerOptions{User: "bench", Password: "pw"})
	for _, active := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Dial(ctx, ClientOptions{Addr: s.Addr(), User: "bench", Password: "nope", Active: active})
		cancel()
		if err == nil {
			t.Fatalf("active=%v: logged in with a wrong password", active)
		}
	}
}

func TestSinkDiscards(t *testing.T) {
	s := startServer(t, ServerOptions{Sink: true, Files: 4})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "up", 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FS().Stat("/up"); err == nil {
		t.Fatal("a sink kept an upload")
	}
	if _, err := c.Get(ctx, "file.3", 8); err != nil {
		t.Fatal(err)
	}
}

func TestMaxUploadRefused(t *testing.T) {
	s := startServer(t, ServerOptions{MaxUpload: 1000})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "big", 100_000); err == nil {
		t.Fatal("server accepted 100000 bytes past a 1000-byte limit")
	}
	if _, err := s.FS().Stat("/big"); err == nil {
		t.Fatal("an upload refused for size was published")
	}
}

// rawSession logs in over a bare control connection for garbage tests.
func rawSession(t *testing.T, addr string) *textproto.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	t.Cleanup(func() { tp.Close() })
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		cmd  string
		code int
	}{{"USER x", 331}, {"PASS y", 230}, {"TYPE I", 200}} {
		if _, err := tp.Cmd("%s", step.cmd); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tp.ReadResponse(step.code); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
	}
	return tp
}

func pasv(t *testing.T, tp *textproto.Conn) string {
	t.Helper()
	if _, err := tp.Cmd("EPSV"); err != nil {
		t.Fatal(err)
	}
	_, msg, err := tp.ReadResponse(229)
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(msg, "|||"), strings.LastIndex(msg, "|")
	if i < 0 || j <= i+3 {
		t.Fatalf("EPSV reply %q", msg)
	}
	return "127.0.0.1:" + msg[i+3:j]
}

func TestDroppedUploadIsNotPublished(t *testing.T) {
	for _, storage := range []Storage{Memory, Disk} {
		s := startServer(t, ServerOptions{Storage: storage})
		tp := rawSession(t, s.Addr())
		data := pasv(t, tp)
		if _, err := tp.Cmd("STOR /partial"); err != nil {
			t.Fatal(err)
		}
		dc, err := net.DialTimeout("tcp", data, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := tp.ReadResponse(1); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Write(make([]byte, 100_000)); err != nil {
			t.Fatal(err)
		}
		// The client dies: the data connection resets, the control one drops.
		dc.(*net.TCPConn).SetLinger(0)
		dc.Close()
		tp.Close()
		deadline := time.Now().Add(5 * time.Second)
		for s.Clients() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		if _, err := s.FS().Stat("/partial"); err == nil {
			t.Fatalf("%s: an upload cut by a reset was published as /partial", storage)
		}
		entries, _ := afero.ReadDir(s.FS(), "/")
		for _, e := range entries {
			if strings.Contains(e.Name(), ".part-") {
				t.Errorf("%s: left a temporary upload %s", storage, e.Name())
			}
		}
		// The server keeps serving.
		c := dial(t, ClientOptions{Addr: s.Addr()})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := c.Put(ctx, "after", 10); err != nil {
			t.Fatalf("%s: server stopped serving: %v", storage, err)
		}
		cancel()
	}
}

func TestDotDotStaysInside(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, ServerOptions{Storage: Disk, Dir: root})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Get(ctx, "../secret", 6); err == nil {
		t.Fatal("read a file outside the root through ../")
	}
	if _, err := c.Put(ctx, "../../escape", 5); err != nil {
		t.Logf("put ../../escape: %v", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "escape")); err == nil {
		t.Fatal("put ../../escape wrote outside the root")
	}
	// The driver itself refuses unclean paths (ftpserverlib cleans them first).
	d := &clientDriver{Fs: s.FS(), max: 1 << 20}
	for _, p := range []string{"/../secret", "../secret", "/a/../../secret", "relative"} {
		if _, err := d.GetHandle(p, os.O_RDONLY, 0); !errors.Is(err, ErrPathEscape) {
			t.Errorf("GetHandle(%q): %v, want ErrPathEscape", p, err)
		}
	}
}

func TestSweep(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sizes, err := timing.PowersOfTwo(0, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Direction{Get, Put} {
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

func TestCancelCutsTransfer(t *testing.T) {
	// A server that accepts and then says nothing: the client must give up
	// when its context ends.
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
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = Dial(ctx, ClientOptions{Addr: ln.Addr().String(), Active: true})
	if err == nil || time.Since(t0) > 5*time.Second {
		t.Fatalf("dial to a silent server: %v after %v", err, time.Since(t0))
	}
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"30000-30100", "21", " 1 - 2 ", "0-1", "5-4", "-", "70000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if r.Start < 1 || r.End > 65535 || r.End < r.Start {
			t.Fatalf("%q parsed to %+v", s, r)
		}
	})
}
