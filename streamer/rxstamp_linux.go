package streamer

import (
	"encoding/binary"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enableRxTimestamps asks the kernel for each datagram's receive time
// (SO_TIMESTAMPNS); it reports whether it could.
func enableRxTimestamps(c *net.UDPConn) bool {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return false // rxTimestamp reads 64-bit control messages only
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// rxTimestamp finds SCM_TIMESTAMPNS among a datagram's control messages
// (64-bit layout: a 16-byte header, then a timespec of two int64s).
func rxTimestamp(oob []byte) (time.Time, bool) {
	ne := binary.NativeEndian
	for len(oob) >= 16 {
		l := int(ne.Uint64(oob[0:8]))
		level, typ := int32(ne.Uint32(oob[8:12])), int32(ne.Uint32(oob[12:16]))
		if l < 16 || l > len(oob) {
			return time.Time{}, false
		}
		if level == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS && l >= 32 {
			return time.Unix(int64(ne.Uint64(oob[16:24])), int64(ne.Uint64(oob[24:32]))), true
		}
		next := (l + 7) &^ 7
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return time.Time{}, false
}
