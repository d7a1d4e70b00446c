package probes

import (
	"io"

	"github.com/lvsperf/lvsperf/timing"
)

// pattern is the 128 KiB block payloads repeat: printable, so a spooled
// file can be looked at.
var pattern = func() []byte {
	b := make([]byte, 128<<10)
	for i := range b {
		b[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i%37]
	}
	return b
}()

// Pattern is an io.Reader of a fixed number of bytes from a repeating block,
// the in-memory file a probe sends.
type Pattern struct {
	left, off int64
}

// NewPattern returns a reader of exactly n bytes.
func NewPattern(n timing.Bytes) *Pattern { return &Pattern{left: int64(n)} }

// Read implements io.Reader.
func (p *Pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	m := int(min(int64(len(b)), p.left))
	k := 0
	for k < m {
		i := int((p.off + int64(k)) % int64(len(pattern)))
		k += copy(b[k:m], pattern[i:])
	}
	p.off += int64(m)
	p.left -= int64(m)
	return m, nil
}
