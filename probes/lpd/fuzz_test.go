package lpd

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func FuzzParseSubcommand(f *testing.F) {
	for _, s := range []string{"\x0270 cfA163vm", "\x03110 dfA163vm", "\x01", "\x03-1 dfA001h", "\x0310 dfA001../x", "\x03 dfA001h", "\x039999999999999999999 dfA001h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		sc, err := ParseSubcommand(line, DefaultMaxControl, 1<<20)
		if err != nil || sc.Code == subAbort {
			return
		}
		if sc.Count < 0 || sc.Count > 1<<20 || strings.ContainsAny(sc.Name, "/ \x00") || sc.Name == ".." || !strings.HasPrefix(sc.Name, "cfA") && !strings.HasPrefix(sc.Name, "df") {
			t.Fatalf("%q accepted as %+v", line, sc)
		}
		if sc.Code == subControl && (sc.Count == 0 || !strings.HasPrefix(sc.Name, "cfA")) {
			t.Fatalf("%q accepted as control file %+v", line, sc)
		}
	})
}

func FuzzParseControl(f *testing.F) {
	f.Add("cfA163vm", "Hvm\nProot\nJmyjob\nCvm\nLroot\nfdfA163vm\nUdfA163vm\nNname\n")
	f.Add("cfA001h", "Hh\nProot\nldfA002h\n")
	f.Add("cfA001h", "Hh\nP../x\nldfA001h\n")
	f.Fuzz(func(t *testing.T, name, body string) {
		c, err := ParseControl(name, []byte(body))
		if err != nil {
			return
		}
		for _, df := range append(c.Files, c.Unlink...) {
			if strings.Contains(df, "/") || !strings.HasPrefix(df, "df") || df[3:] != name[3:] {
				t.Fatalf("control file %q of %q names %q", body, name, df)
			}
		}
		if c.Host == "" || c.User == "" || strings.Contains(c.User, "/") {
			t.Fatalf("accepted without a safe H or P line: %+v", c)
		}
	})
}

// FuzzSession feeds arbitrary bytes to a spooling server and checks that it
// never panics and never leaves a temporary or partial file behind.
func FuzzSession(f *testing.F) {
	cf := string(ControlFile("h", "root", "j", "dfA001h"))
	f.Add([]byte("\x02null\n\x02" + itoa(len(cf)) + " cfA001h\n" + cf + "\x00\x034 dfA001h\nabcd\x00"))
	f.Add([]byte("\x02null\n\x034 dfA001h\nab"))
	f.Add([]byte("\x03null\n"))
	f.Add([]byte("\x05null root 001\n"))
	f.Add([]byte("\x02null\n\x01\n\x0310 dfA001h\n"))
	dir := f.TempDir()
	s, err := NewServer(Options{Listen: "127.0.0.1:0", SpoolDir: dir, MaxData: 1 << 16, Hold: true, IdleTimeout: 50 * time.Millisecond, HandshakeTimeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { defer close(done); defer b.Close(); s.handle(b) }()
		go io.Copy(io.Discard, a)
		a.SetWriteDeadline(time.Now().Add(time.Second))
		a.Write(in)
		a.Close()
		<-done
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				t.Fatalf("session %q left %s", in, e.Name())
			}
			os.Remove(dir + "/" + e.Name())
		}
	})
}

func BenchmarkParseControl(b *testing.B) {
	cf := ControlFile("vm", "root", "file.20", "dfA163vm")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseControl("cfA163vm", cf); err != nil {
			b.Fatal(err)
		}
	}
}
