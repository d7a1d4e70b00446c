package rsh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rcp's wire protocol (BSD rcp, the remote side run as `rcp -t` or
// `rcp -f`), as observed from netkit rcp:
//
//   - The sink (the side that receives) sends one \0 when it is ready.
//   - The source sends, per file, an optional "T<mtime> 0 <atime> 0\n"
//     (with -p), then "C<mode> <size> <name>\n", then size bytes and one
//     \0; per directory (with -r) "D<mode> 0 <name>\n", its entries and
//     "E\n".
//   - The sink answers every line and every file's trailing \0 with a
//     response: \0 for yes, \1 and a message ending in \n for an error the
//     transfer survives, \2 and a message for a fatal one. The source
//     answers a file it cannot send with \1 and a message in place of its
//     lines, and a file it could not read whole with \1 and a message in
//     place of the trailing \0.
const (
	rcpOK    = 0x00
	rcpError = 0x01
	rcpFatal = 0x02
	// maxRcpLine bounds a control line: mode, size and a 255-byte name.
	maxRcpLine = 512
)

// RcpCommand is a parsed rcp remote side: `rcp [-r] [-p] [-d] -t PATH`
// (the server receives into PATH) or `rcp [-r] [-p] -f PATH...` (the server
// sends PATHs).
type RcpCommand struct {
	// To is set for -t: the server is the sink.
	To bool
	// Recursive (-r) allows directories; Preserve (-p) sends and applies
	// times and modes; TargetDir (-d) says the target must be a directory.
	Recursive, Preserve, TargetDir bool
	// Paths are the target (one, for -t) or the sources (for -f).
	Paths []string
}

var rcpPathRE = regexp.MustCompile(`^[A-Za-z0-9._+/-]+$`)

// parseRcp reads the words after "rcp".
func parseRcp(words []string) (*RcpCommand, error) {
	var c RcpCommand
	mode := ""
	i := 0
	for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		for _, f := range words[i][1:] {
			switch f {
			case 'r':
				c.Recursive = true
			case 'p':
				c.Preserve = true
			case 'd':
				c.TargetDir = true
			case 't', 'f':
				if mode != "" {
					return nil, errors.New("rcp takes one of -t and -f")
				}
				mode = string(f)
			default:
				return nil, fmt.Errorf("rcp option -%c is not supported (only -r, -p, -d, -t and -f)", f)
			}
		}
	}
	if mode == "" {
		return nil, errors.New("rcp's remote side needs -t or -f")
	}
	c.To = mode == "t"
	c.Paths = words[i:]
	if len(c.Paths) == 0 || c.To && len(c.Paths) != 1 {
		return nil, errors.New("rcp -t takes one target and rcp -f at least one source")
	}
	for _, p := range c.Paths {
		if len(p) > maxCommandLen || !rcpPathRE.MatchString(p) {
			return nil, fmt.Errorf("rcp path %.80q must be letters, digits and . _ + - /", p)
		}
		for _, part := range strings.Split(p, "/") {
			if part == ".." {
				return nil, fmt.Errorf("rcp path %q escapes with ..", p)
			}
		}
	}
	return &c, nil
}

// spoolPath maps an rcp path onto the spool directory, which stands for
// both / and the home directory: "/usr/file.20" and "usr/file.20" name the
// same file.
func spoolPath(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// strerror words an error as rcp does: glibc's message, capitalised.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// rcpTimes is a "T" line: modification and access times.
type rcpTimes struct{ mtime, atime time.Time }

// rcpFile is a "C" or "D" line.
type rcpFile struct {
	dir  bool
	mode uint32
	size int64
	name string
}

// parseRcpTimes reads the rest of a "T" line: "mtime 0 atime 0".
func parseRcpTimes(line string) (rcpTimes, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return rcpTimes{}, fmt.Errorf("time line %q: want \"mtime usec atime usec\"", line)
	}
	var v [4]int64
	for i, s := range f {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || (i%2 == 1 && n >= 1_000_000) {
			return rcpTimes{}, fmt.Errorf("time line %q: field %q is not a time", line, s)
		}
		v[i] = n
	}
	return rcpTimes{mtime: time.Unix(v[0], v[1]*1000), atime: time.Unix(v[2], v[3]*1000)}, nil
}

// parseRcpFile reads a "C" or "D" line after its letter: "mode size name".
func parseRcpFile(kind byte, line string) (rcpFile, error) {
	f := rcpFile{dir: kind == 'D'}
	modeS, rest, ok1 := strings.Cut(line, " ")
	sizeS, name, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return f, fmt.Errorf("%c line %q: want \"mode size name\"", kind, line)
	}
	mode, err := strconv.ParseUint(modeS, 8, 32)
	if err != nil || len(modeS) != 4 || mode > 0o7777 {
		return f, fmt.Errorf("%c line %q: bad mode %q", kind, line, modeS)
	}
	size, err := strconv.ParseInt(sizeS, 10, 64)
	if err != nil || size < 0 {
		return f, fmt.Errorf("%c line %q: bad size %q", kind, line, sizeS)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
		return f, fmt.Errorf("unexpected filename: %q", name)
	}
	f.mode, f.size, f.name = uint32(mode), size, name
	return f, nil
}

// readRcpLine reads a line up to \n (dropped), at most maxRcpLine bytes.
func readRcpLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for b.Len() <= maxRcpLine {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		if c == '\n' {
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return b.String(), fmt.Errorf("rcp line longer than %d bytes", maxRcpLine)
}

// RcpError is an error message one rcp side sent the other (\1 or \2 and
// a line), as the real rcp prints it.
type RcpError struct {
	Fatal bool
	// Message is the text without its \n, e.g. "rcp: x: No such file or directory".
	Message string
}

func (e *RcpError) Error() string { return e.Message }

// readResponse reads an rcp response: nil for \0, an *RcpError for \1 or \2.
func readResponse(r *bufio.Reader) error {
	b, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("rcp: lost connection (%w)", err)
	}
	switch b {
	case rcpOK:
		return nil
	case rcpError, rcpFatal:
		line, _ := readRcpLine(r)
		return &RcpError{Fatal: b == rcpFatal, Message: line}
	}
	line, _ := readRcpLine(r)
	return fmt.Errorf("rcp protocol screwup: want a response byte, got %q", string(b)+line)
}

// sendError sends a \1 (or \2) message line.
func sendError(w io.Writer, fatal bool, msg string) error {
	b := byte(rcpError)
	if fatal {
		b = rcpFatal
	}
	_, err := w.Write(append(append([]byte{b}, msg...), '\n'))
	return err
}
