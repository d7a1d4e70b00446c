package cpuacct

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/stat and /proc/PID/stat: USER_HZ, which the
// kernel fixes at 100 for user space on every architecture Go runs Linux on.
const userHZ = 100

func ticks(v uint64) time.Duration { return time.Duration(v) * (time.Second / userHZ) }

// Times is one CPU's (or all CPUs') time by kind, as /proc/stat counts it.
type Times struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal time.Duration
}

// Sub is t - u, kind by kind.
func (t Times) Sub(u Times) Times {
	return Times{t.User - u.User, t.Nice - u.Nice, t.System - u.System, t.Idle - u.Idle,
		t.IOWait - u.IOWait, t.IRQ - u.IRQ, t.SoftIRQ - u.SoftIRQ, t.Steal - u.Steal}
}

// Kernel is system + irq + softirq time: what forwarding, NAT and
// encapsulation in the kernel cost, wherever they ran.
func (t Times) Kernel() time.Duration { return t.System + t.IRQ + t.SoftIRQ }

// Busy is Kernel plus user and nice time.
func (t Times) Busy() time.Duration { return t.Kernel() + t.User + t.Nice }

// Stat is a reading of /proc/stat: the all-CPU line and each CPU's.
type Stat struct {
	All    Times
	PerCPU []Times
}

// ReadStat reads /proc/stat.
func ReadStat() (Stat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("cpuacct: %w", err)
	}
	return ParseStat(b)
}

// ParseStat parses the cpu lines of /proc/stat.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if len(f) < 9 {
			return Stat{}, fmt.Errorf("cpuacct: /proc/stat line %q: want at least 8 counters", sc.Text())
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return Stat{}, fmt.Errorf("cpuacct: /proc/stat line %q: counter %d: %w", f[0], i+1, err)
			}
			v[i] = n
		}
		t := Times{ticks(v[0]), ticks(v[1]), ticks(v[2]), ticks(v[3]), ticks(v[4]), ticks(v[5]), ticks(v[6]), ticks(v[7])}
		if f[0] == "cpu" {
			st.All, found = t, true
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil {
			return Stat{}, fmt.Errorf("cpuacct: /proc/stat: line %q: %w", f[0], err)
		}
		for len(st.PerCPU) <= cpu {
			st.PerCPU = append(st.PerCPU, Times{})
		}
		st.PerCPU[cpu] = t
	}
	if !found {
		return Stat{}, errors.New("cpuacct: /proc/stat has no \"cpu\" line")
	}
	return st, sc.Err()
}

// ProcessTime is a process's user and system time so far (all its
// threads, not its children), from /proc/PID/stat, in USER_HZ ticks.
func ProcessTime(pid int) (user, system time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cpuacct: %w", err)
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("cpuacct: /proc/%d/stat: no ')' after the command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("cpuacct: /proc/%d/stat: %d fields after the name, want at least 13", pid, len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("cpuacct: /proc/%d/stat utime/stime: %w", pid, err)
	}
	return ticks(u), ticks(s), nil
}

// Root is where the cgroup v1 cpuacct hierarchy is mounted.
const Root = "/sys/fs/cgroup/cpuacct"

// Prefix starts the name of every group NewGroup creates:
// Prefix<pid>-<random>, so that SweepStale finds those of dead processes.
const Prefix = "lvsperf-"

// Group is a cgroup v1 cpuacct group of this process's making. Close
// removes it.
type Group struct {
	root, path string
}

// NewGroup creates a fresh group under root (Root when empty).
func NewGroup(root string) (*Group, error) {
	if root == "" {
		root = Root
	}
	if _, err := os.Stat(filepath.Join(root, "cpuacct.usage")); err != nil {
		return nil, fmt.Errorf("cpuacct: no cgroup v1 cpuacct hierarchy at %s (%w); mount one or account by /proc/PID/stat", root, err)
	}
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("cpuacct: random group name: %w", err)
	}
	p := filepath.Join(root, fmt.Sprintf("%s%d-%s", Prefix, os.Getpid(), hex.EncodeToString(r[:])))
	if err := os.Mkdir(p, 0o755); err != nil {
		return nil, fmt.Errorf("cpuacct: create group: %w (needs root)", err)
	}
	return &Group{root: root, path: p}, nil
}

// Path is the group's directory.
func (g *Group) Path() string { return g.path }

// Add moves a process (all its threads) into the group. CPU it used
// before counts in the group it came from.
func (g *Group) Add(pid int) error {
	if err := os.WriteFile(filepath.Join(g.path, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("cpuacct: add pid %d to %s: %w", pid, g.path, err)
	}
	return nil
}

// Usage is the CPU time (user and system) the group's tasks used while
// in it, in nanoseconds as cpuacct.usage counts it; it keeps what exited
// tasks used.
func (g *Group) Usage() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(g.path, "cpuacct.usage"))
	if err != nil {
		return 0, fmt.Errorf("cpuacct: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cpuacct: %s/cpuacct.usage %q: %w", g.path, b, err)
	}
	return time.Duration(n), nil
}

// Close moves any task still in the group back to the root group and
// removes the group.
func (g *Group) Close() error { return remove(g.root, g.path) }

func remove(root, path string) error {
	var errs []error
	if b, err := os.ReadFile(filepath.Join(path, "cgroup.procs")); err == nil {
		for _, pid := range strings.Fields(string(b)) {
			if err := os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(pid), 0o644); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("cpuacct: move pid %s out of %s: %w", pid, path, err))
			}
		}
	}
	// A task that just exited may keep the group busy for a moment.
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(path); err == nil || errors.Is(err, os.ErrNotExist) {
			return errors.Join(errs...)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.Join(append(errs, fmt.Errorf("cpuacct: remove %s: %w", path, err))...)
}

// Groups lists the groups of lvsperf processes under root (Root when
// empty), as directory names.
func Groups(root string) ([]string, error) {
	if root == "" {
		root = Root
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cpuacct: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), Prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// SweepStale removes the groups of lvsperf processes that are gone (a
// crash or SIGKILL between NewGroup and Close) and returns their names.
func SweepStale(root string) ([]string, error) {
	if root == "" {
		root = Root
	}
	names, err := Groups(root)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range names {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(n, Prefix), "-", 2)[0])
		if err != nil || syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
			continue
		}
		if err := remove(root, filepath.Join(root, n)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n)
	}
	return removed, errors.Join(errs...)
}
