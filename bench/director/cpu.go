package main

import (
	"os"
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
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" that ends the command name: utime is the
		// 12th, stime the 13th.
		str := string(b)
		i := strings.LastIndexByte(str, ')')
		ff := strings.Fields(str[i+1:])
		if len(ff) > 12 {
			u, _ := strconv.ParseFloat(ff[11], 64)
			st, _ := strconv.ParseFloat(ff[12], 64)
			s.ours += (u + st) / s.hz
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

// procCPU is the user and system CPU time process pid has used (0 when pid
// is 0 or unreadable).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	str := string(b)
	ff := strings.Fields(str[strings.LastIndexByte(str, ')')+1:])
	if len(ff) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(ff[11], 10, 64)
	st, _ := strconv.ParseInt(ff[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTicks
}
