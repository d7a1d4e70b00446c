package nfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// reply builds one record-marked reply as go-nfs v0.0.4 writes it.
func reply(stat, code uint32, body ...uint32) []byte {
	words := []uint32{0x1234, 1, stat}
	if stat == replyAccepted {
		words = append(words, 0, 0) // AUTH_NULL verifier
	}
	words = append(words, code)
	words = append(words, body...)
	b := make([]byte, 4+4*len(words))
	binary.BigEndian.PutUint32(b, uint32(4*len(words))|lastFragment)
	for i, w := range words {
		binary.BigEndian.PutUint32(b[4+4*i:], w)
	}
	return b
}

func le(v uint32) uint32 { // the word go-nfs means, read big-endian
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return binary.BigEndian.Uint32(b[:])
}

func TestReplyFixerFixtures(t *testing.T) {
	cases := []struct {
		name    string
		in, out []byte
	}{
		{"success passes", reply(replyAccepted, 0, 7, 8, 9), reply(replyAccepted, 0, 7, 8, 9)},
		{"prog unavail stays 1", reply(replyAccepted, 1), reply(replyAccepted, 1)},
		{"proc unavail 2→3", reply(replyAccepted, 2), reply(replyAccepted, 3)},
		{"garbage args 3→4", reply(replyAccepted, 3), reply(replyAccepted, 4)},
		{"system err 4→5", reply(replyAccepted, 4), reply(replyAccepted, 5)},
		{"rpc mismatch 5→0, body to big-endian", reply(replyDenied, 5, le(2), le(2)), reply(replyDenied, 0, 2, 2)},
		{"auth error 6→1, body to big-endian", reply(replyDenied, 6, le(1)), reply(replyDenied, 1, 1)},
	}
	for _, c := range cases {
		var out bytes.Buffer
		f := newReplyFixer(&out)
		if _, err := f.Write(c.in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), c.out) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, out.Bytes(), c.out)
		}
	}
}

// fixWhole is the reference: fix every record of a complete stream at once.
func fixWhole(in []byte) []byte {
	out := bytes.Clone(in)
	first := true
	for b := out; len(b) >= 4; {
		m := binary.BigEndian.Uint32(b)
		size := int(m &^ lastFragment)
		body := b[4:min(len(b), 4+size)]
		if first {
			fixReply(body[:min(len(body), maxHead-4)])
		}
		first = m&lastFragment != 0
		b = b[4+len(body):]
	}
	return out
}

func checkSplits(t testing.TB, stream []byte, step int) {
	var out bytes.Buffer
	f := newReplyFixer(&out)
	for b := stream; len(b) > 0; {
		n := min(step, len(b))
		if k, err := f.Write(b[:n]); err != nil || k != n {
			t.Fatalf("write %d bytes: wrote %d, %v", n, k, err)
		}
		b = b[n:]
	}
	if want := fixWhole(stream); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("split every %d bytes:\n got % x\nwant % x", step, out.Bytes(), want)
	}
}

func TestReplyFixerAnySplit(t *testing.T) {
	var stream []byte
	stream = append(stream, reply(replyAccepted, 2)...)
	stream = append(stream, reply(replyAccepted, 0, 1, 2, 3, 4, 5, 6, 7, 8)...)
	stream = append(stream, reply(replyDenied, 5, le(2), le(3))...)
	stream = append(stream, reply(replyAccepted, 4)...)
	for step := 1; step <= len(stream); step++ {
		checkSplits(t, stream, step)
	}
}

func FuzzReplyFixer(f *testing.F) {
	f.Add(reply(replyAccepted, 2), 3)
	f.Add(append(reply(replyDenied, 6, le(1)), reply(replyAccepted, 0, 1)...), 1)
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0, 0, 0}, 2)
	f.Fuzz(func(t *testing.T, stream []byte, step int) {
		if step <= 0 || step > 1<<16 {
			step = 7
		}
		// The fixer must never change a stream's length, whatever it holds.
		var out bytes.Buffer
		fx := newReplyFixer(&out)
		for b := stream; len(b) > 0; {
			n := min(step, len(b))
			if k, err := fx.Write(b[:n]); err != nil || k != n {
				t.Fatalf("write: %d of %d, %v", k, n, err)
			}
			b = b[n:]
		}
		if out.Len() > len(stream) {
			t.Fatalf("fixer wrote %d bytes for %d", out.Len(), len(stream))
		}
		// A complete stream comes out whole and fixed as the reference does.
		if complete(stream) {
			checkSplits(t, stream, step)
		}
	})
}

// complete reports whether stream is a whole number of fragments.
func complete(stream []byte) bool {
	for len(stream) >= 4 {
		size := int(binary.BigEndian.Uint32(stream) &^ lastFragment)
		if len(stream) < 4+size {
			return false
		}
		stream = stream[4+size:]
	}
	return len(stream) == 0
}

func TestRecordGuard(t *testing.T) {
	rec := func(n uint32) []byte {
		b := make([]byte, 4+n)
		binary.BigEndian.PutUint32(b, n|lastFragment)
		return b
	}
	ok := append(rec(100), rec(1000)...)
	g := &recordGuard{r: bytes.NewReader(ok), max: 1000}
	got, err := io.ReadAll(g)
	if err != nil || !bytes.Equal(got, ok) {
		t.Fatalf("records within the limit: %d bytes, %v", len(got), err)
	}
	big := append(rec(10), 0x7f, 0xff, 0xff, 0xff)
	g = &recordGuard{r: bytes.NewReader(big), max: 1000}
	if _, err := io.ReadAll(g); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("a 2 GiB record: %v, want ErrRecordTooLarge", err)
	}
}

func FuzzRecordGuard(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 4, 1, 2, 3, 4}, uint16(4))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		g := &recordGuard{r: bytes.NewReader(in), max: int64(max)}
		got, err := io.ReadAll(g)
		if err == nil && !bytes.Equal(got, in) {
			t.Fatalf("passed %d bytes of %d without error", len(got), len(in))
		}
		if err != nil && !errors.Is(err, ErrRecordTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
