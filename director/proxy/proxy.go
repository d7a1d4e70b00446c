package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// CopyMode selects how TCP bytes are moved between the two legs.
type CopyMode int

// Copy modes.
const (
	// CopyDefault (the zero value) is CopyEventLoop on Linux and
	// CopySplice elsewhere; Options reports the engine chosen.
	CopyDefault CopyMode = iota
	// CopySplice runs the proxy's own splice(2) loop through a pooled pipe
	// per direction on two goroutines per connection, integrated with the
	// runtime poller, and counts every splice into the pipe as one packet.
	CopySplice
	// CopyIOCopy uses the standard library throughout: net.Dialer for the
	// realserver and io.Copy between the *net.TCPConn legs (which also
	// splices on Linux) in chunks of PipeBytes; it counts one packet per
	// chunk, so its packet counts are coarse. Kept for comparison.
	CopyIOCopy
	// CopyEventLoop (Linux only; the default there) runs Loops event loops,
	// each a goroutine with its own epoll set: a loop accepts,
	// dials the realserver and relays both directions itself, with no
	// goroutine or runtime poller round per connection. A direction copies
	// reads smaller than 16 KiB and splices from its first full 16 KiB
	// read on; every read counts as one packet. BlockingConns is ignored.
	CopyEventLoop
)

// String names the mode.
func (m CopyMode) String() string {
	switch m {
	case CopyDefault:
		return "default"
	case CopySplice:
		return "splice"
	case CopyIOCopy:
		return "iocopy"
	case CopyEventLoop:
		return "eventloop"
	}
	return fmt.Sprintf("CopyMode(%d)", int(m))
}

// Options configure a Proxy. The zero value means the defaults.
type Options struct {
	// DialTimeout bounds the connect to a realserver (default 1 s). A
	// refused connect fails at once whatever the timeout.
	DialTimeout time.Duration
	// Copy selects the TCP engine (default CopyEventLoop on Linux,
	// CopySplice elsewhere).
	Copy CopyMode
	// PipeBytes is the pipe size asked for with F_SETPIPE_SZ and the most
	// one splice moves (default 1 MiB; the kernel may grant less).
	PipeBytes int
	// PoolPipes bounds the idle pipes kept for reuse (default 64).
	PoolPipes int
	// BlockingConns is how many TCP connections at a time get blocking
	// splice on a thread per direction instead of the runtime poller
	// (default 0: none). Blocking saves a poller round (park, epoll, wake)
	// per chunk but costs two OS threads per such connection, so it is
	// bounded: connections beyond the bound use the poller. Measured side by
	// side on loopback it did not beat the poller loop (bench/director,
	// variant director-blocking), hence off by default. Used by
	// CopySplice only.
	BlockingConns int
	// Loops is how many event loops CopyEventLoop runs, each a goroutine
	// that blocks in epoll_wait (default GOMAXPROCS-1, at least 1). Leaving one P without a
	// loop matters: while every P sits in a loop's epoll_wait the runtime's
	// monitor takes the Ps back from the waiting threads and keeps polling
	// every 20 µs, which cost about a tenth of the engine's CPU per
	// connection on 2 CPUs.
	Loops int
	// UDPIdleTimeout closes a UDP flow with no traffic for this long
	// (default 300 s, IPVS's UDP timeout).
	UDPIdleTimeout time.Duration
	// UDPMaxFlows bounds the UDP flow table of one listener (default 4096);
	// datagrams from new clients beyond it are dropped and counted.
	UDPMaxFlows int
	// UDPDatagramBytes is the largest datagram relayed (default 65535).
	UDPDatagramBytes int
}

// DedicatedProcess sizes a process that does little but run this engine,
// such as the standalone director: it returns loops, or one event loop per
// usable CPU when loops is 0, and raises GOMAXPROCS to one more than that
// (unless the GOMAXPROCS environment variable set it), so that a P is
// always free for the runtime's monitor and the control goroutines while
// every loop sleeps in epoll_wait (see Options.Loops). With one loop per
// CPU no CPU idles while connections wait for a busy loop; on 2 CPUs that
// raised connect/1-byte/close through lvsperf director from 0.47x to 0.50x
// of direct, where HAProxy with its default thread per CPU made 0.51x
// (bench/director, idle polling, 5 rounds, 2026-11-25).
func DedicatedProcess(loops int) int {
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) <= loops {
		runtime.GOMAXPROCS(loops + 1)
	}
	return loops
}

func (o Options) normalize() (Options, error) {
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.PipeBytes == 0 {
		o.PipeBytes = 1 << 20
	}
	if o.PoolPipes == 0 {
		o.PoolPipes = 64
	}
	if o.Copy == CopyDefault {
		o.Copy = CopySplice
		if hasEventLoop {
			o.Copy = CopyEventLoop
		}
	}
	if o.Loops == 0 {
		o.Loops = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if o.UDPIdleTimeout == 0 {
		o.UDPIdleTimeout = 300 * time.Second
	}
	if o.UDPMaxFlows == 0 {
		o.UDPMaxFlows = 4096
	}
	if o.UDPDatagramBytes == 0 {
		o.UDPDatagramBytes = 65535
	}
	switch {
	case o.DialTimeout < 0:
		return o, fmt.Errorf("dial timeout %v: want a positive duration", o.DialTimeout)
	case o.Copy != CopySplice && o.Copy != CopyIOCopy && o.Copy != CopyEventLoop:
		return o, fmt.Errorf("copy mode %d: want CopySplice, CopyIOCopy or CopyEventLoop", int(o.Copy))
	case o.Copy == CopyEventLoop && !hasEventLoop:
		return o, errors.New("copy mode eventloop is Linux only: use CopySplice")
	case o.PipeBytes < 4096:
		return o, fmt.Errorf("pipe size %d bytes: want at least 4096", o.PipeBytes)
	case o.BlockingConns < 0:
		return o, fmt.Errorf("blocking connections %d: want 0 (none) or more", o.BlockingConns)
	case o.Loops < 0:
		return o, fmt.Errorf("event loops %d: want 0 (default) or more", o.Loops)
	case o.PoolPipes < 0:
		return o, fmt.Errorf("pipe pool size %d: want 0 or more", o.PoolPipes)
	case o.UDPIdleTimeout < 0:
		return o, fmt.Errorf("UDP idle timeout %v: want a positive duration", o.UDPIdleTimeout)
	case o.UDPMaxFlows < 1:
		return o, fmt.Errorf("UDP flow table size %d: want at least 1", o.UDPMaxFlows)
	case o.UDPDatagramBytes < 512 || o.UDPDatagramBytes > 65535:
		return o, fmt.Errorf("UDP datagram size %d: want 512 to 65535", o.UDPDatagramBytes)
	}
	return o, nil
}

// Stats are the engine's own counters (the model keeps per-flow traffic).
type Stats struct {
	// Accepted counts TCP connections accepted and UDP flows created.
	Accepted int64
	// Refused counts clients refused because the picker found no service
	// or no available realserver.
	Refused int64
	// DialFailed counts realserver connects that failed.
	DialFailed int64
	// Active counts TCP connections and UDP flows open now.
	Active int64
	// UDPDropped counts datagrams dropped (flow table full, send errors).
	UDPDropped int64
	// AcceptPaused counts the times accepting stopped for a moment because
	// the process or the system was out of file descriptors (EMFILE,
	// ENFILE); clients wait in the listener's queue meanwhile.
	AcceptPaused int64
}

type counters struct {
	accepted, refused, dialFailed, active, udpDropped, acceptPaused atomic.Int64
}

// Proxy is the userspace engine. It is safe for concurrent use.
type Proxy struct {
	picker   dataplane.Picker
	opts     Options
	pipes    *pipePool // non-blocking pipes, for the poller loop
	bpipes   *pipePool // blocking pipes, for BlockingConns
	blocking atomic.Int64
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	conns    connSet
	tasks    chan func() // hands work to idle workers; see spawn
	loops    []*evLoop   // CopyEventLoop's event loops
	stats    counters

	mu        sync.Mutex // guards listeners and closed
	listeners map[listenerKey]listener
	closed    bool
}

type listenerKey struct {
	proto dataplane.Protocol
	addr  netip.AddrPort
}

type listener interface {
	close() error
}

// ErrClosed is returned by Listen after Close.
var ErrClosed = errors.New("proxy is closed")

// New returns a proxy that schedules connections with picker. It stops when
// ctx is done or Close is called.
func New(ctx context.Context, picker dataplane.Picker, opts Options) (*Proxy, error) {
	if picker == nil {
		return nil, errors.New("proxy needs a picker (the director model); got nil")
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("proxy options: %w", err)
	}
	p := &Proxy{picker: picker, opts: o, listeners: map[listenerKey]listener{}, tasks: make(chan func())}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.pipes = newPipePool(o.PoolPipes, o.PipeBytes, false)
	p.bpipes = newPipePool(o.PoolPipes, o.PipeBytes, true)
	p.conns.init()
	if o.Copy == CopyEventLoop {
		if err := p.startLoops(); err != nil {
			p.cancel()
			return nil, fmt.Errorf("proxy event loops: %w", err)
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-p.ctx.Done()
		p.shutdown()
	}()
	return p, nil
}

// Options returns the proxy's options with defaults filled in.
func (p *Proxy) Options() Options { return p.opts }

// Stats returns a snapshot of the engine's counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Accepted:     p.stats.accepted.Load(),
		Refused:      p.stats.refused.Load(),
		DialFailed:   p.stats.dialFailed.Load(),
		Active:       p.stats.active.Load(),
		UDPDropped:   p.stats.udpDropped.Load(),
		AcceptPaused: p.stats.acceptPaused.Load(),
	}
}

// Listen starts serving the virtual service proto addr. Port 0 picks a free
// port; the address actually bound is returned, and it is the VIP the
// proxy passes to Picker.Connect, so the model's service must use it.
func (p *Proxy) Listen(proto dataplane.Protocol, addr netip.AddrPort) (netip.AddrPort, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return netip.AddrPort{}, ErrClosed
	}
	if addr.Port() != 0 {
		if _, ok := p.listeners[listenerKey{proto, addr}]; ok {
			return netip.AddrPort{}, fmt.Errorf("listen %s %s: already serving it; Unlisten first", proto, addr)
		}
	}
	var (
		l     listener
		bound netip.AddrPort
		err   error
	)
	switch proto {
	case dataplane.TCP:
		l, bound, err = p.listenTCP(addr)
	case dataplane.UDP:
		l, bound, err = p.listenUDP(addr)
	default:
		return netip.AddrPort{}, fmt.Errorf("listen: protocol %q: want %q or %q", proto, dataplane.TCP, dataplane.UDP)
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	p.listeners[listenerKey{proto, bound}] = l
	return bound, nil
}

// Unlisten stops accepting on a virtual service. TCP connections already
// relayed keep flowing until they end or the proxy is closed, as IPVS keeps
// existing connections of a deleted service's realservers; UDP flows end
// with the listener, whose socket carries their answers.
func (p *Proxy) Unlisten(proto dataplane.Protocol, addr netip.AddrPort) error {
	p.mu.Lock()
	l, ok := p.listeners[listenerKey{proto, addr}]
	delete(p.listeners, listenerKey{proto, addr})
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("unlisten %s %s: not serving it", proto, addr)
	}
	return l.close()
}

// Close stops every listener, closes every relayed connection and waits
// for all of the proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *Proxy) shutdown() {
	p.mu.Lock()
	p.closed = true
	ls := p.listeners
	p.listeners = map[listenerKey]listener{}
	p.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
	p.conns.closeAll()
	p.stopLoops()
	p.pipes.close()
	p.bpipes.close()
}

// connSet tracks open connections so Close can end them, sharded so the
// per-connection add and remove do not contend on one lock.
type connSet struct {
	next   atomic.Uint64
	shards [16]connShard
}

type connShard struct {
	mu     sync.Mutex
	closed bool
	m      map[uint64]*leg
}

func (s *connSet) init() {
	for i := range s.shards {
		s.shards[i].m = map[uint64]*leg{}
	}
}

// add registers c and returns its id, or false when the set was closed
// (the caller must then close c itself).
func (s *connSet) add(c *leg) (uint64, bool) {
	id := s.next.Add(1)
	sh := &s.shards[id%uint64(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return 0, false
	}
	sh.m[id] = c
	return id, true
}

func (s *connSet) remove(id uint64) {
	sh := &s.shards[id%uint64(len(s.shards))]
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

func (s *connSet) closeAll() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.closed = true
		m := sh.m
		sh.m = map[uint64]*leg{}
		sh.mu.Unlock()
		for _, c := range m {
			// Shut down rather than close: the connection's goroutines
			// close it once they are out of any blocking call on it.
			c.shutdown()
		}
	}
}
