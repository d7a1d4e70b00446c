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

func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand("(cd /usr; cat > file.20)"); err != nil {
			b.Fatal(err)
		}
	}
}
