//go:build !linux

package streamer

import (
	"net"
	"time"
)

// enableRxTimestamps is Linux's SO_TIMESTAMPNS; elsewhere arrival times are
// taken when a batch is read.
func enableRxTimestamps(*net.UDPConn) bool { return false }

func rxTimestamp([]byte) (time.Time, bool) { return time.Time{}, false }
