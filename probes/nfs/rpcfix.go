package nfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ONC RPC reply codes as RFC 5531 numbers them.
const (
	replyAccepted = 0
	replyDenied   = 1

	acceptProcUnavail = 3
	acceptGarbageArgs = 4
	acceptSystemErr   = 5

	rejectRPCMismatch = 0
	rejectAuthError   = 1

	lastFragment = 1 << 31
)

// goNFSAccept maps the accept_stat values go-nfs v0.0.4 writes to RFC 5531's.
// go-nfs leaves out PROG_MISMATCH (2), so from PROC_UNAVAIL on its codes are
// one too small: a client reads its PROC_UNAVAIL as PROG_MISMATCH and its
// SYSTEM_ERR as GARBAGE_ARGS, and libnfs then fails to decode the reply.
var goNFSAccept = [...]uint32{0, 1, acceptProcUnavail, acceptGarbageArgs, acceptSystemErr}

// go-nfs v0.0.4 writes a denied reply's reject_stat as its own ResponseCode
// (5 for RPC_MISMATCH, 6 for AUTH_ERROR) and the body in little-endian order.
const (
	goNFSRPCMismatch = 5
	goNFSAuthError   = 6
)

// replyFixer rewrites the reply records go-nfs writes into what RFC 5531
// says, as they stream past: it holds back the first bytes of each record
// until it can see the reply's status words, corrects them, and passes the
// rest of the record through untouched.
type replyFixer struct {
	w io.Writer
	// head collects the record marker and the start of the message.
	head []byte
	// rest is how many bytes of the current fragment remain to pass through.
	rest int64
	// continued is set when the fragment being read is not the message's
	// first (the previous one lacked the last-fragment bit).
	continued bool
}

// maxHead is the most of a record the fixer needs to see: marker, xid,
// msg_type, reply_stat, a verifier of up to 400 bytes (RFC 5531's limit),
// accept_stat. Denied replies need marker + 4 words + an 8-byte body.
const maxHead = 4 + 12 + 8 + 400 + 4

func newReplyFixer(w io.Writer) *replyFixer {
	return &replyFixer{w: w, head: make([]byte, 0, 64)}
}

// Write implements io.Writer.
func (f *replyFixer) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		if f.rest > 0 {
			n := int(min(int64(len(p)), f.rest))
			if _, err := f.w.Write(p[:n]); err != nil {
				return done, err
			}
			f.rest -= int64(n)
			p, done = p[n:], done+n
			continue
		}
		// Collect the head of a record one chunk at a time.
		need := f.needed()
		take := min(need-len(f.head), len(p))
		f.head = append(f.head, p[:take]...)
		p, done = p[take:], done+take
		if len(f.head) < f.needed() {
			continue
		}
		if err := f.flushHead(); err != nil {
			return done, err
		}
	}
	return done, nil
}

// needed returns how many head bytes decide the current record, given what
// has been collected so far. It never exceeds the record's own length.
func (f *replyFixer) needed() int {
	if len(f.head) < 4 {
		return 4
	}
	if f.continued {
		return 4
	}
	size := int(binary.BigEndian.Uint32(f.head) &^ lastFragment)
	var want int
	switch {
	case len(f.head) < 4+12:
		want = 4 + 12 // xid, msg_type, reply_stat
	case binary.BigEndian.Uint32(f.head[12:]) == replyDenied:
		want = 4 + 12 + 4 + 8 // reject_stat and the longest body
	case len(f.head) < 4+20:
		want = 4 + 20 // verifier flavor and length
	default:
		verf := int(min(binary.BigEndian.Uint32(f.head[20:]), 400))
		want = 4 + 20 + (verf+3)&^3 + 4
	}
	return min(want, 4+size, maxHead)
}

// flushHead corrects the collected head, writes it, and sets up the
// pass-through of the rest of the fragment.
func (f *replyFixer) flushHead() error {
	marker := binary.BigEndian.Uint32(f.head)
	size := int64(marker &^ lastFragment)
	if !f.continued {
		fixReply(f.head[4:])
	}
	f.continued = marker&lastFragment == 0
	f.rest = size - int64(len(f.head)-4)
	_, err := f.w.Write(f.head)
	f.head = f.head[:0]
	return err
}

// fixReply corrects the status words at the start of one reply message in
// place. Anything that is not a reply go-nfs could have written is left alone.
func fixReply(m []byte) {
	if len(m) < 16 || binary.BigEndian.Uint32(m[4:]) != 1 {
		return
	}
	switch binary.BigEndian.Uint32(m[8:]) {
	case replyAccepted:
		if len(m) < 20 {
			return
		}
		verf := binary.BigEndian.Uint32(m[16:])
		if verf > 400 {
			return
		}
		at := 20 + int(verf+3)&^3
		if len(m) < at+4 {
			return
		}
		if code := binary.BigEndian.Uint32(m[at:]); int(code) < len(goNFSAccept) {
			binary.BigEndian.PutUint32(m[at:], goNFSAccept[code])
		}
	case replyDenied:
		switch binary.BigEndian.Uint32(m[12:]) {
		case goNFSRPCMismatch:
			binary.BigEndian.PutUint32(m[12:], rejectRPCMismatch)
			swapWords(m[16:], 2)
		case goNFSAuthError:
			binary.BigEndian.PutUint32(m[12:], rejectAuthError)
			swapWords(m[16:], 1)
		}
	}
}

// swapWords turns up to n little-endian words at the start of b into
// big-endian ones.
func swapWords(b []byte, n int) {
	for i := 0; i < n && len(b) >= 4*(i+1); i++ {
		w := b[4*i : 4*i+4]
		binary.BigEndian.PutUint32(w, binary.LittleEndian.Uint32(w))
	}
}

// ErrRecordTooLarge is returned to go-nfs (which then drops the connection)
// when a client announces an RPC record larger than the server accepts.
var ErrRecordTooLarge = errors.New("RPC record larger than the server accepts")

// recordGuard reads RPC records from a client and refuses any whose marker
// announces more than max bytes, before go-nfs allocates for it.
type recordGuard struct {
	r    io.Reader
	max  int64
	hdr  [4]byte
	have int   // bytes of the current marker read so far
	rest int64 // bytes of the current fragment still to come
}

// Read implements io.Reader.
func (g *recordGuard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if g.rest == 0 {
		// Read the marker on its own so its length is checked first.
		n, err := g.r.Read(p[:min(len(p), 4-g.have)])
		copy(g.hdr[g.have:], p[:n])
		g.have += n
		if g.have == 4 {
			g.have = 0
			size := int64(binary.BigEndian.Uint32(g.hdr[:]) &^ lastFragment)
			if size > g.max {
				return 0, fmt.Errorf("%w: %d bytes announced, at most %d", ErrRecordTooLarge, size, g.max)
			}
			g.rest = size
		}
		return n, err
	}
	n, err := g.r.Read(p[:min(int64(len(p)), g.rest)])
	g.rest -= int64(n)
	return n, err
}

// guardedConn is what go-nfs sees of a client connection: reads are bounded
// in record size and idle time, writes are corrected by a replyFixer.
type guardedConn struct {
	net.Conn
	idle  time.Duration
	guard *recordGuard
	fix   *replyFixer
	once  sync.Once
	done  func()
}

func newGuardedConn(c net.Conn, idle time.Duration, maxRecord int64, done func()) *guardedConn {
	g := &guardedConn{Conn: c, idle: idle, done: done}
	g.guard = &recordGuard{r: c, max: maxRecord}
	g.fix = newReplyFixer(c)
	return g
}

func (g *guardedConn) Read(p []byte) (int, error) {
	if g.idle > 0 {
		// A client that stops talking mid-record or between calls is dropped.
		if err := g.Conn.SetReadDeadline(time.Now().Add(g.idle)); err != nil {
			return 0, err
		}
	}
	n, err := g.guard.Read(p)
	if err != nil {
		// go-nfs returns from its connection loop on a read error other
		// than EOF without closing the connection: close it here.
		g.Close()
	}
	return n, err
}

func (g *guardedConn) Write(p []byte) (int, error) { return g.fix.Write(p) }

func (g *guardedConn) Close() error {
	err := g.Conn.Close()
	g.once.Do(g.done)
	return err
}

// guardedListener hands go-nfs guarded connections and remembers them, so
// Close can end every one.
type guardedListener struct {
	net.Listener
	idle      time.Duration
	maxRecord int64

	mu    sync.Mutex
	conns map[*guardedConn]struct{}
	shut  bool
}

func (l *guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	var g *guardedConn
	g = newGuardedConn(c, l.idle, l.maxRecord, func() {
		l.mu.Lock()
		delete(l.conns, g)
		l.mu.Unlock()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[g] = struct{}{}
	return g, nil
}

// closeAll closes the listener and every connection it handed out.
func (l *guardedListener) closeAll() error {
	l.mu.Lock()
	l.shut = true
	conns := make([]*guardedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		c.Conn.Close()
	}
	return err
}

// open returns how many client connections are open.
func (l *guardedListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
