package ptester

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrKind classifies a failed request.
type ErrKind int

// The kinds of failure the hammer counts separately.
const (
	ErrNone      ErrKind = iota
	ErrRefused           // connect refused (nothing listening)
	ErrPorts             // connect failed with EADDRNOTAVAIL: ephemeral ports exhausted
	ErrReset             // connection reset or broken pipe
	ErrTimeout           // no complete response within the timeout
	ErrBadStatus         // a status other than 2xx (404 included)
	ErrShortBody         // the connection ended before the body did
	ErrProtocol          // the response was not parseable HTTP/1.x
	ErrOther             // anything else (connect errors other than the above)
	numErrKinds
)

var errKindNames = [numErrKinds]string{"ok", "refused", "ports", "reset", "timeout", "bad_status", "short_body", "protocol", "other"}

// String names the kind as it appears in reports and JSON.
func (k ErrKind) String() string {
	if k < 0 || k >= numErrKinds {
		return fmt.Sprintf("ErrKind(%d)", int(k))
	}
	return errKindNames[k]
}

// respError is a failed request: its kind and what happened.
type respError struct {
	kind ErrKind
	msg  string
	err  error
}

func (e *respError) Error() string {
	if e.err != nil {
		return e.kind.String() + ": " + e.msg + ": " + e.err.Error()
	}
	return e.kind.String() + ": " + e.msg
}

func (e *respError) Unwrap() error { return e.err }

// kindOf classifies err from a socket operation; short applies to EOF.
func kindOf(err error, eof ErrKind) ErrKind {
	var re *respError
	switch {
	case err == nil:
		return ErrNone
	case errors.As(err, &re):
		return re.kind
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return eof
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return ErrPorts
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	return ErrOther
}

// maxHeader bounds a response's status line and headers.
const maxHeader = 64 << 10

// response is what the parser learned from one response's head.
type response struct {
	status  int
	length  int64 // Content-Length, -1 when absent
	chunked bool
	close   bool // the server will close after this response
	head    int  // bytes of status line + headers (incl. the blank line)
}

// parseHead parses a status line and headers in b, which must end with the
// blank line. It does not allocate.
func parseHead(b []byte) (response, error) {
	r := response{length: -1, head: len(b)}
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return r, &respError{kind: ErrProtocol, msg: "status line has no end"}
	}
	line := trimCR(b[:eol])
	// "HTTP/1.1 200 OK": version, space, three digits, then space or end.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return r, &respError{kind: ErrProtocol, msg: fmt.Sprintf("status line %q: want \"HTTP/1.x NNN reason\"", clip(line))}
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return r, &respError{kind: ErrProtocol, msg: fmt.Sprintf("status line %q: status is not three digits", clip(line))}
		}
		r.status = r.status*10 + int(c-'0')
	}
	if line[7] == '0' {
		r.close = true // HTTP/1.0 closes unless it says keep-alive
	}
	rest := b[eol+1:]
	for len(rest) > 0 {
		eol = bytes.IndexByte(rest, '\n')
		if eol < 0 {
			return r, &respError{kind: ErrProtocol, msg: "header line has no end"}
		}
		line = trimCR(rest[:eol])
		rest = rest[eol+1:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, &respError{kind: ErrProtocol, msg: fmt.Sprintf("header line %q has no name", clip(line))}
		}
		name, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if len(val) == 0 || len(val) > 18 {
				return r, &respError{kind: ErrProtocol, msg: fmt.Sprintf("Content-Length %q: want a decimal number", clip(val))}
			}
			var n int64
			for _, c := range val {
				if c < '0' || c > '9' {
					return r, &respError{kind: ErrProtocol, msg: fmt.Sprintf("Content-Length %q: want a decimal number", clip(val))}
				}
				n = n*10 + int64(c-'0')
			}
			if r.length >= 0 && r.length != n {
				return r, &respError{kind: ErrProtocol, msg: "two different Content-Length headers"}
			}
			r.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			r.chunked = hasToken(val, "chunked")
		case bytes.EqualFold(name, []byte("Connection")):
			if hasToken(val, "close") {
				r.close = true
			} else if hasToken(val, "keep-alive") {
				r.close = false
			}
		}
	}
	if r.chunked {
		r.length = -1
	}
	return r, nil
}

// hasToken reports whether the comma-separated list v holds tok (case-insensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var t []byte
		if i < 0 {
			t, v = v, nil
		} else {
			t, v = v[:i], v[i+1:]
		}
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// reader is a connection with one reusable buffer; buf[r:w] is unread data.
type reader struct {
	conn io.Reader
	buf  []byte
	r, w int
	// verify, when set, checks that every body byte is '0'.
	verify bool
	bad    bool // a body byte was not '0'
	// sink and rc, when set, let large bodies bypass buf (see spliceMin).
	sink *sink
	rc   syscall.RawConn
}

// fill reads more data into the buffer; it returns io.EOF at end of stream.
func (rd *reader) fill() error {
	if rd.r > 0 && rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
	if rd.w == len(rd.buf) {
		if rd.r == 0 {
			return &respError{kind: ErrProtocol, msg: fmt.Sprintf("response head larger than %d bytes", len(rd.buf))}
		}
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	n, err := rd.conn.Read(rd.buf[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readResponse reads one whole response and returns its head and body size.
// At EOF before the first byte it returns io.EOF (the server closed an idle
// connection); later EOFs are short bodies.
func (rd *reader) readResponse() (response, int64, error) {
	scanned := 0 // bytes after rd.r known not to start the head's terminator
	for {
		if i := bytes.Index(rd.buf[rd.r+scanned:rd.w], []byte("\r\n\r\n")); i >= 0 {
			end := rd.r + scanned + i + 4
			resp, err := parseHead(rd.buf[rd.r:end])
			if err != nil {
				return resp, 0, err
			}
			rd.r = end
			n, err := rd.readBody(resp)
			return resp, n, err
		}
		// Re-scan the last three bytes: the terminator may straddle reads.
		scanned = max(rd.w-rd.r-3, 0)
		empty := rd.r == rd.w
		if err := rd.fill(); err != nil {
			if errors.Is(err, io.EOF) && empty {
				return response{}, 0, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return response{}, 0, &respError{kind: ErrShortBody, msg: "connection closed inside the response head"}
			}
			return response{}, 0, err
		}
	}
}

// consume counts up to n buffered bytes as body and returns how many it took.
func (rd *reader) consume(n int64) int64 {
	avail := int64(rd.w - rd.r)
	if avail > n {
		avail = n
	}
	if rd.verify && !rd.bad {
		for _, c := range rd.buf[rd.r : rd.r+int(avail)] {
			if c != '0' {
				rd.bad = true
				break
			}
		}
	}
	rd.r += int(avail)
	return avail
}

func (rd *reader) readBody(resp response) (int64, error) {
	switch {
	case resp.chunked:
		return rd.readChunked()
	case resp.length >= 0:
		var got int64
		for got < resp.length {
			if rd.r == rd.w && rd.sink != nil && rd.rc != nil && resp.length-got >= spliceMin {
				n, err := rd.sink.discard(rd.rc, resp.length-got)
				got += n
				if err != nil {
					if errors.Is(err, io.EOF) {
						return got, &respError{kind: ErrShortBody, msg: fmt.Sprintf("connection closed after %d of %d body bytes", got, resp.length)}
					}
					return got, err
				}
				continue
			}
			if rd.r == rd.w {
				if err := rd.fill(); err != nil {
					if errors.Is(err, io.EOF) {
						return got, &respError{kind: ErrShortBody, msg: fmt.Sprintf("connection closed after %d of %d body bytes", got, resp.length)}
					}
					return got, err
				}
			}
			got += rd.consume(resp.length - got)
		}
		return got, nil
	case resp.status == 204 || resp.status == 304 || resp.status/100 == 1:
		return 0, nil
	default:
		// No length and not chunked: the body runs to the end of the stream.
		var got int64
		for {
			got += rd.consume(int64(rd.w - rd.r))
			if err := rd.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					return got, nil
				}
				return got, err
			}
		}
	}
}

// readLine returns the next CRLF-terminated line (without CRLF) from the buffer.
func (rd *reader) readLine() ([]byte, error) {
	scan := rd.r
	for {
		if i := bytes.IndexByte(rd.buf[scan:rd.w], '\n'); i >= 0 {
			line := trimCR(rd.buf[rd.r : scan+i])
			rd.r = scan + i + 1
			return line, nil
		}
		off := rd.w - rd.r
		if err := rd.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &respError{kind: ErrShortBody, msg: "connection closed inside a chunked body"}
			}
			return nil, err
		}
		scan = rd.r + off
	}
}

func (rd *reader) readChunked() (int64, error) {
	var got int64
	for {
		line, err := rd.readLine()
		if err != nil {
			return got, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || len(line) > 15 {
			return got, &respError{kind: ErrProtocol, msg: fmt.Sprintf("chunk size %q: want hex digits", clip(line))}
		}
		var size int64
		for _, c := range line {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return got, &respError{kind: ErrProtocol, msg: fmt.Sprintf("chunk size %q: want hex digits", clip(line))}
			}
			size = size<<4 | int64(d)
		}
		if size == 0 {
			// Trailers end with an empty line.
			for {
				t, err := rd.readLine()
				if err != nil {
					return got, err
				}
				if len(t) == 0 {
					return got, nil
				}
			}
		}
		for left := size; left > 0; {
			if rd.r == rd.w {
				if err := rd.fill(); err != nil {
					if errors.Is(err, io.EOF) {
						return got, &respError{kind: ErrShortBody, msg: "connection closed inside a chunk"}
					}
					return got, err
				}
			}
			n := rd.consume(left)
			left -= n
			got += n
		}
		crlf, err := rd.readLine()
		if err != nil {
			return got, err
		}
		if len(crlf) != 0 {
			return got, &respError{kind: ErrProtocol, msg: "chunk data not followed by CRLF"}
		}
	}
}

// buildRequest returns the bytes of a GET for path on host.
func buildRequest(host, path string, closeConn bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lvsperf-ptester\r\nAccept: */*\r\n", path, host)
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// deadlineSlack is how long a deadline may lag before it is refreshed: setting
// a socket deadline per request costs a timer update, so it is reset only
// when the remaining time fell below the timeout minus this slack.
const deadlineSlack = 100 * time.Millisecond
