package rsh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxRcpDepth bounds the directories an rcp -r copy nests.
const maxRcpDepth = 32

// rcpSession is one rcp remote side on the server: the connection after the
// status byte, and the spool directory as its root.
type rcpSession struct {
	s    *Server
	cmd  *RcpCommand
	c    net.Conn
	r    *bufio.Reader
	root *os.Root // nil when there is no spool (only -t /dev/null)
	// bytes counts file data moved; errs the errors reported to the peer.
	bytes int64
	errs  int
}

// deadlineReader sets an idle deadline on c before each read of r.
type deadlineReader struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	d.c.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}

// serveRcp runs rcp's remote side; the status byte has been sent. It
// returns the bytes of file data moved and an error when the copy did not
// succeed whole (what the real rcp's exit status 1 says).
func (s *Server) serveRcp(c net.Conn, br *bufio.Reader, cmd *RcpCommand) (int64, error) {
	rs := &rcpSession{s: s, cmd: cmd, c: c}
	rs.r = bufio.NewReaderSize(deadlineReader{c: c, r: br, timeout: s.opts.IdleTimeout}, copyBuffer)
	if s.opts.SpoolDir != "" {
		root, err := os.OpenRoot(s.opts.SpoolDir)
		if err != nil {
			sendError(c, true, "rcp: spool directory: "+strerror(err))
			return 0, fmt.Errorf("open the spool directory: %w", err)
		}
		defer root.Close()
		rs.root = root
	}
	var err error
	if cmd.To {
		err = rs.sink()
	} else {
		err = rs.source()
	}
	if err == nil && rs.errs > 0 {
		err = fmt.Errorf("rcp reported %d errors to the client", rs.errs)
	}
	return rs.bytes, err
}

func (rs *rcpSession) write(b []byte) error {
	rs.c.SetWriteDeadline(time.Now().Add(rs.s.opts.IdleTimeout))
	_, err := rs.c.Write(b)
	return err
}

func (rs *rcpSession) ack() error { return rs.write([]byte{rcpOK}) }

// nak reports an error the copy survives, as "rcp: MSG".
func (rs *rcpSession) nak(msg string) error {
	rs.errs++
	rs.c.SetWriteDeadline(time.Now().Add(rs.s.opts.IdleTimeout))
	return sendError(rs.c, false, "rcp: "+msg)
}

// fileIn names a file of the sink: inside the root, and as the client
// would name it.
type fileIn struct{ path, shown string }

// frame is a directory level of the sink: where files go.
type frame struct {
	path  string // inside the root
	shown string // as the client named it, for messages
	isDir bool   // false only for a top-level target naming a file
	times *rcpTimes
}

// sink receives files into the target (rcp -t).
func (rs *rcpSession) sink() error {
	target := rs.cmd.Paths[0]
	null := target == os.DevNull
	if !null && rs.root == nil {
		rs.nak(target + ": this server has no spool directory; start it with one or copy to /dev/null")
		return errors.New("rcp -t refused: no spool directory")
	}
	top := frame{path: spoolPath(target), shown: target}
	if !null {
		if st, err := rs.root.Stat(top.path); err == nil && st.IsDir() {
			top.isDir = true
		}
	}
	if rs.cmd.TargetDir && !top.isDir {
		rs.nak(target + ": Not a directory")
		return fmt.Errorf("rcp -d -t %s: not a directory", target)
	}
	if err := rs.ack(); err != nil {
		return err
	}
	stack := []frame{top}
	var times *rcpTimes
	for {
		kind, err := rs.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rcp sink: lost connection: %w", err)
		}
		line, err := readRcpLine(rs.r)
		if err != nil {
			return fmt.Errorf("rcp sink: read a %q line: %w", kind, err)
		}
		cur := &stack[len(stack)-1]
		switch kind {
		case rcpError, rcpFatal:
			// The source could not send a file; its message is for the
			// user, who sees it on the client's side.
			rs.errs++
			if kind == rcpFatal {
				return fmt.Errorf("rcp source: %s", line)
			}
			continue
		case 'T':
			t, err := parseRcpTimes(line)
			if err != nil {
				rs.nak("protocol screwup: " + err.Error())
				return err
			}
			times = &t
			if err := rs.ack(); err != nil {
				return err
			}
			continue
		case 'E':
			if len(stack) == 1 {
				rs.nak("protocol screwup: E without a directory")
				return errors.New("rcp sink: E line outside a directory")
			}
			if err := rs.ack(); err != nil {
				return err
			}
			if cur.times != nil && rs.cmd.Preserve {
				rs.root.Chtimes(cur.path, cur.times.atime, cur.times.mtime)
			}
			stack = stack[:len(stack)-1]
			continue
		case 'C', 'D':
		default:
			rs.nak("protocol screwup: " + strconv.Quote(string(kind)+line))
			return fmt.Errorf("rcp sink: unknown line %q", string(kind)+line)
		}
		f, err := parseRcpFile(kind, line)
		if err != nil {
			rs.nak("protocol screwup: " + err.Error())
			return err
		}
		dest := fileIn{path: cur.path, shown: cur.shown}
		if cur.isDir {
			dest.path = path.Join(cur.path, f.name)
			dest.shown = cur.shown + "/" + f.name
		}
		t := times
		times = nil
		if f.dir {
			if err := rs.sinkDir(f, dest, t, &stack); err != nil {
				return err
			}
			continue
		}
		if err := rs.sinkFile(f, dest, null, t); err != nil {
			return err
		}
	}
}

// sinkDir handles a D line: make (or reuse) the directory and descend.
func (rs *rcpSession) sinkDir(f rcpFile, dest fileIn, t *rcpTimes, stack *[]frame) error {
	switch {
	case !rs.cmd.Recursive:
		return rs.nak("received directory without -r")
	case rs.root == nil:
		return rs.nak(dest.shown + ": this server has no spool directory")
	case len(*stack) > maxRcpDepth:
		rs.nak(fmt.Sprintf("%s: directories nest deeper than %d", dest.shown, maxRcpDepth))
		return fmt.Errorf("rcp sink: directories nest deeper than %d", maxRcpDepth)
	}
	if st, err := rs.root.Stat(dest.path); err == nil {
		if !st.IsDir() {
			return rs.nak(dest.shown + ": Not a directory")
		}
	} else if err := rs.root.Mkdir(dest.path, fs.FileMode(f.mode&0o777)|0o700); err != nil {
		return rs.nak(dest.shown + ": " + strerror(err))
	}
	if rs.cmd.Preserve {
		rs.root.Chmod(dest.path, fs.FileMode(f.mode&0o777))
	}
	*stack = append(*stack, frame{path: dest.path, shown: dest.shown, isDir: true, times: t})
	return rs.ack()
}

// sinkFile handles a C line: receive size bytes and the source's \0.
func (rs *rcpSession) sinkFile(f rcpFile, dest fileIn, null bool, t *rcpTimes) error {
	if f.size > int64(rs.s.opts.MaxFileSize) {
		return rs.nak(fmt.Sprintf("%s: %d bytes is over this server's limit of %v", dest.shown, f.size, rs.s.opts.MaxFileSize))
	}
	var sk sink
	if null {
		var err error
		if sk, err = rs.s.open(Command{Kind: SinkNull}); err != nil {
			return rs.nak(os.DevNull + ": " + strerror(err))
		}
	} else {
		rfs, err := newRootFileSink(rs.root, dest.path, fs.FileMode(f.mode&0o777), rs.s.opts.Fsync)
		if err != nil {
			return rs.nak(dest.shown + ": " + strerror(err))
		}
		rfs.times, rfs.preserve = t, rs.cmd.Preserve
		sk = rfs
	}
	if err := rs.ack(); err != nil {
		sk.Abort()
		return err
	}
	n, err := io.CopyN(sk, rs.r, f.size)
	rs.bytes += n
	if err != nil {
		sk.Abort()
		return fmt.Errorf("rcp sink: %s: %d of %d bytes: %w", dest.shown, n, f.size, err)
	}
	// The source's verdict on its own read: \0, or \1 and why.
	if err := readResponse(rs.r); err != nil {
		sk.Abort()
		var re *RcpError
		if errors.As(err, &re) && !re.Fatal {
			rs.errs++
			return nil
		}
		return fmt.Errorf("rcp sink: %s: after the data: %w", dest.shown, err)
	}
	if err := sk.Commit(); err != nil {
		return rs.nak(dest.shown + ": " + strerror(err))
	}
	return rs.ack()
}

// rootFileSink writes a hidden temporary file beside dest inside root and
// renames it onto dest once the copy is whole.
type rootFileSink struct {
	root       *os.Root
	f          *os.File
	tmp, final string
	mode       fs.FileMode
	fsync      bool
	preserve   bool
	times      *rcpTimes
}

func newRootFileSink(root *os.Root, dest string, mode fs.FileMode, fsync bool) (*rootFileSink, error) {
	if st, err := root.Stat(dest); err == nil && st.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: dest, Err: syscall.EISDIR}
	}
	dir, name := path.Split(dest)
	for range 8 {
		tmp := path.Join(dir, "."+name+".part-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &rootFileSink{root: root, f: f, tmp: tmp, final: dest, mode: mode, fsync: fsync}, nil
	}
	return nil, fmt.Errorf("%s: no free temporary name", dest)
}

func (s *rootFileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *rootFileSink) Commit() error {
	err := s.f.Chmod(s.mode &^ currentUmask())
	if err == nil && s.fsync {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(s.tmp, s.final)
	}
	if err != nil {
		s.root.Remove(s.tmp)
		return err
	}
	if s.preserve && s.times != nil {
		s.root.Chtimes(s.final, s.times.atime, s.times.mtime)
	}
	return nil
}

func (s *rootFileSink) Abort() {
	s.f.Close()
	s.root.Remove(s.tmp)
}

// currentUmask is the process's umask, which rcp applies to the modes it
// receives (it creates files with open(2) and that mode). It reads it from
// /proc: umask(2) can only be read by setting it, which would race with
// every other goroutine creating files. Without /proc it assumes 022.
func currentUmask() fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return fs.FileMode(m) & fs.ModePerm
			}
		}
	}
	return 0o022
}

// source sends the files the command names (rcp -f).
func (rs *rcpSession) source() error {
	if rs.root == nil {
		rs.write([]byte{rcpFatal})
		rs.write([]byte("rcp: this server has no spool directory to send files from\n"))
		return errors.New("rcp -f refused: no spool directory")
	}
	// The sink says it is ready.
	if err := readResponse(rs.r); err != nil {
		return fmt.Errorf("rcp source: wait for the sink: %w", err)
	}
	for _, p := range rs.cmd.Paths {
		if err := rs.sendPath(p, spoolPath(p), 0); err != nil {
			return err
		}
	}
	return nil
}

// sendPath sends one file or (with -r) directory; shown is the name used
// in messages, as the client wrote it. A returned error ends the session;
// an error the copy survives is reported to the sink and counted.
func (rs *rcpSession) sendPath(shown, name string, depth int) error {
	st, err := rs.root.Stat(name)
	if err != nil {
		return rs.nak(shown + ": " + strerror(err))
	}
	if st.IsDir() {
		if !rs.cmd.Recursive {
			return rs.nak(shown + ": not a plain file")
		}
		return rs.sendDir(shown, name, st, depth)
	}
	if !st.Mode().IsRegular() {
		return rs.nak(shown + ": not a plain file")
	}
	f, err := rs.root.Open(name)
	if err != nil {
		return rs.nak(shown + ": " + strerror(err))
	}
	defer f.Close()
	if ok, err := rs.sendHeader(st, fmt.Sprintf("C%04o %d %s\n", st.Mode().Perm(), st.Size(), path.Base(name))); !ok || err != nil {
		return err
	}
	n, err := io.CopyN(deadlineWriter{rs.c, rs.s.opts.IdleTimeout}, f, st.Size())
	rs.bytes += n
	switch {
	case errors.Is(err, io.EOF):
		// The file shrank: pad to the announced size, then say why in
		// place of the trailing \0, as BSD rcp does.
		if _, perr := io.CopyN(deadlineWriter{rs.c, rs.s.opts.IdleTimeout}, zeros{}, st.Size()-n); perr != nil {
			return fmt.Errorf("rcp source: %s: pad after a short read: %w", shown, perr)
		}
		if err := rs.nak(fmt.Sprintf("%s: file shrank to %d bytes while being sent", shown, n)); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("rcp source: %s: send after %d of %d bytes: %w", shown, n, st.Size(), err)
	default:
		if err := rs.ack(); err != nil {
			return err
		}
	}
	return rs.response(shown)
}

// sendHeader sends the T line (with -p) and the C or D line, each waiting
// for the sink's response; ok is false when the sink refused (counted).
func (rs *rcpSession) sendHeader(st fs.FileInfo, line string) (ok bool, err error) {
	if rs.cmd.Preserve {
		at := st.ModTime()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			at = time.Unix(sys.Atim.Unix())
		}
		if err := rs.write(fmt.Appendf(nil, "T%d 0 %d 0\n", st.ModTime().Unix(), at.Unix())); err != nil {
			return false, err
		}
		if err := rs.response(line); err != nil {
			return false, err
		}
	}
	if err := rs.write([]byte(line)); err != nil {
		return false, err
	}
	errs := rs.errs
	if err := rs.response(line); err != nil {
		return false, err
	}
	return rs.errs == errs, nil
}

// response reads the sink's answer: an error it survives is counted, a
// fatal one or a lost connection ends the session.
func (rs *rcpSession) response(what string) error {
	err := readResponse(rs.r)
	var re *RcpError
	if errors.As(err, &re) && !re.Fatal {
		rs.errs++
		return nil
	}
	if err != nil {
		return fmt.Errorf("rcp source: %q: %w", what, err)
	}
	return nil
}

func (rs *rcpSession) sendDir(shown, name string, st fs.FileInfo, depth int) error {
	if depth >= maxRcpDepth {
		return rs.nak(fmt.Sprintf("%s: directories nest deeper than %d", shown, maxRcpDepth))
	}
	d, err := rs.root.Open(name)
	if err != nil {
		return rs.nak(shown + ": " + strerror(err))
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return rs.nak(shown + ": " + strerror(err))
	}
	base := path.Base(name)
	if base == "." {
		base = path.Base(rs.s.opts.SpoolDir)
	}
	if ok, err := rs.sendHeader(st, fmt.Sprintf("D%04o 0 %s\n", st.Mode().Perm(), base)); !ok || err != nil {
		return err
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int {
		if a.Name() < b.Name() {
			return -1
		}
		return 1
	})
	for _, e := range ents {
		if err := rs.sendPath(path.Join(shown, e.Name()), path.Join(name, e.Name()), depth+1); err != nil {
			return err
		}
	}
	if err := rs.write([]byte("E\n")); err != nil {
		return err
	}
	return rs.response("E")
}

// deadlineWriter sets an idle deadline on c before each write.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.c.Write(p)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
