package rsh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/nsexec"
	"github.com/lvsperf/lvsperf/timing"
)

func TestMain(m *testing.M) {
	nsexec.Main(map[string]nsexec.Func{
		"debian-clients-to-ours": debianClientsToOurs,
		"ours-to-inrshd":         oursToInRshd,
		"netkit-rcp-to-ours":     netkitRcpToOurs,
	})
	os.Exit(m.Run())
}

// TestInteropDebianClients runs netkit rsh (which can only dial port 514)
// and rsh-redone's rsh against our server on 127.0.0.1:514 of a private
// network namespace.
func TestInteropDebianClients(t *testing.T) {
	nsexec.Require(t, "netkit-rsh", "rsh-redone-rsh")
	nsexec.Run(t, "debian-clients-to-ours", 20*time.Second)
}

// TestInteropInRshd runs our client against Debian's in.rshd, started per
// connection by a small inetd-like launcher on 127.0.0.1:514 of a private
// namespace, with /root/.rhosts on a private overlay.
func TestInteropInRshd(t *testing.T) {
	nsexec.Require(t, "/usr/sbin/in.rshd")
	nsexec.Run(t, "ours-to-inrshd", 20*time.Second)
}

// TestInteropNetkitRcp runs netkit rcp both ways against our server on
// 127.0.0.1:514 of a private namespace (netkit rcp can only dial 514), and
// compares its error text for a missing file with the real rcp's, run by
// Debian's in.rshd.
func TestInteropNetkitRcp(t *testing.T) {
	nsexec.Require(t, "netkit-rcp", "/usr/sbin/in.rshd")
	nsexec.Run(t, "netkit-rcp-to-ours", 30*time.Second)
}

func writePattern(path string, n timing.Bytes) ([]byte, error) {
	var b bytes.Buffer
	io.Copy(&b, probes.NewPattern(n))
	return b.Bytes(), os.WriteFile(path, b.Bytes(), 0o644)
}

func debianClientsToOurs(dir string) error {
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		return err
	}
	s, err := NewServer(Options{Listen: DefaultAddr, SpoolDir: spool, Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer s.Close()
	in := filepath.Join(dir, "in")
	data, err := writePattern(in, 1<<20+3)
	if err != nil {
		return err
	}
	run := func(argv []string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		f, err := os.Open(in)
		if err != nil {
			return "", err
		}
		defer f.Close()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	completed := int64(0)
	for _, client := range [][]string{{"netkit-rsh", "127.0.0.1"}, {"rsh-redone-rsh", "-p", "514", "127.0.0.1"}} {
		name := client[0]
		for _, c := range []string{"cat > /dev/null", "(cd /usr; cat > file.20)"} {
			out, err := run(append(client, c))
			if err != nil {
				return fmt.Errorf("%s %q: %v: %s", name, c, err, out)
			}
			completed++
		}
		// Each client's copy must be whole and the only file.
		got, err := os.ReadFile(filepath.Join(spool, "file.20"))
		if err != nil || !bytes.Equal(got, data) {
			return fmt.Errorf("%s: spooled file.20 has %d bytes (%v), want %d identical bytes", name, len(got), err, len(data))
		}
		os.Remove(filepath.Join(spool, "file.20"))
		// netkit rsh prints the server's message; rsh-redone only says it
		// got no NUL status byte.
		out, err := run(append(client, "ls /"))
		if err == nil || !(strings.Contains(out, "refused") || name == "rsh-redone-rsh" && strings.Contains(out, "NULL byte")) {
			return fmt.Errorf("%s: `ls /` gave %v with %q; want a failure carrying the server's refusal", name, err, out)
		}
		fmt.Printf("%s: copies OK; `ls /` refused: %s\n", name, strings.TrimSpace(out))
	}
	for i := 0; i < 100 && s.Stats().Completed < completed; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Completed != completed || st.Failed != 0 || st.Refused != 2 {
		return fmt.Errorf("server stats %+v: want %d completed, 2 refused, none failed", st, completed)
	}
	return nil
}

// launchInRshd accepts on ln and runs in.rshd per connection with the
// socket as fds 0, 1 and 2, as inetd's nowait mode does.
func launchInRshd(ln *net.TCPListener) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		f, err := c.File()
		c.Close()
		if err != nil {
			continue
		}
		cmd := exec.Command("/usr/sbin/in.rshd")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
		if err := cmd.Start(); err != nil {
			fmt.Println("start in.rshd:", err)
		} else {
			go cmd.Wait()
		}
		f.Close()
	}
}

func oursToInRshd(dir string) error {
	if err := nsexec.Overlay("/root", filepath.Join(dir, "root-overlay")); err != nil {
		return err
	}
	if err := os.WriteFile("/root/.rhosts", []byte("localhost root\n127.0.0.1 root\n"), 0o600); err != nil {
		return err
	}
	l, err := net.Listen("tcp", DefaultAddr)
	if err != nil {
		return err
	}
	defer l.Close()
	go launchInRshd(l.(*net.TCPListener))

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	opts := ClientOptions{LocalUser: "root", RemoteUser: "root", Ports: PortReserved}
	res, err := Exec(ctx, DefaultAddr, "cat > /dev/null", probes.NewPattern(4<<20), opts)
	if err != nil || len(res.Stderr) > 0 {
		return fmt.Errorf("copy to /dev/null: %v, stderr %q", err, res.Stderr)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}
	if _, err := Exec(ctx, DefaultAddr, "(cd "+out+"; cat > file.17)", probes.NewPattern(1<<17), opts); err != nil {
		return fmt.Errorf("seed-form copy: %v", err)
	}
	var want bytes.Buffer
	io.Copy(&want, probes.NewPattern(1<<17))
	if got, err := os.ReadFile(filepath.Join(out, "file.17")); err != nil || !bytes.Equal(got, want.Bytes()) {
		return fmt.Errorf("in.rshd wrote %d bytes (%v), want %d identical bytes", len(got), err, want.Len())
	}
	res, err = Exec(ctx, DefaultAddr, "echo on-stderr >&2", nil, opts)
	if err != nil || string(res.Stderr) != "on-stderr\n" {
		return fmt.Errorf("stderr channel: %v, got %q; want \"on-stderr\\n\"", err, res.Stderr)
	}
	_, err = Exec(ctx, DefaultAddr, "cat > /dev/null", nil, ClientOptions{LocalUser: "root", RemoteUser: "nosuchuser", Ports: PortReserved})
	if !errors.Is(err, ErrRefused) {
		return fmt.Errorf("unknown remote user: got %v, want a refusal", err)
	}
	fmt.Println("unknown user:", err)

	// in.rshd costs 0.1 to 1 s per copy here (PAM with pam_systemd, a
	// fork and a shell), so the sweep is four sizes, twice each.
	sizes := []timing.Bytes{1, 1 << 10, 1 << 16, 1 << 20}
	sctx, scancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer scancel()
	ser, err := timing.Sweep(sctx, NewProbe(DefaultAddr, ProbeOptions{Client: opts}), timing.Options{Sizes: sizes, Reps: 1, Trials: 2, Warmup: -1, StopTime: -1}, nil)
	if err != nil {
		return fmt.Errorf("sweep against in.rshd: %w", err)
	}
	for _, pt := range ser.Points {
		fmt.Printf("  %8d B  min %v  max %v\n", pt.Bytes, pt.Min, pt.Max)
	}
	if ser.Fit == nil {
		return fmt.Errorf("sweep against in.rshd: %d points, no fit: %s", len(ser.Points), ser.FitError)
	}
	fmt.Printf("in.rshd sweep 1B–%v: latency %v, max rate %v, %d points, stopped %q\n",
		ser.Points[len(ser.Points)-1].Bytes, ser.Fit.Latency, ser.Fit.MaxRate, len(ser.Points), ser.Stopped)
	return nil
}

// runClient runs a client binary with a timeout and returns its combined
// output.
func runClient(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%v: %w", err, ctx.Err())
	}
	return string(out), err
}

func netkitRcpToOurs(dir string) error {
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		return err
	}
	s, err := NewServer(Options{Listen: DefaultAddr, SpoolDir: spool, Fsync: true, Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer s.Close()
	in := filepath.Join(dir, "in")
	data, err := writePattern(in, 1<<20+3)
	if err != nil {
		return err
	}
	mtime := time.Unix(1577934245, 0)
	if err := os.Chtimes(in, mtime, mtime); err != nil {
		return err
	}
	same := func(what, path string) error {
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			return fmt.Errorf("%s: %s has %d bytes (%v), want %d identical bytes", what, path, len(got), err, len(data))
		}
		return nil
	}
	// Upload under a new name, into a directory (the spool's root, "/"),
	// and with -p; download each back.
	steps := []struct {
		argv  []string
		check string
	}{
		{[]string{"netkit-rcp", in, "127.0.0.1:/up.bin"}, filepath.Join(spool, "up.bin")},
		{[]string{"netkit-rcp", in, "127.0.0.1:"}, filepath.Join(spool, "in")},
		{[]string{"netkit-rcp", "-p", in, "127.0.0.1:kept.bin"}, filepath.Join(spool, "kept.bin")},
		{[]string{"netkit-rcp", "127.0.0.1:/up.bin", filepath.Join(dir, "down.bin")}, filepath.Join(dir, "down.bin")},
		{[]string{"netkit-rcp", "-p", "127.0.0.1:kept.bin", filepath.Join(dir, "kept.bin")}, filepath.Join(dir, "kept.bin")},
	}
	for _, st := range steps {
		if out, err := runClient(st.argv...); err != nil {
			return fmt.Errorf("%q: %v: %s", st.argv, err, out)
		}
		if err := same(strings.Join(st.argv, " "), st.check); err != nil {
			return err
		}
	}
	for _, p := range []string{filepath.Join(spool, "kept.bin"), filepath.Join(dir, "kept.bin")} {
		if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(mtime) {
			return fmt.Errorf("rcp -p: %s has mtime %v (%v), want %v", p, st.ModTime(), err, mtime)
		}
	}
	// Two sources into a directory: netkit sends rcp -d -t.
	if err := os.Mkdir(filepath.Join(spool, "multi"), 0o755); err != nil {
		return err
	}
	if out, err := runClient("netkit-rcp", in, filepath.Join(dir, "kept.bin"), "127.0.0.1:/multi"); err != nil {
		return fmt.Errorf("rcp of two files into a directory: %v: %s", err, out)
	}
	for _, name := range []string{"in", "kept.bin"} {
		if err := same("rcp -d", filepath.Join(spool, "multi", name)); err != nil {
			return err
		}
	}
	if out, err := runClient("netkit-rcp", in, in, "127.0.0.1:/up.bin"); err == nil {
		return fmt.Errorf("rcp of two files onto a plain file succeeded: %s", out)
	}
	// A directory tree with -r, both ways.
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, "sub", "leaf"), data[:1000], 0o644); err != nil {
		return err
	}
	if out, err := runClient("netkit-rcp", "-r", tree, "127.0.0.1:tree"); err != nil {
		return fmt.Errorf("rcp -r up: %v: %s", err, out)
	}
	if out, err := runClient("netkit-rcp", "-r", "127.0.0.1:tree", filepath.Join(dir, "treeback")); err != nil {
		return fmt.Errorf("rcp -r down: %v: %s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "treeback", "sub", "leaf")); err != nil || !bytes.Equal(got, data[:1000]) {
		return fmt.Errorf("rcp -r round trip: leaf has %d bytes (%v), want 1000 identical", len(got), err)
	}
	// Failures whose text must be the real rcp's: a missing file, and a
	// target in a missing directory.
	failing := [][]string{
		{"netkit-rcp", "127.0.0.1:/nonexistent", filepath.Join(dir, "x")},
		{"netkit-rcp", in, "127.0.0.1:/nonexistent/x"},
	}
	var oursAll []string
	for _, argv := range failing {
		out, err := runClient(argv...)
		if err == nil {
			return fmt.Errorf("%q against our server succeeded: %q", argv, out)
		}
		oursAll = append(oursAll, out)
	}
	ours := oursAll[0]
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Printf("netkit rcp against ours: 5 copies of %d bytes and an -r tree OK; missing file: %q\n", len(data), ours)

	// The real rcp's text, from in.rshd running netkit rcp -f.
	if err := nsexec.Overlay("/root", filepath.Join(dir, "root-overlay")); err != nil {
		return err
	}
	if err := os.WriteFile("/root/.rhosts", []byte("localhost root\n127.0.0.1 root\n"), 0o600); err != nil {
		return err
	}
	l, err := net.Listen("tcp", DefaultAddr)
	if err != nil {
		return err
	}
	defer l.Close()
	go launchInRshd(l.(*net.TCPListener))
	for i, argv := range failing {
		real, err := runClient(argv...)
		if err == nil {
			return fmt.Errorf("%q against in.rshd succeeded: %q", argv, real)
		}
		if real != oursAll[i] {
			return fmt.Errorf("%q: our server gives %q, the real rcp under in.rshd %q", argv, oursAll[i], real)
		}
		fmt.Printf("%q: same text as the real rcp under in.rshd: %q\n", argv[1:], real)
	}
	return nil
}
