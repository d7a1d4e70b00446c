// Package nsexec runs part of a test binary as a child process in private
// network, mount and PID namespaces, so interop tests can run real daemons on
// their fixed ports (514, 515) with private configuration files, leaving the
// host's files and ports alone, and nothing started in them outlives the test.
package nsexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	envFunc = "LVSPERF_NSEXEC"
	envDir  = "LVSPERF_NSEXEC_DIR"
)

// Func is a scenario run inside the namespaces. Dir is a private tmpfs
// (mode 0755) for its files; it vanishes with the mount namespace.
type Func func(dir string) error

// Main runs the scenario named in the environment and exits when the
// process is a child started by Run; otherwise it returns at once. Call it
// first thing in TestMain.
func Main(funcs map[string]Func) {
	name := os.Getenv(envFunc)
	if name == "" {
		return
	}
	f, ok := funcs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "nsexec: no scenario %q in this test binary\n", name)
		os.Exit(2)
	}
	dir := os.Getenv(envDir)
	if err := setup(dir); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: set up the namespaces: %v\n", err)
		os.Exit(2)
	}
	if err := f(dir); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// setup makes every mount private (so nothing below propagates to the
// host), brings lo up and mounts a tmpfs on dir.
func setup(dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := loUp(); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755,size=512m"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	return nil
}

func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for ioctl: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// Overlay makes target writable inside the mount namespace only: an
// overlay whose upper layer lives in scratch (a directory on the tmpfs).
// Writes under target then never reach the host's files.
func Overlay(target, scratch string) error {
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + target + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay on %s: %w", target, err)
	}
	return nil
}

// inCI reports whether missing capabilities must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// Unavailable fails the test in CI and skips it elsewhere, with reason.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skipf("skipped: %s", reason)
}

// Require checks for root and the given binaries (names or paths) and
// returns their paths.
func Require(t testing.TB, bins ...string) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "this interop test needs root for namespaces, mounts and reserved ports")
	}
	var paths []string
	for _, b := range bins {
		p, err := exec.LookPath(b)
		if err != nil {
			Unavailable(t, fmt.Sprintf("%s is not installed (%v); apt-get install the package that provides it", b, err))
		}
		paths = append(paths, p)
	}
	return paths
}

// Run runs the scenario name of this test binary in fresh network, mount
// and PID namespaces and fails t if it fails or outlives timeout. Killing the
// child (PID 1 of its namespace) kills everything it started.
func Run(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envFunc+"="+name, envDir+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Logf("%s:\n%s", name, s)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish within %v", name, timeout)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
