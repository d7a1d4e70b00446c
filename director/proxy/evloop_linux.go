package proxy

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/lvsperf/lvsperf/director/dataplane"
	"golang.org/x/sys/unix"
)

// hasEventLoop: CopyEventLoop is available.
const hasEventLoop = true

// The event-loop engine (CopyEventLoop) runs Options.Loops event loops,
// each a goroutine (not locked to a thread, see run) that waits in epoll_wait over
// raw non-blocking sockets. A loop accepts, dials and relays its
// connections itself: no goroutine, no runtime poller registration and no
// channel hand-off per connection. Every listener is in every loop's epoll
// set with EPOLLEXCLUSIVE, so one loop wakes per waiting client. Both legs
// of a connection are registered once, edge-triggered for input and
// output, and never re-armed. Each direction copies small reads through the
// loop's buffer and, from its first read of a full buffer on, splices
// through a pipe taken from the loop's own pool (see pump).

// evKind says what a descriptor in a loop's table is.
type evKind uint8

const (
	evNone evKind = iota
	evListen
	evClient
	evBackend
)

// evSock is a loop's entry for one descriptor.
type evSock struct {
	kind evKind
	// gen tells this registration of the descriptor from an earlier one:
	// a connection closed while handling one batch of events can have its
	// descriptor reused by a new one before the batch's later events for
	// the old socket are handled.
	gen  int32
	conn *evConn
	ln   *evListener
}

// evListener is one virtual service's listening socket, shared by all loops.
type evListener struct {
	p     *Proxy
	fd    int
	vip   netip.AddrPort
	once  sync.Once
	loops []*evLoop
}

// evDir is one direction of a relayed connection.
type evDir struct {
	src, dst int
	pipe     *pipe
	inPipe   int
	ended    bool // src reached EOF and it was passed on
	inbound  bool // client to realserver
	spliced  bool // moves bulk data: splices instead of copying
}

// evConn is one relayed connection, owned by one loop.
type evConn struct {
	flow       dataplane.Flow
	cfd, bfd   int
	out, in    evDir // out: client to realserver; in: realserver to client
	connecting bool
	deadline   time.Time
	dest       netip.AddrPort
}

// evLoop is one event loop. Everything but cmds is touched only by the
// loop's own goroutine.
type evLoop struct {
	p        *Proxy
	epfd     int
	wakefd   int
	socks    []evSock // by descriptor
	pipes    []*pipe  // idle pipes, empty
	maxPipes int
	pending  []*evConn     // connects in progress, for the dial timeout
	paused   []*evListener // listeners out of the epoll set (out of descriptors)
	resumeAt time.Time     // when the paused listeners go back in
	events   []unix.EpollEvent
	buf      []byte // the copy buffer of every direction that still copies
	stop     bool
	gen      int32 // the last registration's generation

	mu   sync.Mutex // guards cmds
	cmds []func()
	done chan struct{} // closed when the loop has ended
}

// startLoops starts the event loops (Options.Loops).
func (p *Proxy) startLoops() error {
	n := p.opts.Loops
	maxPipes := (p.opts.PoolPipes + n - 1) / n
	for range n {
		l, err := newEvLoop(p, maxPipes)
		if err != nil {
			p.stopLoops()
			return err
		}
		p.loops = append(p.loops, l)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			l.run()
		}()
	}
	return nil
}

// stopLoops ends every loop; each closes its connections as it ends.
func (p *Proxy) stopLoops() {
	for _, l := range p.loops {
		l.post(func() { l.stop = true })
	}
}

func newEvLoop(p *Proxy, maxPipes int) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1 for the event loop: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd for the event loop: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("epoll_ctl add eventfd: %w", err)
	}
	return &evLoop{
		p: p, epfd: epfd, wakefd: wfd, maxPipes: maxPipes,
		events: make([]unix.EpollEvent, 256),
		buf:    make([]byte, min(copyBytes, p.opts.PipeBytes)),
		done:   make(chan struct{}),
	}, nil
}

// post runs f on the loop's goroutine. It reports false when the loop has
// ended and f will not run.
func (l *evLoop) post(f func()) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	l.mu.Lock()
	l.cmds = append(l.cmds, f)
	l.mu.Unlock()
	var one = [8]byte{1}
	unix.Write(l.wakefd, one[:])
	return true
}

// call runs f on the loop's goroutine and waits for it (or the loop's end).
func (l *evLoop) call(f func()) {
	ack := make(chan struct{})
	if !l.post(func() { f(); close(ack) }) {
		return
	}
	select {
	case <-ack:
	case <-l.done:
	}
}

func (l *evLoop) run() {
	// While the loop waits in epoll_wait (a blocking system call) the
	// runtime can hand its P to other goroutines. The loop is not locked
	// to its thread: a locked goroutine that is preempted or yields makes
	// its thread hand the P off and sleep until another thread hands it
	// back, several context switches each time. Unlocked, it yields
	// cheaply, and it does so every yieldEvery (see there).
	defer l.end()
	lastYield := time.Now()
	for !l.stop {
		if now := time.Now(); now.Sub(lastYield) >= yieldEvery {
			runtime.Gosched()
			lastYield = now
		}
		n, err := unix.EpollWait(l.epfd, l.events, l.timeout())
		if err != nil && err != unix.EINTR {
			return
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				l.runCmds()
				continue
			}
			if fd >= len(l.socks) {
				continue
			}
			s := &l.socks[fd]
			if s.gen != ev.Pad {
				continue // an event for a socket since closed
			}
			switch s.kind {
			case evListen:
				l.accept(s.ln)
			case evClient, evBackend:
				l.ready(s.conn, fd, ev.Events)
			}
		}
		if len(l.pending) > 0 {
			l.expire()
		}
		if len(l.paused) > 0 && !time.Now().Before(l.resumeAt) {
			l.resume()
		}
	}
}

func (l *evLoop) runCmds() {
	var buf [8]byte
	unix.Read(l.wakefd, buf[:])
	l.mu.Lock()
	cmds := l.cmds
	l.cmds = nil
	l.mu.Unlock()
	for _, f := range cmds {
		f()
	}
}

// end closes every connection the loop still holds and the loop itself.
func (l *evLoop) end() {
	for fd := range l.socks {
		if s := &l.socks[fd]; s.kind == evClient {
			l.closeConn(s.conn, false)
		}
	}
	for _, pp := range l.pipes {
		pp.close()
	}
	l.pipes = nil
	unix.Close(l.epfd)
	unix.Close(l.wakefd)
	close(l.done)
	// Commands posted while the loop ended (Unlisten) still need to run.
	l.mu.Lock()
	cmds := l.cmds
	l.cmds = nil
	l.mu.Unlock()
	for _, f := range cmds {
		f()
	}
}

// yieldEvery is how often a busy loop yields its P (runtime.Gosched).
// The runtime's monitor (sysmon) preempts a goroutine that has run for
// 10 ms without passing through the scheduler, and when it finds one in
// a system call it takes its P, counts that as work found and polls every
// 20 µs for the next millisecond or more: a loop that never yielded made
// sysmon wake about 2300 times a second in the connection test, a quarter
// of the director's context switches (perf, 2026-12-04). Not more often:
// each yield puts the loop on the global run queue and wakes an idle
// thread to look for work (futex); at 2 ms that was 4% of the director's
// CPU in the stream, and 8 ms cut CPU per connection by about 4%.
const yieldEvery = 8 * time.Millisecond

// timeout is epoll_wait's timeout in ms: the nearest dial deadline or end
// of an accept pause, or none (-1).
func (l *evLoop) timeout() int {
	if len(l.pending) == 0 && len(l.paused) == 0 {
		return -1
	}
	now := time.Now()
	var first time.Time
	if len(l.paused) > 0 {
		first = l.resumeAt
	}
	for _, c := range l.pending {
		if first.IsZero() || c.deadline.Before(first) {
			first = c.deadline
		}
	}
	if !first.After(now) {
		return 0
	}
	return int((first.Sub(now) + time.Millisecond - 1) / time.Millisecond)
}

// expire drops finished connects from the pending list and fails those past
// their deadline.
func (l *evLoop) expire() {
	now := time.Now()
	keep := l.pending[:0]
	for _, c := range l.pending {
		switch {
		case !c.connecting:
		case !now.Before(c.deadline):
			l.dialFailed(c)
		default:
			keep = append(keep, c)
		}
	}
	clear(l.pending[len(keep):])
	l.pending = keep
}

// set records s as fd's entry under a new generation, which it returns.
func (l *evLoop) set(fd int, s evSock) int32 {
	if fd >= len(l.socks) {
		n := max(2*len(l.socks), fd+1, 64)
		socks := make([]evSock, n)
		copy(socks, l.socks)
		l.socks = socks
	}
	l.gen++
	s.gen = l.gen
	l.socks[fd] = s
	return s.gen
}

// listenEv opens a listening socket for addr and adds it to every loop.
func (p *Proxy) listenEv(addr netip.AddrPort) (listener, netip.AddrPort, error) {
	fd, bound, err := listenSocket(addr)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	if addr.Addr().IsUnspecified() {
		bound = netip.AddrPortFrom(addr.Addr(), bound.Port())
	}
	ln := &evListener{p: p, fd: fd, vip: bound, loops: p.loops}
	for _, l := range p.loops {
		l.call(func() {
			gen := l.set(fd, evSock{kind: evListen, ln: ln})
			// Level-triggered: a loop accepts a bounded batch per wake-up and
			// is told again while clients wait.
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(fd), Pad: gen})
		})
	}
	return ln, bound, nil
}

// close takes the listener out of every loop, then closes it, so no loop
// sees its descriptor reused.
func (ln *evListener) close() error {
	var err error
	ln.once.Do(func() {
		for _, l := range ln.loops {
			l.call(func() {
				if ln.fd < len(l.socks) {
					l.socks[ln.fd] = evSock{}
				}
				unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ln.fd, nil)
			})
		}
		err = unix.Close(ln.fd)
	})
	return err
}

// listenSocket opens a non-blocking listening TCP socket with TCP_NODELAY
// (inherited by accepted sockets) and returns it with its bound address.
func listenSocket(addr netip.AddrPort) (int, netip.AddrPort, error) {
	family, sa := sockaddr(addr)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, netip.AddrPort, error) {
		unix.Close(fd)
		return -1, netip.AddrPort{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("set SO_REUSEADDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("set TCP_NODELAY", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		return fail("listen", err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, addrPortOf(got), nil
}

func sockaddr(a netip.AddrPort) (int, unix.Sockaddr) {
	if ip := a.Addr(); ip.Is4() || ip.Is4In6() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.Unmap().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func addrPortOf(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// acceptBatch bounds the clients one loop accepts per wake-up, so a busy
// listener does not starve the loop's connections.
const acceptBatch = 16

func (l *evLoop) accept(ln *evListener) {
	for range acceptBatch {
		// Not unix.Accept4: it asks each new socket its protocol with one
		// more getsockopt.
		cfd, caddr, err := rawAccept4(ln.fd)
		switch err {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE:
			l.pause(ln)
			return
		default:
			return // EAGAIN: none waiting
		}
		l.open(cfd, caddr, ln.vip)
	}
}

// acceptPause is how long a loop stops accepting from a listener after
// accept4 found the process (or the system) out of descriptors. The
// listener is level-triggered and stays readable while clients wait, so
// without a pause the loop would spin on it. The clients wait in the
// listener's queue meanwhile; a connection of the loop closing (freeing
// descriptors) ends the pause sooner.
const acceptPause = 10 * time.Millisecond

// pause takes ln out of the loop's epoll set until resume.
func (l *evLoop) pause(ln *evListener) {
	l.p.stats.acceptPaused.Add(1)
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ln.fd, nil)
	l.paused = append(l.paused, ln)
	l.resumeAt = time.Now().Add(acceptPause)
}

// resume puts the paused listeners that are still open back in the
// loop's epoll set.
func (l *evLoop) resume() {
	for _, ln := range l.paused {
		if s := l.socks[ln.fd]; s.kind == evListen && s.ln == ln {
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, ln.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(ln.fd), Pad: s.gen})
		}
	}
	clear(l.paused)
	l.paused = l.paused[:0]
}

// open schedules a new client and starts the connect to its realserver.
func (l *evLoop) open(cfd int, caddr, vip netip.AddrPort) {
	p := l.p
	flow, err := p.picker.Connect(dataplane.TCP, vip, caddr)
	if err != nil {
		// No service or no realserver: refuse with a reset.
		p.stats.refused.Add(1)
		rawLinger0(cfd)
		rawClose(cfd)
		return
	}
	c := &evConn{flow: flow, cfd: cfd, bfd: -1, dest: flow.Dest()}
	c.out = evDir{src: cfd, inbound: true}
	c.in = evDir{dst: cfd}
	cgen := l.set(cfd, evSock{kind: evClient, conn: c})
	// Edge-triggered for both input and output: registered once, never
	// re-armed. A direction runs until EAGAIN, and the next edge resumes it.
	const evs = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, cfd, &unix.EpollEvent{Events: evs, Fd: int32(cfd), Pad: cgen}); err != nil {
		l.dialFailed(c)
		return
	}
	if c.dest == vip || (vip.Addr().IsUnspecified() && c.dest.Port() == vip.Port() && c.dest.Addr().IsLoopback()) {
		// A realserver that is the virtual service itself would make the
		// proxy dial itself without end.
		l.dialFailed(c)
		return
	}
	family, _ := sockaddr(c.dest)
	bfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.dialFailed(c)
		return
	}
	c.bfd = bfd
	c.out.dst, c.in.src = bfd, bfd
	bgen := l.set(bfd, evSock{kind: evBackend, conn: c})
	// TCP_NODELAY: the relay forwards every read at once, and Nagle would
	// hold a small tail until the previous segment is acknowledged.
	rawSetsockoptInt(bfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	cerr := rawConnect(bfd, c.dest)
	if cerr != nil && cerr != unix.EINPROGRESS && cerr != unix.EINTR {
		l.dialFailed(c)
		return
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, bfd, &unix.EpollEvent{Events: evs, Fd: int32(bfd), Pad: bgen}); err != nil {
		l.dialFailed(c)
		return
	}
	if cerr == nil {
		l.established(c, unix.EPOLLIN)
		return
	}
	// On loopback the handshake has normally completed by the time
	// connect returns: one getpeername confirms it, and the client's
	// first bytes go out now, before the realserver first tries to read
	// (which would otherwise find nothing and go to sleep, costing it a
	// wake-up per connection). Otherwise the realserver's first output
	// edge (or error) ends the connect.
	if done, derr := connected(bfd); done {
		if derr != nil {
			l.dialFailed(c)
			return
		}
		l.established(c, 0)
		return
	}
	c.connecting = true
	c.deadline = time.Now().Add(p.opts.DialTimeout)
	l.pending = append(l.pending, c)
}

// dialFailed ends a connection whose realserver could not be reached:
// the client gets a reset, as when IPVS finds the realserver gone.
func (l *evLoop) dialFailed(c *evConn) {
	c.connecting = false
	l.p.stats.dialFailed.Add(1)
	c.flow.Event(dataplane.DialFailed)
	linger0(c.cfd)
	l.release(c)
	c.flow.Event(dataplane.Closed)
}

// established starts relaying c; ev is the realserver's event that
// ended the connect.
func (l *evLoop) established(c *evConn, ev uint32) {
	c.connecting = false
	l.p.stats.accepted.Add(1)
	l.p.stats.active.Add(1)
	c.flow.Event(dataplane.Established)
	// Whatever the client sent while the connect was pending: its edge
	// has been consumed.
	if !l.pump(c, &c.out, false) {
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		l.pump(c, &c.in, false)
	}
}

// ready handles an epoll event on one leg of c.
func (l *evLoop) ready(c *evConn, fd int, ev uint32) {
	if c.connecting {
		if fd != c.bfd {
			return // client input waits for the connect; pumped then
		}
		if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.dialFailed(c)
			return
		}
		if ev&unix.EPOLLOUT != 0 {
			l.established(c, ev)
		}
		return
	}
	// Input (or its end, or an error) on fd moves the direction reading
	// it; output room on fd resumes the direction writing to it if that
	// one waits with a full pipe.
	from, to := &c.out, &c.in
	if fd == c.bfd {
		from, to = &c.in, &c.out
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !from.ended {
		if !l.pump(c, from, ev&unix.EPOLLRDHUP != 0) {
			return
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && to.inPipe > 0 {
		l.pump(c, to, false)
	}
}

// pump moves d's bytes until its source has nothing more for now or its
// destination has no room. It reports false when the connection has ended.
//
// A direction starts by copying: read(2) into the loop's buffer and
// send(2) on, as HAProxy does by default. For the small exchanges of
// request/response traffic a copy costs less than a splice's pipe round,
// and a connection that only ever moves small messages never takes a
// pipe. The first read that fills the buffer switches the direction to
// splice for good: it carries bulk data, which then moves without a copy.
// A write that takes only part of a read parks the rest in the
// direction's pipe, from where the destination's output edge splices it.
//
// finSeen says the source's FIN has arrived (EPOLLRDHUP): a copied read
// shorter than the buffer is then the last data before the end of stream,
// and it is sent with MSG_MORE so that the half-close that follows (the
// next read finds the end) leaves in the same segment, data and FIN
// together: one segment fewer to send and for the peer to receive and
// acknowledge.
func (l *evLoop) pump(c *evConn, d *evDir, finSeen bool) bool {
	if d.ended {
		return true
	}
	for {
		for d.inPipe > 0 {
			n, err := rawSplice(d.pipe.r, d.dst, d.inPipe)
			switch {
			case err == unix.EAGAIN:
				return true // the destination's output edge resumes it
			case err == unix.EINTR:
				continue
			case err != nil || n == 0:
				l.abort(c)
				return false
			}
			d.inPipe -= n
		}
		spliced := d.spliced
		var (
			n   int
			err error
		)
		if spliced {
			if !l.takePipe(c, d) {
				return false
			}
			n, err = rawSplice(d.src, d.pipe.w, d.pipe.size)
		} else {
			n, err = rawRead(d.src, l.buf)
		}
		switch {
		case err == unix.EAGAIN:
			return true // the source's input edge resumes it
		case err == unix.EINTR:
			continue
		case err != nil:
			l.abort(c)
			return false
		case n == 0:
			return l.eof(c, d)
		}
		c.flow.Count(d.inbound, int64(n), 1)
		if spliced {
			d.inPipe = n
			continue
		}
		d.spliced = n == len(l.buf)
		corked := finSeen && !d.spliced
		if !l.copyOut(c, d, l.buf[:n], corked) {
			return false
		}
		if corked {
			if !l.endAfterCork(c, d) {
				return false
			}
			if d.ended {
				return true
			}
		}
	}
}

// takePipe gives d a pipe from the loop's pool if it has none; without
// one it ends the connection and reports false.
func (l *evLoop) takePipe(c *evConn, d *evDir) bool {
	if d.pipe == nil {
		if d.pipe = l.getPipe(); d.pipe == nil {
			l.abort(c)
			return false
		}
	}
	return true
}

// copyOut writes b, just read from d's source, to d's destination; what
// the destination has no room for goes into d's pipe. It reports false
// when the connection has ended.
func (l *evLoop) copyOut(c *evConn, d *evDir, b []byte, more bool) bool {
	flags := uintptr(unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT)
	if more {
		flags |= unix.MSG_MORE
	}
	for len(b) > 0 {
		n, err := rawSend(d.dst, b, flags)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			n = 0
		case err != nil:
			l.abort(c)
			return false
		}
		b = b[n:]
		if n == 0 {
			break
		}
	}
	if len(b) == 0 {
		return true
	}
	if !l.takePipe(c, d) {
		return false
	}
	// The pipe is empty and at least as big as the buffer, so it takes
	// all of b.
	for len(b) > 0 {
		n, err := rawWrite(d.pipe.w, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.abort(c)
			return false
		}
		b = b[n:]
		d.inPipe += n
	}
	return true
}

// endAfterCork reads d's source once more after data was sent with
// MSG_MORE: the end of stream (expected) passes on as the half-close that
// carries the FIN with that data. Anything else pushes the held data out
// at once (setting TCP_NODELAY again does) and resumes the direction. It
// reports false when the connection has ended.
func (l *evLoop) endAfterCork(c *evConn, d *evDir) bool {
	n, err := rawRead(d.src, l.buf)
	switch {
	case err == nil && n == 0:
		return l.eof(c, d)
	case err != nil && err != unix.EAGAIN && err != unix.EINTR:
		l.abort(c)
		return false
	}
	rawSetsockoptInt(d.dst, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if n > 0 {
		c.flow.Count(d.inbound, int64(n), 1)
		d.spliced = n == len(l.buf)
		if !l.copyOut(c, d, l.buf[:n], false) {
			return false
		}
	}
	return true
}

// eof passes d's end on as a half-close, or ends the connection when the
// other direction has ended too.
func (l *evLoop) eof(c *evConn, d *evDir) bool {
	d.ended = true
	if d.inbound {
		c.flow.Event(dataplane.ClientFin)
	} else {
		c.flow.Event(dataplane.ServerFin)
	}
	if c.out.ended && c.in.ended {
		// Both legs are closed with empty receive queues, which sends the
		// FIN; a shutdown would be a wasted system call.
		l.closeConn(c, false)
		return false
	}
	if err := rawShutdown(d.dst, unix.SHUT_WR); err != nil {
		l.abort(c)
		return false
	}
	return true
}

// abort ends c after an error on either leg: both legs are reset, as
// LVS-NAT passes a reset on.
func (l *evLoop) abort(c *evConn) {
	c.flow.Event(dataplane.Reset)
	l.closeConn(c, true)
}

// closeConn closes an established (or still connecting) connection.
func (l *evLoop) closeConn(c *evConn, reset bool) {
	if c.connecting {
		// Only at the loop's end: the dial never finished.
		c.connecting = false
		linger0(c.cfd)
		l.release(c)
		c.flow.Event(dataplane.Closed)
		return
	}
	if reset {
		linger0(c.cfd)
		linger0(c.bfd)
	}
	l.release(c)
	l.p.stats.active.Add(-1)
	c.flow.Event(dataplane.Closed)
}

// release closes c's descriptors and gives back its pipes.
func (l *evLoop) release(c *evConn) {
	for _, fd := range [2]int{c.cfd, c.bfd} {
		if fd >= 0 {
			l.socks[fd] = evSock{}
			rawClose(fd)
		}
	}
	c.cfd, c.bfd = -1, -1
	if len(l.paused) > 0 {
		l.resume() // descriptors were freed: clients may be waiting
	}
	for _, d := range [2]*evDir{&c.out, &c.in} {
		if d.pipe != nil {
			l.putPipe(d.pipe, d.inPipe == 0)
			d.pipe = nil
		}
	}
}

func (l *evLoop) getPipe() *pipe {
	if n := len(l.pipes); n > 0 {
		pp := l.pipes[n-1]
		l.pipes = l.pipes[:n-1]
		return pp
	}
	pp, err := newPipe(l.p.opts.PipeBytes, false)
	if err != nil {
		return nil
	}
	return pp
}

func (l *evLoop) putPipe(pp *pipe, empty bool) {
	if empty && len(l.pipes) < l.maxPipes && !l.stop {
		l.pipes = append(l.pipes, pp)
		return
	}
	pp.close()
}

// copyBytes is the size of a loop's copy buffer (HAProxy's default
// buffer size): a read that fills it switches its direction to splice.
const copyBytes = 16 << 10

// rawRead is read(2) of a non-blocking descriptor, without the runtime's
// system-call bookkeeping (see rawSplice).
func rawRead(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawWrite is write(2) to a non-blocking descriptor, without the
// runtime's system-call bookkeeping (see rawSplice).
func rawWrite(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawSend is send(2) on a non-blocking socket, with MSG_NOSIGNAL: a
// reset peer fails the call with EPIPE instead of signalling SIGPIPE.
func rawSend(fd int, b []byte, flags uintptr) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), flags, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawSplice is a non-blocking splice(2) without the runtime's system-call
// bookkeeping: it never blocks, and the loop's thread is its own.
func rawSplice(in, out, n int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func linger0(fd int) { rawLinger0(fd) }
