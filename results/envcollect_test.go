package results

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCollectEnv(t *testing.T) {
	e := CollectEnv("lo", "no-such-interface0")
	if e.CPUs != runtime.NumCPU() || e.GoVersion != runtime.Version() || e.GOMAXPROCS < 1 || !strings.Contains(e.Tool, ToolVersion) {
		t.Errorf("CollectEnv = %+v: CPUs, Go version, GOMAXPROCS or tool wrong", e)
	}
	if runtime.GOOS == "linux" {
		if e.Kernel == "" || e.Host == "" {
			t.Errorf("CollectEnv on Linux: kernel %q host %q, want both", e.Kernel, e.Host)
		}
		if e.MTU["lo"] <= 0 {
			t.Errorf("MTU of lo = %d, want > 0", e.MTU["lo"])
		}
		if o := e.Offloads["lo"]; !regexp.MustCompile(`^tso=(on|off) gso=(on|off) gro=(on|off)$`).MatchString(o) {
			t.Errorf("offloads of lo = %q, want \"tso=on|off gso=… gro=…\"", o)
		}
	}
	if _, ok := e.MTU["no-such-interface0"]; ok {
		t.Error("CollectEnv recorded an MTU for an interface that does not exist")
	}
}

func TestCPUModel(t *testing.T) {
	for in, want := range map[string]string{
		"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nmodel name\t: other\n": "Intel(R) Xeon(R) CPU @ 2.20GHz",
		"processor : 0\nHardware : BCM2835\n": "BCM2835",
		"nothing here\n":                      "",
	} {
		if got := cpuModel([]byte(in)); got != want {
			t.Errorf("cpuModel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	total, idle, steal, err := parseProcStat([]byte("cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\n"))
	if err != nil || total != 990 || idle != 820 || steal != 10 {
		t.Errorf("parseProcStat = %d %d %d %v, want 990 820 10 (guest not double counted)", total, idle, steal, err)
	}
	for _, bad := range []string{"", "cpu 1 2\n", "cpu 1 2 x 4\n", "intr 1 2 3\n"} {
		if _, _, _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) succeeded", bad)
		}
	}
	if v, err := parseLoadAvg([]byte("0.52 0.40 0.33 1/234 5678\n")); err != nil || v != 0.52 {
		t.Errorf("parseLoadAvg = %v, %v; want 0.52", v, err)
	}
	if _, err := parseLoadAvg([]byte("x")); err == nil {
		t.Error("parseLoadAvg(x) succeeded")
	}
}

func TestContention(t *testing.T) {
	t0 := time.Unix(1000, 0)
	before := CPUSample{At: t0, Total: 1000, Idle: 800, Steal: 0, Self: 0, Load1: 0.5}
	// 10 s on 2 CPUs = 2000 ticks at 100 Hz. The machine was 60% busy; this
	// process used 5 s of CPU = 25% of the machine; others 35%.
	after := CPUSample{At: t0.Add(10 * time.Second), Total: 3000, Idle: 1600, Steal: 40, Self: 5 * time.Second, Load1: 1.5}
	c := Contention(before, after, 2)
	if !near(c.BusyPct, 60) || !near(c.SelfPct, 25) || !near(c.OtherPct, 35) || !near(c.StealPct, 2) {
		t.Errorf("Contention = %+v, want busy 60 self 25 other 35 steal 2", c)
	}
	if !c.Contended || !strings.Contains(c.Note, "other processes used 35%") {
		t.Errorf("Contention = %+v, want contended by other processes", c)
	}
	// The run itself used all the busy time (60% of 2 CPUs × 10 s = 12 s):
	// not contended.
	after.Self = 12 * time.Second
	if c := Contention(before, after, 2); c.Contended || !near(c.OtherPct, 0) {
		t.Errorf("Contention with the run using all busy time = %+v, want not contended", c)
	}
	// Steal alone marks it.
	after.Steal = 200
	if c := Contention(before, after, 2); !c.Contended || !strings.Contains(c.Note, "stole 10%") {
		t.Errorf("Contention with 10%% steal = %+v, want contended by steal", c)
	}
	var e Env
	c.Apply(&e)
	if e.LoadBefore != 0.5 || e.LoadAfter != 1.5 || !e.Contended || e.Note != c.Note {
		t.Errorf("Apply gave %+v", e)
	}
	if c := Contention(after, before, 2); c.Contended || !strings.Contains(c.Note, "unknown") {
		t.Errorf("Contention of samples in the wrong order = %+v, want unknown", c)
	}
}

// TestSampleCPU takes two real samples around some work of this process.
func TestSampleCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SampleCPU reads /proc, which only Linux has")
	}
	a, err := SampleCPU()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	b, err := SampleCPU()
	if err != nil {
		t.Fatal(err)
	}
	if b.Total <= a.Total || b.Self <= a.Self {
		t.Errorf("after %d spins: total %d→%d, self %v→%v; want both to grow", x, a.Total, b.Total, a.Self, b.Self)
	}
	c := Contention(a, b, runtime.NumCPU())
	if c.SelfPct <= 0 || c.BusyPct <= 0 || c.BusyPct > 100 {
		t.Errorf("Contention of a busy loop = %+v, want self and busy in (0, 100]", c)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestOffloadsMatchEthtool compares the ioctl reading with ethtool -k
// (Debian package ethtool) on the loopback interface.
func TestOffloadsMatchEthtool(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("offloads are read on Linux only")
	}
	bin, err := exec.LookPath("ethtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ethtool is not installed; CI must apt-get install -y ethtool")
		}
		t.Skip("ethtool is not installed (Debian package ethtool)")
	}
	out, err := exec.Command(bin, "-k", "lo").Output()
	if err != nil {
		t.Fatalf("ethtool -k lo: %v", err)
	}
	state := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			state[strings.TrimSpace(k)] = strings.Fields(v + " ?")[0]
		}
	}
	want := fmt.Sprintf("tso=%s gso=%s gro=%s", state["tcp-segmentation-offload"], state["generic-segmentation-offload"], state["generic-receive-offload"])
	if got := offloads("lo"); got != want {
		t.Errorf("offloads(lo) = %q, ethtool -k lo says %q", got, want)
	}
	if got := offloads("no-such-if0"); got != "" {
		t.Errorf("offloads of a missing interface = %q, want empty", got)
	}
}
