package ptester

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/lvsperf/lvsperf/timing"
)

// histMax is the largest time a histogram records; longer ones are clamped.
const histMax = int64(60 * time.Second)

// Summary describes a distribution of request times.
type Summary struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	Max   time.Duration `json:"max_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	// Stdev is the standard deviation; WithinStdev the share of values
	// within Mean ± Stdev (wrk's "+/- Stdev").
	Stdev       time.Duration `json:"stdev_ns"`
	WithinStdev float64       `json:"within_stdev"`
}

// Report is the outcome of one hammer run.
type Report struct {
	Options Options `json:"options"`
	// Engine is the engine that ran (Options.Engine may say auto); Loops is
	// the loop engine's number of event loops.
	Engine Engine `json:"engine_ran"`
	Loops  int    `json:"loops_ran,omitempty"`
	// Started is the barrier's release; Elapsed runs from it to the last
	// client's end.
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// StartLate is how far past Options.StartAt the clients were ready
	// (0: they waited for it).
	StartLate time.Duration `json:"start_late_ns,omitempty"`
	// Requests answered with a 2xx status and a complete body.
	Requests uint64 `json:"requests"`
	// Conns is the number of TCP connections opened.
	Conns uint64 `json:"connections"`
	// BodyBytes received in successful responses.
	BodyBytes int64 `json:"body_bytes"`
	// Errors by kind (refused, ports, reset, timeout, bad_status, short_body, protocol, other).
	Errors map[string]uint64 `json:"errors"`
	// LastError is one example error message, to say what went wrong.
	LastError string `json:"last_error,omitempty"`
	// HitsPerSec is Requests/Elapsed; ConnsPerSec is Conns/Elapsed.
	HitsPerSec  float64 `json:"hits_per_sec"`
	ConnsPerSec float64 `json:"conns_per_sec"`
	// Throughput of response bodies.
	Throughput timing.BitsPerSecond `json:"throughput_bps"`
	// Latency is each successful request's time: connect (when it opened a
	// connection) + send + response. In an open loop it runs from the
	// request's intended send time, so a stalled server is not hidden.
	Latency Summary `json:"latency"`
	// Uncorrected is the open loop's latency from the actual send time.
	Uncorrected *Summary `json:"uncorrected,omitempty"`
	// Connect is the time of each TCP connect; Transfer runs from the
	// request's first byte sent to the response's last byte received.
	Connect  Summary `json:"connect"`
	Transfer Summary `json:"transfer"`
	// Rate is the spread of the request rate over the run's whole
	// windows of RateWindow (nil when the run had none).
	Rate *RateStats `json:"request_rate,omitempty"`
	// Behind counts open-loop requests sent after their intended time.
	Behind uint64 `json:"behind,omitempty"`
	// PortsExhausted is set when connects failed for lack of ephemeral ports.
	PortsExhausted bool `json:"ports_exhausted"`
	// Notes say what limited or distorted the run.
	Notes []string `json:"notes,omitempty"`

	latency *hdrhistogram.Histogram
	trans   *hdrhistogram.Histogram
	conn    *hdrhistogram.Histogram
	// samples are every Latency value, when Options.keepSamples is set (tests)
	samples []time.Duration
	// exact extremes of Latency (the histogram rounds them)
	fastest, slowest time.Duration
}

// Errs returns the total number of failed requests.
func (r *Report) Errs() uint64 {
	var n uint64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// worker is one client: its connection, buffer and statistics.
type worker struct {
	id      int
	o       *Options
	dialer  net.Dialer
	reqKeep []byte
	reqLast []byte
	rd      reader
	raw     *rawDialer // nil for targets that are not IPv4 addresses

	lat, uncorr, trans, conn *hdrhistogram.Histogram
	fastest, slowest         time.Duration
	ok, conns                uint64
	bytes                    int64
	behind                   uint64
	errs                     [numErrKinds]uint64
	lastErr                  error
	// pubOK and pubErrs publish ok and the sum of errs to Options.Progress,
	// which reads them from another goroutine; the worker is their only
	// writer, so a plain atomic store or add on its own line suffices.
	pubOK, pubErrs atomic.Uint64
	samples        []time.Duration
	timer          *time.Timer // open loop: one timer, reset per request
	// start is the barrier's release; windows counts the requests that
	// ended in each RateWindow after it.
	start   time.Time
	windows []uint32
}

func newWorker(id int, o *Options) *worker {
	w := &worker{
		id:      id,
		o:       o,
		reqKeep: buildRequest(o.Target, o.Path, false),
		reqLast: buildRequest(o.Target, o.Path, true),
		rd:      reader{buf: make([]byte, o.BufferSize), verify: o.Verify},
		lat:     hdrhistogram.New(1, histMax, 3),
		trans:   hdrhistogram.New(1, histMax, 2),
		conn:    hdrhistogram.New(1, histMax, 2),
	}
	if o.Rate > 0 {
		w.uncorr = hdrhistogram.New(1, histMax, 3)
	}
	w.dialer.Timeout = o.Timeout
	// No TCP keep-alive probes: connections live for K requests, and the
	// option costs setsockopt calls on every connect.
	w.dialer.KeepAlive = -1
	w.dialer.KeepAliveConfig.Enable = false
	var src net.IP
	if o.Sources > 0 {
		src = net.IPv4(127, 0, 0, byte(2+id%o.Sources))
		w.dialer.LocalAddr = &net.TCPAddr{IP: src}
	}
	if rd, ok := newRawDialer(o.Target, src, o.Linger0, o.KeepAlive > 1, o.Timeout); ok {
		w.raw = rd
	}
	w.dialer.Control = func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if src != nil {
				// Let connect() pick the port for the whole 4-tuple instead
				// of bind() reserving one per source address.
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				if serr == nil {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				}
			}
			if serr == nil && o.Linger0 {
				serr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			}
		})
		return errors.Join(err, serr)
	}
	return w
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	v := int64(d)
	if v < 1 {
		v = 1
	}
	if v > histMax {
		v = histMax
	}
	_ = h.RecordValue(v) // in range by construction
}

func (w *worker) fail(err error, eof ErrKind) {
	k := kindOf(err, eof)
	if k == ErrNone {
		k = ErrOther
	}
	w.errs[k]++
	w.pubErrs.Add(1)
	w.lastErr = err
}

// run is the client loop: until stop or the deadline, one GET at a time.
func (w *worker) run(ctx context.Context, start, deadline time.Time, stop *atomic.Bool) {
	o := w.o
	var (
		c        conn
		used     int
		deadl    time.Time
		interval time.Duration
		next     time.Time
	)
	defer func() {
		if c != nil {
			c.Close()
		}
		if w.rd.sink != nil {
			w.rd.sink.Close()
		}
	}()
	if !o.Verify && !o.NoSplice {
		// Without a sink the client copies bodies; it only costs CPU.
		w.rd.sink, _ = newSink()
	}
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Clients) / o.Rate)
		// Stagger the clients over one interval so the total rate is even.
		next = start.Add(interval * time.Duration(w.id) / time.Duration(o.Clients))
	}
	for !stop.Load() {
		t0 := time.Now()
		intended := t0
		if interval > 0 {
			if !next.Before(deadline) {
				return
			}
			if d := next.Sub(t0); d > 0 {
				if w.timer == nil {
					w.timer = time.NewTimer(d)
				} else {
					w.timer.Reset(d)
				}
				select {
				case <-w.timer.C:
				case <-ctx.Done():
					w.timer.Stop()
					return
				}
				t0 = time.Now()
			} else if d < -time.Millisecond {
				w.behind++
			}
			intended = next
			next = next.Add(interval)
		} else if !t0.Before(deadline) {
			return
		}
		retried := false
	again:
		opened := false
		if c == nil {
			var err error
			c, err = w.dial()
			if err != nil {
				c = nil
				if ctx.Err() != nil {
					return
				}
				w.fail(err, ErrOther)
				continue
			}
			w.rd.conn, w.rd.r, w.rd.w, used, opened = c, 0, 0, 0, true
			w.rd.rc = nil
			if sc, ok := c.(syscall.Conn); ok && w.rd.sink != nil {
				w.rd.rc, _ = sc.SyscallConn()
			}
			w.conns++
			deadl = time.Time{}
		}
		tw := time.Now()
		if opened {
			record(w.conn, tw.Sub(t0))
		}
		if tw.Add(o.Timeout - deadlineSlack).After(deadl) {
			deadl = tw.Add(o.Timeout)
			_ = c.SetDeadline(deadl)
		}
		used++
		req := w.reqKeep
		if used >= o.KeepAlive {
			req = w.reqLast
		}
		resp, n, err := w.roundTrip(c, req, !opened)
		if err != nil {
			c.Close()
			c = nil
			// A kept-alive connection the server closed while idle is not a
			// failed request: reconnect and send it again, once.
			if !opened && !retried && (errors.Is(err, io.EOF) || kindOf(err, ErrOther) == ErrReset) {
				retried = true
				goto again
			}
			if ctx.Err() != nil {
				return
			}
			w.fail(err, ErrShortBody)
			continue
		}
		t1 := time.Now()
		if resp.close || used >= o.KeepAlive {
			c.Close()
			c = nil
		}
		if resp.status < 200 || resp.status > 299 {
			w.errs[ErrBadStatus]++
			w.pubErrs.Add(1)
			w.lastErr = fmt.Errorf("GET %s: status %d", o.Path, resp.status)
			continue
		}
		if w.rd.bad {
			w.rd.bad = false
			w.errs[ErrProtocol]++
			w.pubErrs.Add(1)
			w.lastErr = fmt.Errorf("GET %s: body has bytes other than '0'", o.Path)
			continue
		}
		w.ok++
		w.pubOK.Store(w.ok)
		w.tally(t1)
		w.bytes += n
		d := t1.Sub(intended)
		record(w.lat, d)
		if o.keepSamples {
			w.samples = append(w.samples, d)
		}
		if w.uncorr != nil {
			record(w.uncorr, t1.Sub(t0))
		}
		record(w.trans, t1.Sub(tw))
		if w.fastest == 0 || d < w.fastest {
			w.fastest = d
		}
		if d > w.slowest {
			w.slowest = d
		}
	}
}

// dial opens a connection with the raw dialer when it can.
func (w *worker) dial() (conn, error) {
	if w.raw != nil {
		return w.raw.dial()
	}
	// The dial is bounded by the dialer's timeout; a cancellable context
	// would cost a watcher per connect.
	return w.dialer.DialContext(context.Background(), "tcp", w.o.Target)
}

// roundTrip sends req and reads one response. With yield set it lets the
// other clients run between the two: the response is then usually there
// when the read is made, where reading at once would fail with EAGAIN and
// park the client in the poller (a wasted read, a wake-up and, with nothing
// left to run, a thread put to sleep and woken again). This batches the
// clients' requests the way an event loop such as wrk's does. On a kept-alive
// connection it cuts client CPU per request; right after a connect it does
// not pay (measured with bench/http), so the caller yields on reused
// connections only.
func (w *worker) roundTrip(c conn, req []byte, yield bool) (response, int64, error) {
	if _, err := c.Write(req); err != nil {
		return response{}, 0, err
	}
	if yield {
		runtime.Gosched()
	}
	return w.rd.readResponse()
}

// Run hammers o.Target for o.Duration and reports what happened. Connection
// errors are counted, not returned; Run returns an error only when the run
// could not start (bad options, the prefetch could not connect).
func Run(ctx context.Context, opts Options) (*Report, error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	rep := &Report{Options: o}
	if !o.NoPrefetch {
		if err := prefetch(ctx, &o); err != nil {
			return nil, err
		}
	}
	workers := make([]*worker, o.Clients)
	for i := range workers {
		workers[i] = newWorker(i, &o)
	}
	raw := workers[0].raw != nil
	here := raw && servedHere(&workers[0].raw.dst)
	rep.Engine, err = chooseEngine(o, raw, here)
	if err != nil {
		return nil, err
	}
	if rep.Engine == EngineLoop {
		if err := runLoops(ctx, &o, workers, rep, here); err != nil {
			return nil, err
		}
	} else {
		runGoroutines(ctx, &o, workers, rep)
	}
	merge(rep, workers)
	if o.keepSamples {
		for _, w := range workers {
			rep.samples = append(rep.samples, w.samples...)
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("run interrupted after %v: %w", rep.Elapsed.Round(time.Millisecond), err)
	}
	return rep, nil
}

// runGoroutines runs every worker in its own goroutine and records in rep
// the barrier's release and the time from it to the last worker's end.
func runGoroutines(ctx context.Context, o *Options, workers []*worker, rep *Report) {
	var stop atomic.Bool
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	var start, deadline time.Time
	ready.Add(len(workers))
	for _, w := range workers {
		done.Go(func() {
			ready.Done()
			<-release
			w.run(ctx, start, deadline, &stop)
		})
	}
	ready.Wait()
	// Every client is parked on the barrier: start them together.
	start, rep.StartLate = waitStart(ctx, o.StartAt)
	deadline = start.Add(o.Duration)
	for _, w := range workers {
		w.start = start
	}
	close(release)
	watch := context.AfterFunc(ctx, func() { stop.Store(true) })
	stopProgress := startProgress(o, workers, start)
	done.Wait()
	watch()
	stopProgress()
	rep.Started, rep.Elapsed = start, time.Since(start)
}

// chooseEngine resolves o.Engine for a run; raw says the target is an IPv4
// address, here that this process listens on it (lvsperf's own file server
// or in-process director: without -h, and every sweep).
func chooseEngine(o Options, raw, here bool) (Engine, error) {
	switch o.Engine {
	case EngineGoroutines:
		return EngineGoroutines, nil
	case EngineLoop:
		if !raw {
			return "", fmt.Errorf("engine %s: target %q is not an IPv4 address; use an address or engine %s", EngineLoop, o.Target, EngineGoroutines)
		}
		return EngineLoop, nil
	}
	if o.Rate > 0 || !raw {
		return EngineGoroutines, nil
	}
	if here {
		// The loops must then sleep through the Go scheduler to leave the
		// server CPU; measured with -c 2 against the in-process file
		// server that made the loop engine 6.5× slower than goroutines
		// (12,300 against 90,000 hits/s persistent, 1-byte).
		return EngineGoroutines, nil
	}
	return EngineLoop, nil
}

// prefetch GETs the path once, untimed, so the server has it in memory and a
// target that is not there fails before the run.
func prefetch(ctx context.Context, o *Options) error {
	po := *o
	po.Clients = 1
	w := newWorker(0, &po)
	c, err := w.dialer.DialContext(ctx, "tcp", o.Target)
	if err != nil {
		return fmt.Errorf("prefetch: connect to %s: %w", o.Target, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(o.Timeout))
	w.rd.conn = c
	if _, _, err := w.roundTrip(c, w.reqLast, false); err != nil {
		return fmt.Errorf("prefetch: GET http://%s%s: %w", o.Target, o.Path, err)
	}
	// A bad status is not fatal here: the run counts and reports it.
	return nil
}

func summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count:       uint64(h.TotalCount()),
		Min:         time.Duration(h.Min()),
		Mean:        time.Duration(h.Mean()),
		Max:         time.Duration(h.Max()),
		P50:         time.Duration(h.ValueAtPercentile(50)),
		P90:         time.Duration(h.ValueAtPercentile(90)),
		P99:         time.Duration(h.ValueAtPercentile(99)),
		P999:        time.Duration(h.ValueAtPercentile(99.9)),
		Stdev:       time.Duration(h.StdDev()),
		WithinStdev: withinStdev(h),
	}
}

// withinStdev is the share of h's values within its mean ± one standard
// deviation, counting each bucket by its midpoint.
func withinStdev(h *hdrhistogram.Histogram) float64 {
	mean, sd := h.Mean(), h.StdDev()
	var in int64
	for _, b := range h.Distribution() {
		if v := float64(b.From+b.To) / 2; v >= mean-sd && v <= mean+sd {
			in += b.Count
		}
	}
	return float64(in) / float64(h.TotalCount())
}

func merge(rep *Report, workers []*worker) {
	o := rep.Options
	rep.latency = NewLatencyHistogram()
	rep.trans = hdrhistogram.New(1, histMax, 2)
	rep.conn = hdrhistogram.New(1, histMax, 2)
	var uncorr *hdrhistogram.Histogram
	if o.Rate > 0 {
		uncorr = hdrhistogram.New(1, histMax, 3)
	}
	var errs [numErrKinds]uint64
	for _, w := range workers {
		rep.latency.Merge(w.lat)
		rep.trans.Merge(w.trans)
		rep.conn.Merge(w.conn)
		if uncorr != nil {
			uncorr.Merge(w.uncorr)
		}
		rep.Requests += w.ok
		rep.Conns += w.conns
		rep.BodyBytes += w.bytes
		rep.Behind += w.behind
		for k, n := range w.errs {
			errs[k] += n
		}
		if w.lastErr != nil {
			rep.LastError = w.lastErr.Error()
		}
		if w.fastest > 0 && (rep.fastest == 0 || w.fastest < rep.fastest) {
			rep.fastest = w.fastest
		}
		rep.slowest = max(rep.slowest, w.slowest)
	}
	rep.Errors = map[string]uint64{}
	for k := ErrRefused; k < numErrKinds; k++ {
		rep.Errors[k.String()] = errs[k]
	}
	secs := rep.Elapsed.Seconds()
	if secs > 0 {
		rep.HitsPerSec = float64(rep.Requests) / secs
		rep.ConnsPerSec = float64(rep.Conns) / secs
		rep.Throughput = timing.BitsPerSecond(float64(rep.BodyBytes*8) / secs)
	}
	rep.Latency = summarize(rep.latency)
	if rep.Latency.Count > 0 {
		// The histogram rounds; the exact extremes were kept aside.
		rep.Latency.Min, rep.Latency.Max = rep.fastest, rep.slowest
	}
	if uncorr != nil {
		s := summarize(uncorr)
		rep.Uncorrected = &s
	}
	rep.Connect = summarize(rep.conn)
	rep.Transfer = summarize(rep.trans)
	rep.Rate = rateStats(workers, rep.Elapsed)
	if errs[ErrPorts] > 0 {
		rep.PortsExhausted = true
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"ephemeral ports exhausted: %d connects failed with EADDRNOTAVAIL (%s); the run was limited by TIME_WAIT, not the server. Spread sources (--sources 16), use --linger0, or use -k > 1",
			errs[ErrPorts], portBudget()))
	}
	if rep.Connect.Max >= time.Second {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"a connect took %v: a SYN was retransmitted, typically a collision with a TIME_WAIT entry of a reused port (%s)",
			rep.Connect.Max.Round(time.Millisecond), portBudget()))
	}
	if o.Rate > 0 && rep.Behind > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"open loop fell behind: %d requests left more than 1 ms after their intended time (server or client too slow for --rate %g); latency counts the wait", rep.Behind, o.Rate))
	}
	if errs[ErrBadStatus] > 0 && rep.Requests == 0 {
		rep.Notes = append(rep.Notes, "every response had a non-2xx status: "+rep.LastError)
	}
}

// portBudget describes the kernel's ephemeral-port settings, for notes about
// port exhaustion.
func portBudget() string {
	read := func(name string) string {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		if err != nil {
			return "?"
		}
		return strings.Join(strings.Fields(string(b)), "-")
	}
	return fmt.Sprintf("ip_local_port_range %s, tcp_tw_reuse %s, TIME_WAIT lasts 60 s", read("ip_local_port_range"), read("tcp_tw_reuse"))
}
