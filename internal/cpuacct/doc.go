// Package cpuacct reads CPU time three ways: per CPU from /proc/stat (for
// kernel work, such as a director's forwarding in softirq, that no process
// is charged for), per process from /proc/PID/stat, and per group of
// processes from a cgroup v1 cpuacct group that the caller creates and
// removes.
package cpuacct
