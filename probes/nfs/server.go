package nfs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gonfs "github.com/willscott/go-nfs"
	nfshelper "github.com/willscott/go-nfs/helpers"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ServerOptions configure the embedded NFS server. The zero value serves a
// fresh temporary directory on an ephemeral port of 127.0.0.1.
type ServerOptions struct {
	// Listen is the TCP address for both MOUNT and NFS (go-nfs serves them on
	// one port and has no portmapper). Default "127.0.0.1:0".
	Listen string
	// Dir is the exported directory. Empty means a temporary directory that
	// Close removes.
	Dir string
	// Files, when positive, creates file.0 … file.(Files-1) of 2^N bytes in
	// the export at start (as the seed's realservers had), so reads need no
	// preparation. Existing files of the right size are kept.
	Files int
	// IdleTimeout drops a client that sends nothing for this long, mid-record
	// or between calls. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxRecord bounds the RPC record a client may send. Default 17 MiB
	// (a 16 MiB WRITE and its header).
	MaxRecord timing.Bytes
	// HandleCache is how many file handles the server remembers. Default 4096.
	HandleCache int
}

// Defaults for ServerOptions.
const (
	DefaultIdleTimeout = 2 * time.Minute
	DefaultMaxRecord   = 17 * timing.MiB
	DefaultHandleCache = 4096
	// MaxFiles bounds ServerOptions.Files: file.30 is 1 GiB.
	MaxFiles = 31
)

// Normalize returns o with defaults filled in, or an error naming the
// option that makes no sense.
func (o ServerOptions) Normalize() (ServerOptions, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxRecord == 0 {
		o.MaxRecord = DefaultMaxRecord
	}
	if o.HandleCache == 0 {
		o.HandleCache = DefaultHandleCache
	}
	switch {
	case o.Files < 0 || o.Files > MaxFiles:
		return o, fmt.Errorf("nfs server: files %d: want 0 to %d (file.0 … file.%d)", o.Files, MaxFiles, MaxFiles-1)
	case o.IdleTimeout < 0:
		return o, fmt.Errorf("nfs server: idle timeout %v: want a positive duration", o.IdleTimeout)
	case o.MaxRecord < 64*timing.KiB || o.MaxRecord > 1*timing.GiB:
		return o, fmt.Errorf("nfs server: max record %v: want 64KiB to 1GiB", o.MaxRecord)
	case o.HandleCache < 16:
		return o, fmt.Errorf("nfs server: handle cache %d: want at least 16", o.HandleCache)
	}
	return o, nil
}

// Server is a running embedded NFSv3 server.
type Server struct {
	opts    ServerOptions
	dir     string
	tempDir bool
	ln      *guardedListener
	served  chan error
	cancel  context.CancelFunc
	calls   *callCounts
}

// NewServer starts an NFS server exporting opts.Dir as "/".
func NewServer(ctx context.Context, opts ServerOptions) (_ *Server, err error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, dir: o.Dir, served: make(chan error, 1)}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "lvsperf-nfs-*"); err != nil {
			return nil, fmt.Errorf("nfs server: make a temporary export: %w", err)
		}
		s.tempDir = true
	}
	defer func() {
		if err != nil && s.tempDir {
			os.RemoveAll(s.dir)
		}
	}()
	if st, err := os.Stat(s.dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("nfs server: export %q must be an existing directory: %w", s.dir, errors.Join(err, errNotDir(st)))
	}
	if err := MakeFiles(s.dir, o.Files); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("nfs server: listen on %s: %w", o.Listen, err)
	}
	s.ln = &guardedListener{Listener: ln, idle: o.IdleTimeout, maxRecord: int64(o.MaxRecord), conns: map[*guardedConn]struct{}{}}
	s.calls = &callCounts{}
	fs := exportFS{Filesystem: osfs.New(s.dir, osfs.WithBoundOS()), calls: s.calls}
	handler := nfshelper.NewCachingHandler(nfshelper.NewNullAuthHandler(fs), o.HandleCache)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	srv := &gonfs.Server{Handler: handler, Context: sctx}
	go func() { s.served <- srv.Serve(s.ln) }()
	return s, nil
}

func errNotDir(st os.FileInfo) error {
	if st != nil && !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// Addr is the address MOUNT and NFS listen on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Dir is the exported directory.
func (s *Server) Dir() string { return s.dir }

// Payloads returns the READ and WRITE calls served so far and their
// largest payloads.
func (s *Server) Payloads() Payloads { return s.calls.snapshot() }

// Clients returns how many client connections are open.
func (s *Server) Clients() int { return s.ln.open() }

// Close stops the server, drops every client and removes a temporary export.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.closeAll()
	select {
	case <-s.served:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, errors.New("nfs server: serve loop did not stop within 5s of closing its listener"))
	}
	if s.tempDir {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// StartServer returns a paths.StartServer that starts embedded servers with
// opts (each with its own temporary export unless opts.Dir is set).
func StartServer(opts ServerOptions) paths.StartServer {
	return probes.StartServer(func(ctx context.Context) (*Server, error) { return NewServer(ctx, opts) })
}

// MakeFiles writes file.0 … file.(count-1) into dir with probes.FillFile content,
// keeping any that already has the right size.
func MakeFiles(dir string, count int) error {
	for e := range count {
		p := filepath.Join(dir, probes.FileName(e))
		n := int64(1) << e
		if st, err := os.Stat(p); err == nil && st.Size() == n && st.Mode().IsRegular() {
			continue
		}
		if err := writePattern(p, n); err != nil {
			return fmt.Errorf("nfs server: make %s: %w", p, err)
		}
	}
	return nil
}

// writePattern writes n bytes of probes.FillFile to path through a temporary file
// and a rename, so a reader never sees a short file.
func writePattern(path string, n int64) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	buf := make([]byte, min(n, 1<<20))
	for off := int64(0); off < n; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), n-off)]
		probes.FillFile(b, off)
		if _, err = f.Write(b); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
