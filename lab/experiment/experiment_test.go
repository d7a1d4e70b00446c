package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/usr/sbin/ethtool"); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("experiment test needs root and ethtool (CI=true: failing instead of skipping)")
	}
	t.Skip("experiment test needs root and ethtool to build a namespace lab")
}

func TestNamesAndRefusals(t *testing.T) {
	if _, err := Run(context.Background(), "nosuch", Options{}); err == nil || !strings.Contains(err.Error(), "unknown experiment") {
		t.Errorf("unknown experiment: err = %v", err)
	}
	for _, n := range []string{"http", "rsh", "lpd", "nfs"} {
		_, err := Run(context.Background(), n, Options{OutDir: t.TempDir()})
		if os.Geteuid() != 0 {
			if err != lab.ErrNotRoot {
				t.Errorf("%s as non-root: err = %v, want lab.ErrNotRoot", n, err)
			}
		} else if err == nil || !strings.HasPrefix(err.Error(), "not implemented yet") {
			t.Errorf("%s without Options.Self: err = %v, want a not-implemented error", n, err)
		}
	}
	names := Names()
	if names[len(names)-1][0] != "all" {
		t.Errorf("all is not listed last: %v", names)
	}
}

// TestPathsPlumbing runs the paths experiment on a tiny budget: every path
// must carry a netpipe curve, and the results, plots and finding must land.
func TestPathsPlumbing(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reps, err := Run(ctx, "paths", Options{OutDir: dir, Budget: 20 * time.Second, MaxSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || !strings.Contains(reps[0].Finding, "NAT latency penalty over DR") {
		t.Fatalf("reports %+v", reps)
	}
	run, err := results.Load(filepath.Join(dir, "paths"+results.Extension))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"direct", "forward", "nat", "dr", "tun", "martian"}
	if len(run.Series) != len(want) {
		t.Fatalf("%d series, want %d", len(run.Series), len(want))
	}
	for i, s := range run.Series {
		if s.Label != want[i] || s.Path != "lab/"+want[i] || len(s.Points) < 3 {
			t.Errorf("series %d: label %q path %q with %d points", i, s.Label, s.Path, len(s.Points))
		}
	}
	for _, f := range []string{"paths-signature.png", "paths.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The VXLAN tunnel costs its 50 bytes of path MTU; DR costs none.
	if got := run.Options["tun_path_mtu"]; got != fmt.Sprint(1500-lab.VXLANOverhead) {
		t.Errorf("tun path MTU %q, want %d", got, 1500-lab.VXLANOverhead)
	}
	if got := run.Options["dr_path_mtu"]; got != "1500" {
		t.Errorf("dr path MTU %q, want 1500", got)
	}
}

// TestCPUCleansUpOnFailure makes the cpu experiment fail twice — a
// "proxy" binary that exits at once, and a cancellation in the middle of
// a transfer — and checks that neither leaves a namespace, link, nft
// table or cgroup behind.
func TestCPUCleansUpOnFailure(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	before, err := leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, "cpu", Options{OutDir: t.TempDir(), Budget: time.Second, CPUBulk: 1 << 20, Self: "/bin/true"}); err == nil ||
		!strings.Contains(err.Error(), "userspace director exited") {
		t.Errorf("with /bin/true as the proxy: err = %v, want the proxy's early exit", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, err := Run(cctx, "cpu", Options{OutDir: t.TempDir(), Budget: time.Second, CPUBulk: 4 << 30}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled mid-transfer: err = %v, want the context's deadline", err)
	}
	after, err := leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if left := newEntries(before, after); len(left) > 0 {
		t.Errorf("left behind after failures: %v", left)
	}
}

// TestCPUPlumbing runs the cpu experiment on its minimum of rounds
// (without the proxy, which needs the lvsperf binary): every kernel
// method gets figures and verdicts, and nothing is left behind.
func TestCPUPlumbing(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before, err := leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := Run(ctx, "cpu", Options{OutDir: dir, Budget: time.Second, CPUBulk: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if len(r.Verdicts) != 3 {
		t.Errorf("%d verdicts, want 3 (NAT vs DR per byte and per packet, NAT vs TUN)", len(r.Verdicts))
	}
	for _, m := range []string{"forward", "nat", "dr", "tun"} {
		if !strings.Contains(r.Finding, "\n"+m+" ") {
			t.Errorf("no %s row in\n%s", m, r.Finding)
		}
	}
	for _, f := range []string{"cpu.msgpack", "cpu-per-packet.png", "cpu-per-kib.svg", "cpu.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	after, err := leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if left := newEntries(before, after); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestMakeTransparent(t *testing.T) {
	needRoot(t)
	l, err := lab.Up(context.Background(), lab.Spec{Hosts: []lab.Host{{Name: "a"}}}, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var srv *netpipe.Server
	err = l.Host("a").Do(func() (err error) {
		if srv, err = netpipe.NewServer(context.Background(), netpipe.ServerOptions{Listen: "0.0.0.0:5002"}); err != nil {
			return err
		}
		return makeTransparent(5002)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := l.Host("a").Do(func() error { return makeTransparent(5003) }); err == nil {
		t.Error("makeTransparent found a listener on a port nobody listens on")
	}
}

func TestPinAll(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	unpin, err := affinity.PinAll(0)
	if err != nil {
		t.Skip(err)
	}
	var during unix.CPUSet
	unix.SchedGetaffinity(0, &during)
	unpin()
	var after unix.CPUSet
	unix.SchedGetaffinity(0, &after)
	if during.Count() != 1 || !during.IsSet(0) {
		t.Errorf("pinned mask has %d CPUs", during.Count())
	}
	if after != before {
		t.Errorf("mask not restored: %v, was %v", after, before)
	}
}

func TestTailRateAndSmallLatency(t *testing.T) {
	s := timing.Series{Points: []timing.Point{
		{Bytes: 1, Min: 5 * time.Microsecond}, {Bytes: 64, Min: 4 * time.Microsecond}, {Bytes: 1024, Min: 3 * time.Microsecond},
		{Bytes: 128 << 10, Min: time.Millisecond}, {Bytes: 256 << 10, Min: 2 * time.Millisecond}, {Bytes: 512 << 10, Min: 8 * time.Millisecond},
	}}
	if got := smallLatency(s); got != 4*time.Microsecond {
		t.Errorf("smallLatency = %v, want 4µs (best of the ≤64 B points only)", got)
	}
	r, ok := tailRate(s)
	if want := timing.Rate(256<<10, 2*time.Millisecond); !ok || r != want {
		t.Errorf("tailRate = %v, want the median %v", r, want)
	}
}
