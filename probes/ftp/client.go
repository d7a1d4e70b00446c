package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"sync"
	"time"

	jftp "github.com/jlaffaye/ftp"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ClientOptions say which server to get from and put to, and how. The zero
// value of every field but Addr means its default.
type ClientOptions struct {
	// Addr is the server's control connection, host:port.
	Addr string
	// User and Password log in. Default "anonymous" / "lvsperf@".
	User, Password string
	// Active makes the server connect to the client for data (PORT/EPRT);
	// the default is passive (EPSV, falling back to PASV).
	Active bool
	// DisableEPSV sends PASV only in passive mode.
	DisableEPSV bool
	// LoginPerTransfer connects and logs in for every transfer, as running
	// the console ftp client once per file did; the time includes it.
	LoginPerTransfer bool
	// Dir is the server directory holding file.N. Default the login
	// directory (names are sent relative to it).
	Dir string
	// Timeout bounds connecting and each transfer. Default 1 minute.
	Timeout time.Duration
	// Verify checks every byte got against probes.FillFile (inside the timed
	// transfer; for tests).
	Verify bool
}

// DefaultTimeout is ClientOptions.Timeout's default.
const DefaultTimeout = time.Minute

// Normalize returns o with defaults filled in, or an error naming the
// option that makes no sense.
func (o ClientOptions) Normalize() (ClientOptions, error) {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return o, fmt.Errorf("ftp client: address %q: want host:port of the control connection: %w", o.Addr, err)
	}
	if o.User == "" {
		o.User, o.Password = "anonymous", "lvsperf@"
	}
	if o.Dir != "" && path.Clean(o.Dir) != o.Dir {
		return o, fmt.Errorf("ftp client: dir %q: want a clean path", o.Dir)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("ftp client: timeout %v: want a positive duration", o.Timeout)
	}
	return o, nil
}

// Mode names the data connection mode for results.
func (o ClientOptions) Mode() string {
	if o.Active {
		return "active"
	}
	return "passive"
}

// session is one logged-in control connection.
type session interface {
	get(name string, w io.Writer) (int64, error)
	put(name string, r io.Reader) error
	size(name string) (int64, error)
	quit() error
}

// Client gets and puts files. It is used by one goroutine at a time.
type Client struct {
	opts ClientOptions
	// conns are every connection the client dialed or accepted and has not
	// closed, so a cancelled context can cut them.
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	sess  session
}

// Dial connects and logs in (unless LoginPerTransfer, which logs in per
// transfer).
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o, conns: map[net.Conn]struct{}{}}
	if !o.LoginPerTransfer {
		if err := c.bounded(ctx, func() (err error) {
			c.sess, err = c.login(ctx)
			return err
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// track and untrack keep the set of live connections.
func (c *Client) track(conn net.Conn) net.Conn {
	c.mu.Lock()
	c.conns[conn] = struct{}{}
	c.mu.Unlock()
	return &trackedClientConn{Conn: conn, c: c}
}

type trackedClientConn struct {
	net.Conn
	c *Client
}

func (t *trackedClientConn) Close() error {
	t.c.mu.Lock()
	delete(t.c.conns, t.Conn)
	t.c.mu.Unlock()
	return t.Conn.Close()
}

// cut closes every live connection.
func (c *Client) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		conn.Close()
		delete(c.conns, conn)
	}
}

// bounded runs f, cutting every connection when ctx ends or Timeout passes
// so f returns; neither jlaffaye/ftp nor textproto takes a context.
func (c *Client) bounded(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, c.cut)
	err := f()
	if !stop() {
		// The watchdog fired: the session is gone with its connections.
		c.sess = nil
		if ctx.Err() != nil {
			return fmt.Errorf("ftp: %w (after %v or cancelled: every connection was closed)", ctx.Err(), c.opts.Timeout)
		}
	}
	return err
}

func (c *Client) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: c.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.track(conn), nil
}

func (c *Client) login(ctx context.Context) (session, error) {
	if c.opts.Active {
		return c.loginActive(ctx)
	}
	sc, err := jftp.Dial(c.opts.Addr,
		// Data connections are dialed later, during transfers: they must
		// not inherit the login's context; bounded cuts them instead.
		jftp.DialWithDialFunc(func(network, addr string) (net.Conn, error) { return c.dial(context.WithoutCancel(ctx), addr) }),
		jftp.DialWithDisabledEPSV(c.opts.DisableEPSV),
		jftp.DialWithShutTimeout(c.opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("ftp: connect to %s: %w", c.opts.Addr, err)
	}
	if err := sc.Login(c.opts.User, c.opts.Password); err != nil {
		sc.Quit()
		return nil, fmt.Errorf("ftp: log in to %s as %q: %w", c.opts.Addr, c.opts.User, err)
	}
	return &passive{sc: sc}, nil
}

// passive is a jlaffaye/ftp session.
type passive struct{ sc *jftp.ServerConn }

func (p *passive) get(name string, w io.Writer) (int64, error) {
	r, err := p.sc.Retr(name)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, r)
	// Close reads the 226 and must come before the next command.
	return n, errors.Join(err, r.Close())
}

func (p *passive) put(name string, r io.Reader) error { return p.sc.Stor(name, r) }

func (p *passive) size(name string) (int64, error) { return p.sc.FileSize(name) }

func (p *passive) quit() error { return p.sc.Quit() }

func (c *Client) path(name string) string {
	if c.opts.Dir == "" {
		return name
	}
	return path.Join(c.opts.Dir, name)
}

// transfer runs f on a session, logging in first (and out after) when the
// client logs in per transfer, and returns the time from the first byte of
// the login (or of the command) to the transfer's final reply.
func (c *Client) transfer(ctx context.Context, f func(s session) error) (time.Duration, error) {
	var d time.Duration
	err := c.bounded(ctx, func() error {
		t0 := time.Now()
		s := c.sess
		if s == nil {
			var err error
			if s, err = c.login(ctx); err != nil {
				return err
			}
			if !c.opts.LoginPerTransfer {
				c.sess = s
			}
		}
		err := f(s)
		if c.opts.LoginPerTransfer {
			err = errors.Join(err, s.quit())
		}
		d = time.Since(t0)
		return err
	})
	return d, err
}

// Get copies name from the server to nowhere and returns the time it took.
// It fails unless exactly n bytes came.
func (c *Client) Get(ctx context.Context, name string, n timing.Bytes) (time.Duration, error) {
	var got int64
	d, err := c.transfer(ctx, func(s session) error {
		var w io.Writer = io.Discard
		var v *verifier
		if c.opts.Verify {
			v = &verifier{}
			w = v
		}
		var err error
		got, err = s.get(c.path(name), w)
		if err == nil && v != nil {
			err = v.err
		}
		return err
	})
	if err != nil {
		return d, fmt.Errorf("ftp get %s (%s) after %d bytes: %w", name, c.opts.Mode(), got, err)
	}
	if got != int64(n) {
		return d, fmt.Errorf("ftp get %s: got %d bytes, want %d: the file on the server has another size", name, got, n)
	}
	return d, nil
}

// Put copies n bytes of probes.FillFile to name on the server and returns the time
// it took, up to the server's 226.
func (c *Client) Put(ctx context.Context, name string, n timing.Bytes) (time.Duration, error) {
	d, err := c.transfer(ctx, func(s session) error {
		return s.put(c.path(name), &patternReader{n: int64(n)})
	})
	if err != nil {
		return d, fmt.Errorf("ftp put %s (%s, %d bytes): %w", name, c.opts.Mode(), n, err)
	}
	return d, nil
}

// Size returns the size of name on the server (SIZE).
func (c *Client) Size(ctx context.Context, name string) (timing.Bytes, error) {
	var size int64
	_, err := c.transfer(ctx, func(s session) (err error) {
		size, err = s.size(c.path(name))
		return err
	})
	return timing.Bytes(size), err
}

// Ensure makes name hold n bytes of probes.FillFile, putting it when it is missing
// or has another size. Gets use it to prepare file.N untimed.
func (c *Client) Ensure(ctx context.Context, name string, n timing.Bytes) error {
	if size, err := c.Size(ctx, name); err == nil && size == n {
		return nil
	}
	_, err := c.Put(ctx, name, n)
	return err
}

// Info describes the client's settings for results.
func (c *Client) Info() map[string]string {
	return map[string]string{
		"ftp_addr":           c.opts.Addr,
		"mode":               c.opts.Mode(),
		"epsv":               strconv.FormatBool(!c.opts.DisableEPSV && !c.opts.Active),
		"login_per_transfer": strconv.FormatBool(c.opts.LoginPerTransfer),
		"timed":              "command (or login) to the final 226, data connection included",
	}
}

// Close logs out.
func (c *Client) Close() error {
	var err error
	if c.sess != nil {
		err = c.sess.quit()
		c.sess = nil
	}
	c.cut()
	return err
}

// patternReader yields n bytes of probes.FillFile.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-r.off))
	probes.FillFile(p[:k], r.off)
	r.off += int64(k)
	return k, nil
}

// verifier checks that what is written to it is probes.FillFile from offset 0.
type verifier struct {
	off  int64
	want []byte
	err  error
}

func (v *verifier) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if cap(v.want) < len(p) {
		v.want = make([]byte, len(p))
	}
	w := v.want[:len(p)]
	probes.FillFile(w, v.off)
	for i := range p {
		if p[i] != w[i] {
			v.err = fmt.Errorf("byte %d is %#02x, want %#02x", v.off+int64(i), p[i], w[i])
			return i, v.err
		}
	}
	v.off += int64(len(p))
	return len(p), nil
}
