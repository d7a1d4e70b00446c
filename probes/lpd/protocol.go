package lpd

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lvsperf/lvsperf/timing"
)

// Daemon commands (the first byte of a connection) and receive-job
// subcommands, from RFC 1179.
const (
	cmdPrintWaiting = 0x01
	cmdReceiveJob   = 0x02
	cmdQueueShort   = 0x03
	cmdQueueLong    = 0x04
	cmdRemoveJobs   = 0x05

	subAbort   = 0x01
	subControl = 0x02
	subData    = 0x03

	ackOK   = 0x00
	ackFail = 0x01
)

// Limits on what the server reads.
const (
	maxLine        = 1024
	maxQueueName   = 64
	maxSubcommands = 64
	maxControlLine = 1024
	maxControlRefs = 52
	// DefaultMaxControl bounds a control file.
	DefaultMaxControl timing.Bytes = 64 << 10
)

// ErrProtocol marks input that does not follow RFC 1179 or exceeds a bound.
var ErrProtocol = errors.New("lpd protocol error")

var (
	queueRE   = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,64}$`)
	controlRE = regexp.MustCompile(`^cfA([0-9]{3})([A-Za-z0-9][A-Za-z0-9._-]{0,62})$`)
	dataRE    = regexp.MustCompile(`^df[A-Za-z]([0-9]{3})([A-Za-z0-9][A-Za-z0-9._-]{0,62})$`)
	userRE    = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,32}$`)
)

// readLine reads an LF-terminated line of at most max bytes, without the LF.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b strings.Builder
	for b.Len() <= max {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		if c == '\n' {
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("%w: a line longer than %d bytes", ErrProtocol, max)
}

// Subcommand is one receive-job subcommand line.
type Subcommand struct {
	Code  byte
	Count timing.Bytes
	Name  string
}

// ParseSubcommand reads "\x01", "\x02<count> cfA…" or "\x03<count> dfA…"
// (the line without its LF) and checks the name and the count against
// maxControl and maxData.
func ParseSubcommand(line string, maxControl, maxData timing.Bytes) (Subcommand, error) {
	if line == "" {
		return Subcommand{}, fmt.Errorf("%w: an empty subcommand line", ErrProtocol)
	}
	sc := Subcommand{Code: line[0]}
	switch sc.Code {
	case subAbort:
		return sc, nil
	case subControl, subData:
	default:
		return sc, fmt.Errorf("%w: subcommand 0x%02x: want 01 (abort), 02 (control file) or 03 (data file)", ErrProtocol, sc.Code)
	}
	count, name, ok := strings.Cut(line[1:], " ")
	if !ok {
		return sc, fmt.Errorf("%w: subcommand %q: want <count> SP <name>", ErrProtocol, line)
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 0 || len(count) > 19 || count[0] == '+' {
		return sc, fmt.Errorf("%w: file size %q is not a decimal byte count", ErrProtocol, count)
	}
	sc.Count, sc.Name = timing.Bytes(n), name
	if sc.Code == subControl {
		if !controlRE.MatchString(name) {
			return sc, fmt.Errorf("%w: control file name %q: want cfA, 3 digits and a host name (no /)", ErrProtocol, name)
		}
		if sc.Count == 0 || sc.Count > maxControl {
			return sc, fmt.Errorf("%w: control file of %d bytes: want 1 to %d", ErrProtocol, sc.Count, maxControl)
		}
		return sc, nil
	}
	if !dataRE.MatchString(name) {
		return sc, fmt.Errorf("%w: data file name %q: want dfA, 3 digits and a host name (no /)", ErrProtocol, name)
	}
	if sc.Count > maxData {
		return sc, fmt.Errorf("%w: data file of %d bytes is larger than this queue's limit of %d", ErrProtocol, sc.Count, maxData)
	}
	return sc, nil
}

// Control is a parsed control file.
type Control struct {
	Host, User, JobName, Class, SourceName string
	// Files are the data files to print, in order; Unlink those to remove.
	Files, Unlink []string
}

// ParseControl parses and checks a control file: H and P lines are
// required, every line starts with a command letter, and every data file it
// names belongs to the same job (number and host) as cfName.
func ParseControl(cfName string, b []byte) (Control, error) {
	var c Control
	m := controlRE.FindStringSubmatch(cfName)
	if m == nil {
		return c, fmt.Errorf("%w: control file name %q", ErrProtocol, cfName)
	}
	job := m[1] + m[2]
	lines := strings.Split(string(b), "\n")
	if len(lines) > 2*maxControlRefs+64 {
		return c, fmt.Errorf("%w: control file of %d lines", ErrProtocol, len(lines))
	}
	for i, l := range lines {
		if l == "" {
			continue
		}
		if len(l) > maxControlLine || strings.ContainsAny(l, "\x00\r") {
			return c, fmt.Errorf("%w: control file line %d is too long or holds NUL/CR", ErrProtocol, i+1)
		}
		arg := l[1:]
		switch l[0] {
		case 'H':
			c.Host = arg
		case 'P':
			c.User = arg
		case 'J':
			c.JobName = arg
		case 'C':
			c.Class = arg
		case 'N':
			c.SourceName = arg
		case 'U':
			if err := checkRef(job, arg); err != nil {
				return c, err
			}
			c.Unlink = append(c.Unlink, arg)
		case 'c', 'd', 'f', 'g', 'l', 'n', 'o', 'p', 'r', 't', 'v':
			if err := checkRef(job, arg); err != nil {
				return c, err
			}
			if len(c.Files) >= maxControlRefs {
				return c, fmt.Errorf("%w: more than %d data files in one job", ErrProtocol, maxControlRefs)
			}
			c.Files = append(c.Files, arg)
		case 'I', 'L', 'M', 'S', 'T', 'W', '1', '2', '3', '4':
		default:
			return c, fmt.Errorf("%w: control file line %d starts with %q, not an RFC 1179 command letter", ErrProtocol, i+1, l[0])
		}
	}
	if c.Host == "" || c.User == "" {
		return c, fmt.Errorf("%w: control file lacks its H (host) or P (user) line", ErrProtocol)
	}
	if !userRE.MatchString(c.User) {
		return c, fmt.Errorf("%w: user %q in the P line", ErrProtocol, c.User)
	}
	return c, nil
}

func checkRef(job, name string) error {
	m := dataRE.FindStringSubmatch(name)
	if m == nil || m[1]+m[2] != job {
		return fmt.Errorf("%w: control file names %q, not a data file of job %s", ErrProtocol, name, job)
	}
	return nil
}

// ControlFile builds a control file like rlpr's: H, P, J, N, then an l
// (print literally) and a U (unlink) line for dfName.
func ControlFile(host, user, jobName, dfName string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "H%s\nP%s\nJ%s\nN%s\nl%s\nU%s\n", host, user, jobName, jobName, dfName, dfName)
	return []byte(b.String())
}
