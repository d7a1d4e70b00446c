package streamer

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(context.Background(), ServerOptions{Listen: "127.0.0.1:0", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkReport holds for every good run: both ends counted bytes for every
// stream, the sum adds the streams up, the receiver got what the sender
// sent within what was in flight at the end.
func checkReport(t *testing.T, r *Report, streams int) {
	t.Helper()
	if len(r.Streams) != streams {
		t.Fatalf("%d streams in the report, want %d", len(r.Streams), streams)
	}
	var sent, recv int64
	for i, s := range r.Streams {
		if s.ID != streamID(i) {
			t.Errorf("stream %d has id %d, want %d", i, s.ID, streamID(i))
		}
		if s.SentBytes <= 0 || s.ReceivedBytes <= 0 {
			t.Errorf("stream %d: sent %d, received %d", s.ID, s.SentBytes, s.ReceivedBytes)
		}
		if s.ReceivedBytes > s.SentBytes {
			t.Errorf("stream %d: received %d > sent %d", s.ID, s.ReceivedBytes, s.SentBytes)
		}
		sent, recv = sent+int64(s.SentBytes), recv+int64(s.ReceivedBytes)
	}
	if int64(r.Sum.SentBytes) != sent || int64(r.Sum.ReceivedBytes) != recv {
		t.Errorf("sum sent %d received %d, streams add to %d %d", r.Sum.SentBytes, r.Sum.ReceivedBytes, sent, recv)
	}
	if float64(recv) < 0.5*float64(sent) {
		t.Errorf("received %d of %d bytes sent", recv, sent)
	}
}

func TestTimedTCPParallelReverse(t *testing.T) {
	srv := startServer(t)
	var mu sync.Mutex
	var live []Interval
	r, err := RunTimed(context.Background(), TimedOptions{Addr: srv.Addr(), Duration: 600 * time.Millisecond, Streams: 4, Reverse: true,
		Interval: 200 * time.Millisecond, OnInterval: func(iv Interval) { mu.Lock(); live = append(live, iv); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, 4)
	// The server sends: its TCP_INFO retransmits arrive in its results;
	// the client, receiving, knows no window.
	for _, s := range r.Streams {
		if s.Retransmits < 0 {
			t.Errorf("stream %d: retransmits unknown, want the server's TCP_INFO count", s.ID)
		}
		if s.Cwnd != -1 {
			t.Errorf("stream %d: cwnd %d at the receiving end, want -1 (unknown)", s.ID, s.Cwnd)
		}
	}
	// 3 intervals of 4 streams and a sum each; the callback saw them all.
	if n := len(r.Intervals); n < 10 || n%5 != 0 {
		t.Errorf("%d interval rows, want 3 intervals × (4 streams + sum)", n)
	}
	if len(live) != len(r.Intervals) {
		t.Errorf("OnInterval saw %d rows, the report has %d", len(live), len(r.Intervals))
	}
	var rows int64
	for _, iv := range r.Intervals {
		if iv.Stream != 0 {
			rows += int64(iv.Bytes)
		}
	}
	if rows != int64(r.Sum.ReceivedBytes) {
		t.Errorf("interval rows add to %d bytes, the receiver counted %d", rows, r.Sum.ReceivedBytes)
	}
	// The server counts the test once the client's IPERF_DONE is in.
	for end := time.Now().Add(time.Second); srv.Tests() == 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.Tests() != 1 || srv.Errors() != 0 {
		t.Errorf("server: %d tests, %d errors (%v)", srv.Tests(), srv.Errors(), srv.LastError())
	}
}

func TestTimedTCPSenderSeesTCPInfo(t *testing.T) {
	r, err := RunTimed(context.Background(), TimedOptions{Duration: 300 * time.Millisecond, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, 1)
	s := r.Streams[0]
	if s.Retransmits < 0 || s.Cwnd <= 0 || s.RTT <= 0 {
		t.Errorf("sender's TCP_INFO: retransmits %d, cwnd %d, rtt %v; want all known", s.Retransmits, s.Cwnd, s.RTT)
	}
	for _, iv := range r.Intervals {
		if iv.Cwnd <= 0 || iv.Retransmits < 0 {
			t.Errorf("interval %v-%v: cwnd %d retransmits %d", iv.Start, iv.End, iv.Cwnd, iv.Retransmits)
		}
	}
}

func TestTimedUDP(t *testing.T) {
	srv := startServer(t)
	for _, reverse := range []bool{false, true} {
		r, err := RunTimed(context.Background(), TimedOptions{Addr: srv.Addr(), UDP: true, Rate: 50e6, Duration: 500 * time.Millisecond,
			Streams: 2, Reverse: reverse, Interval: 250 * time.Millisecond})
		if err != nil {
			t.Fatalf("reverse %v: %v", reverse, err)
		}
		checkReport(t, r, 2)
		for _, s := range r.Streams {
			// Paced at 50 Mbit/s per stream for 0.5 s: 25 Mbit, ±30 %.
			if bits := 8 * float64(s.SentBytes); bits < 0.7*25e6 || bits > 1.3*25e6 {
				t.Errorf("reverse %v, stream %d: sent %.1f Mbit, want about 25 (50 Mbit/s × 0.5 s)", reverse, s.ID, bits/1e6)
			}
			if s.Lost < 0 || s.OutOfOrder < 0 || s.Jitter < 0 || s.Expected <= 0 {
				t.Errorf("reverse %v, stream %d: lost %d ooo %d jitter %v expected %d; want all known from an lvsperf peer",
					reverse, s.ID, s.Lost, s.OutOfOrder, s.Jitter, s.Expected)
			}
			if s.SentPackets <= 0 || s.Expected > s.SentPackets {
				t.Errorf("reverse %v, stream %d: receiver expected %d of %d sent", reverse, s.ID, s.Expected, s.SentPackets)
			}
			if s.Jitter > 50*time.Millisecond {
				t.Errorf("reverse %v, stream %d: jitter %v on loopback", reverse, s.ID, s.Jitter)
			}
		}
	}
	if srv.Errors() != 0 {
		t.Errorf("server errors: %d (%v)", srv.Errors(), srv.LastError())
	}
}

// A server that says nothing, or another protocol, is an error naming
// iperf3's protocol within the handshake timeout, never a hang.
func TestTimedWrongPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		greet []byte
		want  string
	}{
		{"silent", nil, "within"},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "got byte 0x48"},
		{"closes", []byte{}, "closed the control connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				switch {
				case tc.greet == nil:
					time.Sleep(2 * time.Second)
				case len(tc.greet) > 0:
					c.Write(tc.greet)
					time.Sleep(2 * time.Second)
				}
			}()
			start := time.Now()
			_, err = RunTimed(context.Background(), TimedOptions{Addr: l.Addr().String(), Peer: PeerIperf3, Duration: time.Second,
				HandshakeTimeout: 300 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "iperf3") {
				t.Fatalf("error %v, want one containing %q and naming iperf3", err, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v to give up, want about the 300ms handshake timeout", d)
			}
		})
	}
}

// A client that speaks another protocol is dropped by the server, which
// then serves the next test.
func TestServerWrongPeer(t *testing.T) {
	s, err := NewServer(context.Background(), ServerOptions{Listen: "127.0.0.1:0", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n")) // shorter than a cookie
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, errTimeoutForTest(err)) {
		t.Errorf("server answered a non-iperf3 peer (err %v), want it to close", err)
	}
	c.Close()
	if s.Errors() != 1 || !strings.Contains(s.LastError().Error(), "cookie") {
		t.Errorf("server errors %d (%v), want 1 naming the cookie", s.Errors(), s.LastError())
	}
	if _, err := RunTimed(context.Background(), TimedOptions{Addr: s.Addr(), Duration: 200 * time.Millisecond}); err != nil {
		t.Errorf("next test after the bad peer: %v", err)
	}
}

func errTimeoutForTest(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}

// The server refuses what it does not do with iperf3's own error, which
// the client reports.
func TestServerRefusesBidir(t *testing.T) {
	srv := startServer(t)
	c := &client{o: TimedOptions{Addr: srv.Addr(), HandshakeTimeout: time.Second}}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c.ctrl = conn
	c.cookie, _ = newCookie()
	conn.Write(c.cookie)
	if err := c.step(stateParamExchange); err != nil {
		t.Fatal(err)
	}
	writeJSON(conn, params{TCP: true, Time: 1, Parallel: 1, Bidirectional: true})
	err = c.step(stateCreateStreams)
	if err == nil || !strings.Contains(err.Error(), "not implemented") {
		t.Errorf("bidirectional test: %v, want iperf3's not-implemented error", err)
	}
}

func TestTimedOptionsBad(t *testing.T) {
	for _, o := range []TimedOptions{{Streams: 129}, {Duration: -time.Second}, {UDP: true, Length: 8}, {Peer: "nptcp"}, {Peer: PeerIperf3}} {
		if _, err := RunTimed(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestReportRun(t *testing.T) {
	r, err := RunTimed(context.Background(), TimedOptions{Duration: 300 * time.Millisecond, Streams: 2, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run := r.Run(map[string]string{"parallel": "2"})
	if run.Probe != Probe || len(run.Series) != 3 || run.Series[0].Label != "stream sum" {
		t.Fatalf("run: probe %q, %d series (%v)", run.Probe, len(run.Series), run.Series)
	}
	for _, s := range run.Series {
		if n := strings.Count(s.Info["interval_retransmits"], ",") + 1; n != len(s.Points) {
			t.Errorf("series %q: %d interval retransmit counts for %d points", s.Label, n, len(s.Points))
		}
		if len(s.Points) < 2 || s.Info["received_bytes"] == "" || s.Info["retransmits"] == "" {
			t.Errorf("series %q: %d points, info %v", s.Label, len(s.Points), s.Info)
		}
		for _, p := range s.Points {
			if p.Min <= 0 || p.Rate() <= 0 {
				t.Errorf("series %q: point %+v has no rate", s.Label, p)
			}
		}
	}
}
