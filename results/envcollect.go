package results

import (
	"github.com/lvsperf/lvsperf/internal/cpuidle"

	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procRoot is where CollectEnv and SampleCPU read the kernel's files.
const procRoot = "/proc"

// CollectEnv describes this machine for a run: host, kernel, CPU model and
// count, Go version, GOMAXPROCS, the 1-minute load average (as LoadBefore)
// and the MTU and TSO/GSO/GRO offloads of each named interface. Facts it
// cannot read are left empty; it never fails.
func CollectEnv(ifaces ...string) Env {
	e := Env{
		Tool:       "lvsperf " + ToolVersion,
		CPUs:       runtime.NumCPU(),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	e.Host, _ = os.Hostname()
	e.CPUIdle = cpuidle.Describe()
	if b, err := os.ReadFile(procRoot + "/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(procRoot + "/cpuinfo"); err == nil {
		e.CPU = cpuModel(b)
	}
	if l, err := loadAvg1(); err == nil {
		e.LoadBefore = l
	}
	for _, name := range ifaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			continue
		}
		if e.MTU == nil {
			e.MTU = make(map[string]int)
		}
		e.MTU[name] = ifc.MTU
		if o := offloads(name); o != "" {
			if e.Offloads == nil {
				e.Offloads = make(map[string]string)
			}
			e.Offloads[name] = o
		}
	}
	return e
}

// cpuModel returns the first "model name" of /proc/cpuinfo (or the
// "Hardware"/"cpu model" line some architectures use instead).
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Hardware", "cpu model":
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAvg1() (float64, error) {
	b, err := os.ReadFile(procRoot + "/loadavg")
	if err != nil {
		return 0, fmt.Errorf("read load average: %w", err)
	}
	return parseLoadAvg(b)
}

func parseLoadAvg(b []byte) (float64, error) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("load average: /proc/loadavg is empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("load average: want a number first in /proc/loadavg, found %q", f[0])
	}
	return v, nil
}

// CPUSample is the machine's and this process's CPU accounting at one
// instant. Take one before and one after a run and give both to Contention.
type CPUSample struct {
	At time.Time
	// Total, Idle and Steal are the machine's aggregate CPU ticks from
	// /proc/stat (Idle includes iowait).
	Total, Idle, Steal uint64
	// Self is the CPU time this process used (user + system, all threads).
	Self time.Duration
	// Load1 is the 1-minute load average.
	Load1 float64
}

// SampleCPU reads /proc/stat, /proc/loadavg and this process's rusage.
func SampleCPU() (CPUSample, error) {
	s := CPUSample{At: time.Now()}
	b, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return s, fmt.Errorf("sample CPU: %w", err)
	}
	if s.Total, s.Idle, s.Steal, err = parseProcStat(b); err != nil {
		return s, fmt.Errorf("sample CPU: %w", err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("sample CPU: getrusage: %w", err)
	}
	s.Self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if l, err := loadAvg1(); err == nil {
		s.Load1 = l
	}
	return s, nil
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: user nice
// system idle iowait irq softirq steal [guest guest_nice]. Guest time is
// already counted in user, so it is not added to the total.
func parseProcStat(b []byte) (total, idle, steal uint64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 5 {
			return 0, 0, 0, fmt.Errorf("/proc/stat cpu line has %d fields, want at least 4 counters", len(f)-1)
		}
		var v [8]uint64
		for i := 0; i < 8 && i+1 < len(f); i++ {
			if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				return 0, 0, 0, fmt.Errorf("/proc/stat cpu field %d: want a tick count, found %q", i+1, f[i+1])
			}
		}
		for _, x := range v {
			total += x
		}
		return total, v[3] + v[4], v[7], nil
	}
	return 0, 0, 0, fmt.Errorf("/proc/stat has no aggregate cpu line")
}

// Contention thresholds: a run is marked contended when other work used
// more than this share of the machine, or the hypervisor stole more than
// stealLimit percent of it.
const (
	otherBusyLimit = 25.0
	stealLimit     = 5.0
)

// ContentionReport says how busy the machine was during a run, beside what
// the run itself used.
type ContentionReport struct {
	// BusyPct is the share of the machine's CPU time (all CPUs) that was
	// busy; SelfPct the share this process used; OtherPct the rest.
	BusyPct, SelfPct, OtherPct float64
	// StealPct is the share the hypervisor took.
	StealPct float64
	// LoadBefore and LoadAfter are the 1-minute load averages.
	LoadBefore, LoadAfter float64
	// Contended is set when OtherPct or StealPct pass their limits; Note says which.
	Contended bool
	Note      string
}

// Contention compares two samples taken around a run. cpus is the number of
// CPUs the ticks are summed over (runtime.NumCPU()).
func Contention(before, after CPUSample, cpus int) ContentionReport {
	c := ContentionReport{LoadBefore: before.Load1, LoadAfter: after.Load1}
	if after.Total <= before.Total || after.Idle < before.Idle || after.Steal < before.Steal {
		c.Note = "no CPU time passed between the samples; contention unknown"
		return c
	}
	total := float64(after.Total - before.Total)
	c.BusyPct = 100 * (total - float64(after.Idle-before.Idle)) / total
	c.StealPct = 100 * float64(after.Steal-before.Steal) / total
	if wall := after.At.Sub(before.At); wall > 0 && cpus > 0 {
		c.SelfPct = 100 * float64(after.Self-before.Self) / (float64(wall) * float64(cpus))
	}
	c.OtherPct = max(0, c.BusyPct-c.SelfPct)
	var why []string
	if c.OtherPct > otherBusyLimit {
		why = append(why, fmt.Sprintf("other processes used %.0f%% of the CPUs (limit %.0f%%)", c.OtherPct, otherBusyLimit))
	}
	if c.StealPct > stealLimit {
		why = append(why, fmt.Sprintf("the hypervisor stole %.0f%% of the CPU time (limit %.0f%%)", c.StealPct, stealLimit))
	}
	if len(why) > 0 {
		c.Contended = true
		c.Note = "contended: " + strings.Join(why, "; ") + "; compare only runs taken side by side"
	}
	return c
}

// Apply records the report in e.
func (c ContentionReport) Apply(e *Env) {
	e.LoadBefore, e.LoadAfter = c.LoadBefore, c.LoadAfter
	e.StealPct = c.StealPct
	e.Contended = c.Contended
	e.Note = c.Note
}

// IdleCheck samples the machine for wait before a benchmark run: what is
// busy then is other work, which will compete with the run. It returns the
// share of the CPUs that work kept busy and the 1-minute load average at
// the end (both 0 when /proc cannot be read).
func IdleCheck(wait time.Duration) (busyPct, load1 float64) {
	before, err := SampleCPU()
	if err != nil {
		return 0, 0
	}
	time.Sleep(wait)
	after, err := SampleCPU()
	if err != nil {
		return 0, 0
	}
	return Contention(before, after, runtime.NumCPU()).BusyPct, after.Load1
}
