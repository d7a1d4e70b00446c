package ftp

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"sync"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// Storage says where the embedded server keeps files.
type Storage string

// Storages.
const (
	// Memory keeps files in RAM (afero's MemMapFs).
	Memory Storage = "memory"
	// Disk keeps files in a directory.
	Disk Storage = "disk"
)

// ServerOptions configure the embedded FTP server. The zero value serves an
// empty in-memory store to any user on an ephemeral port of 127.0.0.1.
type ServerOptions struct {
	// Listen is the control connection's address. Default "127.0.0.1:0".
	Listen string
	// Storage is Memory (default) or Disk.
	Storage Storage
	// Dir is Disk's directory. Empty means a temporary directory that Close
	// removes.
	Dir string
	// Sink discards uploads after counting them (`cat > /dev/null`);
	// downloads still come from the store.
	Sink bool
	// Files, when positive, creates file.0 … file.(Files-1) of 2^N bytes at
	// start, so gets need no preparation.
	Files int
	// User and Password, when User is set, are the only login accepted.
	// Otherwise any user name and password log in.
	User, Password string
	// PassivePorts limits passive data ports (both ends inclusive); zero
	// means any free port.
	PassivePorts PortRange
	// ActivePort20 makes active-mode data connections come from port 20
	// as RFC 959 says (needs root); by default they come from any port.
	ActivePort20 bool
	// IdleTimeout drops a control connection idle this long. Default 2 min.
	IdleTimeout time.Duration
	// ConnectTimeout bounds waiting for a data connection. Default 10 s.
	ConnectTimeout time.Duration
	// MaxUpload refuses an upload growing past this size. Default 2 GiB.
	MaxUpload timing.Bytes
}

// PortRange is an inclusive range of TCP ports.
type PortRange struct {
	Start, End int
}

// Defaults for ServerOptions.
const (
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxUpload      = 2 * timing.GiB
	// MaxFiles bounds ServerOptions.Files: file.30 is 1 GiB.
	MaxFiles = 31
)

// Normalize returns o with defaults filled in, or an error naming the
// option that makes no sense.
func (o ServerOptions) Normalize() (ServerOptions, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Storage == "" {
		o.Storage = Memory
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.MaxUpload == 0 {
		o.MaxUpload = DefaultMaxUpload
	}
	switch {
	case o.Storage != Memory && o.Storage != Disk:
		return o, fmt.Errorf("ftp server: storage %q: want %q or %q", o.Storage, Memory, Disk)
	case o.Storage == Memory && o.Dir != "":
		return o, fmt.Errorf("ftp server: a directory (%q) needs storage %q", o.Dir, Disk)
	case o.Files < 0 || o.Files > MaxFiles:
		return o, fmt.Errorf("ftp server: files %d: want 0 to %d", o.Files, MaxFiles)
	case o.PassivePorts != (PortRange{}) && (o.PassivePorts.Start < 1 || o.PassivePorts.End > 65535 || o.PassivePorts.End < o.PassivePorts.Start):
		return o, fmt.Errorf("ftp server: passive ports %d-%d: want 1 <= start <= end <= 65535", o.PassivePorts.Start, o.PassivePorts.End)
	case o.IdleTimeout < time.Second || o.ConnectTimeout < time.Second:
		return o, fmt.Errorf("ftp server: idle timeout %v, connect timeout %v: want at least 1s each (ftpserverlib counts whole seconds)", o.IdleTimeout, o.ConnectTimeout)
	case o.MaxUpload < 0:
		return o, fmt.Errorf("ftp server: max upload %v: want a positive size", o.MaxUpload)
	}
	return o, nil
}

// Server is a running embedded FTP server.
type Server struct {
	opts    ServerOptions
	fs      afero.Fs
	dir     string
	tempDir bool
	ln      *trackedListener
	srv     *ftpserver.FtpServer
	served  chan error
}

// NewServer starts an FTP server. ctx bounds only the start.
func NewServer(ctx context.Context, opts ServerOptions) (_ *Server, err error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, served: make(chan error, 1)}
	switch o.Storage {
	case Memory:
		s.fs = afero.NewMemMapFs()
	case Disk:
		s.dir = o.Dir
		if s.dir == "" {
			if s.dir, err = os.MkdirTemp("", "lvsperf-ftp-*"); err != nil {
				return nil, fmt.Errorf("ftp server: make a temporary directory: %w", err)
			}
			s.tempDir = true
		}
		if st, err := os.Stat(s.dir); err != nil || !st.IsDir() {
			s.removeTemp()
			return nil, fmt.Errorf("ftp server: %q must be an existing directory (%v)", s.dir, err)
		}
		s.fs = afero.NewBasePathFs(afero.NewOsFs(), s.dir)
	}
	if err := MakeFiles(s.fs, o.Files); err != nil {
		s.removeTemp()
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("ftp server: listen on %s: %w", o.Listen, err)
	}
	s.ln = &trackedListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	s.srv = ftpserver.NewFtpServer(&mainDriver{s: s})
	if err := s.srv.Listen(); err != nil {
		ln.Close()
		s.removeTemp()
		return nil, fmt.Errorf("ftp server: %w", err)
	}
	go func() { s.served <- s.srv.Serve() }()
	return s, nil
}

func (s *Server) removeTemp() {
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
}

// Addr is the control connection's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Dir is Disk's directory ("" for Memory).
func (s *Server) Dir() string { return s.dir }

// FS is the store the server serves.
func (s *Server) FS() afero.Fs { return s.fs }

// Clients returns how many control connections are open.
func (s *Server) Clients() int { return s.ln.open() }

// Close stops the server, drops every client and removes a temporary
// directory.
func (s *Server) Close() error {
	err := s.srv.Stop()
	s.ln.closeAll()
	select {
	case <-s.served:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, errors.New("ftp server: serve loop did not stop within 5s"))
	}
	if s.tempDir {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// StartServer returns a paths.StartServer that starts embedded servers
// with opts.
func StartServer(opts ServerOptions) paths.StartServer {
	return probes.StartServer(func(ctx context.Context) (*Server, error) { return NewServer(ctx, opts) })
}

// mainDriver is ftpserverlib's view of the server.
type mainDriver struct{ s *Server }

func (d *mainDriver) GetSettings() (*ftpserver.Settings, error) {
	o := d.s.opts
	st := &ftpserver.Settings{
		Listener:                d.s.ln,
		Banner:                  "lvsperf ftp",
		IdleTimeout:             int(o.IdleTimeout / time.Second),
		ConnectionTimeout:       int(o.ConnectTimeout / time.Second),
		ActiveTransferPortNon20: !o.ActivePort20,
		DisableSite:             true,
		// Data connections must come from the control connection's peer.
		ActiveConnectionsCheck: ftpserver.IPMatchRequired,
		PasvConnectionsCheck:   ftpserver.IPMatchRequired,
	}
	if o.PassivePorts != (PortRange{}) {
		st.PassiveTransferPortRange = ftpserver.PortRange{Start: o.PassivePorts.Start, End: o.PassivePorts.End}
	}
	return st, nil
}

func (d *mainDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	return "lvsperf ftp server ready", nil
}

func (d *mainDriver) ClientDisconnected(cc ftpserver.ClientContext) {}

func (d *mainDriver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	o := d.s.opts
	if o.User != "" {
		okUser := subtle.ConstantTimeCompare([]byte(user), []byte(o.User)) == 1
		okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(o.Password)) == 1
		if !okUser || !okPass {
			return nil, errors.New("login incorrect")
		}
	}
	return &clientDriver{Fs: d.s.fs, sink: o.Sink, max: int64(o.MaxUpload)}, nil
}

func (d *mainDriver) GetTLSConfig() (*tls.Config, error) {
	return nil, errors.New("this benchmark server speaks plain FTP only")
}

// ErrPathEscape is returned for a path that is not clean and absolute or
// has a ".." element.
var ErrPathEscape = errors.New("path must be clean and absolute, without \"..\"")

// ErrResume is returned for REST and APPE uploads: uploads are atomic.
var ErrResume = errors.New("resumed and appended uploads are not supported: an upload replaces the whole file atomically")

func checkPath(name string) error {
	if !path.IsAbs(name) || path.Clean(name) != name {
		return fmt.Errorf("%q: %w", name, ErrPathEscape)
	}
	for _, e := range splitPath(name) {
		if e == ".." {
			return fmt.Errorf("%q: %w", name, ErrPathEscape)
		}
	}
	return nil
}

func splitPath(p string) []string {
	var out []string
	for p != "" && p != "/" {
		var e string
		p, e = path.Split(p)
		p = path.Clean(p)
		out = append(out, e)
		if p == "." {
			break
		}
	}
	return out
}

// clientDriver is one session's view of the store. ftpserverlib resolves
// every path against the session's directory and cleans it before calling
// here, so ".." never leaves the root; checkPath refuses anything else.
type clientDriver struct {
	afero.Fs
	sink bool
	max  int64
}

// GetHandle implements ftpserverlib's ClientDriverExtentionFileTransfer:
// downloads read the store; uploads go to a temporary name in the same
// directory and are renamed into place only when the transfer ended
// cleanly (or are discarded in sink mode).
func (d *clientDriver) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	if flags&(os.O_WRONLY|os.O_RDWR) == 0 {
		f, err := d.Fs.Open(name)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err != nil || st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s is not a regular file", name)
		}
		return f, nil
	}
	if flags&os.O_APPEND != 0 || offset != 0 {
		return nil, ErrResume
	}
	if d.sink {
		return &sinkFile{max: d.max}, nil
	}
	tmp, err := afero.TempFile(d.Fs, path.Dir(name), "."+path.Base(name)+".part-")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: tmp, fs: d.Fs, final: name, max: d.max}, nil
}

// errTooLarge is returned when an upload passes MaxUpload.
var errTooLarge = errors.New("upload larger than the server accepts")

// atomicFile is an upload in progress under a temporary name.
type atomicFile struct {
	afero.File
	fs      afero.Fs
	final   string
	max     int64
	written int64
	failed  error
}

func (f *atomicFile) Write(p []byte) (int, error) {
	if f.written+int64(len(p)) > f.max {
		return 0, fmt.Errorf("%w (%d bytes)", errTooLarge, f.max)
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

// TransferError implements ftpserverlib's FileTransferError: the client
// aborted or the data connection broke, so Close must not publish the file.
func (f *atomicFile) TransferError(err error) { f.failed = err }

func (f *atomicFile) Close() error {
	err := f.File.Close()
	if f.failed != nil || err != nil {
		return errors.Join(f.fs.Remove(f.File.Name()), err, f.failed)
	}
	if err := f.fs.Rename(f.File.Name(), f.final); err != nil {
		f.fs.Remove(f.File.Name())
		return err
	}
	return nil
}

// sinkFile counts an upload and keeps nothing.
type sinkFile struct {
	max     int64
	written int64
}

func (f *sinkFile) Write(p []byte) (int, error) {
	if f.written+int64(len(p)) > f.max {
		return 0, fmt.Errorf("%w (%d bytes)", errTooLarge, f.max)
	}
	f.written += int64(len(p))
	return len(p), nil
}

func (f *sinkFile) Read([]byte) (int, error)       { return 0, io.EOF }
func (f *sinkFile) Seek(int64, int) (int64, error) { return 0, errors.New("a sink cannot seek") }
func (f *sinkFile) Close() error                   { return nil }
func (f *sinkFile) TransferError(error)            {}

// MakeFiles writes /file.0 … /file.(count-1) into fs with probes.FillFile content,
// keeping any that already has the right size.
func MakeFiles(fs afero.Fs, count int) error {
	buf := make([]byte, 1<<20)
	for e := range count {
		name := "/" + probes.FileName(e)
		n := int64(1) << e
		if st, err := fs.Stat(name); err == nil && st.Size() == n && st.Mode().IsRegular() {
			continue
		}
		if err := writePattern(fs, name, n, buf); err != nil {
			return fmt.Errorf("ftp server: make %s: %w", name, err)
		}
	}
	return nil
}

func writePattern(fs afero.Fs, name string, n int64, buf []byte) (err error) {
	f, err := afero.TempFile(fs, "/", "."+path.Base(name)+".part-")
	if err != nil {
		return err
	}
	for off := int64(0); off < n && err == nil; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), n-off)]
		probes.FillFile(b, off)
		_, err = f.Write(b)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(f.Name())
		return err
	}
	return fs.Rename(f.Name(), name)
}

// trackedListener remembers accepted control connections so Close can end
// them (ftpserverlib's Stop closes only the listener).
type trackedListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	shut  bool
}

type trackedConn struct {
	net.Conn
	l    *trackedListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.Conn)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[c] = struct{}{}
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackedListener) closeAll() {
	l.mu.Lock()
	l.shut = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
}

func (l *trackedListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
