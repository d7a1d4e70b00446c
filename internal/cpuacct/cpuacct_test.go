package cpuacct

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// spinEnv makes the test binary a busy child: it spins for this many
// milliseconds of its own CPU time (see TestMain).
const spinEnv = "LVSPERF_CPUACCT_SPIN_MS"

func TestMain(m *testing.M) {
	if v := os.Getenv(spinEnv); v != "" {
		os.Exit(spin(v))
	}
	os.Exit(m.Run())
}

func cpuNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// spin waits for a line on stdin, reports its CPU time so far, spins
// until it has used the given milliseconds more, says "done", and exits
// when stdin closes.
func spin(v string) int {
	ms, err := strconv.Atoi(v)
	if err != nil {
		return 2
	}
	r := bufio.NewReader(os.Stdin)
	if _, err := r.ReadString('\n'); err != nil {
		return 2
	}
	start := cpuNow()
	fmt.Printf("start %d\n", int64(start))
	x := 1.0
	for deadline := time.Now().Add(30 * time.Second); cpuNow()-start < time.Duration(ms)*time.Millisecond && time.Now().Before(deadline); {
		for i := 0; i < 1e5; i++ {
			x = math.Sqrt(x + float64(i))
		}
	}
	fmt.Printf("done %v\n", x > 0)
	io.Copy(io.Discard, r)
	return 0
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("cpuacct group test needs root to create a cgroup (CI=true: failing instead of skipping)")
	}
	t.Skip("cpuacct group test needs root to create a cgroup")
}

// TestBusyLoop runs a child that spins for 300 ms of its own CPU and
// checks that /proc/PID/stat and the cpuacct group read it within 10% of
// the child's rusage, and that /proc/stat saw at least that much busy time.
func TestBusyLoop(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat(Root + "/cpuacct.usage"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no cgroup v1 cpuacct at %s: %v", Root, err)
		}
		t.Skipf("no cgroup v1 cpuacct at %s: %v", Root, err)
	}
	const spinFor = 300 * time.Millisecond
	g, err := NewGroup("")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(g.Path()); err == nil {
			t.Errorf("group %s still there after Close", g.Path())
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", spinEnv, spinFor.Milliseconds()))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	before, err := ReadStat()
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(outp)
	io.WriteString(in, "go\n")
	line, err := out.ReadString('\n')
	var startNs int64
	if _, serr := fmt.Sscanf(line, "start %d", &startNs); err != nil || serr != nil {
		t.Fatalf("child's start line %q: %v %v", line, err, serr)
	}
	if line, err := out.ReadString('\n'); err != nil || !strings.HasPrefix(line, "done") {
		t.Fatalf("child's done line %q: %v", line, err)
	}
	// The child now idles on stdin: read it from outside before it exits.
	u, s, err := ProcessTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	after, err := ReadStat()
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	usage, err := g.Usage()
	if err != nil {
		t.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rusage := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	// The group counts from Add on; the child's CPU before its start line
	// (runtime start-up) was partly before Add, so compare the group with
	// the rusage less that, and /proc/PID/stat with the whole rusage.
	sinceStart := rusage - time.Duration(startNs)
	t.Logf("rusage %v (since start line %v), /proc/PID/stat %v, cgroup %v, /proc/stat busy %v",
		rusage, sinceStart, u+s, usage, after.All.Sub(before.All).Busy())
	if rusage < spinFor {
		t.Fatalf("child's rusage %v is below the %v it was to spin", rusage, spinFor)
	}
	within := func(name string, got, want time.Duration) {
		if d := math.Abs(float64(got-want)) / float64(want); d > 0.10 {
			t.Errorf("%s read %v, rusage says %v: off by %.0f%%, want within 10%%", name, got, want, 100*d)
		}
	}
	within("/proc/PID/stat", u+s, rusage)
	// The group also holds the CPU between Add and the start line, at most
	// the child's whole start-up: accept the range.
	if usage < sinceStart*9/10 || usage > rusage*11/10 {
		t.Errorf("cgroup read %v, want within 10%% of the child's %v (since its start line) to %v (all)", usage, sinceStart, rusage)
	}
	if b := after.All.Sub(before.All).Busy(); b < spinFor*9/10 {
		t.Errorf("/proc/stat saw %v of busy CPU over a %v spin, want at least 90%% of it", b, spinFor)
	}
}

func TestParseStat(t *testing.T) {
	in := "cpu  100 2 30 4000 5 6 7 8 0 0\ncpu0 60 1 20 2000 2 3 4 5 0 0\ncpu1 40 1 10 2000 3 3 3 3 0 0\nintr 1 2 3\n"
	st, err := ParseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.PerCPU) != 2 || st.All.User != time.Second || st.PerCPU[0].SoftIRQ != 40*time.Millisecond {
		t.Errorf("parsed %+v", st)
	}
	if k := st.All.Kernel(); k != 430*time.Millisecond {
		t.Errorf("kernel time %v, want 430ms (system+irq+softirq)", k)
	}
	for _, bad := range []string{"", "cpu 1 2 3\n", "cpu a b c d e f g h\n"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

func TestProcessTimeSelf(t *testing.T) {
	for start := cpuNow(); cpuNow()-start < 50*time.Millisecond; {
	}
	u, s, err := ProcessTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u+s < 40*time.Millisecond {
		t.Errorf("own CPU read as %v after spinning 50ms", u+s)
	}
}

func TestSweepStale(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(root+"/cgroup.procs", nil, 0o644)
	// A pid far above pid_max cannot be alive.
	dead := root + "/" + Prefix + "999999999-abcdef"
	live := root + "/" + Prefix + strconv.Itoa(os.Getpid()) + "-abcdef"
	for _, d := range []string{dead, live, root + "/other"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := SweepStale(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != Prefix+"999999999-abcdef" {
		t.Errorf("swept %v, want only the dead process's group", got)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live group removed: %v", err)
	}
}
