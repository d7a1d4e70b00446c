package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// Coordinator defaults.
const (
	DefaultCoordinatorListen = "127.0.0.1:7411"
	DefaultReadyTimeout      = 60 * time.Second
	DefaultLead              = 300 * time.Millisecond
	DefaultExchanges         = 16
	DefaultGrace             = 10 * time.Second
)

// Options configure a coordinated run. The zero value of each field but
// Plan, Auth and one of Listen/Agents means its default.
type Options struct {
	// Agents are agent addresses to dial. Empty: accept Expect agents on
	// Listen instead (agents started with --coordinator).
	Agents []string
	// Listen is where agents dial in (default DefaultCoordinatorListen).
	Listen string
	// Expect is the number of agents to wait for when listening.
	Expect int
	Auth   Auth
	// Plan is what every agent runs; its Agents field is set here.
	Plan Plan
	// ReadyTimeout bounds the time for every agent to connect, measure its
	// clock and get ready; an agent late for it is named in the error.
	ReadyTimeout time.Duration
	// Lead is how far after the last agent's ready the start instant is.
	Lead time.Duration
	// Exchanges is the number of clock exchanges per agent.
	Exchanges int
	// Grace is how long past the plan's end results are waited for.
	Grace time.Duration
	// Log receives one line per event (default io.Discard).
	Log io.Writer
	// Listening, when set, is called with the address once listening.
	Listening func(addr string)
	// Starting, when set, is called with the start instant (coordinator's
	// clock) once every agent is ready.
	Starting func(at time.Time)
}

func (o Options) normalize() (Options, error) {
	if err := o.Auth.Check(); err != nil {
		return o, err
	}
	if len(o.Agents) == 0 {
		if o.Expect < 1 {
			return o, fmt.Errorf("coordinator: want agent addresses to dial (--agent) or a number of agents to wait for (--agents N)")
		}
		if o.Listen == "" {
			o.Listen = DefaultCoordinatorListen
		}
	} else {
		o.Expect = len(o.Agents)
	}
	o.Plan.Agents = o.Expect
	if err := o.Plan.Check(); err != nil {
		return o, err
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.Lead == 0 {
		o.Lead = DefaultLead
	}
	if o.Exchanges == 0 {
		o.Exchanges = DefaultExchanges
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, nil
}

// session is one agent's connection and what it reported.
type session struct {
	c     *conn
	addr  string
	hello message
	res   AgentResult
}

// Run hands every agent the plan, starts them together and merges their
// results. An agent lost during the run is named in the result, with its
// partial counts; the others' data are kept. Run fails only when the run
// could not start: bad options, an agent that never got ready.
func Run(ctx context.Context, opts Options) (*Result, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	sessions, err := gather(readyCtx, o)
	defer func() {
		for _, s := range sessions {
			if s != nil && s.c != nil {
				s.c.c.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	// Clock and plan for every agent at once; each must be ready in time.
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Go(func() { errs[i] = s.prepare(readyCtx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("not every agent got ready: %w", err)
	}
	startAt := time.Now().Add(o.Lead)
	fmt.Fprintf(o.Log, "coordinator: %d agents ready, start at %s\n", len(sessions), startAt.Format(time.RFC3339Nano))
	if o.Starting != nil {
		o.Starting(startAt)
	}
	res := &Result{Plan: o.Plan, StartAt: startAt, Started: time.Now()}
	if o.Plan.Probe == ProbeNetpipe {
		runSteps(ctx, sessions, o, res)
	} else {
		end := startAt.Add(o.Plan.bound() + o.Grace)
		for _, s := range sessions {
			wg.Go(func() { s.run(ctx, startAt, end, o) })
		}
		wg.Wait()
	}
	res.Finished = time.Now()
	for _, s := range sessions {
		res.Agents = append(res.Agents, s.res)
	}
	sort.Slice(res.Agents, func(i, j int) bool { return res.Agents[i].Index < res.Agents[j].Index })
	if err := res.merge(); err != nil {
		return res, err
	}
	return res, nil
}

// gather connects to (or accepts) every agent and authenticates it.
func gather(ctx context.Context, o Options) ([]*session, error) {
	if len(o.Agents) > 0 {
		sessions := make([]*session, len(o.Agents))
		errs := make([]error, len(o.Agents))
		var wg sync.WaitGroup
		for i, a := range o.Agents {
			wg.Go(func() {
				var d net.Dialer
				nc, err := d.DialContext(ctx, "tcp", a)
				if err != nil {
					errs[i] = fmt.Errorf("agent %s: %w (is `lvsperf agent --listen %s` running?)", a, err, a)
					return
				}
				s := &session{c: newConn(nc), addr: a}
				sessions[i] = s
				if s.hello, err = coordinatorHandshake(s.c, o.Auth); err != nil {
					errs[i] = fmt.Errorf("agent %s: %w", a, err)
				}
			})
		}
		wg.Wait()
		return sessions, errors.Join(errs...)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("coordinator: listen on %s: %w", o.Listen, err)
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	fmt.Fprintf(o.Log, "coordinator: waiting for %d agents on %s\n", o.Expect, ln.Addr())
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	var sessions []*session
	var refused []string
	for len(sessions) < o.Expect {
		nc, err := ln.Accept()
		if err != nil {
			var have []string
			for _, s := range sessions {
				have = append(have, fmt.Sprintf("%d (%s)", s.hello.Index, s.hello.Agent))
			}
			msg := fmt.Sprintf("coordinator: %d of %d agents connected within %v", len(sessions), o.Expect, o.ReadyTimeout)
			if len(have) > 0 {
				msg += "; connected: " + strings.Join(have, ", ") + "; missing indexes: " + missing(sessions, o.Expect)
			}
			if len(refused) > 0 {
				msg += "; refused: " + strings.Join(refused, "; ")
			}
			return sessions, errors.New(msg)
		}
		s := &session{c: newConn(nc), addr: nc.RemoteAddr().String()}
		if s.hello, err = coordinatorHandshake(s.c, o.Auth); err != nil {
			// A stranger or a wrong token is not one of ours: keep waiting.
			refused = append(refused, fmt.Sprintf("%s: %v", s.addr, err))
			fmt.Fprintf(o.Log, "coordinator: refused %s: %v\n", s.addr, err)
			nc.Close()
			continue
		}
		if dup := slices.IndexFunc(sessions, func(t *session) bool { return t.hello.Index == s.hello.Index }); dup >= 0 {
			refused = append(refused, fmt.Sprintf("%s: index %d already taken by %s", s.addr, s.hello.Index, sessions[dup].addr))
			_ = s.c.send(message{Type: msgError, Error: fmt.Sprintf("index %d is taken", s.hello.Index)}, time.Second)
			nc.Close()
			continue
		}
		fmt.Fprintf(o.Log, "coordinator: agent %d (%s) connected from %s\n", s.hello.Index, s.hello.Agent, s.addr)
		sessions = append(sessions, s)
	}
	return sessions, nil
}

func missing(ss []*session, n int) string {
	var out []string
	for i := range n {
		if !slices.ContainsFunc(ss, func(s *session) bool { return s.hello.Index == i }) {
			out = append(out, fmt.Sprint(i))
		}
	}
	if len(out) == 0 {
		return "none by index (indexes outside 0…N-1?)"
	}
	return strings.Join(out, ", ")
}

// prepare measures the agent's clock and hands it the plan.
func (s *session) prepare(ctx context.Context, o Options) error {
	s.res = AgentResult{Index: s.hello.Index, Name: s.hello.Agent, Addr: s.addr}
	stop := context.AfterFunc(ctx, func() { s.c.c.SetDeadline(time.Now()) })
	defer stop()
	name := fmt.Sprintf("agent %d (%s at %s)", s.hello.Index, s.hello.Agent, s.addr)
	xs := make([]Exchange, 0, o.Exchanges)
	for range o.Exchanges {
		t1 := time.Now().UnixNano()
		if err := s.c.send(message{Type: msgTime, T1: t1}, handshakeTimeout); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		m, err := s.c.expect(msgTime, handshakeTimeout)
		if err != nil {
			return fmt.Errorf("%s: clock exchange: %w", name, err)
		}
		t4 := time.Now().UnixNano()
		if m.T1 != t1 {
			return fmt.Errorf("%s: clock exchange answered %d, want %d", name, m.T1, t1)
		}
		xs = append(xs, Exchange{T1: t1, T2: m.T2, T3: m.T3, T4: t4})
	}
	clk, err := Estimate(xs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.res.Clock = clk
	p := o.Plan.forAgent(s.hello.Index)
	if err := s.c.send(message{Type: msgPlan, Plan: &p}, handshakeTimeout); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := s.c.expect(msgReady, 0); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: not ready within %v", name, o.ReadyTimeout)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// run starts the agent at startAt (told in its own clock) and collects its
// progress and result until end.
func (s *session) run(ctx context.Context, startAt, end time.Time, o Options) {
	r := &s.res
	r.StartAt = startAt
	at := startAt.Add(r.Clock.Offset)
	stop := context.AfterFunc(ctx, func() { s.c.c.SetDeadline(time.Now()) })
	defer stop()
	if err := s.c.send(message{Type: msgStart, At: at.UnixNano()}, handshakeTimeout); err != nil {
		r.fail(err, startAt)
		return
	}
	for {
		m, err := s.c.recv(time.Until(end))
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("coordinator interrupted: %w", ctx.Err())
			}
			r.fail(err, startAt)
			fmt.Fprintf(o.Log, "coordinator: agent %d (%s) lost: %s\n", r.Index, r.Name, r.Failed)
			return
		}
		switch m.Type {
		case msgProgress:
			if m.Progress != nil {
				r.Partial = m.Progress
			}
		case msgResult:
			if m.Result == nil || m.Result.Report == nil {
				r.fail(fmt.Errorf("result without a report"), startAt)
				return
			}
			r.take(m.Result)
			return
		default:
			r.fail(fmt.Errorf("unexpected %q message during the run", m.Type), startAt)
			return
		}
	}
}

// stepLead is how far after the last agent's point the next size starts.
const stepLead = 100 * time.Millisecond

// runSteps steps every agent through the netpipe sizes together: one start
// instant per size, the next size once every live agent has answered.
func runSteps(ctx context.Context, sessions []*session, o Options, res *Result) {
	np := o.Plan.Netpipe
	for _, s := range sessions {
		s.res.Series = &timing.Series{Label: fmt.Sprintf("agent %d (%s)", s.hello.Index, s.hello.Agent), Options: np.timing(np.Sizes[0], true)}
	}
	for i, n := range np.Sizes {
		at := time.Now().Add(stepLead)
		if i == 0 {
			at = res.StartAt
		}
		var live []*session
		for _, s := range sessions {
			if s.res.Failed == "" {
				live = append(live, s)
			}
		}
		if len(live) == 0 || ctx.Err() != nil {
			return
		}
		own := make([]time.Time, len(live))
		var wg sync.WaitGroup
		for j, s := range live {
			wg.Go(func() { own[j] = s.step(ctx, i, n, at, np.stepBound()) })
		}
		wg.Wait()
		coord := make([]time.Time, len(own))
		for j, t := range own {
			if !t.IsZero() {
				coord[j] = t.Add(-live[j].res.Clock.Offset)
			}
		}
		res.StepSkews = append(res.StepSkews, spread(own))
		res.Skew = max(res.Skew, spread(coord))
		fmt.Fprintf(o.Log, "coordinator: size %v done by %d agents, start skew %v\n", n, len(live), spread(own))
	}
}

// step runs one size on the agent and returns when the agent's own clock
// said it started (zero when it failed).
func (s *session) step(ctx context.Context, i int, n timing.Bytes, at time.Time, bound time.Duration) time.Time {
	r := &s.res
	stop := context.AfterFunc(ctx, func() { s.c.c.SetDeadline(time.Now()) })
	defer stop()
	if err := s.c.send(message{Type: msgStep, Step: i, At: at.Add(r.Clock.Offset).UnixNano()}, handshakeTimeout); err != nil {
		r.fail(fmt.Errorf("size %v: %w", n, err), at)
		return time.Time{}
	}
	m, err := s.c.expect(msgPoint, bound)
	if err == nil && (m.Point == nil || m.Step != i) {
		err = fmt.Errorf("answered step %d, want %d", m.Step, i)
	}
	if err != nil {
		r.fail(fmt.Errorf("size %v: %w", n, err), at)
		return time.Time{}
	}
	r.Series.Points = append(r.Series.Points, *m.Point)
	own := time.Unix(0, m.At)
	if i == 0 {
		r.StartAt, r.StartedOwn, r.Started = at, own, own.Add(-r.Clock.Offset)
	}
	r.StartLate = max(r.StartLate, time.Duration(m.Late))
	return own
}

// spread is max − min of the non-zero times.
func spread(ts []time.Time) time.Duration {
	var lo, hi time.Time
	for _, t := range ts {
		if t.IsZero() {
			continue
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return hi.Sub(lo)
}
