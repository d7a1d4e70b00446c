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

// procCPU is the CPU time a proxy process pid has used, measured the same
// way for every proxy (0 when pid is 0 or unreadable): user and system
// time of all its threads (/proc/PID/stat sums them), of its children
// already waited for (cutime, cstime) and of its live descendants, so a
// proxy that forks workers (HAProxy in master-worker mode) is charged for
// them. The kernel reports it in clock ticks of 10 ms.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	var t time.Duration
	for _, p := range procTree(pid) {
		t += statCPU(p)
	}
	return t
}

// statCPU is utime+stime+cutime+cstime of one process from /proc/PID/stat.
func statCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	str := string(b)
	// Fields after the ")" that ends the command name: utime is the 12th,
	// stime the 13th, cutime and cstime the 14th and 15th.
	ff := strings.Fields(str[strings.LastIndexByte(str, ')')+1:])
	if len(ff) < 15 {
		return 0
	}
	var ticks int64
	for _, f := range ff[11:15] {
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
