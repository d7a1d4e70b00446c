package results

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func fixtureMsgpack(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, fixtureRun()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newerSchema returns the fixture stored as schema 99 by a future lvsperf.
func newerSchema(t testing.TB) []byte {
	t.Helper()
	r := fixtureRun()
	r.Schema = 99
	b, err := msgpack.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func otherMsgpack(t testing.TB) []byte {
	t.Helper()
	b, err := msgpack.Marshal(map[string]any{"name": "not a run", "values": []int{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeRefuses checks the three bad inputs a user meets: a file cut
// short (a copy interrupted), a file from a newer lvsperf, and msgpack that
// is not an lvsperf run.
func TestDecodeRefuses(t *testing.T) {
	good := fixtureMsgpack(t)
	for _, c := range []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotRun, "empty"},
		{"truncated", good[:len(good)*2/3], ErrNotRun, "truncated or corrupt"},
		{"newer schema", newerSchema(t), ErrNewerSchema, "schema 99, this build reads up to 1; use a newer lvsperf"},
		{"other msgpack", otherMsgpack(t), ErrNotRun, "does not start with an lvsperf run record"},
		{"text", []byte("0.000481 0.015857 8 1 0.000000\n"), ErrNotRun, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(c.in))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Decode error = %v, want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

// TestReadHeaderTruncated checks that the header of a run cut short is
// still read, so Decode can say "truncated" instead of "not a run".
func TestReadHeaderTruncated(t *testing.T) {
	good := fixtureMsgpack(t)
	for _, n := range []int{len(good) / 4, len(good) * 2 / 3, len(good) - 1, len(good)} {
		h, err := readHeader(good[:n])
		if err != nil || h.Format != Format || h.Schema != Schema {
			t.Errorf("readHeader of %d/%d bytes = %+v, %v; want format %q schema %d", n, len(good), h, err, Format, Schema)
		}
	}
	if h, err := readHeader(newerSchema(t)); err != nil || h.Schema != 99 {
		t.Errorf("readHeader(schema 99) = %+v, %v", h, err)
	}
	if h, err := readHeader(otherMsgpack(t)); err == nil && h.Format == Format {
		t.Errorf("readHeader(other msgpack) = %+v, want no lvsperf format", h)
	}
	for _, bad := range [][]byte{nil, []byte("text"), {0x93, 1, 2, 3}} {
		if _, err := readHeader(bad); err == nil {
			t.Errorf("readHeader(%q) succeeded", bad)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the msgpack decoder: it must never
// panic, must fail with one of its two errors, and what it accepts must
// encode again.
func FuzzDecode(f *testing.F) {
	good := fixtureMsgpack(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:7])
	f.Add(newerSchema(f))
	f.Add(otherMsgpack(f))
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa6, 'f', 'o', 'r', 'm', 'a', 't', 0xab, 'l', 'v', 's', 'p', 'e', 'r', 'f', '-', 'r', 'u', 'n'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotRun) && !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("Decode error %v is neither ErrNotRun nor ErrNewerSchema", err)
			}
			return
		}
		if err := Encode(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("a decoded run does not encode again: %v", err)
		}
	})
}

// FuzzReadHeader checks readHeader never panics on arbitrary input.
func FuzzReadHeader(f *testing.F) {
	good := fixtureMsgpack(f)
	f.Add(good)
	f.Add(good[:9])
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = readHeader(data) })
}

// FuzzDecodeJSON does the same for the JSON decoder.
func FuzzDecodeJSON(f *testing.F) {
	var buf bytes.Buffer
	if err := EncodeJSON(&buf, fixtureRun()); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"format":"lvsperf-run","schema":99}`))
	f.Add([]byte(`{"format":"lvsperf-run","schema":1,"series":[{"fit":{"max_rate_bps":"Infinity"}}]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeJSON(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotRun) && !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("DecodeJSON error %v is neither ErrNotRun nor ErrNewerSchema", err)
			}
			return
		}
		if err := Encode(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("a decoded run does not encode as msgpack: %v", err)
		}
	})
}

// FuzzReadNetPIPE checks the NetPIPE text readers never panic.
func FuzzReadNetPIPE(f *testing.F) {
	f.Add("0.000481 0.015857 8 1 0.000000\n0.000478 0.031922 16 2 0.000000\n")
	f.Add("       1 1.069983   0.00000713\n 1048579 61987.184671   0.00012906\n")
	f.Add("# comment\n\n1e400 NaN -8 -1 x\n")
	f.Fuzz(func(t *testing.T, s string) {
		l2, _ := ReadNP2(strings.NewReader(s))
		l3, _ := ReadNP3(strings.NewReader(s))
		for _, l := range append(l2, l3...) {
			if l.Bytes < 0 || l.Time < 0 {
				t.Fatalf("reader returned a negative size or time: %+v", l)
			}
		}
	})
}
