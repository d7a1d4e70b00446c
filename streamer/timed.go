package streamer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lvsperf/lvsperf/timing"
)

// Peers a timed stream can talk to; both speak iperf3's control protocol.
const (
	// PeerLvsperf is `lvsperf serve stream`; it also reports the datagrams
	// that arrived out of order, which iperf3 keeps to itself.
	PeerLvsperf = "lvsperf"
	// PeerIperf3 is iperf3's server (iperf3 -s) or client (iperf3 -c).
	PeerIperf3 = "iperf3"
)

// DefaultPort is iperf3's port, the default of `lvsperf serve stream`.
const DefaultPort = 5201

// DefaultHandshakeTimeout bounds each step of the control exchange.
const DefaultHandshakeTimeout = 5 * time.Second

// TimedOptions configure a time-bounded stream test (iperf3's model: -t,
// -P, -R, -u -b, -l, -w, -i). The zero value of each field means its default.
type TimedOptions struct {
	// Addr is the server, host:port. Empty runs an lvsperf server in
	// process on a free loopback port.
	Addr string
	// Peer is PeerLvsperf (default) or PeerIperf3; it names what a peer
	// that does not answer as expected should have been.
	Peer string
	// Duration of the test (default 10s). iperf3's protocol carries whole
	// seconds, so the server is told the duration rounded up; the client
	// ends the test at Duration.
	Duration time.Duration
	// Streams is the number of parallel streams (default 1, at most 128).
	Streams int
	// Reverse makes the server send and the client receive.
	Reverse bool
	// UDP sends datagrams at Rate instead of a TCP stream.
	UDP bool
	// Rate is the target rate per stream, as iperf3's -b (default 1 Mbit/s
	// for UDP, unlimited for TCP).
	Rate timing.BitsPerSecond
	// Length is the block (TCP) or datagram (UDP) size (default 128 KiB,
	// or 1460 B for UDP).
	Length timing.Bytes
	// Window sets SO_SNDBUF and SO_RCVBUF of the data sockets at both ends
	// (iperf3's -w); 0 keeps the kernel's autotuning.
	Window timing.Bytes
	// NoDelay sets TCP_NODELAY on the data sockets.
	NoDelay bool
	// Interval is the period of the interval rows; 0 gives none.
	Interval time.Duration
	// OnInterval, when set, is called with each interval row as it closes
	// (rows of the streams, then their sum).
	OnInterval func(Interval)
	// HandshakeTimeout bounds each control step (default 5s): a peer that
	// does not speak iperf3's protocol is given up on after it.
	HandshakeTimeout time.Duration
}

func (o *TimedOptions) normalize() error {
	if o.Peer == "" {
		o.Peer = PeerLvsperf
	}
	if o.Peer != PeerLvsperf && o.Peer != PeerIperf3 {
		return fmt.Errorf("peer %q: want %s or %s", o.Peer, PeerLvsperf, PeerIperf3)
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Duration < 0 || o.Duration > 24*time.Hour {
		return fmt.Errorf("duration %v: want more than 0 and at most 24h", o.Duration)
	}
	if o.Streams == 0 {
		o.Streams = 1
	}
	if o.Streams < 1 || o.Streams > maxStreams {
		return fmt.Errorf("%d parallel streams: want 1 to %d (iperf3's limit)", o.Streams, maxStreams)
	}
	if o.Length == 0 {
		o.Length = defaultTCPLength
		if o.UDP {
			o.Length = defaultUDPLength
		}
	}
	if o.UDP && (o.Length < udpHeaderSize || o.Length > 65507) {
		return fmt.Errorf("datagram length %d: want %d to 65507 bytes", o.Length, udpHeaderSize)
	}
	if !o.UDP && (o.Length < 1 || o.Length > 1<<30) {
		return fmt.Errorf("block length %d: want 1 B to 1 GiB", o.Length)
	}
	if o.Rate == 0 && o.UDP {
		o.Rate = defaultUDPRateBps
	}
	if o.Rate < 0 {
		return fmt.Errorf("rate %v: want ≥ 0", o.Rate)
	}
	if o.Window < 0 || o.Window > 1<<30 {
		return fmt.Errorf("window %d: want 0 to 1 GiB", o.Window)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return nil
}

// Interval is one row of a timed stream: what one stream (or, with Stream
// 0, all of them) moved between Start and End. Counts this end cannot know
// are -1.
type Interval struct {
	// Stream is iperf3's stream id (1, 3, 4, …), 0 for the sum.
	Stream int `json:"stream"`
	// Start and End are offsets from the start of the test.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Bytes sent (at the sender) or received (at the receiver).
	Bytes timing.Bytes `json:"bytes"`
	// Packets are UDP datagrams sent or received.
	Packets int64 `json:"packets"`
	// Lost and OutOfOrder are a UDP receiver's counts in the interval,
	// Jitter its RFC 3550 jitter at the interval's end.
	Lost       int64         `json:"lost"`
	OutOfOrder int64         `json:"out_of_order"`
	Jitter     time.Duration `json:"jitter_ns"`
	// Retransmits in the interval and the congestion window at its end,
	// from a TCP sender's TCP_INFO.
	Retransmits int64        `json:"retransmits"`
	Cwnd        timing.Bytes `json:"cwnd_bytes"`
}

// Rate is the interval's throughput.
func (iv Interval) Rate() timing.BitsPerSecond { return timing.Rate(iv.Bytes, iv.End-iv.Start) }

// StreamResult is one stream's totals from both ends. Counts nobody
// reported are -1.
type StreamResult struct {
	ID int `json:"id"`
	// SentBytes and ReceivedBytes are the sender's and the receiver's
	// counts, over SenderTime and ReceiverTime.
	SentBytes     timing.Bytes  `json:"sent_bytes"`
	ReceivedBytes timing.Bytes  `json:"received_bytes"`
	SenderTime    time.Duration `json:"sender_time_ns"`
	ReceiverTime  time.Duration `json:"receiver_time_ns"`
	// Retransmits over the test, the last congestion window and smoothed
	// RTT seen (TCP sender's TCP_INFO; the window and RTT only when the
	// sender is this end).
	Retransmits int64         `json:"retransmits"`
	Cwnd        timing.Bytes  `json:"cwnd_bytes"`
	RTT         time.Duration `json:"rtt_ns"`
	// SentPackets, ReceivedPackets, Lost, OutOfOrder and Jitter are UDP's.
	SentPackets     int64 `json:"sent_packets"`
	ReceivedPackets int64 `json:"received_packets"`
	// Expected is the receiver's highest sequence number, the datagrams
	// it knows were sent (iperf3's total in "lost/total").
	Expected   int64         `json:"expected_packets"`
	Lost       int64         `json:"lost"`
	OutOfOrder int64         `json:"out_of_order"`
	Jitter     time.Duration `json:"jitter_ns"`
}

// SenderRate and ReceiverRate are the throughput each end counted.
func (r StreamResult) SenderRate() timing.BitsPerSecond {
	return timing.Rate(r.SentBytes, r.SenderTime)
}

// ReceiverRate is the throughput the receiving end counted.
func (r StreamResult) ReceiverRate() timing.BitsPerSecond {
	return timing.Rate(r.ReceivedBytes, r.ReceiverTime)
}

// LossPct is the share of sent datagrams lost, -1 when unknown.
func (r StreamResult) LossPct() float64 {
	if r.Lost < 0 || r.Expected <= 0 {
		return -1
	}
	return 100 * float64(r.Lost) / float64(r.Expected)
}

// CPU is a process's CPU use over a test, in percent of one CPU's time,
// as iperf3 reports it.
type CPU struct {
	Total  float64 `json:"total_pct"`
	User   float64 `json:"user_pct"`
	System float64 `json:"system_pct"`
}

// Report is a timed stream test as the client saw it, with what the
// server reported at the end.
type Report struct {
	Peer     string        `json:"peer"`
	Addr     string        `json:"addr"`
	UDP      bool          `json:"udp"`
	Reverse  bool          `json:"reverse"`
	Duration time.Duration `json:"duration_ns"`
	Length   timing.Bytes  `json:"length"`
	// Rate is the target per stream (0: unlimited).
	Rate      timing.BitsPerSecond `json:"rate_bps"`
	Started   time.Time            `json:"started"`
	Intervals []Interval           `json:"intervals"`
	Streams   []StreamResult       `json:"streams"`
	// Sum adds the streams up (times: the longest; jitter: the mean).
	Sum       StreamResult `json:"sum"`
	LocalCPU  CPU          `json:"local_cpu"`
	RemoteCPU CPU          `json:"remote_cpu"`
	// Congestion is the TCP congestion control the server reported.
	Congestion string `json:"congestion,omitempty"`
}

// client is one test in progress at the client.
type client struct {
	o      TimedOptions
	ctrl   net.Conn
	cookie []byte
	side   side
}

// RunTimed runs one time-bounded stream test against the server at
// o.Addr (an in-process lvsperf server when empty) and returns the report.
func RunTimed(ctx context.Context, o TimedOptions) (*Report, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	if o.Addr == "" {
		if o.Peer == PeerIperf3 {
			return nil, errors.New("peer iperf3 needs the server's address (-c HOST)")
		}
		srv, err := NewServer(ctx, ServerOptions{Listen: "127.0.0.1:0"})
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		o.Addr = srv.Addr()
	}
	c := &client{o: o}
	c.side = side{udp: o.UDP, sender: !o.Reverse, length: int(o.Length), rate: float64(o.Rate)}
	rep, err := c.run(ctx)
	for _, s := range c.side.streams {
		_ = s.conn.Close()
	}
	if c.ctrl != nil {
		_ = c.ctrl.Close()
	}
	return rep, err
}

// expect reads the next control state and checks it is want; anything
// else becomes an error that says what the peer should have been.
func (c *client) expect(st int8, err error, want int8) error {
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("%s: no %s from the server within %v: is it an %s server? (it must speak iperf3's control protocol)",
				c.o.Addr, stateName(want), c.o.HandshakeTimeout, c.peerName())
		}
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: the server closed the control connection waiting for %s: is it an %s server? (%w)", c.o.Addr, stateName(want), c.peerName(), err)
		}
		return fmt.Errorf("%s: read control state (want %s): %w", c.o.Addr, stateName(want), err)
	}
	switch {
	case st == want:
		return nil
	case st == stateAccessDenied:
		return fmt.Errorf("%s: the %s server is busy with another test (ACCESS_DENIED); try again when it is done", c.o.Addr, c.peerName())
	case st == stateServerError:
		var b [8]byte
		if _, err := io.ReadFull(c.ctrl, b[:]); err != nil {
			return fmt.Errorf("%s: the server reported an error (SERVER_ERROR) and closed before saying which: %w", c.o.Addr, err)
		}
		code, errno := int32(binary.BigEndian.Uint32(b[:4])), int32(binary.BigEndian.Uint32(b[4:]))
		return fmt.Errorf("%s: the server refused the test: iperf3 error %d%s, errno %d", c.o.Addr, code, ieText(code), errno)
	case st == stateServerTerminate:
		return fmt.Errorf("%s: the server terminated the test (SERVER_TERMINATE)", c.o.Addr)
	}
	return fmt.Errorf("%s: expected iperf3's control state %s (%d) from an %s server, got byte 0x%02x: the peer speaks another protocol",
		c.o.Addr, stateName(want), want, c.peerName(), uint8(st))
}

func (c *client) peerName() string {
	if c.o.Peer == PeerIperf3 {
		return "iperf3 (iperf3 -s)"
	}
	return "iperf3-protocol (lvsperf serve stream or iperf3 -s)"
}

func ieText(code int32) string {
	switch code {
	case ieUnimp:
		return " (not implemented)"
	case ieNumStreams:
		return " (too many parallel streams)"
	}
	return ""
}

func (c *client) step(want int8) error {
	deadline(c.ctrl, c.o.HandshakeTimeout)
	st, err := readState(c.ctrl)
	return c.expect(st, err, want)
}

func (c *client) run(ctx context.Context) (*Report, error) {
	o := c.o
	d := net.Dialer{Timeout: o.HandshakeTimeout}
	ctrl, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the stream server: %w", err)
	}
	c.ctrl = ctrl
	stop := context.AfterFunc(ctx, func() { _ = ctrl.SetDeadline(time.Now()) })
	defer stop()
	if tc, ok := ctrl.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if c.cookie, err = newCookie(); err != nil {
		return nil, err
	}
	deadline(ctrl, o.HandshakeTimeout)
	if _, err := ctrl.Write(c.cookie); err != nil {
		return nil, fmt.Errorf("%s: send cookie: %w", o.Addr, err)
	}
	if err := c.step(stateParamExchange); err != nil {
		return nil, err
	}
	p := params{TCP: !o.UDP, UDP: o.UDP, Time: int(math.Ceil(o.Duration.Seconds())), Parallel: o.Streams,
		Reverse: o.Reverse, Window: int(o.Window), Len: int(o.Length), Bandwidth: float64(o.Rate),
		NoDelay: o.NoDelay, ClientVersion: "lvsperf"}
	if err := writeJSON(ctrl, p); err != nil {
		return nil, err
	}
	if err := c.step(stateCreateStreams); err != nil {
		return nil, err
	}
	for i := range o.Streams {
		s, err := c.connect(ctx, streamID(i))
		if err != nil {
			return nil, fmt.Errorf("%s: open stream %d of %d: %w", o.Addr, i+1, o.Streams, err)
		}
		c.side.streams = append(c.side.streams, s)
	}
	if err := c.step(stateTestStart); err != nil {
		return nil, err
	}
	if err := c.step(stateTestRunning); err != nil {
		return nil, err
	}
	deadline(ctrl, 0)
	return c.measure(ctx)
}

// connect opens one data stream: TCP writes the cookie; UDP sends the
// hello datagram and waits for the reply.
func (c *client) connect(ctx context.Context, id int) (*stream, error) {
	o := c.o
	d := net.Dialer{Timeout: o.HandshakeTimeout}
	netw := "tcp"
	if o.UDP {
		netw = "udp"
	}
	conn, err := d.DialContext(ctx, netw, o.Addr)
	if err != nil {
		return nil, err
	}
	s := &stream{id: id, conn: conn, write: conn.Write}
	if err := setBuffers(conn, int(o.Window), !o.UDP && o.NoDelay); err != nil {
		conn.Close()
		return nil, err
	}
	deadline(conn, o.HandshakeTimeout)
	defer deadline(conn, 0)
	if !o.UDP {
		if _, err := conn.Write(c.cookie); err != nil {
			conn.Close()
			return nil, fmt.Errorf("send cookie: %w", err)
		}
		return s, nil
	}
	if _, err := conn.Write([]byte(udpHello)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send UDP hello: %w", err)
	}
	// In reverse mode the server may start sending at once; iperf3 allows a
	// few datagrams ahead of the reply.
	buf := make([]byte, 65536)
	for range 8 {
		n, err := conn.Read(buf)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("no UDP reply from the server within %v: %w", o.HandshakeTimeout, err)
		}
		if isUDPReply(buf[:n]) {
			return s, nil
		}
	}
	conn.Close()
	return nil, errors.New("the server did not answer the UDP hello with iperf3's reply")
}

// setBuffers applies -w and TCP_NODELAY to a data socket.
func setBuffers(c net.Conn, window int, nodelay bool) error {
	type bufferer interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	if b, ok := c.(bufferer); ok && window > 0 {
		if err := errors.Join(b.SetReadBuffer(window), b.SetWriteBuffer(window)); err != nil {
			return fmt.Errorf("window %d: %w", window, err)
		}
	}
	if tc, ok := c.(*net.TCPConn); ok && nodelay {
		return tc.SetNoDelay(true)
	}
	return nil
}

// measure runs the data phase for the duration, then ends the test and
// exchanges results.
func (c *client) measure(ctx context.Context) (*Report, error) {
	o, sd := c.o, &c.side
	// One reader of the control connection for the rest of the test: a
	// state that arrives early (the server gave up) ends the test.
	states := make(chan stateMsg, 1)
	readNext := func() {
		go func() {
			st, err := readState(c.ctrl)
			states <- stateMsg{st, err}
		}()
	}
	readNext()
	cpu0 := cpuNow()
	start := time.Now()
	// The sampler's baseline is taken before counting begins (all zero),
	// so bytes the receivers take in before it looks still fall in a row.
	sm := newSampler(sd, start, o.Interval, o.OnInterval)
	sd.count(true)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var g errgroup.Group
	var recv sync.WaitGroup
	for _, s := range sd.streams {
		uc, _ := s.conn.(*net.UDPConn)
		switch {
		case sd.sender && sd.udp:
			g.Go(func() error { return wrapStream(s.id, sd.sendUDP(runCtx, s)) })
		case sd.sender:
			g.Go(func() error { return wrapStream(s.id, sd.send(runCtx, s)) })
		case sd.udp:
			recv.Add(1)
			g.Go(func() error {
				defer recv.Done()
				return wrapStream(s.id, sd.recvUDP(uc, func(netip.AddrPort) *stream { return s }))
			})
		default:
			recv.Add(1)
			g.Go(func() error { defer recv.Done(); return wrapStream(s.id, sd.recvTCP(s)) })
		}
	}
	smCtx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	smDone := make(chan struct{})
	go func() { sm.run(smCtx); close(smDone) }()
	timer := time.NewTimer(o.Duration)
	defer timer.Stop()
	var early *stateMsg
	select {
	case <-timer.C:
	case <-ctx.Done():
	case m := <-states:
		early = &m
	}
	sd.count(false)
	stopRun()
	elapsed := time.Since(start)
	var senders error
	if sd.sender {
		senders = g.Wait()
	}
	stopSampler()
	<-smDone
	sm.finish()
	finals := make([]snapshot, len(sd.streams))
	for i, s := range sd.streams {
		finals[i] = sd.snap(s)
	}
	if err := ctx.Err(); err != nil {
		_ = writeState(c.ctrl, stateClientTerminate)
		return nil, err
	}
	if early != nil {
		return nil, c.expect(early.st, early.err, stateExchangeResults)
	}
	if senders != nil {
		return nil, senders
	}
	cpu := cpuSince(cpu0, elapsed)
	deadline(c.ctrl, o.HandshakeTimeout+o.Duration)
	if err := writeState(c.ctrl, stateTestEnd); err != nil {
		return nil, err
	}
	var m stateMsg
	select {
	case m = <-states:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := c.expect(m.st, m.err, stateExchangeResults); err != nil {
		return nil, err
	}
	// The server has stopped its streams; ours can go.
	for _, s := range sd.streams {
		_ = s.conn.Close()
	}
	if !sd.sender {
		recv.Wait()
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	deadline(c.ctrl, o.HandshakeTimeout)
	mine := localResults(sd, finals, elapsed, cpu)
	if err := writeJSON(c.ctrl, mine); err != nil {
		return nil, err
	}
	var theirs resultsMsg
	if err := readJSON(c.ctrl, maxResultsJSON, &theirs); err != nil {
		return nil, fmt.Errorf("%s: server results: %w", o.Addr, err)
	}
	if err := c.step(stateDisplayResults); err != nil {
		return nil, err
	}
	_ = writeState(c.ctrl, stateIperfDone)
	rep := &Report{Peer: o.Peer, Addr: o.Addr, UDP: o.UDP, Reverse: o.Reverse, Duration: elapsed, Length: o.Length,
		Rate: o.Rate, Started: start, Intervals: sm.rows, LocalCPU: cpu, Congestion: theirs.CongestionUsed,
		RemoteCPU: CPU{Total: theirs.CPUTotal, User: theirs.CPUUser, System: theirs.CPUSystem}}
	rep.Streams = combine(sd, finals, elapsed, theirs)
	rep.Sum = sumResults(rep.Streams)
	return rep, nil
}

type stateMsg struct {
	st  int8
	err error
}

func wrapStream(id int, err error) error {
	if err != nil {
		return fmt.Errorf("stream %d: %w", id, err)
	}
	return nil
}

// localResults is this end's results object, in iperf3's shape.
func localResults(sd *side, finals []snapshot, elapsed time.Duration, cpu CPU) resultsMsg {
	m := resultsMsg{CPUTotal: cpu.Total, CPUUser: cpu.User, CPUSystem: cpu.System, SenderHasRetransmits: -1}
	if sd.sender {
		m.SenderHasRetransmits = 0
	}
	for i, s := range sd.streams {
		f := finals[i]
		r := streamResult{ID: s.id, Bytes: num(f.bytes), Retransmits: -1, EndTime: elapsed.Seconds(), Packets: num(f.packets)}
		if f.tcpSending && f.tcpKnown {
			r.Retransmits = num(f.tcp.Retransmits)
			m.SenderHasRetransmits = 1
		}
		if f.udpRecv {
			s.mu.Lock()
			r.Jitter, r.Errors, r.Packets = s.udp.jitter, num(s.udp.Lost), num(s.udp.Highest)
			ooo := s.udp.OutOfOrder
			s.mu.Unlock()
			r.OutOfOrder = &ooo
		}
		m.Streams = append(m.Streams, r)
	}
	return m
}

// combine merges this end's counts with the peer's results, by stream id.
func combine(sd *side, finals []snapshot, elapsed time.Duration, theirs resultsMsg) []StreamResult {
	peer := map[int]streamResult{}
	for _, r := range theirs.Streams {
		peer[r.ID] = r
	}
	var out []StreamResult
	for i, s := range sd.streams {
		f := finals[i]
		r := StreamResult{ID: s.id, SentBytes: -1, ReceivedBytes: -1, Retransmits: -1, Cwnd: -1, SentPackets: -1,
			ReceivedPackets: -1, Expected: -1, Lost: -1, OutOfOrder: -1, Jitter: -1}
		p, ok := peer[s.id]
		peerTime := time.Duration((p.EndTime - p.StartTime) * float64(time.Second))
		if sd.sender {
			r.SentBytes, r.SenderTime = timing.Bytes(f.bytes), elapsed
			if f.tcpKnown {
				r.Retransmits, r.Cwnd, r.RTT = f.tcp.Retransmits, timing.Bytes(f.tcp.Cwnd), f.tcp.RTT
			}
			if sd.udp {
				r.SentPackets = f.packets
			}
			if ok {
				r.ReceivedBytes, r.ReceiverTime = timing.Bytes(p.Bytes), peerTime
				if sd.udp {
					r.Jitter = time.Duration(p.Jitter * 1e9)
					r.ReceivedPackets = -1
					// iperf3's arithmetic: gaps below the receiver's
					// highest sequence number, out of that number.
					r.Lost, r.Expected = int64(p.Errors), int64(p.Packets)
					if p.OutOfOrder != nil {
						r.OutOfOrder = *p.OutOfOrder
					}
				}
			}
		} else {
			r.ReceivedBytes, r.ReceiverTime = timing.Bytes(f.bytes), elapsed
			if sd.udp {
				s.mu.Lock()
				u := s.udp
				s.mu.Unlock()
				r.ReceivedPackets, r.OutOfOrder, r.Jitter, r.Lost, r.Expected = u.Received, u.OutOfOrder, u.Jitter, u.Lost, int64(u.Highest)
			}
			if ok {
				r.SentBytes, r.SenderTime = timing.Bytes(p.Bytes), peerTime
				if p.Retransmits >= 0 && !sd.udp {
					r.Retransmits = int64(p.Retransmits)
				}
				if sd.udp {
					r.SentPackets = int64(p.Packets)
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// sumResults adds the streams' totals.
func sumResults(rs []StreamResult) StreamResult {
	sum := StreamResult{ID: 0}
	add := func(dst *int64, v int64) {
		if v < 0 || *dst < 0 {
			*dst = -1
			return
		}
		*dst += v
	}
	var jit time.Duration
	for _, r := range rs {
		for _, f := range []struct{ dst, v *int64 }{
			{(*int64)(&sum.SentBytes), (*int64)(&r.SentBytes)}, {(*int64)(&sum.ReceivedBytes), (*int64)(&r.ReceivedBytes)},
			{&sum.Retransmits, &r.Retransmits}, {(*int64)(&sum.Cwnd), (*int64)(&r.Cwnd)},
			{&sum.SentPackets, &r.SentPackets}, {&sum.ReceivedPackets, &r.ReceivedPackets}, {&sum.Expected, &r.Expected},
			{&sum.Lost, &r.Lost}, {&sum.OutOfOrder, &r.OutOfOrder},
		} {
			add(f.dst, *f.v)
		}
		sum.SenderTime, sum.ReceiverTime = max(sum.SenderTime, r.SenderTime), max(sum.ReceiverTime, r.ReceiverTime)
		sum.RTT = max(sum.RTT, r.RTT)
		if r.Jitter < 0 || jit < 0 {
			jit = -1
		} else {
			jit += r.Jitter
		}
	}
	sum.Jitter = jit
	if jit > 0 && len(rs) > 0 {
		sum.Jitter = jit / time.Duration(len(rs))
	}
	return sum
}

// cpuSample is the process's user and system CPU time at one instant.
type cpuSample struct{ user, sys time.Duration }

func cpuNow() cpuSample {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}
	}
	return cpuSample{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// cpuSince is the process's CPU use since a over wall time d, in percent.
func cpuSince(a cpuSample, d time.Duration) CPU {
	b := cpuNow()
	if d <= 0 {
		return CPU{}
	}
	u, s := 100*float64(b.user-a.user)/float64(d), 100*float64(b.sys-a.sys)/float64(d)
	return CPU{Total: u + s, User: u, System: s}
}
