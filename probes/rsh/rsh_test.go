package rsh

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/timing"
)

func startServer(t *testing.T, o Options) *Server {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	o.AllowUnreserved = o.AllowUnreserved || os.Geteuid() != 0
	o.Logf = t.Logf
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCopyToNull(t *testing.T) {
	for _, mode := range []NullMode{NullMemory, NullDevNull} {
		t.Run(string(mode), func(t *testing.T) {
			s := startServer(t, Options{Null: mode})
			for _, stderr := range []bool{true, false} {
				n := timing.Bytes(3<<20 + 17)
				res, err := Exec(probetest.Context(t), s.Addr(), "cat > /dev/null", probes.NewPattern(n), ClientOptions{NoStderr: !stderr})
				if err != nil {
					t.Fatal(err)
				}
				if res.Sent != n || len(res.Stdout) != 0 || len(res.Stderr) != 0 {
					t.Fatalf("sent %d of %d, stdout %q, stderr %q", res.Sent, n, res.Stdout, res.Stderr)
				}
			}
			probetest.WaitFor(t, "two completed copies", func() bool { return s.Stats().Completed == 2 })
			if st := s.Stats(); st.Bytes != 2*(3<<20+17) || st.Failed != 0 || st.Refused != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestCopyToSpool(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		dir := t.TempDir()
		s := startServer(t, Options{SpoolDir: dir, Fsync: fsync})
		var want bytes.Buffer
		io.Copy(&want, probes.NewPattern(200_001))
		for _, cmd := range []string{"cat > file.17", "(cd /usr; cat > file.18)", "cd usr/local && cat >file.19"} {
			if _, err := Exec(probetest.Context(t), s.Addr(), cmd, bytes.NewReader(want.Bytes()), ClientOptions{}); err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
		}
		probetest.WaitFor(t, "three copies", func() bool { return s.Stats().Completed == 3 })
		for _, name := range []string{"file.17", "file.18", "file.19"} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("fsync=%v %s: %d bytes, %v; want %d identical bytes", fsync, name, len(got), err, want.Len())
			}
		}
		assertOnly(t, dir, "file.17", "file.18", "file.19")
	}
}

// assertOnly fails unless dir holds exactly names (no temporary files).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("spool holds %q, want %q", got, names)
	}
}

func TestRefusesAnythingElse(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{SpoolDir: dir})
	for _, cmd := range []string{
		"ls", "sh -c 'cat > x'", "cat > ../escape", "cat > /etc/passwd", "cat > .hidden",
		"(cd ../..; cat > x)", "(cd /usr/../..; cat > x)", "cat > x; rm -rf /", "cat > `id`",
		"(cat > x", "cat > x && reboot", "cat >> x", "cat > $HOME", "",
	} {
		_, err := Exec(probetest.Context(t), s.Addr(), cmd, strings.NewReader("data"), ClientOptions{})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q: got %v, want a refusal", cmd, err)
		}
	}
	// The server keeps serving.
	if _, err := Exec(probetest.Context(t), s.Addr(), "cat > ok", strings.NewReader("data"), ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	probetest.WaitFor(t, "the good copy", func() bool { return s.Stats().Completed == 1 })
	assertOnly(t, dir, "ok")
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Fatal("a file escaped the spool directory")
	}
}

func TestNoSpoolRefusesFiles(t *testing.T) {
	s := startServer(t, Options{})
	_, err := Exec(probetest.Context(t), s.Addr(), "cat > x", strings.NewReader("data"), ClientOptions{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no spool directory") {
		t.Fatalf("got %v, want a refusal naming the missing spool directory", err)
	}
}

func TestUnreservedPortRefused(t *testing.T) {
	s, err := NewServer(Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Exec(probetest.Context(t), s.Addr(), "cat > /dev/null", strings.NewReader("x"), ClientOptions{Ports: PortAny})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not reserved") {
		t.Fatalf("got %v, want a refusal of the unreserved source port", err)
	}
}

// rawRequest opens a connection and sends the request with no stderr
// channel, returning the connection and the status byte.
func rawRequest(t *testing.T, addr, cmd string) (*net.TCPConn, byte) {
	t.Helper()
	c, err := dial(probetest.Context(t), nil, addr, PortAuto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "0\x00root\x00root\x00"+cmd+"\x00")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read status: %v", err)
	}
	return c, b[0]
}

func TestDroppedMidTransferLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{SpoolDir: dir})
	// A reset connection.
	c, st := rawRequest(t, s.Addr(), "cat > dropped")
	if st != statusOK {
		t.Fatalf("status %d", st)
	}
	c.Write(bytes.Repeat([]byte("x"), 100_000))
	c.SetLinger(0)
	c.Close()
	probetest.WaitFor(t, "the reset copy to fail", func() bool { return s.Stats().Failed == 1 })

	// A client that goes away with a FIN: its stderr channel closes
	// before its data ends.
	errLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer errLn.Close()
	c2, err := dial(probetest.Context(t), nil, s.Addr(), PortAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	port := errLn.Addr().(*net.TCPAddr).Port
	if os.Geteuid() == 0 {
		// Our server wants a reserved stderr port from a root client.
		l, err := probes.ListenReserved(probetest.Context(t), net.IPv4(127, 0, 0, 1), probes.RcmdLow, probes.RcmdHigh)
		if err != nil {
			t.Fatal(err)
		}
		errLn.Close()
		errLn = l
		port = l.Addr().(*net.TCPAddr).Port
	}
	io.WriteString(c2, strconv.Itoa(port)+"\x00")
	ec, err := errLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c2, "root\x00root\x00cat > vanished\x00")
	b := make([]byte, 1)
	if _, err := io.ReadFull(c2, b); err != nil || b[0] != statusOK {
		t.Fatalf("status %v %v", b, err)
	}
	c2.Write(bytes.Repeat([]byte("y"), 50_000))
	ec.Close()
	time.Sleep(20 * time.Millisecond)
	c2.Close()
	probetest.WaitFor(t, "the vanished client's copy to fail", func() bool { return s.Stats().Failed == 2 })

	// The server keeps serving and the spool holds only complete files.
	if _, err := Exec(probetest.Context(t), s.Addr(), "cat > whole", probes.NewPattern(1000), ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	probetest.WaitFor(t, "the whole copy", func() bool { return s.Stats().Completed == 1 })
	assertOnly(t, dir, "whole")
}

func TestGarbageRequests(t *testing.T) {
	s := startServer(t, Options{HandshakeTimeout: 300 * time.Millisecond})
	cases := map[string]string{
		"oversized user":    "0\x00" + strings.Repeat("u", 5000) + "\x00",
		"oversized port":    "123456789\x00",
		"non-numeric port":  "abc\x00",
		"oversized command": "0\x00root\x00root\x00" + strings.Repeat("c", 5000) + "\x00",
		"binary user":       "0\x00r\x01t\x00root\x00cat > /dev/null\x00",
	}
	for name, req := range cases {
		c, err := dial(probetest.Context(t), nil, s.Addr(), PortAuto)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || line[0] != statusError {
			t.Errorf("%s: got %q, %v; want the error byte and a message", name, line, err)
		}
	}
	// A truncated request and a silent client are dropped after the
	// handshake timeout.
	for _, req := range []string{"0\x00ro", ""} {
		c, err := dial(probetest.Context(t), nil, s.Addr(), PortAuto)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		t0 := time.Now()
		_, err = io.ReadAll(c)
		c.Close()
		if err != nil || time.Since(t0) > 3*time.Second {
			t.Errorf("truncated request %q: %v after %v; want the server to close within its timeout", req, err, time.Since(t0))
		}
	}
	if _, err := Exec(probetest.Context(t), s.Addr(), "cat > /dev/null", strings.NewReader("x"), ClientOptions{}); err != nil {
		t.Fatalf("the server stopped serving after garbage: %v", err)
	}
}

func TestProbeSweep(t *testing.T) {
	// Unprivileged ports: a sweep of reserved ones would hold the host's
	// 512 reserved ports in TIME_WAIT.
	s := startServer(t, Options{Null: NullMemory, AllowUnreserved: true})
	sizes, _ := timing.PowersOfTwo(0, 16)
	ser, err := timing.Sweep(probetest.Context(t), NewProbe(s.Addr(), ProbeOptions{Client: ClientOptions{Ports: PortAny}}), timing.Options{Sizes: sizes, Budget: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ser.Points) < 3 || ser.Fit == nil {
		t.Fatalf("%d points, fit error %q", len(ser.Points), ser.FitError)
	}
	if ser.Fit.Latency <= 0 || ser.Fit.Latency > time.Second {
		t.Fatalf("latency %v: want a positive figure below a second on loopback", ser.Fit.Latency)
	}
	st := s.Stats()
	if st.Failed != 0 || st.Refused != 0 || st.Completed == 0 {
		t.Fatalf("server stats %+v", st)
	}
	t.Logf("rsh loopback: latency %v, max rate %v, %d points", ser.Fit.Latency, ser.Fit.MaxRate, len(ser.Points))
}

// TestEmptyStderrPort sends the empty stderr port glibc rcmd() sends for a
// nil fd2p (netkit rcp does): BSD rshd reads it as 0, no stderr channel.
func TestEmptyStderrPort(t *testing.T) {
	s := startServer(t, Options{Null: NullMemory})
	o, err := ClientOptions{}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := open(probetest.Context(t), s.Addr(), "cat > /dev/null", o, stderrEmpty)
	if err != nil {
		t.Fatalf("empty stderr port: %v; want it read as 0", err)
	}
	defer sess.close()
	if sess.errc != nil {
		t.Fatal("a stderr channel opened for an empty port")
	}
	sess.c.Write([]byte("data"))
	sess.c.CloseWrite()
	if rest, err := io.ReadAll(sess.br); err != nil || len(rest) != 0 {
		t.Fatalf("after the copy: %q, %v; want a clean close", rest, err)
	}
	probetest.WaitFor(t, "the copy", func() bool { return s.Stats().Completed == 1 })
	if st := s.Stats(); st.Bytes != 4 || st.Refused != 0 {
		t.Fatalf("stats %+v: want 4 bytes, nothing refused", st)
	}
}
