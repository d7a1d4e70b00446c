package embed

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
	"github.com/lvsperf/lvsperf/director/health"
	"github.com/lvsperf/lvsperf/director/proxy"
)

// Options configure an embedded director. The zero value of each field
// means its default.
type Options struct {
	// Proto is the virtual service's protocol (default TCP).
	Proto dataplane.Protocol
	// Scheduler is the IPVS scheduler (default "wlc", as ipvsadm).
	Scheduler string
	// Listen is the virtual service's address (default 127.0.0.1:0, a
	// free loopback port).
	Listen string
	// Realservers are the realservers' host:port addresses (at least one).
	Realservers []string
	// Weights are the realservers' weights, in the same order (default 1
	// each).
	Weights []int
	// HealthInterval, when positive, runs a TCP connect check on every
	// realserver at this interval (TCP services only).
	HealthInterval time.Duration
	// Health tunes the checks (Timeout, Fall, Rise, Remove, OnChange);
	// its Interval is HealthInterval.
	Health health.Options
	// Proxy tunes the engine. A zero Proxy.Copy means proxy.CopySplice
	// here, not the proxy's own default (the event loop, which the
	// standalone director gets). In the process of a probe whose own ends
	// are goroutines, the splice engine's goroutines pass each hop on
	// through the runtime's scheduler, often on the same thread, where the
	// event loop's locked thread needs an OS wake-up per hop: with one
	// client, ptester --via director made 47k persistent requests/s on the
	// splice engine against 17-19k on the event loop (33k with idle
	// polling), and 11k against 7k non-persistent (2026-11-25). The event
	// loop did better only with many clients or with NetPIPE's blocking
	// ends (bench/director's director-eventloop path).
	Proxy proxy.Options
	// Model tunes the director model.
	Model director.Options
}

// Director is a running embedded director.
type Director struct {
	model  *director.Director
	proxy  *proxy.Proxy
	health *health.Checker
	vip    netip.AddrPort
	proto  dataplane.Protocol
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start builds the director and starts serving. It stops when ctx is done
// or Close is called.
func Start(ctx context.Context, o Options) (_ *Director, err error) {
	if o.Proto == "" {
		o.Proto = dataplane.TCP
	}
	if o.Scheduler == "" {
		o.Scheduler = "wlc"
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if len(o.Realservers) == 0 {
		return nil, errors.New("embedded director: no realservers; give at least one host:port")
	}
	if len(o.Weights) != 0 && len(o.Weights) != len(o.Realservers) {
		return nil, fmt.Errorf("embedded director: %d weights for %d realservers; give one weight per realserver or none", len(o.Weights), len(o.Realservers))
	}
	if o.HealthInterval > 0 && o.Proto != dataplane.TCP {
		return nil, fmt.Errorf("embedded director: health checks are TCP connects; a %s service cannot use them, set HealthInterval to 0", o.Proto)
	}
	listen, err := resolve(o.Proto, o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded director listen address: %w", err)
	}
	rips := make([]netip.AddrPort, len(o.Realservers))
	for i, rs := range o.Realservers {
		if rips[i], err = resolve(o.Proto, rs); err != nil {
			return nil, fmt.Errorf("embedded director realserver %d: %w", i+1, err)
		}
		if rips[i].Port() == 0 {
			return nil, fmt.Errorf("embedded director realserver %d: %q has no port; give host:port", i+1, rs)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	d := &Director{model: director.New(o.Model), proto: o.Proto, cancel: cancel}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.model.Run(ctx)
	}()
	po := o.Proxy
	if po.Copy == proxy.CopyDefault {
		po.Copy = proxy.CopySplice
	}
	if d.proxy, err = proxy.New(ctx, d.model, po); err != nil {
		return nil, fmt.Errorf("embedded director: %w", err)
	}
	// Listen first: with port 0 the service's VIP is only known once bound.
	if d.vip, err = d.proxy.Listen(o.Proto, listen); err != nil {
		return nil, fmt.Errorf("embedded director: %w", err)
	}
	if err = d.model.AddService(director.ServiceConfig{Proto: o.Proto, Addr: d.vip, Scheduler: o.Scheduler}); err != nil {
		return nil, fmt.Errorf("embedded director: %w", err)
	}
	var targets []health.Target
	for i, rip := range rips {
		w := 1
		if len(o.Weights) > 0 {
			w = o.Weights[i]
		}
		if err = d.model.AddDest(o.Proto, d.vip, director.DestConfig{Addr: rip, Weight: w, Forward: director.Masq}); err != nil {
			return nil, fmt.Errorf("embedded director realserver %d: %w", i+1, err)
		}
		targets = append(targets, health.Target{Proto: o.Proto, VIP: d.vip, RIP: rip, Weight: w})
	}
	if o.HealthInterval > 0 {
		ho := o.Health
		ho.Interval = o.HealthInterval
		if d.health, err = health.Start(ctx, d.model, targets, ho); err != nil {
			return nil, fmt.Errorf("embedded director: %w", err)
		}
	}
	return d, nil
}

func resolve(proto dataplane.Protocol, hostport string) (netip.AddrPort, error) {
	var ap netip.AddrPort
	if proto == dataplane.UDP {
		a, err := net.ResolveUDPAddr("udp", hostport)
		if err != nil {
			return ap, fmt.Errorf("want host:port, got %q: %w", hostport, err)
		}
		ap = a.AddrPort()
	} else {
		a, err := net.ResolveTCPAddr("tcp", hostport)
		if err != nil {
			return ap, fmt.Errorf("want host:port, got %q: %w", hostport, err)
		}
		ap = a.AddrPort()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// Addr is the virtual service's address, host:port, for clients to dial.
func (d *Director) Addr() string { return d.vip.String() }

// VIP is the virtual service's address.
func (d *Director) VIP() netip.AddrPort { return d.vip }

// Snapshot returns the model's services, realservers, counters and rates.
func (d *Director) Snapshot() director.Snapshot { return d.model.Snapshot() }

// Model is the director model, for listings (ipvsadm -L) and changes.
func (d *Director) Model() *director.Director { return d.model }

// EngineStats returns the proxy engine's own counters.
func (d *Director) EngineStats() proxy.Stats { return d.proxy.Stats() }

// Health returns every realserver's health, or nil without health checks.
func (d *Director) Health() []health.Status {
	if d.health == nil {
		return nil
	}
	return d.health.Status()
}

// Close stops the health checks, the engine (closing every relayed
// connection) and the model, and waits for them.
func (d *Director) Close() error {
	var errs []error
	d.once.Do(func() {
		if d.health != nil {
			errs = append(errs, d.health.Close())
		}
		if d.proxy != nil {
			errs = append(errs, d.proxy.Close())
		}
		d.cancel()
		d.wg.Wait()
	})
	return errors.Join(errs...)
}
