//go:build linux

package results

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// offloads reads the TSO, GSO and GRO settings of an interface with the
// legacy ethtool value ioctls ("tso=on gso=on gro=off"), or returns "" when
// the interface or driver does not answer them.
func offloads(name string) string {
	if len(name) >= unix.IFNAMSIZ {
		return ""
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var parts []string
	for _, o := range []struct {
		name string
		cmd  uint32
	}{{"tso", unix.ETHTOOL_GTSO}, {"gso", unix.ETHTOOL_GGSO}, {"gro", unix.ETHTOOL_GGRO}} {
		on, err := ethtoolValue(fd, name, o.cmd)
		if err != nil {
			return ""
		}
		parts = append(parts, fmt.Sprintf("%s=%s", o.name, map[bool]string{true: "on", false: "off"}[on]))
	}
	return strings.Join(parts, " ")
}

// ethtoolValue32 is struct ethtool_value.
type ethtoolValue32 struct{ cmd, data uint32 }

// ifreqData is struct ifreq with ifr_data, padded to the kernel's 40 bytes.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [40 - unix.IFNAMSIZ - 8]byte
}

func ethtoolValue(fd int, name string, cmd uint32) (bool, error) {
	v := ethtoolValue32{cmd: cmd}
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&v)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return false, fmt.Errorf("ethtool ioctl %#x on %s: %w", cmd, name, errno)
	}
	return v.data != 0, nil
}
