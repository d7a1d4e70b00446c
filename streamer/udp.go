package streamer

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// putUDPHeader writes iperf3's datagram header: the send time as seconds
// and microseconds since the Unix epoch and the sequence number (from 1),
// all big-endian; 64-bit sequence numbers with wide set.
func putUDPHeader(b []byte, sent time.Time, seq uint64, wide bool) {
	us := sent.UnixMicro()
	binary.BigEndian.PutUint32(b[0:], uint32(us/1e6))
	binary.BigEndian.PutUint32(b[4:], uint32(us%1e6))
	if wide {
		binary.BigEndian.PutUint64(b[8:], seq)
		return
	}
	binary.BigEndian.PutUint32(b[8:], uint32(seq))
}

// parseUDPHeader reads what putUDPHeader wrote; ok is false for a datagram
// too short to hold a header.
func parseUDPHeader(b []byte, wide bool) (sent time.Time, seq uint64, ok bool) {
	if len(b) < udpHeaderSize || wide && len(b) < udpHeaderSize64 {
		return time.Time{}, 0, false
	}
	sec, usec := binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint32(b[4:])
	sent = time.Unix(int64(sec), int64(usec)*1000)
	if wide {
		return sent, binary.BigEndian.Uint64(b[8:]), true
	}
	return sent, uint64(binary.BigEndian.Uint32(b[8:])), true
}

// UDPStats is what a UDP receiver knows of one stream: datagrams and bytes
// received, the highest sequence number seen, losses inferred from gaps,
// datagrams that arrived after a later one, and the RFC 3550 interarrival
// jitter. Its arithmetic is iperf3's (iperf_udp_recv): a gap counts as loss
// until the missing datagram turns up late, which then counts as out of
// order and takes one loss back. It is owned by one goroutine.
type UDPStats struct {
	// Received counts datagrams, Bytes their payload bytes.
	Received int64
	Bytes    timing.Bytes
	// Highest is the highest sequence number seen (sequence numbers start at 1).
	Highest uint64
	// Lost counts sequence numbers skipped and not (yet) seen.
	Lost int64
	// OutOfOrder counts datagrams whose sequence number was not above Highest.
	OutOfOrder int64
	// Jitter is the smoothed mean deviation of transit time differences,
	// J += (|D| - J)/16 (RFC 3550 §6.4.1, A.8).
	Jitter time.Duration

	jitter      float64 // seconds, kept unrounded
	prevTransit time.Duration
}

// Add records one datagram of n bytes with sequence number seq, sent at
// sent by the sender's clock and arrived at arrived by ours. The clocks need
// not agree: only differences of transit times enter the jitter.
func (s *UDPStats) Add(seq uint64, n int, sent, arrived time.Time) {
	transit := arrived.Sub(sent)
	if s.Received == 0 {
		s.prevTransit = transit
	}
	s.Received++
	s.Bytes += timing.Bytes(n)
	if seq > s.Highest {
		if seq > s.Highest+1 {
			s.Lost += int64(seq - s.Highest - 1)
		}
		s.Highest = seq
	} else {
		s.OutOfOrder++
		if s.Lost > 0 {
			s.Lost--
		}
	}
	d := (transit - s.prevTransit).Seconds()
	if d < 0 {
		d = -d
	}
	s.prevTransit = transit
	s.jitter += (d - s.jitter) / 16
	s.Jitter = time.Duration(s.jitter * 1e9)
}

// LossPct is the share of datagrams lost out of the highest sequence
// number seen, as iperf3 reports it. Datagrams after the highest one seen
// are not counted: at the end of a test they cannot be told from those
// still in flight when the receiver stopped counting.
func (s *UDPStats) LossPct() float64 {
	if s.Highest == 0 {
		return 0
	}
	return 100 * float64(s.Lost) / float64(s.Highest)
}

// pacer spaces sends so that bytes sent by time t stay at rate×t; it lets
// a late sender catch up by at most burst sends at once.
type pacer struct {
	rate  float64 // bytes per second
	start time.Time
	sent  float64
}

// wait returns how long to sleep before sending n more bytes (0 to send now).
func (p *pacer) wait(now time.Time, n int) time.Duration {
	due := p.start.Add(time.Duration((p.sent + float64(n)) / p.rate * 1e9))
	if d := due.Sub(now); d > 0 {
		return d
	}
	return 0
}

func (p *pacer) add(n int) { p.sent += float64(n) }

// ParseRate reads a bit rate as iperf3's -b takes it: a number with an
// optional k, M, G or T suffix, powers of 1000, e.g. "1G", "500M", "1.5g".
func ParseRate(s string) (timing.BitsPerSecond, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "bps"), "bit")
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1e3
		case 'm', 'M':
			mult = 1e6
		case 'g', 'G':
			mult = 1e9
		case 't', 'T':
			mult = 1e12
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("rate %q: want a number of bits per second with an optional k, M, G suffix, e.g. 1G", s)
	}
	return timing.BitsPerSecond(v * mult), nil
}
