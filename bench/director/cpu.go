package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the machine's busy time and the benchmark's own processes'
// CPU time at one instant, to tell how much else ran on the machine.
type cpuSample struct {
	at     time.Time
	busy   float64 // seconds, all CPUs
	ours   float64 // seconds, our processes
	hz     float64
	failed bool
}

const clockTicks = 100 // USER_HZ on Linux

func readCPU(pids []int) cpuSample {
	s := cpuSample{at: time.Now(), hz: clockTicks}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		s.failed = true
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		s.failed = true
		return s
	}
	var total, idle float64
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		total += x
		if i == 3 || i == 4 { // idle, iowait
			idle += x
		}
	}
	s.busy = (total - idle) / s.hz
	// Each process once, with its live descendants: the proxies are this
	// process's children, and a proxy may have children of its own.
	seen := map[int]bool{}
	for _, pid := range pids {
		for _, p := range procTree(pid) {
			if !seen[p] {
				seen[p] = true
				s.ours += statCPU(p).Seconds()
			}
		}
	}
	return s
}

// otherCores is how many cores, on average since s0, processes other than
// ours kept busy.
func (s cpuSample) otherCores(s0 cpuSample) float64 {
	if s.failed || s0.failed {
		return -1
	}
	el := s.at.Sub(s0.at).Seconds()
	if el <= 0 {
		return -1
	}
	o := ((s.busy - s0.busy) - (s.ours - s0.ours)) / el
	return max(o, 0)
}

// cpuTime is what a proxy process has used so far, read two ways (see
// procCPU).
type cpuTime struct {
	ran   time.Duration // schedstat run time of the live threads, ns
	ticks time.Duration // utime+stime+cutime+cstime, 10 ms clock ticks
}

// procCPU is the CPU time a proxy process pid has used, measured the same
// way for every proxy (zero when pid is 0 or unreadable): all its threads,
// its children already waited for and its live descendants, so a proxy that
// forks workers (HAProxy in master-worker mode) is charged for them. Two
// readings: /proc/PID/stat's utime+stime+cutime+cstime, which count exited
// threads and children but come in clock ticks of 10 ms, and the first
// field of every live thread's /proc/PID/task/TID/schedstat (ns on CPU),
// plus cutime+cstime.
func procCPU(pid int) cpuTime {
	var t cpuTime
	if pid <= 0 {
		return t
	}
	for _, p := range procTree(pid) {
		t.ticks += statCPU(p)
		t.ran += reapedCPU(p)
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(p) + "/task/*/schedstat")
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if fs := strings.Fields(string(b)); len(fs) > 0 {
				ns, _ := strconv.ParseInt(fs[0], 10, 64)
				t.ran += time.Duration(ns)
			}
		}
	}
	return t
}

// since is the CPU used between t0 and t: the ns reading, unless the tick
// reading grew by more than two ticks beyond it (a thread ended in between
// and took its run time with it from the ns reading).
func (t cpuTime) since(t0 cpuTime) time.Duration {
	ran, ticks := t.ran-t0.ran, t.ticks-t0.ticks
	if ticks > ran+2*time.Second/clockTicks || t.ran == 0 {
		return ticks
	}
	return ran
}

// reapedCPU is cutime+cstime of one process: its children waited for.
func reapedCPU(pid int) time.Duration {
	return statFields(pid, 13, 15)
}

// statCPU is utime+stime+cutime+cstime of one process from /proc/PID/stat.
func statCPU(pid int) time.Duration {
	return statFields(pid, 11, 15)
}

// statFields sums /proc/PID/stat's fields [from, to) counted after the
// ")" that ends the command name (utime is 11, stime 12, cutime 13, cstime
// 14), as a time in clock ticks.
func statFields(pid, from, to int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	str := string(b)
	ff := strings.Fields(str[strings.LastIndexByte(str, ')')+1:])
	if len(ff) < to {
		return 0
	}
	var ticks int64
	for _, f := range ff[from:to] {
		x, _ := strconv.ParseInt(f, 10, 64)
		ticks += x
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// procTree is pid and its live descendants (from every thread's
// /proc/PID/task/TID/children), pid first.
func procTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out) && len(out) < 4096; i++ {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(out[i]) + "/task/*/children")
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// procShape says how many processes and threads pid's tree has now, for
// the header: the CPU of all of them is charged to the proxy.
func procShape(pid int) string {
	tree := procTree(pid)
	threads := 0
	for _, p := range tree {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(p) + "/task/*")
		threads += len(tasks)
	}
	return fmt.Sprintf("%d process(es), %d thread(s)", len(tree), threads)
}
