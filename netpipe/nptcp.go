package netpipe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/timing"
)

// NetPIPE 3.7's TCP protocol (NPtcp), as read from src/netpipe.c and
// src/tcp.c of NetPIPE 3.7.2. Messages carry no framing: both ends compute
// the same size schedule from the same -l/-u/-p options. The transmitter
// (NPtcp -h host) connects to the receiver (port 5002 by default), then:
//
//	Sync; 100 ping-pongs of the start size (latency estimate); Sync
//	per point: Sync; repeat count (uint32, network order, from the
//	transmitter); 3 trials of { Sync; repeat × (send n; receive n) }
//	at the end: "QUIT\0" one way and back
//
// Sync is each end writing "SyncMe" and then reading the other's. The
// receiver answers each message (ping-pong); with -2 both ends send first
// and then receive (bidirectional), and both cap the end size at the
// socket's SO_SNDBUF+SO_RCVBUF so the blocking writes cannot deadlock. A
// point's time is each trial's mean, halved for ping-pong; the sweep stops
// after a base size whose time reached one second.
const (
	npSync = "SyncMe"
	// npTrials is NetPIPE's TRIALS: the receiver runs exactly this many.
	npTrials = 3
	// npLatencyReps is the number of ping-pongs of the first size.
	npLatencyReps = 100
	// npStopTime is NetPIPE's STOPTM.
	npStopTime = time.Second
)

var npQuit = []byte("QUIT\x00")

// NPOptions configure one end of an NPtcp-protocol connection. Both ends
// must agree on Start, End, Perturbation and Bidir, as NPtcp's ends must.
type NPOptions struct {
	// Start, End and Perturbation are NetPIPE's -l, -u and -p (0 means no
	// perturbation here).
	Start, End, Perturbation timing.Bytes
	// Bidir is NetPIPE's -2: both ends send at once.
	Bidir bool
	// Sock are the socket options; Buffer is NetPIPE's -b.
	Sock wire.SockOptions
	// HandshakeTimeout bounds the first Sync, so a peer speaking another
	// protocol is reported instead of waited for. Default 5s.
	HandshakeTimeout time.Duration
}

func (o NPOptions) handshake() time.Duration {
	if o.HandshakeTimeout <= 0 {
		return 5 * time.Second
	}
	return o.HandshakeTimeout
}

// NPGroup is one base size of NetPIPE's loop with its perturbed sizes; the
// stop rule is checked between groups.
type NPGroup []timing.Bytes

// NPSchedule returns NetPIPE 3.7's sizes grouped by base size (the loop of
// netpipe.c): start, then increments that double every other step, each
// base c measured as c-p, c, c+p once the increment exceeds p+1.
func NPSchedule(start, end, pert timing.Bytes) ([]NPGroup, error) {
	if start < 1 || end < start {
		return nil, fmt.Errorf("NetPIPE sizes: want 1 ≤ start ≤ end, got start %d, end %d", start, end)
	}
	if pert < 0 {
		return nil, fmt.Errorf("perturbation %d is negative", pert)
	}
	inc, nq := timing.Bytes(1), 0
	if start > 1 {
		inc, nq = start/2, 1
	}
	var out []NPGroup
	for n, l := 0, start; n < 8000-3 && l <= end; l, nq = l+inc, nq+1 {
		if nq > 2 && nq%2 == 1 {
			inc += inc
		}
		var g NPGroup
		if pert > 0 && inc > pert+1 {
			g = NPGroup{l - pert, l, l + pert}
		} else {
			g = NPGroup{l}
		}
		n += len(g)
		out = append(out, g)
	}
	return out, nil
}

// npUpper is NPtcp's cap on the end size with -2: SO_SNDBUF+SO_RCVBUF of
// a fresh socket with the -b buffer applied.
func npUpper(buffer int) (timing.Bytes, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if buffer > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, buffer)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, buffer)
	}
	s, err1 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	r, err2 := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("getsockopt: %w", err)
	}
	return timing.Bytes(s + r), nil
}

// Groups is the schedule both ends of a run with o follow, -2's cap
// applied.
func (o NPOptions) Groups() ([]NPGroup, error) {
	end := o.End
	if o.Bidir {
		up, err := npUpper(o.Sock.Buffer)
		if err != nil {
			return nil, err
		}
		end = min(end, up)
	}
	return NPSchedule(o.Start, end, o.Perturbation)
}

// npConn is one NPtcp-protocol connection.
type npConn struct {
	c    *wire.Conn
	peer string
	buf  []byte
}

// npHandshake does the first Sync with a deadline, through the poller, so
// a peer speaking another protocol gives a clear error instead of a hang,
// then turns the connection into a blocking wire.Conn.
func npHandshake(ctx context.Context, tc *net.TCPConn, o NPOptions, role string) (*npConn, error) {
	peer := tc.RemoteAddr().String()
	_ = tc.SetDeadline(time.Now().Add(o.handshake()))
	if _, err := tc.Write([]byte(npSync)); err != nil {
		return nil, fmt.Errorf("NPtcp sync with %s: %w", peer, err)
	}
	got := make([]byte, len(npSync))
	n, err := readFullConn(tc, got)
	if err != nil || string(got) != npSync {
		what := fmt.Sprintf("answered %q", got[:n])
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			what = fmt.Sprintf("sent %q and then nothing for %v", got[:n], o.handshake())
		case err != nil:
			what = fmt.Sprintf("sent %q and closed the connection (%v)", got[:n], err)
		}
		return nil, fmt.Errorf("%s is not an NPtcp 3.7 %s: expected the sync string %q, it %s (is it NPtcp, with the same -2 setting? an lvsperf receiver needs --serve --peer nptcp)", peer, role, npSync, what)
	}
	_ = tc.SetDeadline(time.Time{})
	w, err := wire.Wrap(ctx, tc, o.Sock)
	if err != nil {
		return nil, err
	}
	return &npConn{c: w, peer: peer}, nil
}

// errNPQuit is a peer's QUIT where a Sync belonged: its schedule ended
// before ours (or it resets connections, NPtcp's -r and -s).
var errNPQuit = errors.New("the peer sent NPtcp's QUIT where a sync belonged")

func (c *npConn) sync() error {
	if err := c.c.WriteAll([]byte(npSync)); err != nil {
		return err
	}
	var b [len(npSync)]byte
	// QUIT is 5 bytes and Sync 6: look at 5 first, so a peer that ends
	// early is told apart instead of waited for.
	if err := c.c.ReadFull(b[:len(npQuit)]); err != nil {
		return err
	}
	if string(b[:len(npQuit)]) == string(npQuit) {
		_ = c.c.WriteAll(npQuit)
		return errNPQuit
	}
	if err := c.c.ReadFull(b[len(npQuit):]); err != nil {
		return err
	}
	if string(b[:]) != npSync {
		return fmt.Errorf("NPtcp peer %s lost step: sync string %q, expected %q (do both ends use the same -l, -u, -p and -2?)", c.peer, b[:], npSync)
	}
	return nil
}

func (c *npConn) sendUint32(v uint32) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return c.c.WriteAll(b[:])
}

func (c *npConn) recvUint32() (uint32, error) {
	var b [4]byte
	if err := c.c.ReadFull(b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

func (c *npConn) buffer(n timing.Bytes) []byte {
	if timing.Bytes(cap(c.buf)) < n {
		c.buf = make([]byte, n)
		for i := range c.buf {
			c.buf[i] = 'a' // NetPIPE's fill
		}
	}
	return c.buf[:n]
}

// exchange is one repetition. The transmitter of a ping-pong sends first;
// the receiver receives first; with bidir both send first, as NetPIPE does.
func (c *npConn) exchange(b []byte, sendFirst bool) error {
	if sendFirst {
		if err := c.c.WriteAll(b); err != nil {
			return err
		}
		return c.c.ReadFull(b)
	}
	if err := c.c.ReadFull(b); err != nil {
		return err
	}
	return c.c.WriteAll(b)
}

// quit is CleanUp: the transmitter sends QUIT and reads it back, the
// receiver the other way round. A peer that does not answer within wait
// (its schedule is longer than ours) has the connection closed on it.
func (c *npConn) quit(transmitter bool, wait time.Duration) error {
	stop := time.AfterFunc(wait, func() { c.c.Close() })
	defer stop.Stop()
	b := make([]byte, len(npQuit))
	if transmitter {
		if err := c.c.WriteAll(npQuit); err != nil {
			return err
		}
		if err := c.c.ReadFull(b); err != nil {
			return fmt.Errorf("NPtcp peer %s did not answer QUIT within %v (does it have a larger -u, or another -l, -p?): %w", c.peer, wait, err)
		}
	} else {
		if err := c.c.ReadFull(b); err != nil {
			return err
		}
		if err := c.c.WriteAll(npQuit); err != nil {
			return err
		}
	}
	if string(b[:4]) != "QUIT" {
		return fmt.Errorf("NPtcp peer %s sent %q where NPtcp ends with \"QUIT\" (do the two ends differ in -l, -u, -p?)", c.peer, b)
	}
	return nil
}

func (c *npConn) ioError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errNPQuit) {
		return fmt.Errorf("NPtcp peer %s ended its run at %s, before this end's schedule did: it has a smaller -u (or another -l, -p), or runs with -r or -s, which lvsperf does not follow: %w", c.peer, what, err)
	}
	if wire.IsClosed(err) {
		return fmt.Errorf("NPtcp peer %s closed the connection during %s (did it stop early, or do the two ends differ in -l, -u, -p, -2?): %w", c.peer, what, err)
	}
	if errors.Is(err, wire.ErrTimeout) {
		return fmt.Errorf("NPtcp peer %s silent during %s: %w (do the two ends differ in -l, -u, -p, -2?)", c.peer, what, err)
	}
	return fmt.Errorf("NPtcp peer %s, %s: %w", c.peer, what, err)
}
