package streamer

import (
	"math"
	"testing"
	"time"
)

// feed adds datagrams with the given sequence numbers, sent every 100 µs,
// each taking transit(i) to arrive.
func feed(s *UDPStats, seqs []uint64, transit func(i int) time.Duration) {
	t0 := time.Unix(1_700_000_000, 0)
	for i, q := range seqs {
		sent := t0.Add(time.Duration(q) * 100 * time.Microsecond)
		s.Add(q, 1000, sent, sent.Add(transit(i)))
	}
}

func constant(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

func TestUDPStatsLossAndReorder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seqs      []uint64
		lost, ooo int64
		highest   uint64
		received  int64
		lossPct   float64
	}{
		{name: "in order", seqs: []uint64{1, 2, 3, 4, 5}, highest: 5, received: 5},
		{name: "one gap", seqs: []uint64{1, 2, 4, 5}, lost: 1, highest: 5, received: 4, lossPct: 20},
		{name: "gap of three", seqs: []uint64{1, 5, 6, 7, 8, 9, 10}, lost: 3, highest: 10, received: 7, lossPct: 30},
		// 3 arrives after 4: the gap counted 3 as lost, its late arrival
		// takes the loss back and counts one out of order.
		{name: "swap", seqs: []uint64{1, 2, 4, 3, 5}, ooo: 1, highest: 5, received: 5},
		{name: "late by two", seqs: []uint64{1, 3, 4, 2, 5}, ooo: 1, highest: 5, received: 5},
		{name: "reorder and a loss", seqs: []uint64{1, 4, 2, 5, 6}, lost: 1, ooo: 1, highest: 6, received: 5, lossPct: 100.0 / 6},
		// A duplicate of an old datagram also counts out of order, and
		// with no loss outstanding takes none back (iperf3's arithmetic).
		{name: "duplicate", seqs: []uint64{1, 2, 2, 3}, ooo: 1, highest: 3, received: 4},
		{name: "first lost", seqs: []uint64{2, 3}, lost: 1, highest: 3, received: 2, lossPct: 100.0 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s UDPStats
			feed(&s, tc.seqs, constant(time.Millisecond))
			if s.Lost != tc.lost || s.OutOfOrder != tc.ooo || s.Highest != tc.highest || s.Received != tc.received {
				t.Errorf("lost %d ooo %d highest %d received %d, want %d %d %d %d",
					s.Lost, s.OutOfOrder, s.Highest, s.Received, tc.lost, tc.ooo, tc.highest, tc.received)
			}
			if got := s.LossPct(); math.Abs(got-tc.lossPct) > 1e-9 {
				t.Errorf("loss %.4f%%, want %.4f%%", got, tc.lossPct)
			}
			if int64(s.Bytes) != 1000*int64(len(tc.seqs)) {
				t.Errorf("bytes %d, want %d", s.Bytes, 1000*len(tc.seqs))
			}
		})
	}
}

func TestUDPStatsJitter(t *testing.T) {
	// Constant transit: no jitter, whatever the clocks' offset.
	var s UDPStats
	feed(&s, []uint64{1, 2, 3, 4, 5, 6}, constant(37*time.Second))
	if s.Jitter != 0 {
		t.Errorf("constant transit: jitter %v, want 0", s.Jitter)
	}
	// Transit alternating 1 ms and 3 ms: |D| is 2 ms from the second
	// datagram on, and J_n = 2 ms × (1 − (15/16)^(n−1)).
	for _, n := range []int{2, 3, 10, 100} {
		var s UDPStats
		seqs := make([]uint64, n)
		for i := range seqs {
			seqs[i] = uint64(i + 1)
		}
		feed(&s, seqs, func(i int) time.Duration { return time.Duration(1+2*(i%2)) * time.Millisecond })
		want := 2e-3 * (1 - math.Pow(15.0/16, float64(n-1)))
		if got := s.Jitter.Seconds(); math.Abs(got-want) > 1e-9 {
			t.Errorf("%d datagrams: jitter %.9f s, want %.9f s", n, got, want)
		}
	}
	// One step of J += (|D| − J)/16 by hand: J=0, D=+160 µs gives 10 µs.
	var one UDPStats
	feed(&one, []uint64{1, 2}, func(i int) time.Duration { return time.Duration(i) * 160 * time.Microsecond })
	if one.Jitter != 10*time.Microsecond {
		t.Errorf("one step: jitter %v, want 10µs", one.Jitter)
	}
	// A late datagram enters the jitter by its own transit, like any other.
	var late UDPStats
	feed(&late, []uint64{1, 3, 2}, constant(time.Millisecond))
	if late.Jitter != 0 {
		t.Errorf("reordered but constant transit: jitter %v, want 0", late.Jitter)
	}
}

func TestUDPHeaderRoundTrip(t *testing.T) {
	at := time.Unix(1_765_000_000, 123_456_000)
	for _, wide := range []bool{false, true} {
		b := make([]byte, 64)
		putUDPHeader(b, at, 1<<31+5, wide)
		sent, seq, ok := parseUDPHeader(b, wide)
		if !ok || seq != 1<<31+5 || !sent.Equal(at) {
			t.Errorf("wide %v: got %v %d %v, want %v %d", wide, sent, seq, ok, at, uint64(1<<31+5))
		}
	}
	// iperf3's bytes: sec 0x00000001, usec 0x00000002, seq 0x00000003.
	b := []byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}
	sent, seq, ok := parseUDPHeader(b, false)
	if !ok || seq != 3 || !sent.Equal(time.Unix(1, 2000)) {
		t.Errorf("fixture: %v %d %v", sent, seq, ok)
	}
	if _, _, ok := parseUDPHeader(b[:11], false); ok {
		t.Error("11-byte datagram parsed")
	}
	if !isUDPHello([]byte("9876")) || !isUDPReply([]byte("6789")) || isUDPHello([]byte("6789")) {
		t.Error("UDP hello/reply words do not match iperf3's (\"9876\" and \"6789\" on the wire)")
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"1G": 1e9, "500M": 500e6, "1.5g": 1.5e9, "64k": 64e3, "1000": 1000, "0": 0, "2Gbit": 2e9} {
		got, err := ParseRate(in)
		if err != nil || float64(got) != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, float64(got), err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1M", "1X"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q): no error", in)
		}
	}
}

func TestStreamIDs(t *testing.T) {
	// iperf3 numbers streams 1, 3, 4, 5, … (iperf_add_stream).
	for i, want := range []int{1, 3, 4, 5, 6} {
		if got := streamID(i); got != want {
			t.Errorf("streamID(%d) = %d, want %d", i, got, want)
		}
	}
}

func TestPacer(t *testing.T) {
	start := time.Unix(0, 0)
	p := pacer{rate: 1e6, start: start} // 1 MB/s: 1000 B per ms
	if w := p.wait(start, 1000); w != time.Millisecond {
		t.Errorf("first 1000 B due after %v, want 1ms", w)
	}
	p.add(1000)
	if w := p.wait(start.Add(5*time.Millisecond), 1000); w != 0 {
		t.Errorf("behind schedule, wait %v, want 0", w)
	}
}
