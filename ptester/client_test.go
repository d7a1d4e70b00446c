package ptester

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll parses one response from raw, delivered in reads of at most step bytes.
func readAll(raw string, step int, bufSize int) (response, int64, error) {
	var src io.Reader = strings.NewReader(raw)
	if step > 0 {
		src = &stepReader{r: src, n: step}
	}
	rd := reader{conn: src, buf: make([]byte, bufSize)}
	return rd.readResponse()
}

type stepReader struct {
	r io.Reader
	n int
}

func (s *stepReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status int
		body   int64
		close  bool
		kind   ErrKind
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n00000", 200, 5, false, ErrNone},
		{"length zero", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 0, false, ErrNone},
		{"close header", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: Close\r\n\r\n00", 200, 2, true, ErrNone},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n0", 200, 1, true, ErrNone},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n0", 200, 1, false, ErrNone},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n000\r\na;x=y\r\n0000000000\r\n0\r\nT: v\r\n\r\n", 200, 13, false, ErrNone},
		{"to eof", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0000000", 200, 7, true, ErrNone},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 3\r\n\r\nabc", 404, 3, false, ErrNone},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", 204, 0, false, ErrNone},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n00000", 200, 5, false, ErrShortBody},
		{"short head", "HTTP/1.1 200 OK\r\nContent-Le", 0, 0, false, ErrShortBody},
		{"short chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n000", 200, 3, false, ErrShortBody},
		{"bad status line", "HTTP/2 200 OK\r\n\r\n", 0, 0, false, ErrProtocol},
		{"bad status digits", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, false, ErrProtocol},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 0, false, ErrProtocol},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n00", 0, 0, false, ErrProtocol},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, 0, false, ErrProtocol},
		{"no colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 0, 0, false, ErrProtocol},
	}
	for _, tc := range tests {
		for _, step := range []int{0, 1, 7} {
			resp, n, err := readAll(tc.raw, step, 4096)
			if k := kindOf(err, ErrShortBody); k != tc.kind {
				t.Errorf("%s (step %d): error %v (kind %v), want kind %v", tc.name, step, err, k, tc.kind)
				continue
			}
			if tc.kind == ErrProtocol {
				continue // what was parsed before the fault does not matter
			}
			if resp.status != tc.status || n != tc.body || (tc.kind == ErrNone && resp.close != tc.close) {
				t.Errorf("%s (step %d): status %d body %d close %v; want %d %d %v", tc.name, step, resp.status, n, resp.close, tc.status, tc.body, tc.close)
			}
		}
	}
}

func TestReadResponseEOFBeforeFirstByte(t *testing.T) {
	_, _, err := readAll("", 0, 4096)
	if !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: %v, want io.EOF (an idle connection the server closed)", err)
	}
}

func TestReadResponseHeadTooLarge(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 10000) + "\r\n\r\n"
	_, _, err := readAll(raw, 0, 4096)
	if kindOf(err, ErrShortBody) != ErrProtocol {
		t.Errorf("head larger than the buffer: %v, want a protocol error", err)
	}
}

func TestReadResponseSequence(t *testing.T) {
	// Several responses back to back on one stream, through a small buffer.
	one := "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + strings.Repeat("0", 3000)
	rd := reader{conn: iotest.HalfReader(strings.NewReader(strings.Repeat(one, 5))), buf: make([]byte, 4096), verify: true}
	for i := range 5 {
		resp, n, err := rd.readResponse()
		if err != nil || resp.status != 200 || n != 3000 {
			t.Fatalf("response %d: %d %d %v", i, resp.status, n, err)
		}
	}
	if rd.bad {
		t.Error("verify flagged a body of '0's")
	}
	if _, _, err := rd.readResponse(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last response: %v, want io.EOF", err)
	}
}

func TestVerifyBody(t *testing.T) {
	rd := reader{conn: strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n00x0"), buf: make([]byte, 4096), verify: true}
	if _, _, err := rd.readResponse(); err != nil {
		t.Fatal(err)
	}
	if !rd.bad {
		t.Error("a body byte 'x' was not flagged")
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n00000",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n000\r\n0\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\n\r\nxyz",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, step uint8) {
		var src io.Reader = bytes.NewReader(raw)
		if step > 0 {
			src = &stepReader{r: src, n: int(step)}
		}
		rd := reader{conn: src, buf: make([]byte, 4096)}
		resp, n, err := rd.readResponse()
		if n < 0 || n > int64(len(raw)) {
			t.Fatalf("body %d bytes from %d input bytes", n, len(raw))
		}
		if err == nil && resp.length >= 0 && n != resp.length {
			t.Fatalf("success with body %d, Content-Length %d", n, resp.length)
		}
		if rd.r > rd.w || rd.w > len(rd.buf) {
			t.Fatalf("buffer indices r=%d w=%d len=%d", rd.r, rd.w, len(rd.buf))
		}
	})
}
