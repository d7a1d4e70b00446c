package streamer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn reads many UDP datagrams per system call (recvmmsg where the
// system has it), so a receiver keeps up with 1 Gbit/s of 1460-byte
// datagrams on less CPU, and drains its socket buffer before it overflows.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchSize is the most datagrams one call reads.
const batchSize = 64

func newBatchConn(c *net.UDPConn) batchConn {
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

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
	if sd.rate > 0 {
		p = &pacer{rate: sd.rate / 8, start: time.Now()}
	}
	var seq uint64
	for ctx.Err() == nil {
		if p != nil {
			if w := p.wait(time.Now(), sd.length); w > 0 {
				time.Sleep(max(w, pacingQuantum))
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

// recvUDPBatch reads datagrams many at a time until the socket is closed
// or its deadline passes, and files each under the stream of (for the
// server's shared socket) its source address. Each datagram's arrival time
// is the kernel's receive timestamp where there is one, so reading in
// batches does not bunch arrival times.
func (sd *side) recvUDPBatch(c *net.UDPConn, streamOf func(netip.AddrPort) *stream) error {
	stamps := enableRxTimestamps(c)
	bc := newBatchConn(c)
	size := 4096
	if sd.length > size-64 {
		size = 65536
	}
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{make([]byte, size)}, OOB: make([]byte, 128)}
	}
	for {
		n, err := bc.ReadBatch(msgs, 0)
		if err != nil {
			return endOfStream(err)
		}
		now := time.Now()
		for _, m := range msgs[:n] {
			var from netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				ap := ua.AddrPort()
				from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			}
			s := streamOf(from)
			if s == nil || m.N <= udpHelloSize {
				continue
			}
			at := now
			if stamps {
				if t, ok := rxTimestamp(m.OOB[:m.NN]); ok {
					at = t
				}
			}
			sd.addDatagram(s, m.Buffers[0][:m.N], at)
		}
	}
}
