package streamer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// tcpStats is what TCP_INFO tells of a sending socket.
type tcpStats struct {
	Retransmits int64
	Cwnd        int64
	RTT         time.Duration
}

// stream is one data stream at one end: its socket, the counters its
// worker updates and, for a UDP receiver, the datagram statistics.
type stream struct {
	id   int
	conn net.Conn // TCP, or the client's connected UDP socket
	// write sends one datagram (UDP) or a block (TCP).
	write func([]byte) (int, error)
	// peer is the client's address when the server shares one UDP socket
	// among the streams.
	peer netip.AddrPort

	bytes   atomic.Int64
	packets atomic.Int64

	// mu guards live and udp. live is set while the test runs; bytes that
	// arrive outside it are drained and not counted, as iperf3 counts only
	// in TEST_RUNNING.
	mu   sync.Mutex
	live bool
	udp  UDPStats
}

// snapshot is a stream's counters at one instant.
type snapshot struct {
	at         time.Time
	bytes      int64
	packets    int64
	lost, ooo  int64
	jitter     time.Duration
	tcp        tcpStats
	tcpKnown   bool
	udpRecv    bool
	tcpSending bool
}

// side is one end of a test: its streams, whether it sends, how.
type side struct {
	udp     bool
	sender  bool
	length  int
	rate    float64 // bits/s per stream; 0 is unlimited
	wide    bool    // 64-bit UDP sequence numbers
	streams []*stream
}

func (sd *side) snap(s *stream) snapshot {
	sn := snapshot{at: time.Now(), bytes: s.bytes.Load(), packets: s.packets.Load()}
	if sd.udp && !sd.sender {
		s.mu.Lock()
		sn.packets, sn.lost, sn.ooo, sn.jitter = s.udp.Received, s.udp.Lost, s.udp.OutOfOrder, s.udp.Jitter
		s.mu.Unlock()
		sn.udpRecv = true
	}
	if !sd.udp && sd.sender && s.conn != nil {
		sn.tcp, sn.tcpKnown = tcpInfo(s.conn)
		sn.tcpSending = true
	}
	return sn
}

// interval is the row between two snapshots of stream id.
func interval(id int, t0 time.Time, a, b snapshot) Interval {
	iv := Interval{Stream: id, Start: a.at.Sub(t0), End: b.at.Sub(t0),
		Bytes: timing.Bytes(b.bytes - a.bytes), Packets: b.packets - a.packets,
		Lost: -1, OutOfOrder: -1, Jitter: -1, Retransmits: -1, Cwnd: -1}
	if b.udpRecv {
		iv.Lost, iv.OutOfOrder, iv.Jitter = b.lost-a.lost, b.ooo-a.ooo, b.jitter
	}
	if b.tcpSending && b.tcpKnown && a.tcpKnown {
		iv.Retransmits, iv.Cwnd = b.tcp.Retransmits-a.tcp.Retransmits, timing.Bytes(b.tcp.Cwnd)
	}
	return iv
}

// sumIntervals adds the streams' rows of one interval into a row with
// Stream 0; the jitter is the streams' mean, the window their sum.
func sumIntervals(rows []Interval) Interval {
	sum := Interval{Stream: 0, Start: rows[0].Start, End: rows[0].End, Lost: -1, OutOfOrder: -1, Jitter: -1, Retransmits: -1, Cwnd: -1}
	var jit time.Duration
	for _, r := range rows {
		sum.Bytes += r.Bytes
		sum.Packets += r.Packets
		sum.Start, sum.End = min(sum.Start, r.Start), max(sum.End, r.End)
		if r.Lost >= 0 {
			sum.Lost = max(sum.Lost, 0) + r.Lost
			sum.OutOfOrder = max(sum.OutOfOrder, 0) + r.OutOfOrder
			jit += r.Jitter
		}
		if r.Retransmits >= 0 {
			sum.Retransmits = max(sum.Retransmits, 0) + r.Retransmits
			sum.Cwnd = max(sum.Cwnd, 0) + r.Cwnd
		}
	}
	if sum.Lost >= 0 {
		sum.Jitter = jit / time.Duration(len(rows))
	}
	return sum
}

// sampler takes a snapshot of every stream each period and turns them into
// interval rows (and a sum row with more than one stream).
type sampler struct {
	sd     *side
	t0     time.Time
	last   []snapshot
	rows   []Interval
	onRow  func(Interval)
	period time.Duration
}

func newSampler(sd *side, t0 time.Time, period time.Duration, onRow func(Interval)) *sampler {
	sm := &sampler{sd: sd, t0: t0, period: period, onRow: onRow}
	for _, s := range sd.streams {
		sn := sd.snap(s)
		sn.at = t0
		sm.last = append(sm.last, sn)
	}
	return sm
}

// tick closes the current interval.
func (sm *sampler) tick() { sm.emit(sm.close()) }

// close ends the current interval of every stream and returns its rows
// (and their sum with more than one stream).
func (sm *sampler) close() []Interval {
	var rows []Interval
	for i, s := range sm.sd.streams {
		sn := sm.sd.snap(s)
		rows = append(rows, interval(s.id, sm.t0, sm.last[i], sn))
		sm.last[i] = sn
	}
	if len(rows) > 1 {
		rows = append(rows, sumIntervals(rows))
	}
	return rows
}

func (sm *sampler) emit(rows []Interval) {
	sm.rows = append(sm.rows, rows...)
	if sm.onRow != nil {
		for _, r := range rows {
			sm.onRow(r)
		}
	}
}

// run ticks every period until ctx ends.
func (sm *sampler) run(ctx context.Context) {
	if sm.period <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(sm.period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			sm.tick()
		case <-ctx.Done():
			return
		}
	}
}

// finish closes the last, partial interval once the streams have stopped
// counting, so the rows add up to the totals. A tail shorter than a tenth
// of a period is folded into the rows before it rather than shown alone.
func (sm *sampler) finish() {
	if sm.period <= 0 || len(sm.last) == 0 {
		return
	}
	tail := sm.close()
	n := len(tail)
	if tail[0].End-tail[0].Start >= sm.period/10 || len(sm.rows) < n {
		sm.emit(tail)
		return
	}
	prev := sm.rows[len(sm.rows)-n:]
	for i, t := range tail {
		p := &prev[i]
		p.End, p.Bytes, p.Packets = t.End, p.Bytes+t.Bytes, p.Packets+t.Packets
		if p.Lost >= 0 && t.Lost >= 0 {
			p.Lost, p.OutOfOrder, p.Jitter = p.Lost+t.Lost, p.OutOfOrder+t.OutOfOrder, t.Jitter
		}
		if p.Retransmits >= 0 && t.Retransmits >= 0 {
			p.Retransmits, p.Cwnd = p.Retransmits+t.Retransmits, t.Cwnd
		}
	}
}

// pacingQuantum is the shortest sleep of a paced sender, iperf3's
// default --pacing-timer.
const pacingQuantum = time.Millisecond

// send writes TCP blocks until ctx ends, paced to the side's rate when it
// has one (datagrams go by sendUDP).
func (sd *side) send(ctx context.Context, s *stream) error {
	if s.conn != nil {
		stop := context.AfterFunc(ctx, func() { _ = s.conn.SetWriteDeadline(time.Now()) })
		defer stop()
	}
	buf := make([]byte, sd.length)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not all zeros, so no path can compress it away
	}
	var p *pacer
	if sd.rate > 0 {
		p = &pacer{rate: sd.rate / 8, start: time.Now()}
	}
	for ctx.Err() == nil {
		if p != nil {
			if w := p.wait(time.Now(), len(buf)); w > 0 {
				// Sleep at least a pacing quantum and catch up in a burst,
				// as iperf3 does (its 1 ms pacing timer): a wake-up per
				// datagram would cost more than the datagram.
				time.Sleep(max(w, pacingQuantum))
				continue
			}
		}
		// Every byte the kernel took counts, the last partial write of a
		// stopped stream too: the receiver may have counted it.
		n, err := s.write(buf)
		if n > 0 {
			if p != nil {
				p.add(n)
			}
			s.bytes.Add(int64(n))
			s.packets.Add(1)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// recvTCP reads until the connection ends.
func (sd *side) recvTCP(s *stream) error {
	buf := make([]byte, max(sd.length, 128<<10))
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.mu.Lock()
			if s.live {
				s.bytes.Add(int64(n))
			}
			s.mu.Unlock()
		}
		if err != nil {
			return endOfStream(err)
		}
	}
}

func (sd *side) addDatagram(s *stream, b []byte, at time.Time) {
	sent, seq, ok := parseUDPHeader(b, sd.wide)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.live {
		s.bytes.Add(int64(len(b)))
		s.udp.Add(seq, len(b), sent, at)
	}
	s.mu.Unlock()
}

// count starts (or stops) counting what the streams receive. Once it has
// returned false, no receiver adds another byte: a read in flight is
// either counted before it or not at all.
func (sd *side) count(on bool) {
	for _, s := range sd.streams {
		s.mu.Lock()
		s.live = on
		s.mu.Unlock()
	}
}

// endOfStream turns the ways a stream's socket ends at the close of a test
// into nil.
func endOfStream(err error) error {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
