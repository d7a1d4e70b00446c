package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/internal/cpuidle"
	"github.com/lvsperf/lvsperf/internal/startat"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultAgentListen is where an agent listens unless told otherwise:
// loopback, so that an agent started by hand is not reachable from other
// hosts until its user says so.
const DefaultAgentListen = "127.0.0.1:7412"

// DefaultDialTimeout is how long an agent keeps trying to reach its
// coordinator: the engine may start agents before the coordinator.
const DefaultDialTimeout = 60 * time.Second

// AgentOptions configure an agent. The zero value of each field but Auth
// means its default.
type AgentOptions struct {
	// Coordinator, when set, is dialled (host:port, retrying for
	// DialTimeout) and the agent serves that one session; otherwise the
	// agent listens on Listen and serves coordinators one at a time.
	Coordinator string
	// Listen is the address to listen on (default DefaultAgentListen).
	Listen string
	// Auth holds the shared token.
	Auth Auth
	// Name identifies the agent in results (default: host name and index).
	Name string
	// Index is the agent's rank (SLURM_PROCID, JOB_COMPLETION_INDEX).
	Index int
	// DialTimeout bounds the attempts to reach Coordinator.
	DialTimeout time.Duration
	// Sessions, when listening, ends the agent after this many sessions
	// (0: until ctx ends).
	Sessions int
	// Log receives one line per event (default io.Discard).
	Log io.Writer
	// Ready, when set, is called with the listening address once the
	// agent listens (tests use it with port 0).
	Ready func(addr string)
}

func (o AgentOptions) normalize() (AgentOptions, error) {
	if err := o.Auth.Check(); err != nil {
		return o, err
	}
	if o.Listen == "" {
		o.Listen = DefaultAgentListen
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "agent"
		}
		o.Name = h + "/" + strconv.Itoa(o.Index)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, nil
}

// RunAgent serves coordinators until ctx ends (listening) or its one
// session is over (dialling).
func RunAgent(ctx context.Context, opts AgentOptions) error {
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	if o.Coordinator != "" {
		c, err := dialRetry(ctx, o.Coordinator, o.DialTimeout)
		if err != nil {
			return err
		}
		return serveSession(ctx, c, o)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("agent: listen on %s: %w", o.Listen, err)
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	fmt.Fprintf(o.Log, "agent %s: listening on %s\n", o.Name, ln.Addr())
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	for n := 0; o.Sessions == 0 || n < o.Sessions; n++ {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("agent: accept: %w", err)
		}
		// One coordinator at a time: a second one waits in the backlog.
		if err := serveSession(ctx, c, o); err != nil {
			fmt.Fprintf(o.Log, "agent %s: session with %s: %v\n", o.Name, c.RemoteAddr(), err)
		}
	}
	return nil
}

func dialRetry(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("agent: could not reach the coordinator at %s within %v: %w (is `lvsperf cluster run` listening there?)", addr, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serveSession runs one coordinator's session: handshake, clock
// exchanges, plan, start, result.
func serveSession(ctx context.Context, nc net.Conn, o AgentOptions) error {
	defer nc.Close()
	c := newConn(nc)
	var idle *cpuidle.Request
	if err := agentHandshake(c, o.Auth, o.Name, o.Index); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "agent %s: coordinator %s authenticated\n", o.Name, nc.RemoteAddr())
	var plan *Plan
	var tr *netpipe.Transmitter
	defer func() {
		if idle != nil {
			idle.Close()
		}
		if tr != nil {
			tr.Close()
		}
	}()
	for {
		m, err := c.recv(0)
		if err != nil {
			return err
		}
		switch m.Type {
		case msgTime:
			t2 := time.Now().UnixNano()
			if err := c.send(message{Type: msgTime, T1: m.T1, T2: t2, T3: time.Now().UnixNano()}, handshakeTimeout); err != nil {
				return err
			}
		case msgPlan:
			if m.Plan == nil {
				return c.send(message{Type: msgError, Error: "plan message without a plan"}, handshakeTimeout)
			}
			if m.Plan.Probe == ProbeNetpipe && m.Plan.Check() == nil && tr == nil {
				if tr, err = netpipe.Dial(ctx, netpipe.Options{Addr: m.Plan.Netpipe.Target}); err != nil {
					err = fmt.Errorf("agent cannot reach the receiver: %w", err)
					_ = c.send(message{Type: msgError, Error: err.Error()}, handshakeTimeout)
					return err
				}
			} else if err := prepare(ctx, *m.Plan); err != nil {
				_ = c.send(message{Type: msgError, Error: err.Error()}, handshakeTimeout)
				return err
			}
			plan = m.Plan
			if plan.IdlePoll && idle == nil {
				if idle, err = cpuidle.Hold(); err != nil {
					err = fmt.Errorf("agent %s: idle polling: %w", o.Name, err)
					_ = c.send(message{Type: msgError, Error: err.Error()}, handshakeTimeout)
					return err
				}
			}
			if err := c.send(message{Type: msgReady}, handshakeTimeout); err != nil {
				return err
			}
		case msgStep:
			if plan == nil || tr == nil || m.Step < 0 || m.Step >= len(plan.Netpipe.Sizes) {
				_ = c.send(message{Type: msgError, Error: fmt.Sprintf("step %d without a netpipe plan of that many sizes", m.Step)}, handshakeTimeout)
				return fmt.Errorf("coordinator sent step %d without a netpipe plan of that many sizes", m.Step)
			}
			if err := runStep(ctx, c, tr, *plan.Netpipe, m); err != nil {
				return err
			}
		case msgStart:
			if plan == nil {
				return c.send(message{Type: msgError, Error: "start before a plan"}, handshakeTimeout)
			}
			return runPlan(ctx, c, *plan, time.Unix(0, m.At), o)
		default:
			_ = c.send(message{Type: msgError, Error: fmt.Sprintf("unexpected %q message", m.Type)}, handshakeTimeout)
			return fmt.Errorf("coordinator sent an unexpected %q message", m.Type)
		}
	}
}

// runStep measures one size of a lock-step netpipe from its instant and
// sends the point back.
func runStep(ctx context.Context, c *conn, tr *netpipe.Transmitter, p NetpipePlan, m message) error {
	n := p.Sizes[m.Step]
	start, late := startat.Wait(ctx, time.Unix(0, m.At))
	ser, err := timing.Sweep(ctx, tr, p.timing(n, m.Step == 0), nil)
	if err != nil {
		err = fmt.Errorf("netpipe %v: %w", n, err)
		_ = c.send(message{Type: msgError, Error: err.Error()}, handshakeTimeout)
		return err
	}
	if len(ser.Points) != 1 {
		return fmt.Errorf("netpipe %v: the sweep measured %d points, want 1", n, len(ser.Points))
	}
	return c.send(message{Type: msgPoint, Step: m.Step, Point: &ser.Points[0], At: start.UnixNano(), Late: int64(late)}, handshakeTimeout)
}

// prepare checks that the plan can run here: the target answers.
func prepare(ctx context.Context, p Plan) error {
	if err := p.Check(); err != nil {
		return err
	}
	po := *p.Ptester
	po.Duration = time.Millisecond
	po.Clients = 1
	po.Rate = 0
	po.Engine = ptester.EngineGoroutines
	if _, err := ptester.Run(ctx, po); err != nil {
		return fmt.Errorf("agent cannot reach the target: %w", err)
	}
	return nil
}

// AgentMeasure is what an agent sends back: its report, with the latency
// histogram for an exact merge and its start in its own clock.
type AgentMeasure struct {
	Report *ptester.Report        `json:"report" msgpack:"report"`
	Hist   *hdrhistogram.Snapshot `json:"hist" msgpack:"hist"`
	// Started is the clients' release in the agent's clock (Unix ns).
	Started int64 `json:"started" msgpack:"started"`
	// Error is set when the run stopped early.
	Error string `json:"error,omitempty" msgpack:"error,omitempty"`
}

// Partial is an agent's progress during the run.
type Partial = ptester.Progress

func runPlan(ctx context.Context, c *conn, p Plan, at time.Time, o AgentOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Losing the coordinator stops the load: nobody would hear its result.
	lost := make(chan error, 1)
	go func() {
		for {
			m, err := c.recv(0)
			if err != nil {
				lost <- err
				cancel()
				return
			}
			if m.Type == msgError {
				lost <- fmt.Errorf("coordinator: %s", m.Error)
				cancel()
				return
			}
		}
	}()
	var mu sync.Mutex // one writer at a time on the connection
	send := func(m message) error {
		mu.Lock()
		defer mu.Unlock()
		return c.send(m, handshakeTimeout)
	}
	po := *p.Ptester
	po.StartAt = at
	po.NoPrefetch = true
	po.Progress = func(pr ptester.Progress) {
		if ctx.Err() == nil {
			_ = send(message{Type: msgProgress, Progress: &pr})
		}
	}
	fmt.Fprintf(o.Log, "agent %s: starting at %v (in %v)\n", o.Name, at.Format(time.RFC3339Nano), time.Until(at).Round(time.Microsecond))
	rep, err := ptester.Run(ctx, po)
	select {
	case lerr := <-lost:
		return fmt.Errorf("agent %s: lost the coordinator during the run: %w", o.Name, lerr)
	default:
	}
	meas := &AgentMeasure{Report: rep}
	if rep != nil {
		meas.Hist = rep.LatencyHistogram()
		meas.Started = rep.Started.UnixNano()
	}
	if err != nil {
		meas.Error = err.Error()
	}
	if serr := send(message{Type: msgResult, Result: meas}); serr != nil {
		return errors.Join(err, serr)
	}
	fmt.Fprintf(o.Log, "agent %s: done, %d requests\n", o.Name, reqs(rep))
	// Wait for the coordinator to close, so the result is not lost to a
	// reset from an early close.
	select {
	case <-lost:
	case <-time.After(handshakeTimeout):
	}
	return err
}

func reqs(r *ptester.Report) uint64 {
	if r == nil {
		return 0
	}
	return r.Requests
}
