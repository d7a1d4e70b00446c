package main

import (
	"encoding/binary"
	"fmt"
	"os"
)

// idlePoll holds a PM QoS request of 0 µs CPU wake-up latency
// (/dev/cpu_dma_latency, as cyclictest does) while it is open, so idle
// CPUs poll instead of halting. On a guest whose cpuidle driver halts at
// once (haltpoll with guest_halt_poll_ns=0) a halted vCPU's wake-up costs
// tens of µs, which would otherwise dominate the latency figures.
type idlePoll struct {
	f *os.File
}

// startIdlePoll opens the request; it needs root.
func startIdlePoll() (*idlePoll, error) {
	f, err := os.OpenFile("/dev/cpu_dma_latency", os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("hold idle CPUs polling: %w (run as root, on Linux)", err)
	}
	var zero [4]byte
	binary.NativeEndian.PutUint32(zero[:], 0)
	if _, err := f.Write(zero[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("write 0 µs to /dev/cpu_dma_latency: %w", err)
	}
	return &idlePoll{f: f}, nil
}

// stop drops the request.
func (p *idlePoll) stop() { p.f.Close() }
