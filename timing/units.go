package timing

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bytes is a size in bytes.
type Bytes int64

// Common sizes.
const (
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

// Bits returns the size in bits.
func (b Bytes) Bits() int64 { return int64(b) * 8 }

// String formats b with a binary unit when it is an exact multiple of one
// (4KiB, 8MiB) and as a plain byte count otherwise.
func (b Bytes) String() string {
	switch {
	case b >= GiB && b%GiB == 0:
		return strconv.FormatInt(int64(b/GiB), 10) + "GiB"
	case b >= MiB && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "MiB"
	case b >= KiB && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// ParseBytes reads a size such as "1500", "64k", "64KiB", "8M" or "1g".
// Suffixes are binary (k = 1024).
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := Bytes(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = KiB
		case 'm':
			mult = MiB
		case 'g':
			mult = GiB
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a non-negative byte count such as 1500, 64k or 8M", s)
	}
	if n > int64(1<<62)/int64(mult) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Bytes(n) * mult, nil
}

// BitsPerSecond is a data rate in bits per second (SI: 1 Mbit/s = 1e6 bit/s).
type BitsPerSecond float64

// Rate returns the rate of moving n bytes in d.
func Rate(n Bytes, d time.Duration) BitsPerSecond {
	if d <= 0 {
		return 0
	}
	return BitsPerSecond(float64(n.Bits()) / d.Seconds())
}

// Mbps returns the rate in SI megabits per second (10^6 bit/s).
func (r BitsPerSecond) Mbps() float64 { return float64(r) / 1e6 }

// NetPIPEMbps returns the rate in NetPIPE's "Mbps", which divides by 2^20.
func (r BitsPerSecond) NetPIPEMbps() float64 { return float64(r) / (1 << 20) }

// BytesPerSecond returns the rate in bytes per second.
func (r BitsPerSecond) BytesPerSecond() float64 { return float64(r) / 8 }

// String formats the rate with an SI unit.
func (r BitsPerSecond) String() string {
	v := float64(r)
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + " Gbit/s"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + " Mbit/s"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + " kbit/s"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " bit/s"
}
