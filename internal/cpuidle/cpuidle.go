package cpuidle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// QoSPath is the kernel's PM QoS CPU latency device.
const QoSPath = "/dev/cpu_dma_latency"

// Request is a held CPU wake-up latency request. Close ends it.
type Request struct {
	f *os.File
}

// Hold asks the kernel that no CPU take longer than 0 µs to wake up, so
// idle CPUs poll instead of halting, until Close. It needs write access to
// QoSPath (root, usually).
func Hold() (*Request, error) {
	return holdAt(QoSPath)
}

func holdAt(path string) (*Request, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("keep CPUs awake: %w (needs root; run without --idle-poll)", err)
		}
		return nil, fmt.Errorf("keep CPUs awake: %w (the kernel has no PM QoS device; run without --idle-poll)", err)
	}
	// The device takes a native-endian int32 in microseconds.
	if _, err := f.Write(binary.NativeEndian.AppendUint32(nil, 0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("keep CPUs awake: write %s: %w", path, err)
	}
	return &Request{f: f}, nil
}

// Close ends the request; the CPUs may halt again. Closing twice is a no-op.
func (r *Request) Close() error {
	if r == nil || r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("release %s: %w", QoSPath, err)
	}
	return nil
}

// Describe names the idle driver and governor, e.g. "haltpoll/haltpoll", or
// "" when the kernel does not say.
func Describe() string {
	return describeAt("/sys/devices/system/cpu/cpuidle")
}

func describeAt(dir string) string {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	drv := read("current_driver")
	gov := read("current_governor_ro")
	if gov == "" {
		gov = read("current_governor")
	}
	if drv == "" && gov == "" {
		return ""
	}
	return drv + "/" + gov
}
