// Package affinity pins every thread of this process to one CPU, as
// `taskset -c` on both ends of a NetPIPE run: on a small virtual machine a
// wake-up across CPUs costs tens of microseconds and makes small-message
// times bimodal, so latency runs pin.
package affinity

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinAll puts every thread of this process on one CPU (like `taskset -c`
// on both NetPIPE ends in notes/lab.md: on a 2-vCPU guest, cross-CPU
// wake-ups add tens of µs and make the latency bimodal). New threads
// inherit the mask. The returned function restores each thread's mask.
func PinAll(cpu int) (func(), error) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return func() {}, fmt.Errorf("read CPU affinity: %w", err)
	}
	if !orig.IsSet(cpu) {
		return func() {}, fmt.Errorf("CPU %d is not in this process's affinity mask", cpu)
	}
	var one unix.CPUSet
	one.Set(cpu)
	set := func(m *unix.CPUSet) {
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				_ = unix.SchedSetaffinity(tid, m) // a thread may exit meanwhile
			}
		}
	}
	set(&one)
	return func() { set(&orig) }, nil
}
