package streamer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// sendUDP is send for datagrams: paced like send, one system call per
// datagram with the send time taken just before it, as iperf3 does. (A
// sendmmsg batch would have to stamp all its datagrams with one time while
// they leave microseconds apart, which the receiver would count as jitter.)
func (sd *side) sendUDP(ctx context.Context, s *stream) error {
	if s.conn != nil {
		stop := context.AfterFunc(ctx, func() { _ = s.conn.SetWriteDeadline(time.Now()) })
		defer stop()
	}
	buf := make([]byte, sd.length)
	for j := range buf {
		buf[j] = byte(j*7 + 1)
	}
	var p *pacer
	var sleeper precisePacer
	if sd.rate > 0 {
		p = &pacer{rate: sd.rate / 8, start: time.Now()}
		sleeper.lock()
		defer sleeper.unlock()
	}
	var seq uint64
	for ctx.Err() == nil {
		if p != nil {
			if w := p.wait(time.Now(), sd.length); w > 0 {
				sleeper.sleep(w)
				continue
			}
		}
		putUDPHeader(buf, time.Now(), seq+1, sd.wide)
		n, err := s.write(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN) {
				continue // the number goes out next time, as iperf3 does
			}
			return err
		}
		seq++
		if p != nil {
			p.add(n)
		}
		s.bytes.Add(int64(n))
		s.packets.Add(1)
	}
	return nil
}

// recvUDP reads datagrams until the socket is closed or its deadline
// passes, and files each under the stream of (for the server's shared
// socket) its source address. Each datagram's arrival time is the kernel's
// receive timestamp where there is one. One read per datagram, with no
// allocation: cheaper per datagram than recvmmsg through x/net, which
// packs its whole batch and allocates each source address on every call.
func (sd *side) recvUDP(c *net.UDPConn, streamOf func(netip.AddrPort) *stream) error {
	stamps := enableRxTimestamps(c)
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return endOfStream(err)
		}
		at := time.Now()
		s := streamOf(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		if s == nil || n <= udpHelloSize {
			continue
		}
		if stamps {
			if t, ok := rxTimestamp(oob[:oobn]); ok {
				at = t
			}
		}
		sd.addDatagram(s, buf[:n], at)
	}
}
