package rsh

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"cat > /dev/null", "(cat > /dev/null)", "(cd /usr; cat > file.20)", "cat >x",
		"cat > ../x", "cd .. && cat > x", "ls -l", "(cd /a/b/; cat > .x)", "cat > a/b", "", "((cat > x))",
		"rcp -t /tmp/x", "rcp -p -r -d -t .", "rcp -f a b/c", "rcp -t ../x", "rcp -f /a/../../b", "rcp -t a b", "rcp -x -t a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, err := ParseCommand(s)
		if err != nil {
			return
		}
		switch cmd.Kind {
		case SinkNull:
		case SinkFile:
			if cmd.Name == "" || strings.ContainsAny(cmd.Name, "/\x00") || strings.HasPrefix(cmd.Name, ".") || len(cmd.Name) > 255 {
				t.Fatalf("%q accepted with unsafe name %q", s, cmd.Name)
			}
		case KindRcp:
			if cmd.Rcp == nil || len(cmd.Rcp.Paths) == 0 || cmd.Rcp.To && len(cmd.Rcp.Paths) != 1 {
				t.Fatalf("%q accepted as rcp with %+v", s, cmd.Rcp)
			}
			for _, p := range cmd.Rcp.Paths {
				if sp := spoolPath(p); sp == ".." || strings.HasPrefix(sp, "../") || strings.HasPrefix(sp, "/") || strings.ContainsAny(p, " ;&|$`'\"\\\x00") {
					t.Fatalf("%q accepted with unsafe path %q (spool path %q)", s, p, sp)
				}
			}
		default:
			t.Fatalf("%q accepted with kind %d", s, cmd.Kind)
		}
		for _, part := range strings.Split(cmd.Dir, "/") {
			if part == ".." {
				t.Fatalf("%q accepted with directory %q", s, cmd.Dir)
			}
		}
	})
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"0\x00root\x00root\x00cat > /dev/null\x00",
		"1023\x00a\x00b\x00(cd /usr; cat > file.3)\x00data",
		"65536\x00", "-1\x00", "00\x00", "\x00root\x00root\x00cat > /dev/null\x00", "0\x00" + strings.Repeat("u", 17) + "\x00", "0\x00ro",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		calls := 0
		req, err := readRequest(bufio.NewReader(bytes.NewReader(b)), func(port int) error {
			calls++
			if port < 0 || port > 65535 {
				t.Fatalf("port %d out of range", port)
			}
			return nil
		})
		if calls > 1 {
			t.Fatalf("stderr port callback called %d times", calls)
		}
		if err != nil {
			return
		}
		if len(req.LocalUser) > maxUserLen || len(req.RemoteUser) > maxUserLen || len(req.Command) > maxCommandLen {
			t.Fatalf("unbounded fields accepted: %+v", req)
		}
		if strings.ContainsRune(req.Command, 0) {
			t.Fatalf("command holds a NUL: %q", req.Command)
		}
	})
}

func FuzzRcpLines(f *testing.F) {
	for _, s := range []string{"C0644 5 abc", "D0755 0 dir", "C0644 5 a/bc", "C12345 1 x", "C0644 -1 x", "C0644 1 ..", "T1 0 2 0", "T1 0 2", "T-1 0 2 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if line == "" {
			return
		}
		if line[0] == 'T' {
			parseRcpTimes(line[1:])
			return
		}
		rf, err := parseRcpFile(line[0], line[1:])
		if err != nil {
			return
		}
		if rf.size < 0 || rf.mode > 0o7777 || rf.name == "" || rf.name == "." || rf.name == ".." || strings.ContainsAny(rf.name, "/\x00") {
			t.Fatalf("%q accepted as %+v", line, rf)
		}
	})
}

func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand("(cd /usr; cat > file.20)"); err != nil {
			b.Fatal(err)
		}
	}
}
