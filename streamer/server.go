package streamer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// ServerOptions configure a Server. The zero value of each field means its
// default.
type ServerOptions struct {
	// Listen is the TCP address of the control and TCP data connections;
	// UDP data streams use the same address (default 127.0.0.1:5201).
	Listen string
	// Timeout bounds each control step and the wait for data streams
	// (default 5s); a test whose client stays silent past its duration plus
	// Timeout is ended.
	Timeout time.Duration
	// Logf, when set, is told about each test and each refused peer.
	Logf func(format string, args ...any)
}

// Server answers iperf3 clients (iperf3 -c, and lvsperf stream) one test at
// a time, as iperf3 -s does: TCP and UDP, -P, -R, -t, -b, -l, -w. It refuses
// with iperf3's "not implemented" error what it does not do: --bidir, -n/-k
// (byte or block counts instead of a duration) and SCTP.
type Server struct {
	ln      *net.TCPListener
	opts    ServerOptions
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	tests   atomic.Int64
	errs    atomic.Int64
	mu      sync.Mutex
	active  *serverTest
	lastErr error
}

// serverTest is the test the server is running.
type serverTest struct {
	cookie []byte
	// streams receives the TCP data connections whose cookie matches,
	// while the test is creating streams.
	streams chan net.Conn
	open    atomic.Bool
	// release lets the next test in; it is called once the results are
	// out, before the client's last word.
	release func()
}

// NewServer listens on opts.Listen and serves until Close or ctx ends.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = fmt.Sprintf("127.0.0.1:%d", DefaultPort)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultHandshakeTimeout
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("stream server: %w", err)
	}
	s := &Server{ln: l.(*net.TCPListener), opts: opts}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Tests counts the tests run to the end; Errors those that failed.
func (s *Server) Tests() int { return int(s.tests.Load()) }

// Errors counts the tests that failed and the peers refused.
func (s *Server) Errors() int { return int(s.errs.Load()) }

// LastError is the last failed test's error, nil when none failed.
func (s *Server) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Close stops the server and waits for its test to end.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func (s *Server) fail(err error) {
	s.errs.Add(1)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	s.logf("%v", err)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.fail(fmt.Errorf("accept: %w", err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.handle(c)
	}
}

// handle reads a new connection's cookie and makes it a test's control
// connection, a data stream of the running test, or turns it away. It
// reads the cookie in the accept loop, as iperf3 does, so data streams are
// numbered in the order they connected, which is the client's order.
func (s *Server) handle(c net.Conn) {
	stop := context.AfterFunc(s.ctx, func() { _ = c.SetDeadline(time.Now()) })
	deadline(c, s.opts.Timeout)
	cookie := make([]byte, cookieSize)
	_, err := io.ReadFull(c, cookie)
	stop()
	deadline(c, 0)
	if err != nil {
		s.fail(fmt.Errorf("%s: expected iperf3's %d-byte cookie within %v: %w", c.RemoteAddr(), cookieSize, s.opts.Timeout, err))
		c.Close()
		return
	}
	s.mu.Lock()
	t := s.active
	switch {
	case t != nil && bytes.Equal(t.cookie, cookie) && t.open.Load():
		// Under the lock: the test closes its channel only once it is no
		// longer active.
		select {
		case t.streams <- c:
		default:
			c.Close()
		}
		s.mu.Unlock()
		return
	case t != nil:
		s.mu.Unlock()
		_ = writeState(c, stateAccessDenied)
		c.Close()
		return
	}
	t = &serverTest{cookie: cookie, streams: make(chan net.Conn, maxStreams)}
	s.active = t
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serve(c, t)
	}()
}

// serve runs the test whose control connection c is.
func (s *Server) serve(c net.Conn, t *serverTest) {
	stop := context.AfterFunc(s.ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	t.release = func() {
		s.mu.Lock()
		if s.active == t {
			s.active = nil
		}
		s.mu.Unlock()
	}
	err := s.run(c, t)
	t.release()
	s.mu.Lock()
	t.open.Store(false)
	close(t.streams)
	s.mu.Unlock()
	for sc := range t.streams {
		sc.Close()
	}
	c.Close()
	if err != nil {
		s.fail(fmt.Errorf("test from %s: %w", c.RemoteAddr(), err))
		return
	}
	s.tests.Add(1)
}

// refuse tells the client the test cannot run, as iperf3 does.
func refuse(c net.Conn, code int32, why string) error {
	var st int8 = stateServerError
	b := []byte{byte(st), 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(code))
	_, _ = c.Write(b)
	return errors.New(why)
}

func (s *Server) run(ctrl net.Conn, t *serverTest) error {
	to := s.opts.Timeout
	if tc, ok := ctrl.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	deadline(ctrl, to)
	if err := writeState(ctrl, stateParamExchange); err != nil {
		return err
	}
	var p params
	if err := readJSON(ctrl, maxParamsJSON, &p); err != nil {
		return fmt.Errorf("expected iperf3's parameters (JSON) after PARAM_EXCHANGE: %w", err)
	}
	switch {
	case p.Bidirectional:
		return refuse(ctrl, ieUnimp, "--bidir is not implemented by lvsperf's stream server")
	case p.Num > 0 || p.BlockCount > 0:
		return refuse(ctrl, ieUnimp, "-n/-k (a byte or block count instead of a duration) is not implemented by lvsperf's stream server")
	case p.SCTP || !p.TCP && !p.UDP:
		return refuse(ctrl, ieUnimp, "only TCP and UDP are implemented by lvsperf's stream server")
	case p.Parallel < 1 || p.Parallel > maxStreams:
		return refuse(ctrl, ieNumStreams, fmt.Sprintf("%d parallel streams: want 1 to %d", p.Parallel, maxStreams))
	}
	length := p.Len
	if length <= 0 {
		length = defaultTCPLength
		if p.UDP {
			length = defaultUDPLength
		}
	}
	sd := &side{udp: p.UDP, sender: p.Reverse, length: length, rate: p.Bandwidth, wide: p.Counters64 != 0}
	if !p.UDP && p.Bandwidth > 0 && !p.Reverse {
		sd.rate = 0 // the client paces its own sends
	}
	var udp *net.UDPConn
	if p.UDP {
		var err error
		if udp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.Addr()))); err != nil {
			return refuse(ctrl, 0, fmt.Sprintf("UDP socket on %s: %v", s.Addr(), err))
		}
		defer udp.Close()
		if p.Window > 0 {
			_ = udp.SetReadBuffer(p.Window)
			_ = udp.SetWriteBuffer(p.Window)
		}
	}
	t.open.Store(true)
	if err := writeState(ctrl, stateCreateStreams); err != nil {
		return err
	}
	var err error
	if p.UDP {
		err = s.acceptUDP(udp, sd, p.Parallel, to)
	} else {
		err = s.acceptTCP(t, sd, p, to)
	}
	t.open.Store(false)
	defer func() {
		for _, st := range sd.streams {
			if st.conn != nil {
				st.conn.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	if err := writeState(ctrl, stateTestStart); err != nil {
		return err
	}
	if err := writeState(ctrl, stateTestRunning); err != nil {
		return err
	}
	s.logf("test from %s: %s, %d streams, %ds%s", ctrl.RemoteAddr(), proto(p.UDP), p.Parallel, p.Time, map[bool]string{true: ", reverse"}[p.Reverse])
	return s.measure(ctrl, t, sd, p, udp)
}

func proto(udp bool) string {
	if udp {
		return "UDP"
	}
	return "TCP"
}

func (s *Server) acceptTCP(t *serverTest, sd *side, p params, to time.Duration) error {
	timer := time.NewTimer(to)
	defer timer.Stop()
	for i := range p.Parallel {
		select {
		case c := <-t.streams:
			if err := setBuffers(c, p.Window, p.NoDelay); err != nil {
				c.Close()
				return err
			}
			sd.streams = append(sd.streams, &stream{id: streamID(i), conn: c, write: c.Write})
		case <-timer.C:
			return fmt.Errorf("%d of %d data streams connected within %v", i, p.Parallel, to)
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	return nil
}

// acceptUDP takes each new source address's hello as a new stream and
// answers it; all streams share the one socket.
func (s *Server) acceptUDP(u *net.UDPConn, sd *side, n int, to time.Duration) error {
	end := time.Now().Add(to)
	_ = u.SetReadDeadline(end)
	defer u.SetReadDeadline(time.Time{})
	seen := map[netip.AddrPort]bool{}
	buf := make([]byte, 65536)
	for len(sd.streams) < n {
		m, from, err := u.ReadFromUDPAddrPort(buf)
		if err != nil {
			return fmt.Errorf("%d of %d UDP streams said hello within %v: %w", len(sd.streams), n, to, err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if seen[from] || !isUDPHello(buf[:m]) {
			continue
		}
		seen[from] = true
		if _, err := u.WriteToUDPAddrPort([]byte(udpReply), from); err != nil {
			return fmt.Errorf("UDP reply to %s: %w", from, err)
		}
		st := &stream{id: streamID(len(sd.streams)), peer: from}
		st.write = func(b []byte) (int, error) { return u.WriteToUDPAddrPort(b, from) }
		sd.streams = append(sd.streams, st)
	}
	return nil
}

func (s *Server) measure(ctrl net.Conn, t *serverTest, sd *side, p params, udp *net.UDPConn) error {
	to := s.opts.Timeout
	cpu0 := cpuNow()
	start := time.Now()
	sd.count(true)
	runCtx, stopRun := context.WithCancel(s.ctx)
	defer stopRun()
	var g errgroup.Group
	switch {
	case sd.sender && sd.udp:
		for _, st := range sd.streams {
			g.Go(func() error { return wrapStream(st.id, sd.sendUDP(runCtx, st)) })
		}
	case sd.sender:
		for _, st := range sd.streams {
			g.Go(func() error { return wrapStream(st.id, sd.send(runCtx, st)) })
		}
	case sd.udp:
		by := map[netip.AddrPort]*stream{}
		for _, st := range sd.streams {
			by[st.peer] = st
		}
		g.Go(func() error { return sd.recvUDP(udp, func(a netip.AddrPort) *stream { return by[a] }) })
	default:
		for _, st := range sd.streams {
			g.Go(func() error { return wrapStream(st.id, sd.recvTCP(st)) })
		}
	}
	// The client ends the test; one that stays silent past its duration
	// and the timeout is given up on.
	if p.Time > 0 {
		deadline(ctrl, time.Duration(p.Time)*time.Second+to)
	} else {
		deadline(ctrl, 0)
	}
	st, err := readState(ctrl)
	elapsed := time.Since(start)
	sd.count(false)
	stopRun()
	var gerr error
	if sd.sender {
		gerr = g.Wait()
	}
	finals := make([]snapshot, len(sd.streams))
	for i, s := range sd.streams {
		finals[i] = sd.snap(s)
	}
	for _, s := range sd.streams {
		if s.conn != nil {
			s.conn.Close()
		}
	}
	if udp != nil && !sd.sender {
		_ = udp.SetReadDeadline(time.Now())
	}
	if !sd.sender {
		gerr = g.Wait()
	}
	switch {
	case err != nil:
		return fmt.Errorf("waiting for TEST_END: %w", err)
	case st == stateClientTerminate:
		return errors.New("the client terminated the test")
	case st != stateTestEnd:
		return fmt.Errorf("expected TEST_END from the client, got %s", stateName(st))
	case gerr != nil && !sd.sender:
		return gerr
	}
	cpu := cpuSince(cpu0, elapsed)
	deadline(ctrl, to)
	if err := writeState(ctrl, stateExchangeResults); err != nil {
		return err
	}
	var theirs resultsMsg
	if err := readJSON(ctrl, maxResultsJSON, &theirs); err != nil {
		return fmt.Errorf("client results: %w", err)
	}
	mine := localResults(sd, finals, elapsed, cpu)
	if err := writeJSON(ctrl, mine); err != nil {
		return err
	}
	// The next test may start as soon as the client has DISPLAY_RESULTS:
	// free the UDP port and the server before sending it.
	if udp != nil {
		udp.Close()
	}
	t.release()
	if err := writeState(ctrl, stateDisplayResults); err != nil {
		return err
	}
	if st, err := readState(ctrl); err == nil && st != stateIperfDone {
		return fmt.Errorf("expected IPERF_DONE from the client, got %s", stateName(st))
	}
	return nil
}
