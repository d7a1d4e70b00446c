package ptester

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// pushAll parses one response from raw as the loop engine does: reads of at
// most step bytes into a buffer of bufSize, fed to a pushParser.
func pushAll(raw []byte, step, bufSize int) (response, int64, error) {
	var src io.Reader = bytes.NewReader(raw)
	if step > 0 {
		src = &stepReader{r: src, n: step}
	}
	var p pushParser
	p.reset()
	buf := make([]byte, bufSize)
	r, n := 0, 0
	for {
		if r == n {
			r, n = 0, 0
		} else if n == len(buf) {
			n = copy(buf, buf[r:n])
			r = 0
		}
		m, _ := src.Read(buf[n:])
		if m == 0 {
			err := p.eof()
			return p.resp, p.got, err
		}
		n += m
		k, err := p.feed(buf[r:n], r == 0 && n == len(buf))
		if k < 0 || r+k > n {
			return p.resp, p.got, errors.New("feed consumed more than it was given")
		}
		r += k
		if err != nil || p.done() {
			return p.resp, p.got, err
		}
	}
}

func TestPushParserMatchesReader(t *testing.T) {
	raws := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n00000",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: Close\r\n\r\n00",
		"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n0",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n000\r\na;x=y\r\n0000000000\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0000000",
		"HTTP/1.1 404\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n00000",
		"HTTP/1.1 200 OK\r\nContent-Le",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n000",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n00",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n000xx\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 10000) + "\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + strings.Repeat("0", 9000),
		"",
	}
	for _, raw := range raws {
		for _, step := range []int{0, 1, 7, 4096} {
			comparePushToReader(t, []byte(raw), step)
		}
	}
}

// comparePushToReader fails t when the two parsers disagree about raw.
func comparePushToReader(t *testing.T, raw []byte, step int) {
	t.Helper()
	wr, wn, werr := readAll(string(raw), step, 4096)
	gr, gn, gerr := pushAll(raw, step, 4096)
	wk, gk := kindOf(werr, ErrShortBody), kindOf(gerr, ErrShortBody)
	if wk != gk || errors.Is(werr, io.EOF) != errors.Is(gerr, io.EOF) {
		t.Fatalf("%q (step %d): push parser error %v, reader %v", clip(raw), step, gerr, werr)
	}
	if wk == ErrProtocol {
		return // what was parsed before the fault does not matter
	}
	if gr.status != wr.status || gn != wn || (wk == ErrNone && gr.close != wr.close) {
		t.Fatalf("%q (step %d): push parser status %d body %d close %v; reader %d %d %v", clip(raw), step, gr.status, gn, gr.close, wr.status, wn, wr.close)
	}
}

func TestPushParserVerify(t *testing.T) {
	var p pushParser
	p.reset()
	p.verify = true
	if _, err := p.feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n00x0"), false); err != nil || !p.done() {
		t.Fatalf("done %v, %v", p.done(), err)
	}
	if !p.bad {
		t.Error("a body byte 'x' was not flagged")
	}
	p.reset()
	if p.bad || p.done() {
		t.Error("reset kept the last response's state")
	}
}

func FuzzPushParser(f *testing.F) {
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
		comparePushToReader(t, raw, int(step))
	})
}
