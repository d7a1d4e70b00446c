package ipvsadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

// Engine is the data plane a standalone director serves through;
// *proxy.Proxy satisfies it.
type Engine interface {
	Listen(proto dataplane.Protocol, addr netip.AddrPort) (netip.AddrPort, error)
	Unlisten(proto dataplane.Protocol, addr netip.AddrPort) error
}

// Standalone is a running director driven by ipvsadm commands: after each
// command the engine serves exactly the model's virtual services.
type Standalone struct {
	mu      sync.Mutex // serialises commands
	model   *director.Director
	engine  Engine
	serving map[director.ServiceKey]bool
}

// NewStandalone ties model and engine together. engine may be nil for a
// model without a data plane (listings only).
func NewStandalone(model *director.Director, engine Engine) *Standalone {
	return &Standalone{model: model, engine: engine, serving: map[director.ServiceKey]bool{}}
}

// Model is the director model.
func (s *Standalone) Model() *director.Director { return s.model }

// Handle runs one ipvsadm invocation; it is a Handler for the control socket.
func (s *Standalone) Handle(_ context.Context, args []string, stdin io.Reader, out io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := Run(s.model, args, stdin, out)
	return errors.Join(err, s.sync())
}

// Restore applies a rules file (ipvsadm arguments per line) and starts
// serving its services.
func (s *Standalone) Restore(name string, in io.Reader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(Restore(s.model, name, in), s.sync())
}

// Sync makes the engine serve the model's services; a service the engine
// cannot serve is removed from the model again and reported.
func (s *Standalone) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync()
}

func (s *Standalone) sync() error {
	if s.engine == nil {
		return nil
	}
	want := map[director.ServiceKey]bool{}
	for _, svc := range s.model.Snapshot().Services {
		want[svc.Key()] = true
	}
	var errs []error
	for k := range s.serving {
		if !want[k] {
			if err := s.engine.Unlisten(k.Proto, k.Addr); err != nil {
				errs = append(errs, fmt.Errorf("stop serving %s: %w", k, err))
			}
			delete(s.serving, k)
		}
	}
	for k := range want {
		if s.serving[k] {
			continue
		}
		var err error
		if k.Addr.Port() == 0 {
			err = errors.New("a port-zero (all ports) service needs a kernel engine; the proxy listens on one port per service")
		} else {
			var bound netip.AddrPort
			bound, err = s.engine.Listen(k.Proto, k.Addr)
			if err == nil && bound != k.Addr {
				err = errors.Join(fmt.Errorf("engine bound %s, not %s", bound, k.Addr), s.engine.Unlisten(k.Proto, bound))
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("serve %s: %w; the service was removed again", k, err))
			if derr := s.model.DeleteService(k.Proto, k.Addr); derr != nil {
				errs = append(errs, derr)
			}
			continue
		}
		s.serving[k] = true
	}
	return errors.Join(errs...)
}
