package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// active is an active-mode session: jlaffaye/ftp v0.2.4 speaks passive
// mode only, so the control connection is driven here with net/textproto
// (which parses replies, multi-line ones included).
type active struct {
	c    *Client
	tp   *textproto.Conn
	conn net.Conn
}

func (c *Client) loginActive(ctx context.Context) (_ session, err error) {
	conn, err := c.dial(ctx, c.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("ftp: connect to %s: %w", c.opts.Addr, err)
	}
	a := &active{c: c, tp: textproto.NewConn(conn), conn: conn}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	if _, _, err := a.tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("ftp: greeting from %s: %w", c.opts.Addr, err)
	}
	code, msg, err := a.cmd(0, "USER %s", c.opts.User)
	if err != nil {
		return nil, err
	}
	switch code {
	case 230:
	case 331:
		if _, _, err := a.cmd(230, "PASS %s", c.opts.Password); err != nil {
			return nil, fmt.Errorf("ftp: log in to %s as %q: %w", c.opts.Addr, c.opts.User, err)
		}
	default:
		return nil, fmt.Errorf("ftp: log in to %s as %q: %d %s", c.opts.Addr, c.opts.User, code, msg)
	}
	if _, _, err := a.cmd(200, "TYPE I"); err != nil {
		return nil, err
	}
	return a, nil
}

// cmd sends one command and reads its reply; expect is a reply code, its
// first digit, or 0 for any.
func (a *active) cmd(expect int, format string, args ...any) (int, string, error) {
	line := fmt.Sprintf(format, args...)
	if strings.ContainsAny(line, "\r\n") {
		return 0, "", fmt.Errorf("ftp: command %q holds a line break", line)
	}
	if _, err := a.tp.Cmd("%s", line); err != nil {
		return 0, "", err
	}
	return a.tp.ReadResponse(expect)
}

// PortArg formats the argument of PORT (IPv4) or EPRT (any family) for a
// data listener at addr, and says which command takes it.
func PortArg(addr *net.TCPAddr) (cmd, arg string, err error) {
	if addr.Port < 1 || addr.Port > 65535 {
		return "", "", fmt.Errorf("data port %d: want 1 to 65535", addr.Port)
	}
	if ip4 := addr.IP.To4(); ip4 != nil {
		return "PORT", fmt.Sprintf("%d,%d,%d,%d,%d,%d", ip4[0], ip4[1], ip4[2], ip4[3], addr.Port>>8, addr.Port&0xff), nil
	}
	if addr.IP.To16() != nil {
		return "EPRT", "|2|" + addr.IP.String() + "|" + strconv.Itoa(addr.Port) + "|", nil
	}
	return "", "", fmt.Errorf("data address %v: want an IPv4 or IPv6 address", addr)
}

// open listens beside the control connection, announces the port, sends
// verb, and accepts the server's data connection.
func (a *active) open(verb, name string) (net.Conn, error) {
	local := a.conn.LocalAddr().(*net.TCPAddr)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: local.IP})
	if err != nil {
		return nil, fmt.Errorf("listen for the data connection: %w", err)
	}
	defer ln.Close()
	cmd, arg, err := PortArg(ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, err
	}
	if _, _, err := a.cmd(200, "%s %s", cmd, arg); err != nil {
		return nil, err
	}
	if _, _, err := a.cmd(1, "%s %s", verb, name); err != nil {
		return nil, err
	}
	if err := ln.SetDeadline(time.Now().Add(a.c.opts.Timeout)); err != nil {
		return nil, err
	}
	dc, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("wait for the server's data connection: %w", err)
	}
	return a.c.track(dc), nil
}

func (a *active) get(name string, w io.Writer) (int64, error) {
	dc, err := a.open("RETR", name)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, dc)
	dc.Close()
	_, _, rerr := a.tp.ReadResponse(2)
	return n, errors.Join(err, rerr)
}

func (a *active) put(name string, r io.Reader) error {
	dc, err := a.open("STOR", name)
	if err != nil {
		return err
	}
	_, err = io.Copy(dc, r)
	// Closing the data connection marks the end of the file (stream mode).
	cerr := dc.Close()
	_, _, rerr := a.tp.ReadResponse(2)
	return errors.Join(err, cerr, rerr)
}

func (a *active) size(name string) (int64, error) {
	_, msg, err := a.cmd(213, "SIZE %s", name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(msg), 10, 64)
}

func (a *active) quit() error {
	_, _, err := a.cmd(221, "QUIT")
	return errors.Join(err, a.tp.Close())
}

// ParsePortRange reads a port range such as "30000-30100" (or one port).
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
		return PortRange{}, fmt.Errorf("port range %q: want START-END with 1 <= START <= END <= 65535", s)
	}
	return PortRange{Start: a, End: b}, nil
}
