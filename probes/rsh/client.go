package rsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/user"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// SourcePort says which local ports the client uses.
type SourcePort string

// Source port policies.
const (
	// PortAuto uses reserved ports when the process may bind them and
	// unprivileged ports otherwise. The default.
	PortAuto SourcePort = "auto"
	// PortReserved requires reserved ports (512–1023), as BSD rshd does.
	PortReserved SourcePort = "reserved"
	// PortAny uses unprivileged ports; only servers started with
	// AllowUnreserved accept them.
	PortAny SourcePort = "any"
)

// maxOutput bounds how much of the remote stdout and stderr a client keeps.
const maxOutput = 64 << 10

// ErrRefused is returned when the server answers a request with rshd's
// error byte; the error text carries the server's message.
var ErrRefused = errors.New("rshd refused the command")

// ClientOptions configure Exec. The zero value sends as the current user
// from reserved ports when possible, with a stderr channel, as rsh(1) does.
type ClientOptions struct {
	// LocalUser and RemoteUser default to the current user's name.
	LocalUser, RemoteUser string
	// Ports is the source port policy (default PortAuto).
	Ports SourcePort
	// NoStderr sends "0" instead of opening the stderr channel, as rcmd
	// with a nil fd2p does; stderr then comes down the main connection.
	NoStderr bool
	// HandshakeTimeout bounds connecting, the back-connection and the
	// status byte (default 10s).
	HandshakeTimeout time.Duration
}

func (o ClientOptions) normalize() (ClientOptions, error) {
	if o.LocalUser == "" || o.RemoteUser == "" {
		name := "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		}
		if o.LocalUser == "" {
			o.LocalUser = name
		}
		if o.RemoteUser == "" {
			o.RemoteUser = name
		}
	}
	if o.Ports == "" {
		o.Ports = PortAuto
	}
	if o.Ports != PortAuto && o.Ports != PortReserved && o.Ports != PortAny {
		return o, fmt.Errorf("source ports %q: want %q, %q or %q", o.Ports, PortAuto, PortReserved, PortAny)
	}
	if len(o.LocalUser) > maxUserLen || len(o.RemoteUser) > maxUserLen {
		return o, fmt.Errorf("user names %q, %q: rshd takes at most %d characters", o.LocalUser, o.RemoteUser, maxUserLen)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return o, nil
}

// Result is what a command sent back.
type Result struct {
	// Stdout and Stderr hold the first 64 KiB of each stream.
	Stdout, Stderr []byte
	// Sent is how many bytes of stdin went to the server.
	Sent timing.Bytes
}

// Exec runs command on the rshd at addr with stdin as its input, as
// `rsh host command < file` does: it returns once the server has closed
// both streams (the end of the remote command). A nil stdin sends nothing.
func Exec(ctx context.Context, addr, command string, stdin io.Reader, opts ClientOptions) (Result, error) {
	var res Result
	o, err := opts.normalize()
	if err != nil {
		return res, err
	}
	if len(command) > maxCommandLen {
		return res, fmt.Errorf("command of %d bytes: this client sends at most %d", len(command), maxCommandLen)
	}
	sess, err := open(ctx, addr, command, o, stderrChannelMode(o.NoStderr))
	if err != nil {
		return res, err
	}
	defer sess.close()
	c, br, errc := sess.c, sess.br, sess.errc

	type drained struct {
		b   []byte
		err error
	}
	outc, errcDone := make(chan drained, 1), make(chan drained, 1)
	go func() { b, err := keep(br); outc <- drained{b, err} }()
	if errc != nil {
		go func() { b, err := keep(errc); errcDone <- drained{b, err} }()
	} else {
		errcDone <- drained{}
	}
	if stdin == nil {
		stdin = eof{}
	}
	n, werr := io.Copy(c, stdin)
	res.Sent = timing.Bytes(n)
	if werr == nil {
		werr = c.CloseWrite()
	}
	if werr != nil {
		// The server stopped reading: unblock the readers and report.
		c.Close()
		if errc != nil {
			errc.Close()
		}
	}
	out, eout := <-outc, <-errcDone
	res.Stdout, res.Stderr = out.b, eout.b
	switch {
	case werr != nil:
		return res, fmt.Errorf("rsh %s: send data after %d bytes: %w (remote said %q)", addr, n, ctxErr(ctx, werr), res.Stderr)
	case out.err != nil:
		return res, fmt.Errorf("rsh %s: read output: %w", addr, ctxErr(ctx, out.err))
	case eout.err != nil:
		return res, fmt.Errorf("rsh %s: read stderr channel: %w", addr, ctxErr(ctx, eout.err))
	}
	return res, nil
}

// stderrMode says what a client sends as its stderr port.
type stderrMode int

const (
	// stderrOpen opens the stderr channel, as rsh(1) does.
	stderrOpen stderrMode = iota
	// stderrZero sends "0": no channel.
	stderrZero
	// stderrEmpty sends "": no channel, as glibc rcmd() with a nil fd2p
	// does for netkit rcp.
	stderrEmpty
)

func stderrChannelMode(none bool) stderrMode {
	if none {
		return stderrZero
	}
	return stderrOpen
}

// session is an accepted rcmd request: the main connection (after the
// status byte) and the stderr channel, if one was asked for.
type session struct {
	c     *net.TCPConn
	br    *bufio.Reader
	errc  *net.TCPConn
	stops []func() bool
}

func (s *session) close() {
	for _, stop := range s.stops {
		stop()
	}
	if s.errc != nil {
		s.errc.Close()
	}
	s.c.Close()
}

// open connects to the rshd at addr, sends command and reads the status
// byte. Cancelling ctx closes the session's connections.
func open(ctx context.Context, addr, command string, o ClientOptions, mode stderrMode) (_ *session, err error) {
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	c, err := dial(hctx, nil, addr, o.Ports)
	if err != nil {
		return nil, fmt.Errorf("rsh %s: connect: %w", addr, err)
	}
	s := &session{c: c, br: bufio.NewReader(c)}
	s.stops = append(s.stops, context.AfterFunc(ctx, func() { c.Close() }))
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	c.SetDeadline(time.Now().Add(o.HandshakeTimeout))
	switch mode {
	case stderrZero, stderrEmpty:
		port := "0\x00"
		if mode == stderrEmpty {
			port = "\x00"
		}
		if _, err := io.WriteString(c, port); err != nil {
			return nil, fmt.Errorf("rsh %s: send stderr port: %w", addr, err)
		}
	default:
		errc, err := stderrChannel(hctx, c, s.br, o.Ports)
		if err != nil {
			return nil, fmt.Errorf("rsh %s: stderr channel: %w", addr, err)
		}
		s.errc = errc
		s.stops = append(s.stops, context.AfterFunc(ctx, func() { errc.Close() }))
	}
	req := o.LocalUser + "\x00" + o.RemoteUser + "\x00" + command + "\x00"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fmt.Errorf("rsh %s: send request: %w", addr, err)
	}
	status, err := s.br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("rsh %s: read status byte: %w (the server dropped the connection: is the source port reserved and the user allowed?)", addr, ctxErr(ctx, err))
	}
	if status != statusOK {
		line, _ := readLine(s.br, maxMessageLen)
		return nil, fmt.Errorf("rsh %s: %w: %q", addr, ErrRefused, line)
	}
	c.SetDeadline(time.Time{})
	if s.errc != nil {
		s.errc.SetDeadline(time.Time{})
	}
	return s, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// dial connects from a reserved port, or an unprivileged one as policy allows.
func dial(ctx context.Context, ip net.IP, addr string, p SourcePort) (*net.TCPConn, error) {
	if p != PortAny {
		c, err := probes.DialReserved(ctx, ip, addr, probes.RcmdLow, probes.RcmdHigh)
		if err == nil || p == PortReserved || !errors.Is(err, probes.ErrNotPrivileged) {
			return c, err
		}
	}
	d := net.Dialer{}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// stderrChannel sends the stderr port and waits for the server to connect
// back before anything else is sent, as glibc rcmd() does.
//
// A server that refuses the client (a source port it does not accept)
// answers on the main connection instead of connecting back; like rcmd's
// poll on both sockets, the main connection is watched while waiting and a
// refusal is returned as ErrRefused.
func stderrChannel(ctx context.Context, c *net.TCPConn, br *bufio.Reader, p SourcePort) (*net.TCPConn, error) {
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	var ln *net.TCPListener
	var err error
	if p != PortAny {
		ln, err = probes.ListenReserved(ctx, local.IP, probes.RcmdLow, probes.RcmdHigh)
		if err != nil && (p == PortReserved || !errors.Is(err, probes.ErrNotPrivileged)) {
			return nil, err
		}
	}
	if ln == nil {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", (&net.TCPAddr{IP: local.IP}).String())
		if err != nil {
			return nil, err
		}
		ln = l.(*net.TCPListener)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if _, err := io.WriteString(c, strconv.Itoa(port)+"\x00"); err != nil {
		return nil, fmt.Errorf("send port %d: %w", port, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		ln.SetDeadline(dl)
	}
	type accepted struct {
		c   *net.TCPConn
		err error
	}
	acc := make(chan accepted, 1)
	go func() { ec, err := acceptServer(ln, remote.IP, p, port); acc <- accepted{ec, err} }()
	peeked := make(chan error, 1)
	go func() { _, err := br.Peek(1); peeked <- err }()
	select {
	case a := <-acc:
		// Stop the watch on the main connection before using it again.
		c.SetReadDeadline(time.Unix(1, 0))
		<-peeked
		c.SetReadDeadline(time.Time{})
		return a.c, a.err
	case err := <-peeked:
		ln.Close()
		if a := <-acc; a.c != nil {
			a.c.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("the server closed the connection before connecting back to port %d: %w (is the source port reserved?)", port, err)
		}
		status, _ := br.ReadByte()
		line, _ := readLine(br, maxMessageLen)
		if status == statusOK {
			return nil, fmt.Errorf("the server answered before connecting back to port %d: protocol failure in circuit setup", port)
		}
		return nil, fmt.Errorf("%w: %q", ErrRefused, line)
	}
}

// acceptServer accepts the server's back-connection on ln. Only the server's
// address may connect: a stranger's connection is dropped and the wait goes
// on, bounded by the listener's deadline and a count.
func acceptServer(ln *net.TCPListener, server net.IP, p SourcePort, port int) (*net.TCPConn, error) {
	for range 8 {
		ec, err := ln.AcceptTCP()
		if err != nil {
			return nil, fmt.Errorf("wait for the server to connect back to port %d: %w", port, err)
		}
		ra := ec.RemoteAddr().(*net.TCPAddr)
		if !ra.IP.Equal(server) {
			ec.Close()
			continue
		}
		if p == PortReserved && !probes.IsReserved(ra.Port) {
			ec.Close()
			return nil, fmt.Errorf("the server connected back from port %d, not a reserved one: protocol failure in circuit setup", ra.Port)
		}
		return ec, nil
	}
	return nil, fmt.Errorf("wait for the server on port %d: only connections from other hosts came", port)
}

// keep reads r to EOF, keeping the first maxOutput bytes.
func keep(r io.Reader) ([]byte, error) {
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if room := maxOutput - len(b); room > 0 {
			b = append(b, buf[:min(n, room)]...)
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// readLine reads up to LF or max bytes.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for len(b) < max {
		c, err := r.ReadByte()
		if err != nil || c == '\n' {
			return string(b), err
		}
		b = append(b, c)
	}
	return string(b), nil
}

// eof is an empty input.
type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }
