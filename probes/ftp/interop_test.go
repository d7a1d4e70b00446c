package ftp

import (
	"bytes"
	"context"
	"fmt"
	"net"
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
		"ours-to-vsftpd": oursToVsftpd,
	})
	os.Exit(m.Run())
}

// TestInteropLftp puts and gets with lftp against the embedded server, in
// passive and active mode, checking every copy byte for byte.
func TestInteropLftp(t *testing.T) {
	lftp, err := exec.LookPath("lftp")
	if err != nil {
		nsexec.Unavailable(t, fmt.Sprintf("lftp is not installed (%v); apt-get install lftp", err))
	}
	for _, storage := range []Storage{Memory, Disk} {
		s := startServer(t, ServerOptions{Storage: storage, Files: 21, User: "bench", Password: "secret"})
		_, port, _ := net.SplitHostPort(s.Addr())
		tmp := t.TempDir()
		up := probetest.FileBytes(3<<20 + 7)
		in := filepath.Join(tmp, "in")
		if err := os.WriteFile(in, up, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []struct{ name, set string }{
			{"passive", "set ftp:passive-mode on;"},
			{"active", "set ftp:passive-mode off; set ftp:prefer-epsv off;"},
		} {
			out := filepath.Join(tmp, "out-"+mode.name)
			script := mode.set + " set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10;" +
				" put " + in + " -o up-" + mode.name + "; get file.20 -o " + out + "; bye"
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			res, err := exec.CommandContext(ctx, lftp, "-u", "bench,secret", "-p", port, "-e", script, "127.0.0.1").CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("%s %s: lftp: %v\n%s", storage, mode.name, err, res)
			}
			f, err := s.FS().Open("/up-" + mode.name)
			if err != nil {
				t.Fatalf("%s %s: lftp's upload is not on the server: %v", storage, mode.name, err)
			}
			var got bytes.Buffer
			got.ReadFrom(f)
			f.Close()
			if !bytes.Equal(got.Bytes(), up) {
				t.Fatalf("%s %s: the server holds %d bytes, want the %d lftp sent", storage, mode.name, got.Len(), len(up))
			}
			down, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(down, probetest.FileBytes(1<<20)) {
				t.Fatalf("%s %s: lftp got %d bytes of file.20, not the server's 1 MiB", storage, mode.name, len(down))
			}
		}
	}
}

// TestInteropVsftpd runs our client (passive and active) against vsftpd
// with a local user, inside private network, mount and PID namespaces; the
// user lives in an overlay on /etc that vanishes with the namespace.
func TestInteropVsftpd(t *testing.T) {
	nsexec.Require(t, "vsftpd", "chpasswd")
	nsexec.Run(t, "ours-to-vsftpd", 30*time.Second)
}

const vsftpdConf = `listen=YES
listen_address=127.0.0.1
listen_port=2121
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
pam_service_name=vsftpd
secure_chroot_dir=%s
pasv_min_port=30000
pasv_max_port=30100
pasv_address=127.0.0.1
seccomp_sandbox=NO
max_per_ip=0
max_clients=0
xferlog_enable=NO
`

// oursToVsftpd runs inside the namespaces (see nsexec).
func oursToVsftpd(dir string) error {
	const user, pass, uid = "lvsbench", "pw-lvs-123", 4242
	if err := nsexec.Overlay("/etc", filepath.Join(dir, "etc")); err != nil {
		return err
	}
	// The user must reach its home: the test's temporary directory sits
	// under a 0700 parent, so use a private tmpfs on /mnt (this mount
	// namespace only).
	if err := unix.Mount("tmpfs", "/mnt", "tmpfs", 0, "mode=0755,size=64m"); err != nil {
		return fmt.Errorf("private /mnt: %w", err)
	}
	home := "/mnt/home"
	empty := "/mnt/empty"
	for _, d := range []string{home, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(home, uid, uid); err != nil {
		return err
	}
	appendLine := func(file, line string) error {
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(line + "\n")
		return errorsJoin(err, f.Close())
	}
	if err := appendLine("/etc/passwd", fmt.Sprintf("%s:x:%d:%d::%s:/bin/sh", user, uid, uid, home)); err != nil {
		return err
	}
	if err := appendLine("/etc/shadow", user+":!:19000:0:99999:7:::"); err != nil {
		return err
	}
	cp := exec.Command("chpasswd")
	cp.Stdin = strings.NewReader(user + ":" + pass + "\n")
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("chpasswd: %v: %s", err, out)
	}
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, vsftpdConf, empty), 0o600); err != nil {
		return err
	}
	v := exec.Command("vsftpd", conf)
	var vout bytes.Buffer
	v.Stdout, v.Stderr = &vout, &vout
	if err := v.Start(); err != nil {
		return fmt.Errorf("start vsftpd: %w", err)
	}
	defer func() { v.Process.Kill(); v.Wait() }()
	if err := waitListen("127.0.0.1:2121", 10*time.Second); err != nil {
		return fmt.Errorf("vsftpd: %w: %s", err, vout.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	const n = 3<<20 + 7
	for _, o := range []ClientOptions{{}, {DisableEPSV: true}, {Active: true}, {Active: true, LoginPerTransfer: true}} {
		o.Addr, o.User, o.Password, o.Verify = "127.0.0.1:2121", user, pass, true
		c, err := Dial(ctx, o)
		if err != nil {
			return err
		}
		name := "up-" + o.Mode()
		if _, err := c.Put(ctx, name, n); err != nil {
			c.Close()
			return err
		}
		got, err := os.ReadFile(filepath.Join(home, name))
		if err != nil {
			c.Close()
			return err
		}
		if !bytes.Equal(got, probetest.FileBytes(n)) {
			c.Close()
			return fmt.Errorf("%s: vsftpd holds %d bytes after our put of %d, not byte-identical", o.Mode(), len(got), n)
		}
		if _, err := c.Get(ctx, name, n); err != nil {
			c.Close()
			return err
		}
		if err := c.Close(); err != nil {
			return fmt.Errorf("%s: quit: %w", o.Mode(), err)
		}
	}
	// A short sweep, for the latency and max_rate of a real server.
	c, err := Dial(ctx, ClientOptions{Addr: "127.0.0.1:2121", User: user, Password: pass})
	if err != nil {
		return err
	}
	defer c.Close()
	sizes, _ := timing.PowersOfTwo(0, 20)
	for _, d := range []Direction{Get, Put} {
		ser, err := timing.Sweep(ctx, NewProbe(c, d), timing.Options{Sizes: sizes, Budget: 3 * time.Second}, nil)
		if err != nil {
			return fmt.Errorf("sweep %s: %w", d, err)
		}
		if ser.Fit != nil {
			fmt.Printf("vsftpd %s (passive): %d sizes, latency %v, max_rate %v\n", d, len(ser.Points), ser.Fit.Latency, ser.Fit.MaxRate)
		}
	}
	return nil
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
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
