//go:build !linux

package streamer

import "time"

// udpQuantum is the shortest sleep of a paced UDP sender: elsewhere the
// runtime's timers, at iperf3's 1 ms pacing step.
const udpQuantum = pacingQuantum

// precisePacer sleeps with the runtime's timers off Linux.
type precisePacer struct{}

func (precisePacer) lock()                 {}
func (precisePacer) unlock()               {}
func (precisePacer) sleep(d time.Duration) { time.Sleep(max(d, udpQuantum)) }
