package probes

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

func TestPatternLength(t *testing.T) {
	for _, n := range []timing.Bytes{0, 1, 37, 128<<10 - 1, 128 << 10, 1<<20 + 5} {
		b, err := io.ReadAll(NewPattern(n))
		if err != nil || timing.Bytes(len(b)) != n {
			t.Fatalf("pattern of %d: got %d bytes, %v", n, len(b), err)
		}
		for i := range b {
			if b[i] != pattern[i%len(pattern)] {
				t.Fatalf("pattern of %d differs at %d", n, i)
			}
		}
	}
}

func TestReservedPorts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lo := net.IPv4(127, 0, 0, 1)
	ln, err := ListenReserved(ctx, lo, LPDLow, LPDHigh)
	if os.Geteuid() != 0 {
		if !errors.Is(err, ErrNotPrivileged) {
			t.Fatalf("unprivileged listen on a reserved port: %v, want ErrNotPrivileged", err)
		}
		t.Skip("skipped: binding reserved ports needs root")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if p := ln.Addr().(*net.TCPAddr).Port; p < LPDLow || p > LPDHigh {
		t.Fatalf("listened on port %d, outside %d–%d", p, LPDLow, LPDHigh)
	}
	c, err := DialReserved(ctx, lo, ln.Addr().String(), RcmdLow, RcmdHigh)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.LocalAddr().(*net.TCPAddr).Port; !IsReserved(p) {
		t.Fatalf("dialled from port %d, not a reserved one", p)
	}
	if _, err := DialReserved(ctx, lo, "127.0.0.1:1", 5, 2); err == nil {
		t.Fatal("an empty range was accepted")
	}
}

func TestFSType(t *testing.T) {
	// /proc is procfs, unknown to FSType: its magic number in hex.
	if got, err := FSType("/proc"); err != nil || got != "0x9fa0" {
		t.Errorf("FSType(/proc) = %q, %v; want 0x9fa0", got, err)
	}
	if _, err := FSType("/no/such/dir"); err == nil {
		t.Error("FSType of a missing directory: no error")
	}
	// Every mount of a type FSType knows must be named as the kernel's
	// mount table names it.
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || checked[f[2]] || !slices.Contains([]string{"tmpfs", "ext4", "xfs", "btrfs", "overlay"}, f[2]) {
			continue
		}
		got, err := FSType(f[1])
		if err != nil {
			continue // a mount we may not stat
		}
		if got != f[2] {
			t.Errorf("FSType(%s) = %q; the mount table says %q", f[1], got, f[2])
		}
		if InMemory(got) != (f[2] == "tmpfs") {
			t.Errorf("InMemory(%q) = %v", got, InMemory(got))
		}
		checked[f[2]] = true
	}
	if len(checked) == 0 {
		t.Skip("skipped: no tmpfs, ext4, xfs, btrfs or overlay mount to check against")
	}
	t.Logf("checked against the mount table: %v", checked)
}
