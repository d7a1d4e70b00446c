package ptester

import (
	"bytes"
	"fmt"
	"io"
)

// phase is where a pushParser is inside a response.
type phase uint8

const (
	phHead       phase     = iota // waiting for the whole status line and headers
	phBody                        // Content-Length body: left bytes to go
	phToEOF                       // no length, not chunked: the body ends with the stream
	phChunkSize                   // waiting for a chunk-size line
	phChunkData                   // inside a chunk: left bytes to go
	phChunkCRLF                   // waiting for the CRLF after a chunk's data
	phTrailer                     // after the last chunk: trailer lines up to an empty one
	phDone                        // the response is complete
	maxChunkLine = 4 << 10        // longest chunk-size or trailer line accepted
)

// pushParser parses one HTTP/1.x response from bytes as they arrive, for the
// event-loop engine, which cannot block in a read the way reader does. It
// uses parseHead for the head and copies nothing: the caller owns the buffer
// and hands it the unparsed bytes.
type pushParser struct {
	verify bool // check that every body byte is '0'
	bad    bool // a body byte was not '0'

	ph      phase
	resp    response
	left    int64 // body or chunk bytes still expected
	got     int64 // body bytes so far
	scanned int   // head bytes known not to start "\r\n\r\n"
	started bool  // a byte of this response arrived
}

// reset prepares the parser for the next response.
func (p *pushParser) reset() {
	p.ph, p.resp, p.left, p.got, p.scanned, p.started, p.bad = phHead, response{}, 0, 0, 0, false, false
}

// done reports whether the response is complete.
func (p *pushParser) done() bool { return p.ph == phDone }

// feed parses b, the bytes received and not yet consumed, and returns how
// many it consumed. It stops at the end of the response; bytes it leaves
// unconsumed must be handed to it again, with more appended, when they are
// an incomplete head or line. fullBuf says b fills the caller's whole buffer,
// so an incomplete head or line can never complete.
func (p *pushParser) feed(b []byte, fullBuf bool) (int, error) {
	if len(b) > 0 {
		p.started = true
	}
	n := 0
	for n < len(b) || p.ph == phDone {
		switch p.ph {
		case phDone:
			return n, nil
		case phHead:
			i := bytes.Index(b[p.scanned:], []byte("\r\n\r\n"))
			if i < 0 {
				// The terminator may straddle this and the next read.
				p.scanned = max(len(b)-3, 0)
				if fullBuf {
					return n, &respError{kind: ErrProtocol, msg: fmt.Sprintf("response head larger than %d bytes", len(b))}
				}
				return n, nil
			}
			end := p.scanned + i + 4
			resp, err := parseHead(b[:end])
			if err != nil {
				return n, err
			}
			p.resp, n = resp, end
			switch {
			case resp.chunked:
				p.ph = phChunkSize
			case resp.length >= 0:
				p.ph, p.left = phBody, resp.length
				if p.left == 0 {
					p.ph = phDone
				}
			case resp.status == 204 || resp.status == 304 || resp.status/100 == 1:
				p.ph = phDone
			default:
				p.ph = phToEOF
			}
		case phBody, phChunkData:
			take := min(p.left, int64(len(b)-n))
			p.body(b[n : n+int(take)])
			n += int(take)
			if p.left == 0 {
				if p.ph == phBody {
					p.ph = phDone
				} else {
					p.ph = phChunkCRLF
				}
			}
		case phToEOF:
			p.body(b[n:])
			n = len(b)
		case phChunkSize, phChunkCRLF, phTrailer:
			i := bytes.IndexByte(b[n:], '\n')
			if i < 0 {
				if len(b)-n > maxChunkLine || fullBuf {
					return n, &respError{kind: ErrProtocol, msg: fmt.Sprintf("chunked body line longer than %d bytes", maxChunkLine)}
				}
				return n, nil
			}
			line := trimCR(b[n : n+i])
			n += i + 1
			if err := p.line(line); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// body counts body bytes b.
func (p *pushParser) body(b []byte) {
	if p.verify && !p.bad {
		for _, c := range b {
			if c != '0' {
				p.bad = true
				break
			}
		}
	}
	p.left -= int64(len(b))
	p.got += int64(len(b))
}

// skip counts n body bytes that bypassed the buffer (spliced away).
func (p *pushParser) skip(n int64) {
	p.left -= n
	p.got += n
	if p.left == 0 && p.ph == phBody {
		p.ph = phDone
	}
}

// line handles one line of a chunked body.
func (p *pushParser) line(line []byte) error {
	switch p.ph {
	case phChunkCRLF:
		if len(line) != 0 {
			return &respError{kind: ErrProtocol, msg: "chunk data not followed by CRLF"}
		}
		p.ph = phChunkSize
	case phTrailer:
		if len(line) == 0 {
			p.ph = phDone
		}
	case phChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || len(line) > 15 {
			return &respError{kind: ErrProtocol, msg: fmt.Sprintf("chunk size %q: want hex digits", clip(line))}
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
				return &respError{kind: ErrProtocol, msg: fmt.Sprintf("chunk size %q: want hex digits", clip(line))}
			}
			size = size<<4 | int64(d)
		}
		if size == 0 {
			p.ph = phTrailer
		} else {
			p.ph, p.left = phChunkData, size
		}
	}
	return nil
}

// eof ends the stream: it completes a body that runs to the end of the
// stream and is an error anywhere else. Before the response's first byte it
// returns io.EOF (the server closed a kept-alive connection).
func (p *pushParser) eof() error {
	switch {
	case p.ph == phToEOF:
		p.ph = phDone
		return nil
	case p.ph == phDone:
		return nil
	case !p.started:
		return io.EOF
	case p.ph == phHead:
		return &respError{kind: ErrShortBody, msg: "connection closed inside the response head"}
	case p.ph == phBody:
		return &respError{kind: ErrShortBody, msg: fmt.Sprintf("connection closed after %d of %d body bytes", p.got, p.resp.length)}
	}
	return &respError{kind: ErrShortBody, msg: "connection closed inside a chunked body"}
}
