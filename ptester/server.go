package ptester

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxFileExp is the largest N served as /file/file.N from memory (2^26 = 64 MiB).
const MaxFileExp = 26

// FilePath returns the URL path of the in-memory file of 2^n bytes.
func FilePath(n int) string { return "/file/file." + strconv.Itoa(n) }

// zeros is built once per process on first use and only ever read: every
// server slices the same 64 MiB of '0' instead of holding its own copy.
var zeros = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<MaxFileExp)
	for i := range b {
		b[i] = '0'
	}
	return b
})

// ParseFilePath returns N for a path "/file/file.N" with 0 ≤ N ≤ MaxFileExp.
func ParseFilePath(p string) (int, error) {
	const prefix = "/file/file."
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return 0, fmt.Errorf("path %q: want %sN", p, prefix)
	}
	if rest == "" || len(rest) > 2 || (len(rest) == 2 && rest[0] == '0') {
		return 0, fmt.Errorf("path %q: want N from 0 to %d after %q", p, MaxFileExp, prefix)
	}
	n := 0
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("path %q: N must be decimal digits, got %q", p, rest)
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxFileExp {
		return 0, fmt.Errorf("path %q: N is %d, want at most %d", p, n, MaxFileExp)
	}
	return n, nil
}

// ServerOptions configure a file server. The zero value serves the in-memory
// files on 127.0.0.1 with Apache-like keep-alive limits.
type ServerOptions struct {
	// Addr to listen on; default "127.0.0.1:0".
	Addr string
	// Dir, when set, serves /file/NAME from real files in Dir (sendfile, page
	// cache) instead of memory, to show the effect of files that do not fit.
	Dir string
	// MaxKeepAliveRequests is the number of requests served on one
	// connection before the server closes it (Apache's MaxKeepAliveRequests);
	// 0 means the default 100, negative means unlimited.
	MaxKeepAliveRequests int
	// KeepAliveTimeout closes a connection idle this long between requests;
	// default 15 s (Apache's 15, as in the seed's httpd.conf).
	KeepAliveTimeout time.Duration
	// ReadHeaderTimeout bounds the time to read one request's headers; default 10 s.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's header size; default 8 KiB.
	MaxHeaderBytes int
	// Stall, if set, is called before each response; tests use it to make the
	// server slow or misbehave. It must not be set from the command line.
	Stall func(req uint64) time.Duration `json:"-"`
}

// Normalize fills defaults.
func (o ServerOptions) Normalize() (ServerOptions, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.MaxKeepAliveRequests == 0 {
		o.MaxKeepAliveRequests = 100
	}
	if o.KeepAliveTimeout == 0 {
		o.KeepAliveTimeout = 15 * time.Second
	}
	if o.KeepAliveTimeout < 0 {
		return o, fmt.Errorf("keep-alive timeout %v: want a positive duration", o.KeepAliveTimeout)
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 8 << 10
	}
	if o.Dir != "" {
		st, err := os.Stat(o.Dir)
		if err != nil {
			return o, fmt.Errorf("--dir %q: %w", o.Dir, err)
		}
		if !st.IsDir() {
			return o, fmt.Errorf("--dir %q: want a directory, found a file", o.Dir)
		}
	}
	return o, nil
}

// ServerStats counts what a server did.
type ServerStats struct {
	Conns    uint64 // connections accepted
	Requests uint64 // requests answered (any status)
	NotFound uint64 // 404s
}

// Server is a running file server.
type Server struct {
	opts     ServerOptions
	ln       net.Listener
	srv      *http.Server
	done     chan error
	conns    atomic.Uint64
	requests atomic.Uint64
	notFound atomic.Uint64
	files    http.Handler
}

type connKey struct{}

// connState is per connection: how many requests it has carried.
type connState struct{ n int }

// NewFileServer starts a file server and returns once it is listening.
func NewFileServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("http server: listen on %s: %w", o.Addr, err)
	}
	s := &Server{opts: o, ln: ln, done: make(chan error, 1)}
	if o.Dir != "" {
		s.files = http.StripPrefix("/file/", http.FileServer(http.Dir(o.Dir)))
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.KeepAliveTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		// A slow client reading a 64 MiB body is fine; one that stops
		// reading entirely is cut off by WriteTimeout.
		WriteTimeout: 5 * time.Minute,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			s.conns.Add(1)
			return context.WithValue(ctx, connKey{}, &connState{})
		},
		ErrorLog: nil,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stats returns the server's counters so far.
func (s *Server) Stats() ServerStats {
	return ServerStats{Conns: s.conns.Load(), Requests: s.requests.Load(), NotFound: s.notFound.Load()}
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	err := s.srv.Close()
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// ServeHTTP answers GET and HEAD for /file/file.N (or /file/NAME with Dir).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	if cs, ok := r.Context().Value(connKey{}).(*connState); ok {
		cs.n++
		if s.opts.MaxKeepAliveRequests > 0 && cs.n >= s.opts.MaxKeepAliveRequests {
			w.Header().Set("Connection", "close")
		}
	}
	if s.opts.Stall != nil {
		if d := s.opts.Stall(n); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: want GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	if s.files != nil {
		if !strings.HasPrefix(r.URL.Path, "/file/") {
			s.notFound.Add(1)
			http.NotFound(w, r)
			return
		}
		s.files.ServeHTTP(w, r)
		return
	}
	exp, err := ParseFilePath(r.URL.Path)
	if err != nil {
		s.notFound.Add(1)
		http.Error(w, "404 not found: "+err.Error(), http.StatusNotFound)
		return
	}
	body := zeros()[:1<<exp]
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body) // a client that goes away mid-body is not our error
}
