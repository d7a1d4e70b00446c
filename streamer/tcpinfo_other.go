//go:build !linux

package streamer

import "net"

// tcpInfo is Linux's TCP_INFO; elsewhere nothing is known.
func tcpInfo(net.Conn) (tcpStats, bool) { return tcpStats{}, false }
