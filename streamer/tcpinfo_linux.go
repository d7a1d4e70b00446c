package streamer

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpInfo reads the kernel's TCP_INFO of c: retransmitted segments over
// the connection's life, the congestion window in bytes (segments × MSS,
// as iperf3 reports it) and the smoothed RTT.
func tcpInfo(c net.Conn) (ti tcpStats, ok bool) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return ti, false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return ti, false
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || gerr != nil {
		return ti, false
	}
	return tcpStats{
		Retransmits: int64(info.Total_retrans),
		Cwnd:        int64(info.Snd_cwnd) * int64(info.Snd_mss),
		RTT:         time.Duration(info.Rtt) * time.Microsecond,
	}, true
}
