package streamer

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"
)

// iperf3's control protocol, as esnet/iperf's src/iperf_api.h defines it:
// the client opens a control connection and writes a 37-byte cookie (36
// characters and a NUL); from then on the server drives the test by writing
// one signed byte per state, and both sides exchange JSON objects framed by
// a 4-byte big-endian length. Every data stream connects to the same port
// and first writes the cookie (TCP) or a 4-byte hello datagram (UDP).
const (
	cookieSize = 37

	stateTestStart       = 1
	stateTestRunning     = 2
	stateTestEnd         = 4
	stateParamExchange   = 9
	stateCreateStreams   = 10
	stateServerTerminate = 11
	stateClientTerminate = 12
	stateExchangeResults = 13
	stateDisplayResults  = 14
	stateIperfDone       = 16
	stateAccessDenied    = -1
	stateServerError     = -2

	// ieUnimp is iperf3's i_errno for "not implemented yet", which the
	// server sends after stateServerError for options it does not do.
	ieUnimp = 13
	// ieNumStreams is iperf3's i_errno for too many parallel streams.
	ieNumStreams = 6

	// maxParamsJSON bounds the parameters object, as iperf3's
	// MAX_PARAMS_JSON_STRING does; results may be larger.
	maxParamsJSON  = 8 * 1024
	maxResultsJSON = 4 << 20

	// maxStreams is iperf3's MAX_STREAMS.
	maxStreams = 128
)

// UDP hello and reply: iperf3 writes them as uint32s whose bytes on the
// wire are "9876" (the client's hello) and "6789" (the server's reply) on
// hosts of either byte order; old servers replied 987654321 little-endian.
const (
	udpHello         = "9876"
	udpReply         = "6789"
	udpLegacyReply   = 987654321
	udpHelloSize     = 4
	udpHeaderSize    = 12 // sec, usec, 32-bit sequence number
	udpHeaderSize64  = 16 // sec, usec, 64-bit sequence number
	defaultUDPLength = 1460
	defaultTCPLength = 128 * 1024
	// defaultUDPRateBps is iperf3's default UDP rate, 1 Mbit/s.
	defaultUDPRateBps = 1e6
)

func isUDPHello(b []byte) bool { return string(b) == udpHello }

func isUDPReply(b []byte) bool {
	return string(b) == udpReply || len(b) == udpHelloSize && binary.LittleEndian.Uint32(b) == udpLegacyReply
}

// newCookie returns a cookie in iperf3's alphabet, NUL-terminated.
func newCookie() ([]byte, error) {
	const chars = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, cookieSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	for i := range cookieSize - 1 {
		b[i] = chars[int(b[i])%len(chars)]
	}
	b[cookieSize-1] = 0
	return b, nil
}

// params is the parameters object the client sends after PARAM_EXCHANGE;
// the fields are iperf3's names (send_parameters in iperf_api.c).
type params struct {
	TCP           bool    `json:"tcp,omitempty"`
	UDP           bool    `json:"udp,omitempty"`
	SCTP          bool    `json:"sctp,omitempty"`
	Omit          int     `json:"omit"`
	Time          int     `json:"time"`
	Num           int64   `json:"num"`
	BlockCount    int64   `json:"blockcount"`
	MSS           int     `json:"MSS,omitempty"`
	NoDelay       bool    `json:"nodelay,omitempty"`
	Parallel      int     `json:"parallel"`
	Reverse       bool    `json:"reverse,omitempty"`
	Bidirectional bool    `json:"bidirectional,omitempty"`
	Window        int     `json:"window,omitempty"`
	Len           int     `json:"len,omitempty"`
	Bandwidth     float64 `json:"bandwidth,omitempty"`
	Counters64    int     `json:"udp_counters_64bit,omitempty"`
	ClientVersion string  `json:"client_version,omitempty"`
	// FQRate, Burst, Title, Congestion and the rest iperf3 may send are
	// read and ignored (or refused below when they change the test).
	Burst int `json:"burst,omitempty"`
}

// streamResult is one stream in the results object (send_results).
type streamResult struct {
	ID             int     `json:"id"`
	Bytes          num     `json:"bytes"`
	Retransmits    num     `json:"retransmits"`
	Jitter         float64 `json:"jitter"`
	Errors         num     `json:"errors"`
	OmittedErrors  num     `json:"omitted_errors"`
	Packets        num     `json:"packets"`
	OmittedPackets num     `json:"omitted_packets"`
	StartTime      float64 `json:"start_time"`
	EndTime        float64 `json:"end_time"`
	// OutOfOrder is lvsperf's addition (iperf3 ignores it, and does not
	// send it): datagrams that arrived after a later one.
	OutOfOrder *int64 `json:"lvsperf_out_of_order,omitempty"`
}

// resultsMsg is the results object both ends send after EXCHANGE_RESULTS.
type resultsMsg struct {
	CPUTotal             float64        `json:"cpu_util_total"`
	CPUUser              float64        `json:"cpu_util_user"`
	CPUSystem            float64        `json:"cpu_util_system"`
	SenderHasRetransmits num            `json:"sender_has_retransmits"`
	CongestionUsed       string         `json:"congestion_used,omitempty"`
	Streams              []streamResult `json:"streams"`
}

// num is an integer of iperf3's results. iperf3 (cJSON) writes numbers as
// doubles, and some builds write -1 as 2^64-1 (an unsigned -1 converted);
// any value beyond int64 reads as -1, "not known".
type num int64

// UnmarshalJSON reads any JSON number.
func (n *num) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f >= math.MaxInt64 || f <= math.MinInt64 {
		*n = -1
		return nil
	}
	*n = num(f)
	return nil
}

// streamID is the id iperf3 gives the i-th stream (0-based): 1, 3, 4, 5, …
// (iperf_add_stream skips 2, and both ends must agree on it).
func streamID(i int) int {
	if i == 0 {
		return 1
	}
	return i + 2
}

func writeState(c net.Conn, s int8) error {
	if _, err := c.Write([]byte{byte(s)}); err != nil {
		return fmt.Errorf("write control state %d: %w", s, err)
	}
	return nil
}

func readState(c net.Conn) (int8, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return int8(b[0]), nil
}

func writeJSON(c net.Conn, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode control JSON: %w", err)
	}
	msg := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(msg, uint32(len(body)))
	copy(msg[4:], body)
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write control JSON: %w", err)
	}
	return nil
}

// errJSONSize is returned for a length prefix out of bounds, which is what
// a peer speaking another protocol usually produces.
var errJSONSize = errors.New("JSON length out of bounds")

func readJSON(c net.Conn, limit int, v any) error {
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return fmt.Errorf("read control JSON length: %w", err)
	}
	n := binary.BigEndian.Uint32(h[:])
	if n == 0 || int64(n) > int64(limit) {
		return fmt.Errorf("%w: %d bytes (limit %d)", errJSONSize, n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return fmt.Errorf("read control JSON (%d bytes): %w", n, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode control JSON: %w", err)
	}
	return nil
}

// stateName names a control state for error messages.
func stateName(s int8) string {
	switch s {
	case stateTestStart:
		return "TEST_START"
	case stateTestRunning:
		return "TEST_RUNNING"
	case stateTestEnd:
		return "TEST_END"
	case stateParamExchange:
		return "PARAM_EXCHANGE"
	case stateCreateStreams:
		return "CREATE_STREAMS"
	case stateServerTerminate:
		return "SERVER_TERMINATE"
	case stateClientTerminate:
		return "CLIENT_TERMINATE"
	case stateExchangeResults:
		return "EXCHANGE_RESULTS"
	case stateDisplayResults:
		return "DISPLAY_RESULTS"
	case stateIperfDone:
		return "IPERF_DONE"
	case stateAccessDenied:
		return "ACCESS_DENIED"
	case stateServerError:
		return "SERVER_ERROR"
	}
	return fmt.Sprintf("unknown state %d (0x%02x)", s, uint8(s))
}

// deadline sets c's deadline d from now, or clears it for d ≤ 0.
func deadline(c net.Conn, d time.Duration) {
	if d <= 0 {
		_ = c.SetDeadline(time.Time{})
		return
	}
	_ = c.SetDeadline(time.Now().Add(d))
}
