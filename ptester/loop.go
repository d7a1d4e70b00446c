package ptester

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Engine names the code that drives the hammer's clients.
type Engine string

// The engines. EngineAuto picks EngineLoop for closed-loop runs against an
// IPv4 address served by another process, and EngineGoroutines for
// open-loop runs (which need a timer per client), host names and servers in
// this process (runs without -h, sweeps). bench/http/README.md has the measurements.
const (
	EngineAuto       Engine = "auto"
	EngineLoop       Engine = "loop"
	EngineGoroutines Engine = "goroutines"
)

// loopTick bounds how long an event loop sleeps in epoll_wait, so that it
// notices a cancelled context and expired request timeouts without a
// wake-up descriptor.
const loopTick = 20 * time.Millisecond

// clientState is what a loop client waits for.
type clientState uint8

const (
	csIdle    clientState = iota // no request: finished, or queued to start
	csWriting                    // connecting, or the request did not fit: waits for EPOLLOUT
	csReading                    // request sent: waits for the response
)

// loopClient is one client of an event loop: a connection driven by hand
// through connect, write, read and close, with its statistics in w.
type loopClient struct {
	w      *worker
	id     int32  // index in the loop's clients: the epoll events' key
	fd     int    // -1 when closed
	ev     uint32 // events fd is registered for; 0 when it is not
	st     clientState
	used   int  // requests sent on this connection
	opened bool // this request opened the connection
	retry  bool // this request was already re-sent once on a new connection
	req    []byte
	wOff   int       // bytes of req written
	t0, tw time.Time // request started (before connect); first byte written
	deadl  time.Time // the request fails with a timeout after this
	buf    []byte    // received, buf[r:n] not consumed
	r, n   int
	p      pushParser
}

// eventLoop runs its clients on one locked OS thread with one epoll set.
type eventLoop struct {
	o       *Options
	epfd    int
	clients []*loopClient
	sink    *sink // nil: bodies are read into the buffer
	events  []unix.EpollEvent
	queue   []*loopClient // clients to (re)start before the next wait
	next    []*loopClient
	active  int
	end     time.Time // no request starts after this
	stop    *atomic.Bool
	yield   bool // sleep through the scheduler: see wait
}

// runLoops runs workers as o.Loops event loops and sets rep's Elapsed and
// Loops. Workers' statistics are filled in as by worker.run. yield says
// the server listens in this process (servedHere): the loops then sleep
// through the Go scheduler.
func runLoops(ctx context.Context, o *Options, workers []*worker, rep *Report, yield bool) error {
	nl := o.Loops
	if nl == 0 {
		nl = runtime.GOMAXPROCS(0)
	}
	nl = min(nl, len(workers))
	loops := make([]*eventLoop, nl)
	for i := range loops {
		loops[i] = &eventLoop{o: o, events: make([]unix.EpollEvent, 256), epfd: -1}
	}
	// Clients are dealt round-robin, as wrk splits -c over -t.
	for i, w := range workers {
		l := loops[i%nl]
		l.clients = append(l.clients, &loopClient{
			w: w, id: int32(len(l.clients)), fd: -1, buf: w.rd.buf,
			p: pushParser{verify: o.Verify},
		})
	}
	rep.Loops = nl
	if yield {
		rep.Notes = append(rep.Notes, "the server listens in this process: the event loops sleep through the Go scheduler so that it gets CPU, which costs the client some")
	}
	var stop atomic.Bool
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	var end time.Time
	errs := make([]error, nl)
	ready.Add(nl)
	for i, l := range loops {
		l.stop, l.yield = &stop, yield
		done.Go(func() {
			// The loop owns its thread: no other goroutine runs on it, and
			// its clients' wake-ups are not handed between threads.
			runtime.LockOSThread()
			restore := schedBatch()
			defer func() {
				// A thread whose policy could not be restored ends with
				// this goroutine rather than run others.
				if restore() {
					runtime.UnlockOSThread()
				}
			}()
			errs[i] = l.setup()
			ready.Done()
			<-release
			defer l.close()
			if errs[i] == nil {
				l.end = end
				l.run()
			}
		})
	}
	ready.Wait()
	if err := errors.Join(errs...); err != nil {
		stop.Store(true)
		close(release)
		done.Wait()
		return err
	}
	// Every loop is parked on the barrier: start them together.
	start, late := waitStart(ctx, o.StartAt)
	end = start.Add(o.Duration)
	for _, w := range workers {
		w.start = start
	}
	close(release)
	watch := context.AfterFunc(ctx, func() { stop.Store(true) })
	stopProgress := startProgress(o, workers, start)
	done.Wait()
	watch()
	stopProgress()
	rep.Started, rep.Elapsed, rep.StartLate = start, time.Since(start), late
	return nil
}

// schedBatch puts the calling thread, which must be locked, in the
// SCHED_BATCH policy and returns the function that restores its old policy
// and says whether it could. A batch thread does not preempt the task
// running on the CPU it wakes up on. With the server on the same machine
// that task is often the server: against nginx sharing the clients'
// scheduling autogroup, the loop's threads, which sleep and wake about
// 0.37 times per connection, preempted it, and the loop engine made 0.93
// of wrk's connections/s; as batch threads 1.11 (0.04 switches per
// connection; bench/http/README.md). A load generator should not take the
// CPU from the server it measures. When the policy cannot be set, the loop
// runs without it.
func schedBatch() (restore func() bool) {
	old, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return func() bool { return true }
	}
	batch := *old
	batch.Policy, batch.Priority = unix.SCHED_BATCH, 0
	if unix.SchedSetAttr(0, &batch, 0) != nil {
		return func() bool { return true }
	}
	return func() bool { return unix.SchedSetAttr(0, old, 0) == nil }
}

func (l *eventLoop) setup() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("event loop: epoll_create1: %w", err)
	}
	l.epfd = fd
	if !l.o.Verify && !l.o.NoSplice {
		// Without a sink the client copies bodies; it only costs CPU.
		l.sink, _ = newSink()
	}
	return nil
}

// close closes every descriptor the loop holds.
func (l *eventLoop) close() {
	for _, c := range l.clients {
		c.closeConn()
	}
	if l.sink != nil {
		l.sink.Close()
	}
	if l.epfd >= 0 {
		unix.Close(l.epfd)
	}
}

func (l *eventLoop) run() {
	now := time.Now()
	l.active = len(l.clients)
	for _, c := range l.clients {
		l.start(c, now, true)
	}
	scan := now.Add(loopTick)
	for l.active > 0 {
		// Restart the clients whose last request failed, once per round:
		// one that fails at once again (refused, no ports) waits for the
		// next round instead of spinning while the others wait.
		if len(l.queue) > 0 {
			l.queue, l.next = l.next[:0], l.queue
			now = time.Now()
			for _, c := range l.next {
				l.start(c, now, true)
			}
		}
		if l.active == 0 || l.stop.Load() {
			return
		}
		wait := int(loopTick / time.Millisecond)
		if len(l.queue) > 0 {
			wait = 0
		}
		n, err := l.wait(wait)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Cannot happen with a valid epoll descriptor and buffer; end
			// the clients so the run reports what it has.
			for _, c := range l.clients {
				if c.st != csIdle {
					l.fail(c, fmt.Errorf("epoll_wait: %w", err))
				}
			}
			return
		}
		for i := range n {
			ev := &l.events[i]
			c := l.clients[ev.Fd]
			switch c.st {
			case csWriting:
				l.writable(c)
			case csReading:
				l.readable(c)
			}
		}
		if l.stop.Load() {
			return
		}
		if now = time.Now(); !now.Before(scan) {
			scan = now.Add(loopTick)
			for _, c := range l.clients {
				if c.st != csIdle && now.After(c.deadl) {
					l.fail(c, &respError{kind: ErrTimeout, msg: fmt.Sprintf("no complete response within %v", l.o.Timeout), err: os.ErrDeadlineExceeded})
				}
			}
		}
	}
}

// start sends c's next request at t0, on its open connection or a new one,
// unless the run is over. A client that cannot start is counted as failed
// and queued to try again.
func (l *eventLoop) start(c *loopClient, t0 time.Time, fresh bool) {
	if fresh {
		if l.stop.Load() || !t0.Before(l.end) {
			c.closeConn()
			c.st = csIdle
			l.active--
			return
		}
		c.retry = false
	}
	o := l.o
	c.t0 = t0
	c.deadl = t0.Add(o.Timeout)
	c.opened = c.fd < 0
	if c.opened {
		// Even when connect(2) says it is in progress, on loopback the
		// handshake has usually completed inside it: the first write
		// finds out, without a wait, and only then is fd put in the set.
		fd, _, err := c.w.raw.open()
		if err != nil {
			c.st = csIdle
			c.w.fail(err, ErrOther)
			l.queue = append(l.queue, c)
			return
		}
		c.fd, c.ev, c.used, c.r, c.n = fd, 0, 0, 0, 0
	}
	c.used++
	c.req = c.w.reqKeep
	if c.used >= o.KeepAlive {
		c.req = c.w.reqLast
	}
	c.wOff = 0
	c.p.reset()
	c.st = csWriting
	l.writable(c)
}

// writable writes what is left of c's request.
func (l *eventLoop) writable(c *loopClient) {
	if c.wOff == 0 {
		c.tw = time.Now()
	}
	m, err := rawWrite(c.fd, c.req[c.wOff:])
	switch {
	case err == unix.EAGAIN:
		// Still connecting, or the socket buffer is full.
		l.want(c, unix.EPOLLIN|unix.EPOLLOUT)
		return
	case err != nil:
		op := "write"
		if c.opened && c.wOff == 0 {
			op = "connect" // a failed connect shows in the first write
		}
		l.fail(c, os.NewSyscallError(op, err))
		return
	}
	if c.wOff == 0 && c.opened && c.w.raw.selfConnected(c.fd) {
		l.fail(c, os.NewSyscallError("connect", errSelfConnect))
		return
	}
	if c.wOff == 0 && c.opened {
		// Connected: count it as the goroutine engine counts a dial.
		c.w.conns++
		record(c.w.conn, c.tw.Sub(c.t0))
	}
	c.wOff += m
	if c.wOff < len(c.req) {
		l.want(c, unix.EPOLLIN|unix.EPOLLOUT)
		return
	}
	c.st = csReading
	l.want(c, unix.EPOLLIN)
}

// want sets the events c's descriptor is watched for, adding it to the
// epoll set the first time; it makes no call when they did not change.
func (l *eventLoop) want(c *loopClient, events uint32) {
	if c.ev == events {
		return
	}
	op := unix.EPOLL_CTL_MOD
	if c.ev == 0 {
		op = unix.EPOLL_CTL_ADD
	}
	ev := unix.EpollEvent{Events: events, Fd: c.id}
	if err := unix.EpollCtl(l.epfd, op, c.fd, &ev); err != nil {
		l.fail(c, fmt.Errorf("epoll_ctl: %w", err))
		return
	}
	c.ev = events
}

// readable reads what arrived of c's response and parses it.
func (l *eventLoop) readable(c *loopClient) {
	for {
		if l.sink != nil && c.p.ph == phBody && c.r == c.n && c.p.left >= spliceMin {
			m, err := l.sink.discardNow(c.fd, c.p.left)
			switch {
			case err == unix.EAGAIN:
				return
			case errors.Is(err, io.EOF):
				l.fail(c, c.p.eof())
				return
			case err != nil:
				l.fail(c, err)
				return
			}
			c.p.skip(m)
			if c.p.done() {
				l.complete(c)
				return
			}
			continue
		}
		if c.r == c.n {
			c.r, c.n = 0, 0
		} else if c.n == len(c.buf) {
			c.n = copy(c.buf, c.buf[c.r:c.n])
			c.r = 0
		}
		space := len(c.buf) - c.n
		m, err := rawRead(c.fd, c.buf[c.n:])
		switch {
		case err == unix.EAGAIN:
			return
		case err != nil:
			l.fail(c, os.NewSyscallError("read", err))
			return
		case m == 0:
			if err := c.p.eof(); err != nil {
				l.fail(c, err)
				return
			}
			l.complete(c)
			return
		}
		c.n += m
		k, err := c.p.feed(c.buf[c.r:c.n], c.r == 0 && c.n == len(c.buf))
		c.r += k
		if err != nil {
			l.fail(c, err)
			return
		}
		if c.p.done() {
			l.complete(c)
			return
		}
		if m < space {
			// The socket is most likely empty: wait rather than read again.
			return
		}
	}
}

// complete counts c's finished response and starts its next request.
func (l *eventLoop) complete(c *loopClient) {
	t1 := time.Now()
	w, p := c.w, &c.p
	if p.resp.close || c.used >= l.o.KeepAlive {
		c.closeConn()
	}
	c.st = csIdle
	switch {
	case p.resp.status < 200 || p.resp.status > 299:
		w.errs[ErrBadStatus]++
		w.pubErrs.Add(1)
		w.lastErr = fmt.Errorf("GET %s: status %d", l.o.Path, p.resp.status)
	case p.bad:
		w.errs[ErrProtocol]++
		w.pubErrs.Add(1)
		w.lastErr = fmt.Errorf("GET %s: body has bytes other than '0'", l.o.Path)
	default:
		w.ok++
		w.pubOK.Store(w.ok)
		w.tally(t1)
		w.bytes += p.got
		d := t1.Sub(c.t0)
		record(w.lat, d)
		if l.o.keepSamples {
			w.samples = append(w.samples, d)
		}
		record(w.trans, t1.Sub(c.tw))
		if w.fastest == 0 || d < w.fastest {
			w.fastest = d
		}
		w.slowest = max(w.slowest, d)
	}
	l.start(c, t1, true)
}

// fail ends c's request with err and queues its next one.
func (l *eventLoop) fail(c *loopClient, err error) {
	c.closeConn()
	c.st = csIdle
	if l.stop.Load() {
		l.active--
		return
	}
	// A kept-alive connection the server closed while idle is not a failed
	// request: reconnect and send it again, once.
	if !c.opened && !c.retry && !c.p.started && (errors.Is(err, io.EOF) || kindOf(err, ErrOther) == ErrReset) {
		c.retry = true
		l.start(c, c.t0, false)
		return
	}
	kind := ErrShortBody
	if c.opened && c.wOff == 0 {
		kind = ErrOther // the connect failed
	}
	c.w.fail(err, kind)
	l.queue = append(l.queue, c)
}

// closeConn closes c's connection, which also takes it out of the epoll set.
func (c *loopClient) closeConn() {
	if c.fd >= 0 {
		rawClose(c.fd)
		c.fd, c.ev = -1, 0
	}
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket:
// they never block, so they skip the scheduler hand-off of syscall.Read.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawClose is close(2) of a socket that has no lingering data to wait for.
func rawClose(fd int) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// wait returns the events ready within msec milliseconds.
//
// A raw epoll_pwait keeps the loop's P while it sleeps. Sleeping through
// the ordinary system-call path instead made sysmon retake the P at almost
// every wait and keep waking every 20-400 µs, and the loop thread then
// competed for a P on its way back: against nginx (interleaved 3-s runs on
// the shared machine) 43k instead of 60k connections/s, 0.15-0.3 voluntary
// context switches per connection instead of 0.04. But a P held in a sleep
// is lost to the process's other goroutines until sysmon preempts the loop
// (10 ms): when the server runs in this process (tests, RunPath) the loop
// polls raw and sleeps through the scheduler, so that it gets the CPU.
func (l *eventLoop) wait(msec int) (int, error) {
	raw := msec
	if l.yield {
		raw = 0 // poll only
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(unsafe.SliceData(l.events))), uintptr(len(l.events)), uintptr(raw), 0, 0)
	switch {
	case e != 0:
		return 0, e
	case n > 0 || raw == msec:
		return int(n), nil
	}
	return unix.EpollWait(l.epfd, l.events, msec)
}

// servedHere reports whether this process listens on dst: a server whose
// goroutines need the Ps the event loops would otherwise sleep on.
func servedHere(dst *unix.RawSockaddrInet4) bool {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return true // cannot tell: the safe answer
	}
	pb := (*[2]byte)(unsafe.Pointer(&dst.Port)) // network byte order
	port := int(pb[0])<<8 | int(pb[1])
	for _, de := range des {
		fd, err := strconv.Atoi(de.Name())
		if err != nil {
			continue
		}
		// Descriptors may close meanwhile; these calls only read.
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v == 0 {
			continue
		}
		switch sa := sockname(fd).(type) {
		case *unix.SockaddrInet4:
			if sa.Port == port && (sa.Addr == dst.Addr || sa.Addr == [4]byte{}) {
				return true
			}
		case *unix.SockaddrInet6:
			mapped := [16]byte{10: 0xff, 11: 0xff}
			copy(mapped[12:], dst.Addr[:])
			if sa.Port == port && (sa.Addr == [16]byte{} || sa.Addr == mapped) {
				return true
			}
		}
	}
	return false
}

func sockname(fd int) unix.Sockaddr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return sa
}
