package rsh

import (
	"fmt"
	"os"
	"path/filepath"
)

// NullMode says what `cat > /dev/null` does on the server.
type NullMode string

// Null modes.
const (
	// NullDevNull writes every chunk into /dev/null as cat does (a write
	// system call per chunk). The default.
	NullDevNull NullMode = "devnull"
	// NullMemory only counts the bytes: the cost of the network path alone.
	NullMemory NullMode = "memory"
)

// sink receives one copy. Commit makes it visible once the client's data
// ended cleanly; Abort drops it.
type sink interface {
	Write(p []byte) (int, error)
	Commit() error
	Abort()
}

type memorySink struct{}

func (memorySink) Write(p []byte) (int, error) { return len(p), nil }
func (memorySink) Commit() error               { return nil }
func (memorySink) Abort()                      {}

type devNullSink struct{ f *os.File }

func (s devNullSink) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s devNullSink) Commit() error               { return s.f.Close() }
func (s devNullSink) Abort()                      { s.f.Close() }

// fileSink writes to a hidden temporary file in the spool directory and
// renames it onto its name only when the copy ended cleanly, so a dropped
// connection never leaves a partial file that looks complete.
type fileSink struct {
	f     *os.File
	final string
	fsync bool
}

func newFileSink(dir, name string, fsync bool) (*fileSink, error) {
	f, err := os.CreateTemp(dir, "."+name+".part-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create %s in the spool directory: %w", name, err)
	}
	return &fileSink{f: f, final: filepath.Join(dir, name), fsync: fsync}, nil
}

func (s *fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *fileSink) Commit() error {
	if s.fsync {
		if err := s.f.Sync(); err != nil {
			s.Abort()
			return fmt.Errorf("fsync %s: %w", s.final, err)
		}
	}
	if err := s.f.Close(); err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("close %s: %w", s.final, err)
	}
	if err := os.Rename(s.f.Name(), s.final); err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("rename onto %s: %w", s.final, err)
	}
	return nil
}

func (s *fileSink) Abort() {
	s.f.Close()
	os.Remove(s.f.Name())
}
