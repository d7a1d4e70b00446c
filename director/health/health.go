package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Weighter is what a checker acts on; *director.Director satisfies it.
type Weighter interface {
	SetWeight(proto dataplane.Protocol, vip, rip netip.AddrPort, weight int) error
}

// Remover is what a checker needs when Options.Remove is set;
// *director.Director satisfies it.
type Remover interface {
	AddDest(proto dataplane.Protocol, vip netip.AddrPort, c director.DestConfig) error
	DeleteDest(proto dataplane.Protocol, vip, rip netip.AddrPort) error
}

// Target is one realserver of one virtual service to check.
type Target struct {
	// Proto and VIP name the virtual service.
	Proto dataplane.Protocol
	VIP   netip.AddrPort
	// RIP is the realserver within it.
	RIP netip.AddrPort
	// Weight is the weight given back when the realserver recovers.
	Weight int
	// Check is the address to connect to (default RIP), e.g. a TCP port
	// beside a UDP service.
	Check netip.AddrPort
}

// Options configure a Checker. The zero value means the defaults.
type Options struct {
	// Interval between two checks of one realserver (default 1 s).
	Interval time.Duration
	// Timeout of one connect (default half the Interval); it must be
	// shorter than Interval.
	Timeout time.Duration
	// Fall is how many consecutive failures take a realserver out (default 1).
	Fall int
	// Rise is how many consecutive successes bring it back (default 1).
	Rise int
	// Remove deletes a failed realserver instead of quiescing it, and adds
	// it back (Masq, Target.Weight) when it recovers.
	Remove bool
	// OnChange, when set, is called on every transition, from the
	// checking goroutine.
	OnChange func(Change)
}

func (o Options) normalize() (Options, error) {
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = o.Interval / 2
	}
	if o.Fall == 0 {
		o.Fall = 1
	}
	if o.Rise == 0 {
		o.Rise = 1
	}
	switch {
	case o.Interval <= 0:
		return o, fmt.Errorf("health interval %v: want a positive duration", o.Interval)
	case o.Timeout <= 0 || o.Timeout >= o.Interval:
		return o, fmt.Errorf("health timeout %v: want a positive duration shorter than the interval %v", o.Timeout, o.Interval)
	case o.Fall < 1 || o.Rise < 1:
		return o, fmt.Errorf("health fall %d / rise %d: want at least 1 each", o.Fall, o.Rise)
	}
	return o, nil
}

// Change is one transition of a realserver.
type Change struct {
	Time   time.Time
	Target Target
	// Up is the new state.
	Up bool
	// Err is the last check's error when going down.
	Err error
	// ActErr is set when the model refused the change.
	ActErr error
}

// Status is a realserver's current health.
type Status struct {
	Target Target
	Up     bool
	// Checks and Failures count checks done and failed.
	Checks, Failures int64
	// LastErr is the last failed check's error.
	LastErr error
	// Changes counts transitions.
	Changes int
}

// Checker runs the checks. It is safe for concurrent use.
type Checker struct {
	opts   Options
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	status []Status
}

// Start checks every target until ctx is done or Close is called. Targets
// start as up; the first check runs at once.
func Start(ctx context.Context, model Weighter, targets []Target, opts Options) (*Checker, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if model == nil {
		return nil, errors.New("health checks need a model to act on; got nil")
	}
	var rm Remover
	if o.Remove {
		r, ok := model.(Remover)
		if !ok {
			return nil, fmt.Errorf("health option Remove: the model %T cannot add and delete realservers; use quiescing", model)
		}
		rm = r
	}
	c := &Checker{opts: o, status: make([]Status, len(targets))}
	for i, t := range targets {
		if !t.Check.IsValid() {
			t.Check = t.RIP
		}
		if !t.Check.IsValid() || t.Check.Port() == 0 {
			return nil, fmt.Errorf("health target %d: need a realserver address with a port, got %q", i, t.Check)
		}
		c.status[i] = Status{Target: t, Up: true}
	}
	ctx, c.cancel = context.WithCancel(ctx)
	for i := range c.status {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.run(ctx, i, model, rm)
		}()
	}
	return c, nil
}

// Status returns every target's health, in the order given to Start.
func (c *Checker) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Status(nil), c.status...)
}

// Close stops the checks and waits for them to end. Realservers keep the
// weight they have.
func (c *Checker) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Checker) run(ctx context.Context, i int, model Weighter, rm Remover) {
	c.mu.Lock()
	t := c.status[i].Target
	c.mu.Unlock()
	up, fails, oks := true, 0, 0
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		err := c.check(ctx, t.Check)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fails, oks = fails+1, 0
		} else {
			fails, oks = 0, oks+1
		}
		var ch *Change
		switch {
		case up && fails >= c.opts.Fall:
			up = false
			ch = &Change{Time: time.Now(), Target: t, Up: false, Err: err}
			if rm != nil {
				ch.ActErr = rm.DeleteDest(t.Proto, t.VIP, t.RIP)
			} else {
				ch.ActErr = model.SetWeight(t.Proto, t.VIP, t.RIP, 0)
			}
		case !up && oks >= c.opts.Rise:
			up = true
			ch = &Change{Time: time.Now(), Target: t, Up: true}
			if rm != nil {
				ch.ActErr = rm.AddDest(t.Proto, t.VIP, director.DestConfig{Addr: t.RIP, Weight: t.Weight, Forward: director.Masq})
			} else {
				ch.ActErr = model.SetWeight(t.Proto, t.VIP, t.RIP, t.Weight)
			}
		}
		c.mu.Lock()
		s := &c.status[i]
		s.Checks++
		s.Up = up
		if err != nil {
			s.Failures++
			s.LastErr = err
		}
		if ch != nil {
			s.Changes++
		}
		c.mu.Unlock()
		if ch != nil && c.opts.OnChange != nil {
			c.opts.OnChange(*ch)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check connects to addr and closes at once, as ldirectord's "connect" check.
func (c *Checker) check(ctx context.Context, addr netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return fmt.Errorf("health check of %s: %w", addr, err)
	}
	conn.Close()
	return nil
}
