package lpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultAddr is where lpd listens: the "printer" port on loopback.
const DefaultAddr = "127.0.0.1:515"

// Server defaults.
const (
	DefaultQueue            = "null"
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultMaxConns         = 64
	DefaultMaxData          = 4 * timing.GiB
	copyBuffer              = 128 << 10
	// maxScan bounds the jobs one printer pass or listing looks at.
	maxScan = 10000
)

// Options configure a Server. The zero value listens on DefaultAddr with one
// queue named "null" that discards jobs, like a printcap entry with
// lp=/dev/null.
type Options struct {
	// Listen is the address to listen on (default DefaultAddr).
	Listen string
	// Queue is the queue name jobs must name (default "null").
	Queue string
	// SpoolDir, when set, receives each job (data files then the control
	// file, each through a temporary file renamed when complete); empty
	// discards job data as it arrives, counting it.
	SpoolDir string
	// Fsync syncs each spooled file before it is renamed into place.
	Fsync bool
	// Hold keeps spooled jobs in the queue until a "print waiting jobs"
	// command (01); otherwise each job is printed to /dev/null and removed
	// as soon as it is complete, as lpd does with lp=/dev/null.
	Hold bool
	// MaxControl and MaxData bound control and data files.
	MaxControl, MaxData timing.Bytes
	// HandshakeTimeout bounds reading the command line; IdleTimeout each
	// later read.
	HandshakeTimeout, IdleTimeout time.Duration
	// MaxConns bounds concurrent connections.
	MaxConns int
	// Logf, when set, receives one line per refused or failed job.
	Logf func(format string, args ...any)
}

func (o Options) normalize() (Options, error) {
	if o.Listen == "" {
		o.Listen = DefaultAddr
	}
	if o.Queue == "" {
		o.Queue = DefaultQueue
	}
	if !queueRE.MatchString(o.Queue) {
		return o, fmt.Errorf("queue name %q: want 1 to 64 letters, digits or . _ + -", o.Queue)
	}
	if o.MaxControl <= 0 {
		o.MaxControl = DefaultMaxControl
	}
	if o.MaxData <= 0 {
		o.MaxData = DefaultMaxData
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o, probes.CheckSpoolDir(o.SpoolDir)
}

// Stats counts what a server did.
type Stats struct {
	// Accepted connections, Jobs received whole, Refused commands or
	// subcommands (a non-zero ack), Failed jobs (dropped or incomplete),
	// Printed jobs.
	Accepted, Jobs, Refused, Failed, Printed int64
	// Bytes of data files in whole jobs.
	Bytes timing.Bytes
}

// Server is an RFC 1179 line printer daemon with one queue.
type Server struct {
	opts Options
	acc  *probes.Acceptor
	// ctx is acc's: done when Close begins.
	ctx context.Context
	// kick wakes the printer goroutine, which alone prints and removes
	// jobs from the spool.
	kick chan struct{}
	// spoolMu orders committing jobs against removing them.
	spoolMu sync.Mutex

	jobs, refused, failed, printed, bytes atomic.Int64
}

// NewServer listens on opts.Listen and serves until Close.
func NewServer(opts Options) (*Server, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("lpd server: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("lpd server: listen on %s: %w (port 515 needs root; give another address)", o.Listen, err)
	}
	acc := probes.NewAcceptor(ln, o.MaxConns)
	s := &Server{opts: o, acc: acc, ctx: acc.Context(), kick: make(chan struct{}, 1)}
	acc.Go(s.printer)
	acc.Serve(s.handle, func(err error) { s.logf("lpd: accept: %v", err) })
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.acc.Addr() }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	return Stats{Accepted: s.acc.Accepted(), Jobs: s.jobs.Load(), Refused: s.refused.Load(),
		Failed: s.failed.Load(), Printed: s.printed.Load(), Bytes: timing.Bytes(s.bytes.Load())}
}

// Close stops accepting, drops open connections (their partial jobs are
// removed) and waits for every handler and the printer to return.
func (s *Server) Close() error { return s.acc.Close() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// refuse sends a non-zero ack and a message line, as BSD lpd does.
func (s *Server) refuse(c net.Conn, err error) {
	s.refused.Add(1)
	s.logf("lpd: %v: refused: %v", c.RemoteAddr(), err)
	msg := err.Error()
	if len(msg) > maxLine {
		msg = msg[:maxLine]
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append(append([]byte{ackFail}, "lvsperf-lpd: "+msg...), '\n'))
}

func (s *Server) handle(c net.Conn) {
	c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	br := bufio.NewReaderSize(c, copyBuffer)
	line, err := readLine(br, maxLine)
	if err != nil {
		if !errors.Is(err, io.EOF) || line != "" {
			s.refuse(c, fmt.Errorf("read the command line: %w", err))
		}
		return
	}
	if line == "" {
		s.refuse(c, fmt.Errorf("%w: an empty command line", ErrProtocol))
		return
	}
	code, args := line[0], strings.Fields(line[1:])
	if code < cmdPrintWaiting || code > cmdRemoveJobs {
		s.refuse(c, fmt.Errorf("%w: command 0x%02x: want 01 to 05", ErrProtocol, code))
		return
	}
	if len(args) == 0 || args[0] != s.opts.Queue {
		s.refuse(c, fmt.Errorf("unknown queue %q: this server has the queue %q", strings.Join(args[:min(len(args), 1)], ""), s.opts.Queue))
		return
	}
	switch code {
	case cmdPrintWaiting:
		s.wake()
	case cmdReceiveJob:
		s.receiveJob(c, br)
	case cmdQueueShort, cmdQueueLong:
		c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
		io.WriteString(c, s.listQueue(code == cmdQueueLong, args[1:]))
	case cmdRemoveJobs:
		if len(args) < 2 || !userRE.MatchString(args[1]) {
			s.refuse(c, fmt.Errorf("%w: remove jobs needs an agent (user name)", ErrProtocol))
			return
		}
		c.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
		io.WriteString(c, s.removeJobs(args[1], args[2:]))
	}
}

func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// part is a file of a job being received.
type part struct {
	name string
	tmp  string // temporary file in the spool, "" when discarded
	data []byte // the control file's content
	size timing.Bytes
}

// job is the files received on one connection and not yet committed.
type job struct {
	control *part
	data    map[string]*part
}

func (s *Server) discardJob(j *job) {
	for _, p := range j.data {
		if p.tmp != "" {
			os.Remove(p.tmp)
		}
	}
	j.control, j.data = nil, map[string]*part{}
}

func (s *Server) receiveJob(c net.Conn, br *bufio.Reader) {
	j := &job{data: map[string]*part{}}
	midFile := false
	defer func() {
		if midFile || j.control != nil || len(j.data) > 0 {
			s.failed.Add(1)
			s.logf("lpd: %v: connection ended with an incomplete job: removed", c.RemoteAddr())
		}
		s.discardJob(j)
	}()
	if _, err := c.Write([]byte{ackOK}); err != nil {
		return
	}
	for range maxSubcommands {
		c.SetDeadline(time.Now().Add(s.opts.IdleTimeout))
		line, err := readLine(br, maxLine)
		if errors.Is(err, io.EOF) && line == "" {
			return
		}
		if err != nil {
			s.refuse(c, fmt.Errorf("read a subcommand: %w", err))
			return
		}
		sc, err := ParseSubcommand(line, s.opts.MaxControl, s.opts.MaxData)
		if err != nil {
			s.refuse(c, err)
			return
		}
		if sc.Code == subAbort {
			s.discardJob(j)
			continue
		}
		if _, err := c.Write([]byte{ackOK}); err != nil {
			return
		}
		midFile = true
		p, err := s.receiveFile(c, br, sc)
		if err != nil {
			s.refuse(c, err)
			return
		}
		midFile = false
		if sc.Code == subControl {
			if j.control != nil {
				s.refuse(c, fmt.Errorf("%w: a second control file before the first job was complete", ErrProtocol))
				return
			}
			j.control = p
		} else {
			if old, dup := j.data[p.name]; dup && old.tmp != "" {
				os.Remove(old.tmp)
			}
			j.data[p.name] = p
		}
		if err := s.maybeCommit(j); err != nil {
			s.refuse(c, err)
			return
		}
		if _, err := c.Write([]byte{ackOK}); err != nil {
			return
		}
	}
	s.refuse(c, fmt.Errorf("%w: more than %d subcommands on one connection", ErrProtocol, maxSubcommands))
}

// receiveFile reads sc.Count bytes and the terminating NUL into a part.
func (s *Server) receiveFile(c net.Conn, br *bufio.Reader, sc Subcommand) (p *part, err error) {
	p = &part{name: sc.Name, size: sc.Count}
	var w io.Writer = io.Discard
	var f *os.File
	switch {
	case sc.Code == subControl:
		p.data = make([]byte, 0, sc.Count)
	case s.opts.SpoolDir != "":
		f, err = os.CreateTemp(s.opts.SpoolDir, ".tmp-"+sc.Name+"-*")
		if err != nil {
			return nil, fmt.Errorf("cannot spool %s: %w", sc.Name, err)
		}
		tmp := f.Name()
		p.tmp, w = tmp, f
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				p, err = nil, fmt.Errorf("spool %s: %w", sc.Name, cerr)
			}
			if err != nil {
				os.Remove(tmp)
			}
		}()
	}
	buf := make([]byte, copyBuffer)
	for left := int64(sc.Count); left > 0; {
		c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		n, rerr := br.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			left -= int64(n)
			if p.data != nil {
				p.data = append(p.data, buf[:n]...)
			} else if _, werr := w.Write(buf[:n]); werr != nil {
				return nil, fmt.Errorf("spool %s: %w", sc.Name, werr)
			}
		}
		if rerr != nil && left > 0 {
			return nil, fmt.Errorf("%s ended after %d of %d bytes: %w", sc.Name, int64(sc.Count)-left, sc.Count, rerr)
		}
	}
	c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
	if nul, err := br.ReadByte(); err != nil || nul != 0 {
		return nil, fmt.Errorf("%w: %s: want a NUL byte after its %d bytes (got %#x, %v)", ErrProtocol, sc.Name, sc.Count, nul, err)
	}
	if f != nil && s.opts.Fsync {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("fsync %s: %w", sc.Name, err)
		}
	}
	return p, nil
}

// maybeCommit queues the job once its control file and every data file it
// names have arrived: data files are renamed into place first and the
// control file last, so a job becomes visible only when it is whole.
func (s *Server) maybeCommit(j *job) error {
	if j.control == nil {
		return nil
	}
	ctl, err := ParseControl(j.control.name, j.control.data)
	if err != nil {
		return err
	}
	for _, f := range ctl.Files {
		if j.data[f] == nil {
			return nil
		}
	}
	// Data files the control file does not name would never be printed
	// or removed: drop them rather than queue orphans.
	named := map[string]bool{}
	for _, f := range ctl.Files {
		named[f] = true
	}
	var total timing.Bytes
	for name, p := range j.data {
		if !named[name] {
			if p.tmp != "" {
				os.Remove(p.tmp)
			}
			delete(j.data, name)
			continue
		}
		total += p.size
	}
	if s.opts.SpoolDir != "" {
		if err := s.commit(j); err != nil {
			return err
		}
	}
	s.jobs.Add(1)
	s.bytes.Add(int64(total))
	if s.opts.SpoolDir == "" {
		s.printed.Add(1) // discarded as it arrived: printed on /dev/null
	} else if !s.opts.Hold {
		s.wake()
	}
	j.control, j.data = nil, map[string]*part{}
	return nil
}

func (s *Server) commit(j *job) error {
	s.spoolMu.Lock()
	defer s.spoolMu.Unlock()
	cf := filepath.Join(s.opts.SpoolDir, j.control.name)
	if _, err := os.Lstat(cf); err == nil {
		return fmt.Errorf("job %s is already queued: use another job number", j.control.name)
	}
	for _, p := range j.data {
		if err := os.Rename(p.tmp, filepath.Join(s.opts.SpoolDir, p.name)); err != nil {
			return fmt.Errorf("queue %s: %w", p.name, err)
		}
		p.tmp = ""
	}
	tmp := filepath.Join(s.opts.SpoolDir, ".tmp-"+j.control.name)
	if err := writeFile(tmp, j.control.data, s.opts.Fsync); err != nil {
		return fmt.Errorf("queue %s: %w", j.control.name, err)
	}
	if err := os.Rename(tmp, cf); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("queue %s: %w", j.control.name, err)
	}
	if s.opts.Fsync {
		if d, err := os.Open(s.opts.SpoolDir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

func writeFile(path string, data []byte, fsync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && fsync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// queued lists the complete jobs in the spool: control files, oldest first.
func (s *Server) queued() []queuedJob {
	if s.opts.SpoolDir == "" {
		return nil
	}
	ents, err := os.ReadDir(s.opts.SpoolDir)
	if err != nil {
		s.logf("lpd: read spool: %v", err)
		return nil
	}
	var jobs []queuedJob
	for _, e := range ents {
		if len(jobs) >= maxScan || !e.Type().IsRegular() || !controlRE.MatchString(e.Name()) {
			continue
		}
		b, err := readBounded(filepath.Join(s.opts.SpoolDir, e.Name()), int64(s.opts.MaxControl))
		if err != nil {
			continue
		}
		ctl, err := ParseControl(e.Name(), b)
		if err != nil {
			continue
		}
		info, _ := e.Info()
		q := queuedJob{cf: e.Name(), ctl: ctl}
		if info != nil {
			q.mod = info.ModTime()
		}
		for _, f := range ctl.Files {
			if st, err := os.Stat(filepath.Join(s.opts.SpoolDir, f)); err == nil {
				q.size += timing.Bytes(st.Size())
			}
		}
		jobs = append(jobs, q)
	}
	sort.Slice(jobs, func(a, b int) bool {
		if !jobs[a].mod.Equal(jobs[b].mod) {
			return jobs[a].mod.Before(jobs[b].mod)
		}
		return jobs[a].cf < jobs[b].cf
	})
	return jobs
}

type queuedJob struct {
	cf   string
	ctl  Control
	mod  time.Time
	size timing.Bytes
}

func (q queuedJob) number() string { return q.cf[3:6] }

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, err
}

// listQueue answers 03 and 04: the queue state as short text, filtered by
// job numbers or user names in list.
func (s *Server) listQueue(long bool, list []string) string {
	var b strings.Builder
	state := "ready and printing"
	if s.opts.Hold {
		state = "holding jobs until a print command"
	}
	fmt.Fprintf(&b, "%s is %s\n", s.opts.Queue, state)
	jobs := s.queued()
	n := 0
	for i, q := range jobs {
		if !matches(q, list) {
			continue
		}
		if n == 0 && !long {
			fmt.Fprintf(&b, "%-7s%-11s%-5s%-38s%s\n", "Rank", "Owner", "Job", "Files", "Total Size")
		}
		n++
		if long {
			fmt.Fprintf(&b, "\n%s: %d [job %s%s]\n        %-38s%d bytes\n", q.ctl.User, i+1, q.number(), q.ctl.Host, q.ctl.JobName, q.size)
		} else {
			fmt.Fprintf(&b, "%-7d%-11s%-5s%-38s%d bytes\n", i+1, q.ctl.User, q.number(), q.ctl.JobName, q.size)
		}
	}
	if n == 0 {
		b.WriteString("no entries\n")
	}
	return b.String()
}

func matches(q queuedJob, list []string) bool {
	if len(list) == 0 {
		return true
	}
	for _, l := range list {
		if l == q.ctl.User || strings.TrimLeft(l, "0") == strings.TrimLeft(q.number(), "0") {
			return true
		}
	}
	return false
}

// removeJobs answers 05: agent's jobs (any job when agent is root) that
// match list, or all of agent's jobs when list is empty.
func (s *Server) removeJobs(agent string, list []string) string {
	s.spoolMu.Lock()
	defer s.spoolMu.Unlock()
	var b strings.Builder
	for _, q := range s.queued() {
		if (agent != "root" && agent != q.ctl.User) || !matches(q, list) {
			continue
		}
		s.removeJob(q, &b)
	}
	return b.String()
}

// removeJob deletes a job's control file first (so it stops being a job),
// then its data files.
func (s *Server) removeJob(q queuedJob, log *strings.Builder) {
	if err := os.Remove(filepath.Join(s.opts.SpoolDir, q.cf)); err != nil {
		return
	}
	for _, f := range q.ctl.Files {
		if os.Remove(filepath.Join(s.opts.SpoolDir, f)) == nil && log != nil {
			fmt.Fprintf(log, "%s dequeued\n", f)
		}
	}
	if log != nil {
		fmt.Fprintf(log, "%s dequeued\n", q.cf)
	}
}

// printer prints queued jobs to /dev/null and removes them, one pass per
// wake-up; it is the only goroutine that prints.
func (s *Server) printer() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		for _, q := range s.queued() {
			if s.ctx.Err() != nil {
				return
			}
			if err := s.print(q); err != nil {
				s.logf("lpd: print %s: %v", q.cf, err)
			}
		}
	}
}

func (s *Server) print(q queuedJob) error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	for _, f := range q.ctl.Files {
		df, err := os.Open(filepath.Join(s.opts.SpoolDir, f))
		if err != nil {
			return err
		}
		_, err = io.Copy(struct{ io.Writer }{null}, df)
		df.Close()
		if err != nil {
			return err
		}
	}
	s.spoolMu.Lock()
	s.removeJob(q, nil)
	s.spoolMu.Unlock()
	s.printed.Add(1)
	return nil
}
