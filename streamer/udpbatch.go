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

// batchConn moves many UDP datagrams per system call (recvmmsg and
// sendmmsg where the system has them): at 1 Gbit/s of 1460-byte datagrams
// a call per datagram costs more CPU than the datagrams themselves.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchSize is the most datagrams one call moves.
const batchSize = 64

func newBatchConn(c *net.UDPConn) batchConn {
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// sendUDP is send for datagrams: each wake-up sends, in one call, the
// datagrams due by then (at most batchSize), with consecutive sequence
// numbers and the send time in each header.
func (sd *side) sendUDP(ctx context.Context, s *stream, bc batchConn, to net.Addr) error {
	if s.conn != nil {
		stop := context.AfterFunc(ctx, func() { _ = s.conn.SetWriteDeadline(time.Now()) })
		defer stop()
	}
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		b := make([]byte, sd.length)
		for j := range b {
			b[j] = byte(j*7 + 1)
		}
		msgs[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: to}
	}
	var p *pacer
	if sd.rate > 0 {
		p = &pacer{rate: sd.rate / 8, start: time.Now()}
	}
	var seq uint64
	for ctx.Err() == nil {
		k := batchSize
		if p != nil {
			now := time.Now()
			if w := p.wait(now, sd.length); w > 0 {
				time.Sleep(max(w, pacingQuantum))
				continue
			}
			due := (now.Sub(p.start).Seconds()*p.rate - p.sent) / float64(sd.length)
			k = min(batchSize, max(1, int(due)))
		}
		now := time.Now()
		for i := range k {
			putUDPHeader(msgs[i].Buffers[0], now, seq+uint64(i)+1, sd.wide)
		}
		n, err := bc.WriteBatch(msgs[:k], 0)
		for i := range max(n, 0) {
			if p != nil {
				p.add(msgs[i].N)
			}
			s.bytes.Add(int64(msgs[i].N))
		}
		if n > 0 {
			seq += uint64(n)
			s.packets.Add(int64(n))
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN) {
				continue // the unsent numbers go out next time, as iperf3 does
			}
			return err
		}
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
