package lpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
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
	o.Logf = t.Logf
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func spoolNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestDiscardQueue(t *testing.T) {
	s := startServer(t, Options{})
	for _, first := range []bool{false, true} {
		if err := Send(probetest.Context(t), s.Addr(), Job{Number: 7, Data: probes.NewPattern(1 << 20), Size: 1 << 20, DataFirst: first}, ClientOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Send(probetest.Context(t), s.Addr(), Job{Number: 8, Size: 0}, ClientOptions{}); err != nil {
		t.Fatalf("empty job: %v", err)
	}
	st := s.Stats()
	if st.Jobs != 3 || st.Bytes != 2<<20 || st.Failed != 0 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
	out, err := Command(probetest.Context(t), s.Addr(), QueueShort, "null")
	if err != nil || !strings.Contains(out, "no entries") {
		t.Fatalf("queue state %q, %v", out, err)
	}
}

func TestSpoolHoldListRemovePrint(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{Queue: "disk", SpoolDir: dir, Hold: true, Fsync: true})
	data := probetest.PatternBytes(300_001)
	for i, u := range []string{"alice", "bob"} {
		if err := Send(probetest.Context(t), s.Addr(), Job{Queue: "disk", Host: "client", User: u, Name: "job-" + u, Number: 100 + i, Data: bytes.NewReader(data), Size: timing.Bytes(len(data))}, ClientOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(spoolNames(t, dir), " "); got != "cfA100client cfA101client dfA100client dfA101client" {
		t.Fatalf("spool holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dfA100client")); !bytes.Equal(b, data) {
		t.Fatalf("spooled data differs: %d bytes, want %d", len(b), len(data))
	}
	out, err := Command(probetest.Context(t), s.Addr(), QueueShort, "disk")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "job-bob") || !strings.Contains(out, "300001 bytes") {
		t.Fatalf("queue state %q, %v", out, err)
	}
	// bob may not remove alice's job; alice may.
	if out, _ := Command(probetest.Context(t), s.Addr(), RemoveJobs, "disk", "bob", "100"); out != "" {
		t.Fatalf("bob removed %q", out)
	}
	out, err = Command(probetest.Context(t), s.Addr(), RemoveJobs, "disk", "alice", "100")
	if err != nil || !strings.Contains(out, "cfA100client dequeued") {
		t.Fatalf("remove: %q, %v", out, err)
	}
	if got := strings.Join(spoolNames(t, dir), " "); got != "cfA101client dfA101client" {
		t.Fatalf("spool holds %q after removal", got)
	}
	// Print waiting jobs: bob's goes to /dev/null and leaves the queue.
	if _, err := Command(probetest.Context(t), s.Addr(), PrintWaiting, "disk"); err != nil {
		t.Fatal(err)
	}
	probetest.WaitFor(t, "the printer", func() bool { return s.Stats().Printed == 1 })
	if got := spoolNames(t, dir); len(got) != 0 {
		t.Fatalf("spool holds %q after printing", got)
	}
}

func TestSpoolPrintsWithoutHold(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{SpoolDir: dir})
	p := NewProbe(s.Addr(), ProbeOptions{})
	for range 20 {
		if _, err := p.Transfer(probetest.Context(t), 4096); err != nil {
			t.Fatal(err)
		}
	}
	probetest.WaitFor(t, "20 printed jobs", func() bool { return s.Stats().Printed == 20 })
	if got := spoolNames(t, dir); len(got) != 0 {
		t.Fatalf("spool holds %q after printing", got)
	}
}

func TestUnknownQueueRefused(t *testing.T) {
	s := startServer(t, Options{})
	err := Send(probetest.Context(t), s.Addr(), Job{Queue: "nosuch", Size: 1, Data: strings.NewReader("x")}, ClientOptions{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "unknown queue") {
		t.Fatalf("got %v, want a refusal naming the unknown queue", err)
	}
}

// session starts a receive job by hand and returns the connection.
func session(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "\x02null\n")
	expectAck(t, br, ackOK)
	return c, br
}

func expectAck(t *testing.T, br *bufio.Reader, want byte) {
	t.Helper()
	b, err := br.ReadByte()
	if err != nil || b != want {
		t.Fatalf("ack %d, %v; want %d", b, err, want)
	}
}

func TestGarbageRefused(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{SpoolDir: dir, MaxData: 1 << 20, HandshakeTimeout: 500 * time.Millisecond})
	for name, line := range map[string]string{
		"oversized data":       "\x03999999999 dfA001host\n",
		"oversized control":    "\x0299999999 cfA001host\n",
		"path in name":         "\x0310 dfA001../../etc\n",
		"slash in name":        "\x0310 dfA001host/x\n",
		"dotdot name":          "\x0310 ..\n",
		"bad job number":       "\x0310 dfA01host\n",
		"negative count":       "\x03-5 dfA001host\n",
		"unknown subcommand":   "\x09hello\n",
		"no count":             "\x03dfA001host\n",
		"overlong line":        "\x03" + strings.Repeat("9", 5000) + "\n",
		"control with garbage": "\x02abc cfA001host\n",
	} {
		c, br := session(t, s.Addr())
		io.WriteString(c, line)
		b, err := br.ReadByte()
		if err != nil || b == ackOK {
			t.Errorf("%s: ack %d, %v; want a non-zero ack", name, b, err)
		}
		c.Close()
	}
	// Bad top-level commands.
	for _, line := range []string{"\x09null\n", "\x02\n", "\x02../x\n", "\n"} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, line)
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != ackFail {
			t.Errorf("command %q: got %v, %v; want ack 1", line, b, err)
		}
		c.Close()
	}
	// A control file naming another job's data file, or lacking H/P.
	for _, cf := range []string{"Hh\nProot\nldfA002host\n", "ldfA001host\n", "Hh\nProot\nldfA001host\nZbad\n"} {
		c, br := session(t, s.Addr())
		io.WriteString(c, "\x02"+itoa(len(cf))+" cfA001host\n")
		expectAck(t, br, ackOK)
		io.WriteString(c, cf+"\x00")
		b, err := br.ReadByte()
		if err != nil || b == ackOK {
			t.Errorf("control file %q: ack %d, %v; want a non-zero ack", cf, b, err)
		}
		c.Close()
	}
	// A missing NUL after a file.
	c, br := session(t, s.Addr())
	io.WriteString(c, "\x034 dfA001host\n")
	expectAck(t, br, ackOK)
	io.WriteString(c, "abcdX")
	if b, err := br.ReadByte(); err != nil || b == ackOK {
		t.Errorf("missing NUL: ack %d, %v; want a non-zero ack", b, err)
	}
	c.Close()

	probetest.WaitFor(t, "every connection to end", func() bool { return s.Stats().Accepted == int64(11+4+3+1) })
	if err := Send(probetest.Context(t), s.Addr(), Job{Host: "host", Number: 1, Data: strings.NewReader("fine"), Size: 4}, ClientOptions{}); err != nil {
		t.Fatalf("the server stopped serving after garbage: %v", err)
	}
	probetest.WaitFor(t, "the good job to print", func() bool { return s.Stats().Printed == 1 })
	if got := spoolNames(t, dir); len(got) != 0 {
		t.Fatalf("garbage left %q in the spool", got)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func TestTruncatedAndDroppedJobsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{SpoolDir: dir, Hold: true, IdleTimeout: 300 * time.Millisecond})
	cf := string(ControlFile("host", "root", "x", "dfA001host"))
	// 1. Control file whole, data file cut short by a reset.
	c, br := session(t, s.Addr())
	io.WriteString(c, "\x02"+itoa(len(cf))+" cfA001host\n")
	expectAck(t, br, ackOK)
	io.WriteString(c, cf+"\x00")
	expectAck(t, br, ackOK)
	io.WriteString(c, "\x03100000 dfA001host\n")
	expectAck(t, br, ackOK)
	c.Write(bytes.Repeat([]byte("z"), 50_000))
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	// 2. Data file whole, control file never sent (clean close).
	c, br = session(t, s.Addr())
	io.WriteString(c, "\x034 dfA002host\n")
	expectAck(t, br, ackOK)
	io.WriteString(c, "abcd\x00")
	expectAck(t, br, ackOK)
	c.Close()
	// 3. A stalled sender: the idle timeout drops it.
	c, br = session(t, s.Addr())
	io.WriteString(c, "\x03100 dfA003host\n")
	expectAck(t, br, ackOK)
	io.WriteString(c, "only a little")
	// 4. An abort subcommand drops what came before it.
	c2, br2 := session(t, s.Addr())
	io.WriteString(c2, "\x034 dfA004host\n")
	expectAck(t, br2, ackOK)
	io.WriteString(c2, "abcd\x00")
	expectAck(t, br2, ackOK)
	io.WriteString(c2, "\x01\n")
	c2.Close()

	probetest.WaitFor(t, "three failed jobs and the aborted one", func() bool { return s.Stats().Failed == 3 && s.Stats().Accepted == 4 })
	probetest.WaitFor(t, "the spool to empty", func() bool { return len(spoolNames(t, dir)) == 0 })
	if err := Send(probetest.Context(t), s.Addr(), Job{Host: "host", Number: 5, Data: strings.NewReader("whole"), Size: 5}, ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(spoolNames(t, dir), " "); got != "cfA005host dfA005host" {
		t.Fatalf("spool holds %q; want only the whole job", got)
	}
}

func TestProbeSweep(t *testing.T) {
	s := startServer(t, Options{})
	sizes, _ := timing.PowersOfTwo(0, 16)
	ser, err := timing.Sweep(probetest.Context(t), NewProbe(s.Addr(), ProbeOptions{}), timing.Options{Sizes: sizes, Budget: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ser.Points) < 3 || ser.Fit == nil || ser.Fit.Latency <= 0 {
		t.Fatalf("%d points, fit %+v, error %q", len(ser.Points), ser.Fit, ser.FitError)
	}
	if st := s.Stats(); st.Failed != 0 || st.Refused != 0 || st.Jobs == 0 {
		t.Fatalf("server stats %+v", st)
	}
	t.Logf("lpd loopback: latency %v, max rate %v, %d points", ser.Fit.Latency, ser.Fit.MaxRate, len(ser.Points))
}
