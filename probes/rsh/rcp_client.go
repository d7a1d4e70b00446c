package rsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/lvsperf/lvsperf/timing"
)

// RcpSend copies n bytes from src to the file target on the rshd at addr,
// as `rcp FILE host:target` does: rcmd with no stderr channel (an empty
// stderr port), `rcp -t target`, one C line with mode 0644 and the name
// path.Base(target), the data and rcp's acknowledgements. It returns once
// the server has acknowledged the whole file and closed the connection. An
// error the server reported comes back as an *RcpError in the chain.
func RcpSend(ctx context.Context, addr, target string, src io.Reader, n timing.Bytes, opts ClientOptions) error {
	s, err := rcpOpen(ctx, addr, "rcp -t "+target, opts)
	if err != nil {
		return err
	}
	defer s.close()
	fail := func(what string, err error) error {
		return fmt.Errorf("rcp to %s:%s: %s: %w", addr, target, what, ctxErr(ctx, err))
	}
	if err := readResponse(s.br); err != nil {
		return fail("wait for the sink", err)
	}
	if _, err := fmt.Fprintf(s.c, "C0644 %d %s\n", n, path.Base(target)); err != nil {
		return fail("send the C line", err)
	}
	if err := readResponse(s.br); err != nil {
		return fail("C line", err)
	}
	m, err := io.CopyN(s.c, src, int64(n))
	if err != nil {
		return fail(fmt.Sprintf("send data after %d of %d bytes", m, n), err)
	}
	if _, err := s.c.Write([]byte{rcpOK}); err != nil {
		return fail("send the end of the file", err)
	}
	if err := readResponse(s.br); err != nil {
		return fail("after the data", err)
	}
	if err := s.c.CloseWrite(); err != nil {
		return fail("half-close", err)
	}
	// The sink ends on our EOF; anything it sends now is a complaint.
	rest, err := io.ReadAll(io.LimitReader(s.br, maxMessageLen))
	if err != nil {
		return fail("wait for the server to close", err)
	}
	if len(rest) > 0 {
		return fail("after the file", fmt.Errorf("the server sent %q", rest))
	}
	return nil
}

// RcpFetch copies the file source from the rshd at addr into dst, as
// `rcp host:source FILE` does (`rcp -f source`), and returns its size. A
// missing file gives the server's message, "rcp: SOURCE: No such file or
// directory", as an *RcpError in the chain.
func RcpFetch(ctx context.Context, addr, source string, dst io.Writer, opts ClientOptions) (timing.Bytes, error) {
	s, err := rcpOpen(ctx, addr, "rcp -f "+source, opts)
	if err != nil {
		return 0, err
	}
	defer s.close()
	fail := func(what string, err error) error {
		return fmt.Errorf("rcp from %s:%s: %s: %w", addr, source, what, ctxErr(ctx, err))
	}
	if _, err := s.c.Write([]byte{rcpOK}); err != nil {
		return 0, fail("say ready", err)
	}
	var got *rcpFile
	var n int64
	for {
		kind, err := s.br.ReadByte()
		if errors.Is(err, io.EOF) && got != nil {
			return timing.Bytes(n), nil
		}
		if err != nil {
			return timing.Bytes(n), fail("read a line", err)
		}
		line, err := readRcpLine(s.br)
		if err != nil {
			return timing.Bytes(n), fail("read a line", err)
		}
		switch kind {
		case rcpError, rcpFatal:
			return timing.Bytes(n), fail("server", &RcpError{Fatal: kind == rcpFatal, Message: line})
		case 'T':
			if _, err := parseRcpTimes(line); err != nil {
				return timing.Bytes(n), fail("T line", err)
			}
		case 'C':
			if got != nil {
				return timing.Bytes(n), fail("C line", errors.New("a second file came for one source"))
			}
			f, err := parseRcpFile(kind, line)
			if err != nil {
				return timing.Bytes(n), fail("C line", err)
			}
			got = &f
			if _, err := s.c.Write([]byte{rcpOK}); err != nil {
				return timing.Bytes(n), fail("ack the C line", err)
			}
			if n, err = io.CopyN(dst, s.br, f.size); err != nil {
				return timing.Bytes(n), fail(fmt.Sprintf("data after %d of %d bytes", n, f.size), err)
			}
			if err := readResponse(s.br); err != nil {
				return timing.Bytes(n), fail("after the data", err)
			}
		default:
			return timing.Bytes(n), fail("protocol", fmt.Errorf("unexpected line %q (directories need -r, which this client does not send)", string(kind)+line))
		}
		if _, err := s.c.Write([]byte{rcpOK}); err != nil {
			return timing.Bytes(n), fail("acknowledge", err)
		}
	}
}

// rcpOpen runs command with rcp's rcmd call: no stderr channel, sent as an
// empty port.
func rcpOpen(ctx context.Context, addr, command string, opts ClientOptions) (*session, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if len(command) > maxCommandLen || strings.ContainsAny(command, "\x00\n") {
		return nil, fmt.Errorf("rcp command %.80q: want at most %d bytes and no NUL or newline", command, maxCommandLen)
	}
	s, err := open(ctx, addr, command, o, stderrEmpty)
	if err != nil {
		return nil, err
	}
	s.br = bufio.NewReaderSize(s.br, copyBuffer)
	return s, nil
}
