package ptester

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// spliceMin is the body size from which a client discards bodies with
// splice(2) (socket → pipe → /dev/null) instead of copying them into its
// buffer: the kernel still receives and acknowledges every byte, and the
// count is exact, but the client no longer pays a user-space copy per byte,
// so on a shared machine the server gets the CPU the client saves.
const spliceMin = 64 << 10

// sink is a pipe and /dev/null through which bodies are spliced away.
type sink struct {
	r, w int // pipe ends
	null int
}

func newSink() (*sink, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("splice sink: pipe: %w", err)
	}
	// A bigger pipe moves more per call; the default 64 KiB still works.
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20)
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, fmt.Errorf("splice sink: open %s: %w", os.DevNull, err)
	}
	return &sink{r: p[0], w: p[1], null: null}, nil
}

func (s *sink) Close() error {
	return errors.Join(unix.Close(s.r), unix.Close(s.w), unix.Close(s.null))
}

// discard moves up to n bytes from the socket behind rc into /dev/null,
// waiting (with the connection's deadline) until some arrive. It returns
// io.EOF when the peer closed first.
func (s *sink) discard(rc syscall.RawConn, n int64) (int64, error) {
	var moved int64
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		m, err := unix.Splice(int(fd), nil, s.w, nil, int(min(n, 1<<20)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false // wait until readable
		case err != nil:
			serr = err
		case m == 0:
			serr = io.EOF
		}
		moved = m
		return true
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("splice", serr)
	}
	return moved, s.drain(moved)
}

// discardNow moves up to n bytes from the non-blocking socket fd into
// /dev/null without waiting: unix.EAGAIN when none are there, io.EOF when
// the peer closed first.
func (s *sink) discardNow(fd int, n int64) (int64, error) {
	m, err := unix.Splice(fd, nil, s.w, nil, int(min(n, 1<<20)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	switch {
	case err == unix.EAGAIN:
		return 0, err
	case err != nil:
		return 0, os.NewSyscallError("splice", err)
	case m == 0:
		return 0, io.EOF
	}
	return m, s.drain(m)
}

// drain empties n bytes from the pipe; /dev/null takes everything at once.
func (s *sink) drain(n int64) error {
	for n > 0 {
		m, err := unix.Splice(s.r, nil, s.null, nil, int(n), unix.SPLICE_F_MOVE)
		if err != nil {
			return os.NewSyscallError("splice to /dev/null", err)
		}
		n -= m
	}
	return nil
}
