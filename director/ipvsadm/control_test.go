package ipvsadm

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/proxy"
)

func TestControlSocketPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	l, err := ListenControl(filepath.Join(dir, "director.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	fi, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm()&0o077 != 0 {
		t.Fatalf("directory mode %v, want no group/other access", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the socket (no leftover private dir)", len(entries))
	}
	// A second director on the same path is refused while the first lives.
	if _, err := ListenControl(l.Path()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second listener: %v, want already running", err)
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenControl(filepath.Join(open, "d.sock")); err == nil || !strings.Contains(err.Error(), "others could replace") {
		t.Fatalf("world-writable directory: %v, want a refusal", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(l.Path()); !os.IsNotExist(err) {
		t.Fatalf("socket left behind after Close: %v", err)
	}
}

func freePort(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return netip.MustParseAddrPort(l.Addr().String())
}

// echoServer is a realserver on loopback that echoes until EOF.
func echoServer(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

// TestStandaloneOverControlSocket runs a real director (model + proxy
// engine) driven over the control socket, as lvsperf director/ipvsadm do.
func TestStandaloneOverControlSocket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	model := director.New(director.Options{})
	px, err := proxy.New(ctx, model, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	sa := NewStandalone(model, px)
	l, err := ListenControl(filepath.Join(t.TempDir(), "c", "director.sock"))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve(ctx, sa.Handle) }()
	t.Cleanup(func() {
		cancel()
		<-served
		l.Close()
	})

	vip := freePort(t)
	rs := echoServer(t)
	call := func(args string) string {
		t.Helper()
		out, err := Call(ctx, l.Path(), strings.Fields(args), nil)
		if err != nil {
			t.Fatalf("ipvsadm %s: %v", args, err)
		}
		return out
	}
	call("-A -t " + vip.String() + " -s rr")
	call("-a -t " + vip.String() + " -r " + rs.String() + " -m -w 2")

	c, err := net.DialTimeout("tcp", vip.String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial the VIP: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the director: %q %v", buf, err)
	}
	want := "  -> " + padRight(rs.String(), 28) + " Masq    2      1          0         \n"
	if out := call("-L -n"); !strings.Contains(out, want) {
		t.Fatalf("-L -n with one open connection:\n%s\nwant a line %q", out, want)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := call("-L -n -c")
		if strings.Contains(out, "TIME_WAIT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("-c never showed TIME_WAIT after close:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := call("-L -n --stats"); !strings.Contains(out, "        1        ") {
		t.Fatalf("--stats does not count the connection:\n%s", out)
	}
	// Errors come back with the argument named.
	if _, err := Call(ctx, l.Path(), strings.Fields("-A -t "+vip.String()+" -s xx"), nil); err == nil ||
		!strings.HasPrefix(err.Error(), `ipvsadm: -s: unknown scheduler "xx"`) {
		t.Fatalf("bad scheduler over the socket: %v", err)
	}
	call("-D -t " + vip.String())
	if c, err := net.DialTimeout("tcp", vip.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the VIP still accepts after -D")
	}
	// -R over the socket carries the rules as stdin.
	vip2 := freePort(t)
	if _, err := Call(ctx, l.Path(), []string{"-R"}, []byte("-A -t "+vip2.String()+" -s wlc\n-a -t "+vip2.String()+" -r "+rs.String()+" -m\n")); err != nil {
		t.Fatal(err)
	}
	if out := call("-S -n"); !strings.Contains(out, "-A -t "+vip2.String()+" -s wlc\n") {
		t.Fatalf("-S after -R:\n%s", out)
	}
	// Garbage on the socket gets an error reply, not a crash.
	raw, err := net.Dial("unix", l.Path())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	raw.Write([]byte("this is not json\n"))
	reply, _ := io.ReadAll(raw)
	raw.Close()
	if !strings.Contains(string(reply), "want one JSON object") {
		t.Fatalf("garbage request got %q", reply)
	}
}

func padRight(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s
}

// rw joins a request reader and a reply buffer.
type rw struct {
	io.Reader
	io.Writer
}

func FuzzControlRequest(f *testing.F) {
	f.Add([]byte(`{"args":["-L","-n"]}`))
	f.Add([]byte(`{"args":["-R"],"stdin":"-A -t 127.0.0.1:80 -s rr\n"}`))
	f.Add([]byte(`{"args":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, req []byte) {
		d := director.New(director.Options{})
		sa := NewStandalone(d, nil)
		var out strings.Builder
		answer(context.Background(), rw{strings.NewReader(string(req)), &out}, sa.Handle)
		var rep Reply
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			t.Fatalf("reply %q is not JSON: %v", out.String(), err)
		}
	})
}
