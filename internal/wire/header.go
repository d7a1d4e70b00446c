package wire

import (
	"encoding/binary"
	"fmt"
)

// Magic opens every connection in both directions, so a wrong peer is
// refused at once instead of being fed megabytes.
const Magic = "LVSNP\x01"

// Op is what a batch asks the receiver to do.
type Op byte

// Ops.
const (
	// OpPingPong: for each repetition read n bytes and send them back.
	OpPingPong Op = 'P'
	// OpStream: read reps×n bytes, then send an Ack with the time taken.
	OpStream Op = 'S'
	// OpQuit: the transmitter is done; the receiver closes.
	OpQuit Op = 'Q'
)

// Flags of a batch.
const (
	// FlagVerify asks both ends to check every byte against the pattern.
	FlagVerify byte = 1 << 0
)

// Limits a receiver enforces, so garbage cannot make it allocate or loop
// without bound.
const (
	MaxSize = 1 << 30
	MaxReps = 100_000_000
)

// HeaderLen is the size of an encoded Header.
const HeaderLen = 16

// Header precedes each batch.
type Header struct {
	Op    Op
	Flags byte
	Reps  uint32
	Size  uint64
}

// Encode writes h into b (len ≥ HeaderLen).
func (h Header) Encode(b []byte) {
	b[0], b[1], b[2], b[3] = byte(h.Op), h.Flags, 0, 0
	binary.BigEndian.PutUint32(b[4:8], h.Reps)
	binary.BigEndian.PutUint64(b[8:16], h.Size)
}

// DecodeHeader parses and validates a header.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("header: want %d bytes, got %d", HeaderLen, len(b))
	}
	h := Header{Op: Op(b[0]), Flags: b[1], Reps: binary.BigEndian.Uint32(b[4:8]), Size: binary.BigEndian.Uint64(b[8:16])}
	switch h.Op {
	case OpPingPong, OpStream:
	case OpQuit:
		return h, nil
	default:
		return h, fmt.Errorf("header: unknown op %q", byte(h.Op))
	}
	if b[2] != 0 || b[3] != 0 || h.Flags&^FlagVerify != 0 {
		return h, fmt.Errorf("header: reserved bits set (%#x %#x %#x)", h.Flags, b[2], b[3])
	}
	if h.Size > MaxSize {
		return h, fmt.Errorf("header: size %d exceeds the receiver's limit %d", h.Size, MaxSize)
	}
	if h.Reps == 0 || h.Reps > MaxReps {
		return h, fmt.Errorf("header: %d repetitions, want 1 to %d", h.Reps, MaxReps)
	}
	return h, nil
}

// Fill writes the verification pattern of repetition rep into b.
func Fill(b []byte, rep uint32) {
	s := byte(rep * 31)
	for i := range b {
		b[i] = s + byte(i)
	}
}

// Check returns the offset of the first byte of b that differs from the
// pattern of repetition rep, or -1.
func Check(b []byte, rep uint32) int {
	s := byte(rep * 31)
	for i := range b {
		if b[i] != s+byte(i) {
			return i
		}
	}
	return -1
}
