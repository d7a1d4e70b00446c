package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/paths"
)

// Acceptor runs a server's accept loop: each connection in its own
// goroutine, at most a fixed number at once (the rest wait in the backlog),
// and on Close drops the connections still open and waits for every
// goroutine it started.
type Acceptor struct {
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	accepted atomic.Int64
}

// NewAcceptor returns an Acceptor of ln that serves at most maxConns
// connections at once. It accepts nothing until Serve.
func NewAcceptor(ln net.Listener, maxConns int) *Acceptor {
	ctx, cancel := context.WithCancel(context.Background())
	return &Acceptor{ln: ln, ctx: ctx, cancel: cancel, sem: make(chan struct{}, maxConns), conns: map[net.Conn]struct{}{}}
}

// Context is cancelled when Close begins.
func (a *Acceptor) Context() context.Context { return a.ctx }

// Addr is the address the listener listens on.
func (a *Acceptor) Addr() string { return a.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (a *Acceptor) Accepted() int64 { return a.accepted.Load() }

// Go runs f in a goroutine that Close waits for; f should return once
// Context is done.
func (a *Acceptor) Go(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// Serve starts the accept loop: handle runs once per connection, which is
// closed when handle returns. acceptErr, when set, hears of accept errors
// other than the listener's closing; the loop backs off and goes on.
func (a *Acceptor) Serve(handle func(net.Conn), acceptErr func(error)) {
	a.Go(func() {
		for {
			select {
			case a.sem <- struct{}{}:
			case <-a.ctx.Done():
				return
			}
			c, err := a.ln.Accept()
			if err != nil {
				<-a.sem
				if a.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				if acceptErr != nil {
					acceptErr(err)
				}
				time.Sleep(10 * time.Millisecond) // back off on EMFILE and the like
				continue
			}
			if !a.Track(c) {
				c.Close()
				<-a.sem
				return
			}
			a.accepted.Add(1)
			a.Go(func() {
				defer func() { <-a.sem }()
				defer a.Untrack(c)
				defer c.Close()
				handle(c)
			})
		}
	})
}

// Track makes Close close c too, until Untrack: for connections a handler
// opens itself. Once Close has begun it tracks nothing and reports false.
func (a *Acceptor) Track(c net.Conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return false
	}
	a.conns[c] = struct{}{}
	return true
}

// Untrack forgets a connection Serve or Track tracked.
func (a *Acceptor) Untrack(c net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.conns, c)
}

// Close cancels Context, stops accepting, closes the open connections and
// waits for every goroutine started by Serve and Go. It returns the
// listener's Close error.
func (a *Acceptor) Close() error {
	a.cancel()
	err := a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
	return err
}

// Server is a started server: where it listens, and how it stops.
type Server interface {
	Addr() string
	Close() error
}

// StartServer adapts a server's constructor to a paths.StartServer.
func StartServer[S Server](start func(context.Context) (S, error)) paths.StartServer {
	return func(ctx context.Context) (string, func() error, error) {
		s, err := start(ctx)
		if err != nil {
			return "", nil, err
		}
		return s.Addr(), s.Close, nil
	}
}

// StartSpooling is StartServer for a server that spools to a directory:
// start gets dir, or, when dir is empty and temp is set, a new temporary
// directory named after pattern (as os.MkdirTemp) that is removed when the
// server closes.
func StartSpooling[S Server](dir string, temp bool, pattern string, start func(ctx context.Context, spoolDir string) (S, error)) paths.StartServer {
	return StartSpoolingIn("", dir, temp, pattern, start)
}

// StartSpoolingIn is StartSpooling with the temporary directory made
// inside parent ("" for os.TempDir()): a tmpfs or a real disk, as the
// caller chooses.
func StartSpoolingIn[S Server](parent, dir string, temp bool, pattern string, start func(ctx context.Context, spoolDir string) (S, error)) paths.StartServer {
	return func(ctx context.Context) (string, func() error, error) {
		d, remove, err := spoolDir(parent, dir, temp, pattern)
		if err != nil {
			return "", nil, fmt.Errorf("spool directory: %w", err)
		}
		s, err := start(ctx, d)
		if err != nil {
			remove()
			return "", nil, err
		}
		return s.Addr(), func() error {
			err := s.Close()
			if rerr := remove(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return err
		}, nil
	}
}

// spoolDir returns dir, or, when dir is empty and temp is set, a new
// temporary directory in parent named after pattern. remove deletes the directory
// spoolDir made, and does nothing otherwise.
func spoolDir(parent, dir string, temp bool, pattern string) (_ string, remove func() error, _ error) {
	if dir != "" || !temp {
		return dir, func() error { return nil }, nil
	}
	d, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", nil, err
	}
	return d, func() error { return os.RemoveAll(d) }, nil
}

// CheckSpoolDir reports why dir cannot be a spool directory, if it cannot;
// "" (no spool) is fine.
func CheckSpoolDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("spool directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("spool directory %s is not a directory", dir)
	}
	return nil
}
