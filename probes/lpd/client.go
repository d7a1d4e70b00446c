package lpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ErrRefused is returned when the server answers a step with a non-zero
// ack; the error text carries the step and the server's message if any.
var ErrRefused = errors.New("lpd refused the job")

// Job is one print job with one data file.
type Job struct {
	// Queue is the printer queue (default DefaultQueue).
	Queue string
	// Host and User go into the control file and the file names; they
	// default to this host's name and the current user.
	Host, User string
	// Name is the job name (J and N lines), default "lvsperf".
	Name string
	// Number is the 3-digit job number; negative picks one at random.
	Number int
	// Data holds exactly Size bytes.
	Data io.Reader
	Size timing.Bytes
	// DataFirst sends the data file before the control file
	// (rlpr --send-data-first); the default is rlpr's control file first.
	DataFirst bool
}

// ClientOptions configure Send.
type ClientOptions struct {
	// ReservedPort sends from ports 721–731 as RFC 1179 asks; BSD lpd no
	// longer requires it and the default is an unprivileged port, as
	// `rlpr -N` does.
	ReservedPort bool
	// HandshakeTimeout bounds connecting and each ack (default 10s).
	HandshakeTimeout time.Duration
}

var hostSanitizer = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func (j Job) normalize() (Job, error) {
	if j.Queue == "" {
		j.Queue = DefaultQueue
	}
	if !queueRE.MatchString(j.Queue) {
		return j, fmt.Errorf("queue %q: want letters, digits or . _ + -", j.Queue)
	}
	if j.Host == "" {
		h, _ := os.Hostname()
		h, _, _ = strings.Cut(h, ".")
		j.Host = hostSanitizer.ReplaceAllString(h, "")
		if j.Host == "" {
			j.Host = "localhost"
		}
	}
	if len(j.Host) > 63 || !controlRE.MatchString("cfA000"+j.Host) {
		return j, fmt.Errorf("host %q: want a host name of letters, digits, . _ - (at most 63)", j.Host)
	}
	if j.User == "" {
		j.User = "root"
		if u, err := user.Current(); err == nil && userRE.MatchString(u.Username) {
			j.User = u.Username
		}
	}
	if !userRE.MatchString(j.User) {
		return j, fmt.Errorf("user %q: want 1 to 32 letters, digits or . _ + -", j.User)
	}
	if j.Name == "" {
		j.Name = "lvsperf"
	}
	if strings.ContainsAny(j.Name, "\n\x00") || len(j.Name) > 99 {
		return j, fmt.Errorf("job name %q: want one line of at most 99 bytes", j.Name)
	}
	if j.Number < 0 {
		j.Number = rand.IntN(1000)
	}
	if j.Number > 999 {
		return j, fmt.Errorf("job number %d: want 0 to 999", j.Number)
	}
	if j.Size < 0 {
		return j, fmt.Errorf("data size %d is negative", j.Size)
	}
	if j.Data == nil && j.Size > 0 {
		return j, fmt.Errorf("no data for a job of %d bytes", j.Size)
	}
	return j, nil
}

// Send submits job to the lpd at addr with a receive-job command, checking
// the ack of every step; it returns after the server acknowledged the last
// file, that is when the job is queued.
func Send(ctx context.Context, addr string, job Job, opts ClientOptions) error {
	j, err := job.normalize()
	if err != nil {
		return fmt.Errorf("lpd job: %w", err)
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer cancel()
	var c *net.TCPConn
	if opts.ReservedPort {
		c, err = probes.DialReserved(dctx, nil, addr, probes.LPDLow, probes.LPDHigh)
	} else {
		var d net.Dialer
		var nc net.Conn
		nc, err = d.DialContext(dctx, "tcp", addr)
		if err == nil {
			c = nc.(*net.TCPConn)
		}
	}
	if err != nil {
		return fmt.Errorf("lpd %s: connect: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	br := bufio.NewReader(c)
	step := func(what, line string) error {
		c.SetDeadline(time.Now().Add(opts.HandshakeTimeout))
		if _, err := io.WriteString(c, line); err != nil {
			return fmt.Errorf("lpd %s: send %s: %w", addr, what, ctxErr(ctx, err))
		}
		return readAck(br, c, addr, what, ctx)
	}
	num := fmt.Sprintf("%03d", j.Number)
	cf, df := "cfA"+num+j.Host, "dfA"+num+j.Host
	control := ControlFile(j.Host, j.User, j.Name, df)
	if err := step(stepQueue, "\x02"+j.Queue+"\n"); err != nil {
		return err
	}
	sendControl := func() error {
		if err := step("control file header", "\x02"+strconv.Itoa(len(control))+" "+cf+"\n"); err != nil {
			return err
		}
		return step("control file", string(control)+"\x00")
	}
	sendData := func() error {
		if err := step("data file header", "\x03"+strconv.FormatInt(int64(j.Size), 10)+" "+df+"\n"); err != nil {
			return err
		}
		// Large files may take long: bound each write, not the whole file.
		c.SetDeadline(time.Time{})
		var src io.Reader = eof{}
		if j.Data != nil {
			src = j.Data
		}
		n, err := io.Copy(deadlineWriter{c, opts.HandshakeTimeout}, io.LimitReader(src, int64(j.Size)))
		if err != nil {
			return fmt.Errorf("lpd %s: send data file after %d bytes: %w", addr, n, ctxErr(ctx, err))
		}
		if n != int64(j.Size) {
			return fmt.Errorf("lpd %s: the data ran out after %d of %d bytes", addr, n, j.Size)
		}
		return step("data file", "\x00")
	}
	first, second := sendControl, sendData
	if j.DataFirst {
		first, second = sendData, sendControl
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

func readAck(br *bufio.Reader, c net.Conn, addr, what string, ctx context.Context) error {
	b, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("lpd %s: no ack for %s: %w", addr, what, ctxErr(ctx, err))
	}
	if b == ackOK {
		return nil
	}
	// A message may follow a refusal; wait for it only briefly.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	msg, _ := readLine(br, maxLine)
	return &refusal{addr: addr, step: what, ack: b, msg: strings.TrimSpace(msg)}
}

// stepQueue names the first step, the receive-job command.
const stepQueue = "the receive-job command"

// refusal is a non-zero ack; it matches ErrRefused.
type refusal struct {
	addr, step, msg string
	ack             byte
}

func (r *refusal) Error() string {
	return fmt.Sprintf("lpd %s: %v at %s: ack %d %q", r.addr, ErrRefused, r.step, r.ack, r.msg)
}

func (r *refusal) Unwrap() error { return ErrRefused }

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

type deadlineWriter struct {
	c net.Conn
	d time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(p)
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// Command sends a one-line daemon command (01, 03, 04 or 05) for queue with
// args and returns the server's reply, bounded to 64 KiB.
func Command(ctx context.Context, addr string, code byte, queue string, args ...string) (string, error) {
	if code != cmdPrintWaiting && code != cmdQueueShort && code != cmdQueueLong && code != cmdRemoveJobs {
		return "", fmt.Errorf("lpd command %#x: want 01, 03, 04 or 05 (use Send to print)", code)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("lpd %s: connect: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	line := string([]byte{code}) + strings.Join(append([]string{queue}, args...), " ") + "\n"
	if _, err := io.WriteString(c, line); err != nil {
		return "", fmt.Errorf("lpd %s: send command: %w", addr, err)
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<10))
	if err != nil {
		return string(b), fmt.Errorf("lpd %s: read reply: %w", addr, ctxErr(ctx, err))
	}
	if len(b) > 0 && b[0] == ackFail {
		return string(b[1:]), fmt.Errorf("lpd %s: %w: %s", addr, ErrRefused, strings.TrimSpace(string(b[1:])))
	}
	return string(b), nil
}

// Command codes for Command.
const (
	PrintWaiting = cmdPrintWaiting
	QueueShort   = cmdQueueShort
	QueueLong    = cmdQueueLong
	RemoveJobs   = cmdRemoveJobs
)
