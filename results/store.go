package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vmihailenco/msgpack/v5"
)

// Extension is the file extension of stored runs.
const Extension = ".msgpack"

// maxFileSize bounds what Load reads, so a wrong path cannot exhaust memory.
const maxFileSize = 512 << 20

// ErrNotRun is returned for input that is not an lvsperf result.
var ErrNotRun = errors.New("not an lvsperf result file")

// ErrNewerSchema is returned for a result written by a newer lvsperf.
var ErrNewerSchema = errors.New("result written by a newer lvsperf")

// Encode writes r to w in the canonical msgpack form, stamping its format
// and schema.
func Encode(w io.Writer, r *Run) error {
	r.Format, r.Schema = Format, Schema
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode run: %w", err)
	}
	return nil
}

// header is the part of a file read first, to check what it is.
type header struct {
	Format string `msgpack:"format"`
	Schema int    `msgpack:"schema"`
}

// Decode reads one run in the canonical msgpack form. It refuses input that
// is not an lvsperf run, from a newer schema, or truncated, with an error
// that says which.
func Decode(r io.Reader) (*Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrNotRun, maxFileSize>>20)
	}
	return decodeBytes(data)
}

func decodeBytes(data []byte) (*Run, error) {
	h, err := readHeader(data)
	if err != nil || h.Format != Format {
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: the file is empty", ErrNotRun)
		}
		return nil, fmt.Errorf("%w: it does not start with an lvsperf run record", ErrNotRun)
	}
	if h.Schema > Schema {
		return nil, fmt.Errorf("%w: schema %d, this build reads up to %d; use a newer lvsperf", ErrNewerSchema, h.Schema, Schema)
	}
	if h.Schema < 1 {
		return nil, fmt.Errorf("%w: schema %d is not valid", ErrNotRun, h.Schema)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	var run Run
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("%w: truncated or corrupt run record: %w", ErrNotRun, err)
	}
	return &run, nil
}

// Save writes r to path atomically: the data goes to a temporary file in the
// same directory, is synced, and is renamed over path, so a killed run never
// leaves a torn file.
func Save(path string, r *Run) (err error) {
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// WriteFileAtomic writes data to path through a synced temporary file and a rename.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // make the rename durable; a failure here loses nothing already written
		d.Close()
	}
	return nil
}

// Load reads a run saved by Save.
func Load(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
