package rsh

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/timing"
)

func TestRcpSendFetch(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		dir := t.TempDir()
		s := startServer(t, Options{SpoolDir: dir, Fsync: fsync})
		ctx := probetest.Context(t)
		n := timing.Bytes(1<<20 + 7)
		want := probetest.PatternBytes(n)
		if err := RcpSend(ctx, s.Addr(), "/usr/file.x", bytes.NewReader(want), n, ClientOptions{}); err == nil {
			t.Fatal("rcp -t /usr/file.x into a spool without usr/ succeeded")
		} else if re := (*RcpError)(nil); !errors.As(err, &re) || re.Message != "rcp: /usr/file.x: No such file or directory" {
			t.Fatalf("rcp -t /usr/file.x: %v; want rcp's message for a missing directory", err)
		}
		if err := RcpSend(ctx, s.Addr(), "/file.20", bytes.NewReader(want), n, ClientOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "file.20")); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fsync=%v: spooled %d bytes (%v), want %d identical", fsync, len(got), err, n)
		}
		assertOnly(t, dir, "file.20")
		var got bytes.Buffer
		m, err := RcpFetch(ctx, s.Addr(), "file.20", &got, ClientOptions{})
		if err != nil || m != n || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("fetch: %d bytes, %v; want %d identical", m, err, n)
		}
		_, err = RcpFetch(ctx, s.Addr(), "/nope", io.Discard, ClientOptions{})
		if re := (*RcpError)(nil); !errors.As(err, &re) || re.Message != "rcp: /nope: No such file or directory" {
			t.Fatalf("fetch of a missing file: %v; want rcp's message", err)
		}
		probetest.WaitFor(t, "the copies", func() bool { st := s.Stats(); return st.Completed+st.Failed == 4 })
		if st := s.Stats(); st.Completed != 2 || st.Bytes != 2*n {
			t.Fatalf("stats %+v: want 2 completed copies of %d bytes", st, n)
		}
	}
}

func TestRcpToDevNullNeedsNoSpool(t *testing.T) {
	s := startServer(t, Options{Null: NullMemory})
	ctx := probetest.Context(t)
	if err := RcpSend(ctx, s.Addr(), "/dev/null", probes.NewPattern(1<<16), 1<<16, ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	err := RcpSend(ctx, s.Addr(), "file.1", probes.NewPattern(2), 2, ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "no spool directory") {
		t.Fatalf("rcp -t file.1 without a spool: %v; want a refusal naming the spool", err)
	}
	_, err = RcpFetch(ctx, s.Addr(), "file.1", io.Discard, ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "no spool directory") {
		t.Fatalf("rcp -f file.1 without a spool: %v; want a refusal naming the spool", err)
	}
}

// TestRcpWire drives the server's rcp with byte fixtures of what netkit rcp
// sends and answers (recorded from netkit rcp -t and -f on a socketpair).
func TestRcpWire(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "h.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1577934245, 0)
	if err := os.Chtimes(filepath.Join(dir, "h.txt"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{SpoolDir: dir})
	for _, tc := range []struct {
		cmd, send, want string
	}{
		{"rcp -t .", "C0644 5 abc\nhello\x00", "\x00\x00\x00"},
		{"rcp -p -t .", "T1577934245 0 1577934245 0\nC0600 5 tp\nhello\x00", "\x00\x00\x00\x00"},
		{"rcp -r -t .", "D0755 0 dd\nC0644 5 abc\nhello\x00E\n", "\x00\x00\x00\x00\x00"},
		{"rcp -t .", "D0755 0 dd\n", "\x00\x01rcp: received directory without -r\n"},
		{"rcp -t .", "C0644 5 a/bc\nhello\x00", "\x00\x01rcp: protocol screwup: unexpected filename: \"a/bc\"\n"},
		{"rcp -t /nonexist/x", "C0644 5 abc\n", "\x00\x01rcp: /nonexist/x: No such file or directory\n"},
		{"rcp -d -t h.txt", "", "\x01rcp: h.txt: Not a directory\n"},
		{"rcp -p -f /h.txt", "\x00\x00\x00\x00", "T1577934245 0 1577934245 0\nC0644 5 h.txt\nhello\x00"},
		{"rcp -f /nonexistent", "\x00", "\x01rcp: /nonexistent: No such file or directory\n"},
		{"rcp -f .", "\x00", "\x01rcp: .: not a plain file\n"},
		{"rcp -r -f dd", "\x00\x00\x00\x00", "D0755 0 dd\nC0644 5 abc\nhello\x00E\n"},
	} {
		c, st := rawRequest(t, s.Addr(), tc.cmd)
		if st != statusOK {
			t.Fatalf("%s: status %d", tc.cmd, st)
		}
		io.WriteString(c, tc.send)
		c.CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s with %q: got %q (%v), want %q", tc.cmd, tc.send, got, err, tc.want)
		}
	}
	for name, want := range map[string]string{"abc": "hello", "tp": "hello", "dd/abc": "hello"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "tp")); err != nil || !st.ModTime().Equal(mtime) || st.Mode().Perm() != 0o600 {
		t.Errorf("rcp -p: tp has %v", st)
	}
}
