package streamer

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// udpQuantum is the shortest sleep of a paced UDP sender. With the
// kernel's own timer (nanosleep on a locked thread) a 200 µs step is kept
// to within about 75 µs, where the Go runtime's timers sleep at least
// about 1.1 ms here: at 1 Gbit/s a 1.1 ms catch-up burst is ~100
// datagrams of 1400 bytes, as many as a default 208 KiB receive buffer
// holds (each takes ~2.3 KB of it), so any late wake-up overflowed it.
const udpQuantum = 200 * time.Microsecond

// precisePacer sleeps with the kernel's timer; lock wires the calling
// goroutine to its thread for that (unlock undoes it).
type precisePacer struct{}

func (precisePacer) lock()   { runtime.LockOSThread() }
func (precisePacer) unlock() { runtime.UnlockOSThread() }

// sleep sleeps d (at least udpQuantum) in nanosleep(2).
func (precisePacer) sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(max(d, udpQuantum)))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
