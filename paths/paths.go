package paths

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Via names a path.
type Via string

// Paths.
const (
	Direct   Via = "direct"
	Director Via = "director"
)

// Spec says which path to build.
type Spec struct {
	// Via is Direct (the default) or Director.
	Via Via
	// Scheduler is the director's scheduler (default "rr").
	Scheduler string
	// Realservers is how many servers to start behind the director
	// (default 1; always 1 for Direct).
	Realservers int
	// UDP selects a UDP virtual service instead of TCP.
	UDP bool
}

// StartServer starts one server (a realserver) and returns the address it
// listens on and a function that stops it.
type StartServer func(ctx context.Context) (addr string, stop func() error, err error)

// Path is a running path: Target is what the client dials.
type Path struct {
	Target string
	// Name is recorded in results: "direct" or "director/proxy/<scheduler>".
	Name string
	// Info records how the path was built (realserver addresses, engine).
	Info  map[string]string
	stops []func() error
}

// Close stops the director (if any) and every server, returning the first error.
func (p *Path) Close() error {
	var errs []error
	for i := len(p.stops) - 1; i >= 0; i-- {
		errs = append(errs, p.stops[i]())
	}
	p.stops = nil
	return errors.Join(errs...)
}

// directorFront puts the embedded director in front of addrs. It is set by
// the director integration; see front.go.
type directorFront func(ctx context.Context, s Spec, addrs []string) (target string, info map[string]string, stop func() error, err error)

// Start builds the path in s, starting servers with start.
func Start(ctx context.Context, s Spec, start StartServer) (*Path, error) {
	return startWith(ctx, s, start, frontDirector)
}

func startWith(ctx context.Context, s Spec, start StartServer, front directorFront) (_ *Path, err error) {
	if s.Via == "" {
		s.Via = Direct
	}
	if s.Scheduler == "" {
		s.Scheduler = "rr"
	}
	if s.Realservers == 0 {
		s.Realservers = 1
	}
	switch {
	case s.Via != Direct && s.Via != Director:
		return nil, fmt.Errorf("path %q: want %q or %q", s.Via, Direct, Director)
	case s.Realservers < 1 || s.Realservers > 64:
		return nil, fmt.Errorf("realservers %d: want 1 to 64", s.Realservers)
	case s.Via == Direct && s.Realservers != 1:
		return nil, fmt.Errorf("realservers %d: a direct path has one server; use --via director for more", s.Realservers)
	}
	p := &Path{Info: map[string]string{}}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	var addrs []string
	for i := range s.Realservers {
		addr, stop, err := start(ctx)
		if err != nil {
			return nil, fmt.Errorf("start server %d: %w", i+1, err)
		}
		p.stops = append(p.stops, stop)
		addrs = append(addrs, addr)
		p.Info["realserver"+strconv.Itoa(i+1)] = addr
	}
	if s.Via == Direct {
		p.Target, p.Name = addrs[0], string(Direct)
		return p, nil
	}
	target, info, stop, err := front(ctx, s, addrs)
	if err != nil {
		return nil, fmt.Errorf("start director: %w", err)
	}
	p.stops = append(p.stops, stop)
	for k, v := range info {
		p.Info[k] = v
	}
	p.Target, p.Name = target, "director/proxy/"+s.Scheduler
	return p, nil
}
