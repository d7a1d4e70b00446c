package cluster

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// ProtocolVersion is carried in every hello; both ends refuse another.
const ProtocolVersion = 1

// maxMessage bounds one message on the wire (a result with its histogram
// is well below it), so that a peer speaking garbage cannot make us
// allocate without bound.
const maxMessage = 16 << 20

// Message types.
const (
	msgHello    = "hello"
	msgAuth     = "auth"
	msgTime     = "time"
	msgPlan     = "plan"
	msgReady    = "ready"
	msgStart    = "start"
	msgProgress = "progress"
	msgResult   = "result"
	msgError    = "error"
	msgStep     = "step"
	msgPoint    = "point"
)

// message is one line of the protocol: JSON, newline-terminated. Only the
// fields its Type uses are set.
type message struct {
	Type    string `json:"type"`
	Version int    `json:"version,omitempty"`
	// hello
	Agent  string `json:"agent,omitempty"`
	Index  int    `json:"index,omitempty"`
	Nonce  string `json:"nonce,omitempty"`
	Server bool   `json:"server,omitempty"`
	// auth: MAC answers the peer's nonce
	MAC string `json:"mac,omitempty"`
	// time: T1 set by the coordinator, T2/T3 by the agent (Unix ns)
	T1 int64 `json:"t1,omitempty"`
	T2 int64 `json:"t2,omitempty"`
	T3 int64 `json:"t3,omitempty"`
	// plan
	Plan *Plan `json:"plan,omitempty"`
	// start: the instant, in the agent's clock (Unix ns)
	At int64 `json:"at,omitempty"`
	// progress and result
	Progress *Partial      `json:"progress,omitempty"`
	Result   *AgentMeasure `json:"result,omitempty"`
	// step and point: one size of a lock-step netpipe
	Step  int           `json:"step,omitempty"`
	Point *timing.Point `json:"point,omitempty"`
	// Late is how late the agent started the step (ns), At then its start.
	Late int64 `json:"late,omitempty"`
	// error
	Error string `json:"error,omitempty"`
}

// conn frames messages on a TCP connection.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	enc *json.Encoder
}

func newConn(c net.Conn) *conn {
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), enc: json.NewEncoder(c)}
}

func (c *conn) send(m message, timeout time.Duration) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s to %s: %w", m.Type, c.c.RemoteAddr(), err)
	}
	return nil
}

// recv reads one message within timeout (0: no deadline).
func (c *conn) recv(timeout time.Duration) (message, error) {
	if timeout > 0 {
		_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	} else {
		_ = c.c.SetReadDeadline(time.Time{})
	}
	var line []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > maxMessage {
				return message{}, fmt.Errorf("from %s: a message longer than %d bytes: not an lvsperf cluster peer", c.c.RemoteAddr(), maxMessage)
			}
			continue
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return message{}, fmt.Errorf("%s closed the connection: %w", c.c.RemoteAddr(), io.EOF)
		}
		return message{}, fmt.Errorf("read from %s: %w", c.c.RemoteAddr(), err)
	}
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		return message{}, fmt.Errorf("from %s: want an lvsperf cluster message (a JSON line), got %q: %w", c.c.RemoteAddr(), truncate(line, 40), err)
	}
	if m.Type == msgError {
		return m, &PeerError{Addr: c.c.RemoteAddr().String(), Msg: m.Error}
	}
	return m, nil
}

// expect reads one message and checks its type.
func (c *conn) expect(typ string, timeout time.Duration) (message, error) {
	m, err := c.recv(timeout)
	if err != nil {
		return m, err
	}
	if m.Type != typ {
		return m, fmt.Errorf("from %s: want a %q message, got %q", c.c.RemoteAddr(), typ, m.Type)
	}
	return m, nil
}

// PeerError is an error the other end reported.
type PeerError struct{ Addr, Msg string }

func (e *PeerError) Error() string { return e.Addr + " reported: " + e.Msg }

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Auth is the shared secret both ends prove they hold. A shared token
// rather than mTLS: both launchers hand a job a secret natively (a Slurm
// job's environment or a file, a Kubernetes Secret) and neither needs a
// certificate authority; the token never crosses the wire, each end
// answers the other's random challenge with HMAC-SHA256. Plans and results
// are not secret and travel in the clear.
type Auth struct {
	Token []byte
}

// MinTokenLen is the shortest token accepted.
const MinTokenLen = 16

// Check rejects a token too short to be a secret.
func (a Auth) Check() error {
	if len(a.Token) < MinTokenLen {
		return fmt.Errorf("cluster token: want at least %d bytes (e.g. `head -c 24 /dev/urandom | base64`), got %d", MinTokenLen, len(a.Token))
	}
	return nil
}

func (a Auth) mac(nonce, role string) string {
	h := hmac.New(sha256.New, a.Token)
	h.Write([]byte(role))
	h.Write([]byte{0})
	h.Write([]byte(nonce))
	return hex.EncodeToString(h.Sum(nil))
}

func (a Auth) verify(nonce, role, mac string) bool {
	want := a.mac(nonce, role)
	return hmac.Equal([]byte(want), []byte(mac))
}

func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ErrAuth says the peer did not prove it holds the token.
var ErrAuth = errors.New("the peer did not prove it holds the cluster token (different --token on the two ends?)")

// handshakeTimeout bounds each step of the handshake.
const handshakeTimeout = 10 * time.Second

// agentHandshake runs the agent's side: hello with its nonce, check the
// coordinator's answer, answer the coordinator's nonce.
func agentHandshake(c *conn, a Auth, name string, index int) error {
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	if err := c.send(message{Type: msgHello, Version: ProtocolVersion, Agent: name, Index: index, Nonce: nonce}, handshakeTimeout); err != nil {
		return err
	}
	m, err := c.expect(msgAuth, handshakeTimeout)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if m.Version != ProtocolVersion {
		return fmt.Errorf("handshake: the coordinator speaks protocol %d, this agent %d: run the same lvsperf version on both", m.Version, ProtocolVersion)
	}
	if !a.verify(nonce, "coordinator", m.MAC) {
		return ErrAuth
	}
	return c.send(message{Type: msgAuth, MAC: a.mac(m.Nonce, "agent")}, handshakeTimeout)
}

// coordinatorHandshake runs the coordinator's side and returns the agent's
// hello.
func coordinatorHandshake(c *conn, a Auth) (message, error) {
	hello, err := c.expect(msgHello, handshakeTimeout)
	if err != nil {
		return hello, fmt.Errorf("handshake: %w", err)
	}
	if hello.Version != ProtocolVersion {
		_ = c.send(message{Type: msgError, Error: fmt.Sprintf("protocol %d, coordinator speaks %d", hello.Version, ProtocolVersion)}, time.Second)
		return hello, fmt.Errorf("handshake: agent %q speaks protocol %d, this coordinator %d: run the same lvsperf version on both", hello.Agent, hello.Version, ProtocolVersion)
	}
	nonce, err := newNonce()
	if err != nil {
		return hello, err
	}
	if err := c.send(message{Type: msgAuth, Version: ProtocolVersion, MAC: a.mac(hello.Nonce, "coordinator"), Nonce: nonce}, handshakeTimeout); err != nil {
		return hello, err
	}
	m, err := c.expect(msgAuth, handshakeTimeout)
	if err != nil {
		return hello, fmt.Errorf("handshake with agent %q: %w", hello.Agent, err)
	}
	if !a.verify(nonce, "agent", m.MAC) {
		return hello, fmt.Errorf("agent %q at %s: %w", hello.Agent, c.c.RemoteAddr(), ErrAuth)
	}
	return hello, nil
}
