package rsh

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Wire limits. netkit rshd caps user names at 16 characters; the command is
// bounded far below ARG_MAX because the server only runs copy sinks.
const (
	maxPortLen    = 5
	maxUserLen    = 16
	maxCommandLen = 1024
	maxMessageLen = 1024
	// statusOK and statusError are rshd's answer to the request.
	statusOK    = 0x00
	statusError = 0x01
)

// ErrProtocol marks a request that does not follow the rcmd protocol.
var ErrProtocol = errors.New("rcmd protocol error")

// Request is what a client sends before its data.
type Request struct {
	// StderrPort is the client's port for the stderr channel, 0 for none.
	StderrPort int
	LocalUser  string
	RemoteUser string
	Command    string
}

// readString reads a NUL-terminated string of at most max bytes.
func readString(r *bufio.Reader, what string, max int) (string, error) {
	var b strings.Builder
	for b.Len() <= max {
		c, err := r.ReadByte()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		if c == 0 {
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("%w: %s longer than %d bytes without its NUL terminator", ErrProtocol, what, max)
}

// readRequest reads a request in rshd's order. It calls stderrPort with the
// client's stderr port as soon as it has read it and before it reads
// anything else: glibc rcmd() waits for the back-connection before it sends
// the user names and the command, so reading on first would deadlock.
func readRequest(r *bufio.Reader, stderrPort func(port int) error) (Request, error) {
	var req Request
	ps, err := readString(r, "stderr port", maxPortLen)
	if err != nil {
		return req, err
	}
	// glibc rcmd() with no stderr channel (fd2p NULL, as netkit rcp calls
	// it) sends an empty string, which BSD rshd's atoi reads as 0.
	port := 0
	if ps != "" {
		port, err = strconv.Atoi(ps)
		if err != nil || port < 0 || port > 65535 || (len(ps) > 1 && ps[0] == '0') {
			return req, fmt.Errorf("%w: stderr port %q is not a decimal port number (0 or empty for none)", ErrProtocol, ps)
		}
	}
	req.StderrPort = port
	if err := stderrPort(port); err != nil {
		return req, err
	}
	if req.LocalUser, err = readString(r, "local user name", maxUserLen); err != nil {
		return req, err
	}
	if req.RemoteUser, err = readString(r, "remote user name", maxUserLen); err != nil {
		return req, err
	}
	if req.Command, err = readString(r, "command", maxCommandLen); err != nil {
		return req, err
	}
	for _, s := range []struct{ what, v string }{{"local user name", req.LocalUser}, {"remote user name", req.RemoteUser}} {
		if s.v == "" || strings.ContainsFunc(s.v, func(c rune) bool { return c <= ' ' || c > '~' }) {
			return req, fmt.Errorf("%w: %s %q is empty or not printable ASCII", ErrProtocol, s.what, s.v)
		}
	}
	return req, nil
}

// SinkKind says where a copy goes.
type SinkKind int

// Sink kinds.
const (
	// SinkNull is `cat > /dev/null`.
	SinkNull SinkKind = iota + 1
	// SinkFile is `cat > NAME` (or `(cd DIR; cat > NAME)`) into the spool directory.
	SinkFile
	// KindRcp is rcp's remote side, `rcp -t PATH` or `rcp -f PATH...`,
	// with PATH inside the spool directory (or -t /dev/null).
	KindRcp
)

// Command is a parsed copy command.
type Command struct {
	Kind SinkKind
	// Name is the file name in the spool directory for SinkFile.
	Name string
	// Dir is the directory the command named with cd, mapped onto the
	// spool directory; recorded only.
	Dir string
	// Rcp is the rcp command for KindRcp.
	Rcp *RcpCommand
}

var (
	catRE  = regexp.MustCompile(`^(?:cd\s+([^\s;&|()<>'"$` + "`" + `\\]+)\s*(?:;|&&)\s*)?cat\s*>\s*([^\s;&|()<>'"$` + "`" + `\\]+)$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,254}$`)
	dirRE  = regexp.MustCompile(`^/?[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)*/?$`)
)

// ParseCommand accepts only the probe's sinks: `cat > /dev/null`,
// `cat > NAME` and the seed's `(cd DIR; cat > NAME)`, optionally in
// parentheses, and rcp's remote side (RcpCommand). NAME must be a plain file name (no `/`, no leading dot, no
// `..`); DIR must be a path without `..` components and is mapped onto the
// spool directory. Anything else is refused with a message saying what is
// accepted.
func ParseCommand(s string) (Command, error) {
	refuse := func(why string) (Command, error) {
		return Command{}, fmt.Errorf("command %.80q refused: %s; this rshd runs only `cat > /dev/null`, `cat > NAME`, `(cd DIR; cat > NAME)` and rcp's `rcp -t PATH` and `rcp -f PATH`", s, why)
	}
	t := strings.TrimSpace(s)
	if words := strings.Fields(t); len(words) > 0 && words[0] == "rcp" {
		rc, err := parseRcp(words[1:])
		if err != nil {
			return refuse(err.Error())
		}
		return Command{Kind: KindRcp, Rcp: rc}, nil
	}
	if strings.HasPrefix(t, "(") != strings.HasSuffix(t, ")") {
		return refuse("unbalanced parentheses")
	}
	if strings.HasPrefix(t, "(") {
		t = strings.TrimSpace(t[1 : len(t)-1])
	}
	m := catRE.FindStringSubmatch(t)
	if m == nil {
		return refuse("not a copy sink")
	}
	dir, target := m[1], m[2]
	if dir != "" {
		if !dirRE.MatchString(dir) {
			return refuse("cd needs a plain directory path")
		}
		for _, part := range strings.Split(dir, "/") {
			if part == ".." {
				return refuse("the directory escapes with ..")
			}
		}
	}
	if target == "/dev/null" {
		return Command{Kind: SinkNull, Dir: dir}, nil
	}
	if strings.Contains(target, "/") {
		return refuse("the target must be /dev/null or a plain file name without /")
	}
	if target == "." || target == ".." || !nameRE.MatchString(target) {
		return refuse("the file name must be letters, digits, . _ + - and must not start with a dot")
	}
	return Command{Kind: SinkFile, Name: target, Dir: dir}, nil
}
