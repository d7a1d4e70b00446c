package nfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/probes/internal/nsexec"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/timing"
)

func TestMain(m *testing.M) {
	nsexec.Main(map[string]nsexec.Func{
		"ours-to-ganesha": oursToGanesha,
	})
	os.Exit(m.Run())
}

// lookPath finds a peer binary, failing under CI=true and skipping
// elsewhere when it is missing.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		nsexec.Unavailable(t, fmt.Sprintf("%s is not installed (%v); apt-get install libnfs-utils nfs-ganesha nfs-ganesha-vfs rpcbind", name, err))
	}
	return p
}

// libnfsURL is how libnfs reaches the embedded server: one port for MOUNT
// and NFS, and no MOUNT EXPORT call (go-nfs has none).
func libnfsURL(addr, name string) string {
	_, port, _ := net.SplitHostPort(addr)
	q := url.Values{"nfsport": {port}, "mountport": {port}, "auto-traverse-mounts": {"0"}, "version": {"3"}}
	return "nfs://127.0.0.1/" + name + "?" + q.Encode()
}

// TestInteropNFSCp copies a file up and down with libnfs's nfs-cp against
// the embedded server and checks both copies byte for byte.
func TestInteropNFSCp(t *testing.T) {
	nfscp := lookPath(t, "nfs-cp")
	s := startServer(t, ServerOptions{Files: 21})
	tmp := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, nfscp, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("nfs-cp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Up: a size that is not a multiple of any transfer size.
	up := probetest.FileBytes(3<<20 + 7)
	in := filepath.Join(tmp, "in")
	if err := os.WriteFile(in, up, 0o644); err != nil {
		t.Fatal(err)
	}
	run(in, libnfsURL(s.Addr(), "up.bin"))
	got, err := os.ReadFile(filepath.Join(s.Dir(), "up.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, up) {
		t.Fatalf("nfs-cp up: the server holds %d bytes, want the %d sent (first difference at %d)", len(got), len(up), firstDiff(got, up[:min(len(up), len(got))]))
	}
	// Down: file.20, made by the server.
	out := filepath.Join(tmp, "out")
	run(libnfsURL(s.Addr(), "file.20"), out)
	got, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := probetest.FileBytes(1 << 20); !bytes.Equal(got, want) {
		t.Fatalf("nfs-cp down: got %d bytes, want %d of Pattern", len(got), len(want))
	}
	// Our client reads what nfs-cp wrote.
	c := dial(t, ClientOptions{Addr: s.Addr(), Verify: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Read(ctx, "up.bin", timing.Bytes(len(up))); err != nil {
		t.Fatal(err)
	}
}

// TestInteropGanesha runs our client against nfs-ganesha 4.3 (VFS FSAL) with
// rpcbind, both on their fixed ports inside private network, mount and PID
// namespaces: MNT by hand on the MOUNT port, NFS on 2049.
func TestInteropGanesha(t *testing.T) {
	nsexec.Require(t, "ganesha.nfsd", "rpcbind", "ip")
	nsexec.Run(t, "ours-to-ganesha", 30*time.Second)
}

const ganeshaConf = `NFS_CORE_PARAM {
	NFS_Port = 2049; MNT_Port = 20048; NFS_Protocols = 3, 4;
	Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = true;
	Mount_Path_Pseudo = true; Bind_Addr = 127.0.0.1;
}
NFSV4 { Graceless = true; }
EXPORT {
	Export_Id = 1; Path = %s; Pseudo = /export;
	Access_Type = RW; Squash = No_Root_Squash; SecType = sys;
	Transports = TCP, UDP; Protocols = 3, 4;
	FSAL { Name = VFS; }
}
`

// oursToGanesha runs inside the namespaces (see nsexec).
func oursToGanesha(dir string) error {
	// Ganesha resolves Bind_Addr with AI_ADDRCONFIG, which ignores 127.0.0.1:
	// it needs a second loopback address.
	if out, err := exec.Command("ip", "addr", "add", "127.0.0.2/8", "dev", "lo").CombinedOutput(); err != nil {
		return fmt.Errorf("ip addr add: %v: %s", err, out)
	}
	// rpcbind and Ganesha write under /run and /var/lib/nfs: keep it private.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("private /run: %w", err)
	}
	if st, err := os.Stat("/var/lib/nfs"); err == nil && st.IsDir() {
		if err := nsexec.Overlay("/var/lib/nfs", filepath.Join(dir, "varlibnfs")); err != nil {
			return err
		}
	}
	export := filepath.Join(dir, "export")
	if err := os.Mkdir(export, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "ganesha.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, ganeshaConf, export), 0o644); err != nil {
		return err
	}
	rpcbind := exec.Command("rpcbind", "-f")
	if err := rpcbind.Start(); err != nil {
		return fmt.Errorf("start rpcbind: %w", err)
	}
	defer func() { rpcbind.Process.Kill(); rpcbind.Wait() }()
	if err := waitListen("127.0.0.1:111", 5*time.Second); err != nil {
		return fmt.Errorf("rpcbind: %w", err)
	}
	logf := filepath.Join(dir, "ganesha.log")
	g := exec.Command("ganesha.nfsd", "-F", "-f", conf, "-L", logf, "-p", filepath.Join(dir, "ganesha.pid"))
	if err := g.Start(); err != nil {
		return fmt.Errorf("start ganesha.nfsd: %w", err)
	}
	defer func() { g.Process.Kill(); g.Wait() }()
	for _, a := range []string{"127.0.0.1:2049", "127.0.0.1:20048"} {
		if err := waitListen(a, 15*time.Second); err != nil {
			log, _ := os.ReadFile(logf)
			return fmt.Errorf("ganesha: %w\n%s", err, tail(log, 2000))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, ClientOptions{Addr: "127.0.0.1:2049", MountAddr: "127.0.0.1:20048", Export: "/export", RSize: 64 << 10, WSize: 64 << 10, Verify: true})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("ganesha: rsize %v wsize %v; %v\n", c.RSize(), c.WSize(), c.Info())
	const n = 3<<20 + 7
	if _, err := c.Write(ctx, "up.bin", n); err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(export, "up.bin"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, probetest.FileBytes(n)) {
		return fmt.Errorf("ganesha holds %d bytes after our write of %d, not byte-identical", len(got), n)
	}
	if _, err := c.Read(ctx, "up.bin", n); err != nil {
		return err
	}
	// A file Ganesha's disk holds, read by us.
	if err := os.WriteFile(filepath.Join(export, "file.16"), probetest.FileBytes(1<<16), 0o644); err != nil {
		return err
	}
	if _, err := c.Read(ctx, "file.16", 1<<16); err != nil {
		return err
	}
	// Overwriting with a shorter file truncates, as cp does.
	if _, err := c.Write(ctx, "up.bin", 5); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(export, "up.bin")); err != nil || st.Size() != 5 {
		return fmt.Errorf("after writing 5 bytes over %d: %v, %v", n, st, err)
	}
	if err := udpToGanesha(ctx, export); err != nil {
		return fmt.Errorf("over UDP: %w", err)
	}
	// A short sweep, for the latency and max_rate of a real server.
	sizes, _ := timing.PowersOfTwo(0, 20)
	for _, d := range []Direction{Read, Write} {
		ser, err := timing.Sweep(ctx, NewProbe(c, d), timing.Options{Sizes: sizes, Budget: 3 * time.Second}, nil)
		if err != nil {
			return fmt.Errorf("sweep %s: %w", d, err)
		}
		if ser.Fit != nil {
			fmt.Printf("ganesha %s: %d sizes, latency %v, max_rate %v\n", d, len(ser.Points), ser.Fit.Latency, ser.Fit.MaxRate)
		}
	}
	return nil
}

// udpToGanesha copies both ways with our NFSv3-over-UDP client, checks
// the bytes, and reads with each rsize of a small sweep.
func udpToGanesha(ctx context.Context, export string) error {
	c, err := DialUDP(ctx, ClientOptions{Addr: "127.0.0.1:2049", MountAddr: "127.0.0.1:20048", Export: "/export", RSize: 1 << 20, WSize: 1 << 20, Verify: true})
	if err != nil {
		return err
	}
	defer c.Close()
	info := c.Info()
	fmt.Printf("ganesha over UDP: rsize %v wsize %v (asked 1MiB; capped: %s / %s)\n", c.RSize(), c.WSize(), info["rsize_capped"], info["wsize_capped"])
	if c.RSize() != MaxUDPXfer || c.WSize() != MaxUDPXfer {
		return fmt.Errorf("rsize %v wsize %v: want both capped at %v", c.RSize(), c.WSize(), MaxUDPXfer)
	}
	const n = 1<<20 + 13
	if _, err := c.Write(ctx, "udp.bin", n); err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(export, "udp.bin"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, probetest.FileBytes(n)) {
		return fmt.Errorf("ganesha holds %d bytes after our UDP write of %d, not byte-identical", len(got), n)
	}
	if _, err := c.Read(ctx, "udp.bin", n); err != nil {
		return err
	}
	// Overwrite shorter: SETATTR size 0 first, as cp.
	if _, err := c.Write(ctx, "udp.bin", 3); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(export, "udp.bin")); err != nil || st.Size() != 3 {
		return fmt.Errorf("after a UDP write of 3 bytes over %d: %v, %v", n, st, err)
	}
	if _, err := c.Read(ctx, "missing", 1); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("UDP read of a missing file: %v; want NFS3ERR_NOENT", err)
	}
	for _, sz := range []timing.Bytes{1 << 10, 4 << 10, 16 << 10, 32 << 10} {
		uc, err := DialUDP(ctx, ClientOptions{Addr: "127.0.0.1:2049", MountAddr: "127.0.0.1:20048", Export: "/export", RSize: sz, WSize: sz})
		if err != nil {
			return err
		}
		ser, err := timing.Sweep(ctx, NewUDPProbe(uc, Read), timing.Options{Sizes: []timing.Bytes{1 << 16, 1 << 20}, Budget: time.Second}, nil)
		uc.Close()
		if err != nil {
			return fmt.Errorf("UDP sweep with rsize %v: %w", sz, err)
		}
		last := ser.Points[len(ser.Points)-1]
		fmt.Printf("ganesha over UDP, rsize %6v: 1MiB read in %v (%v), %d resent\n", sz, last.Min, last.Rate(), uc.Retransmissions())
	}
	// The probe's own sweep over UDP, both ways, one size past the UDP cap.
	res, err := Sweep(ctx, SweepOptions{
		UDP: true, Client: ClientOptions{Addr: "127.0.0.1:2049", MountAddr: "127.0.0.1:20048", Export: "/export"},
		MinExp: 10, MaxExp: 16, RWSizes: []timing.Bytes{4 << 10, 64 << 10}, Timing: timing.Options{Budget: 2 * time.Second},
	})
	if err != nil {
		return fmt.Errorf("sweep over UDP: %w", err)
	}
	if len(res.Run.Series) != 4 || res.Run.Options["transport"] != "udp" {
		return fmt.Errorf("sweep over UDP: %d series, options %v; want 4 over udp", len(res.Run.Series), res.Run.Options)
	}
	for _, ser := range res.Run.Series {
		key := map[string]string{"read": "rsize", "write": "wsize"}[ser.Info["direction"]]
		capped := strings.HasPrefix(ser.Info[key+"_capped"], "true")
		if ser.Info["transport"] != "udp" || len(ser.Points) == 0 || capped != strings.HasSuffix(ser.Label, "64KiB") {
			return fmt.Errorf("sweep over UDP: series %q: %d points, info %v", ser.Label, len(ser.Points), ser.Info)
		}
	}
	fmt.Printf("sweep over UDP: %d series, 64KiB capped to %s\n", len(res.Run.Series), res.Run.Series[1].Info["rsize"])
	return nil
}

func waitListen(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
