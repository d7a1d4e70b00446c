package results

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// maxHeaderKeys bounds how many map keys readHeader looks at before giving up.
const maxHeaderKeys = 64

// readHeader reads the format and schema fields from the start of a
// msgpack run record without decoding the rest, so a file cut short after
// its header is still recognised as an lvsperf run (and then reported as
// truncated) rather than as something else. Encode writes format and schema
// first. It fails when data is not a msgpack map or has neither field.
func readHeader(data []byte) (header, error) {
	var h header
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	n, err := dec.DecodeMapLen()
	if err != nil || n < 0 {
		return h, fmt.Errorf("not a msgpack map")
	}
	seen := 0
	for i := 0; i < n && i < maxHeaderKeys && seen < 2; i++ {
		key, err := dec.DecodeString()
		if err != nil {
			return h, fmt.Errorf("map key %d: %w", i, err)
		}
		switch key {
		case "format":
			if h.Format, err = dec.DecodeString(); err != nil {
				return h, fmt.Errorf("format field: %w", err)
			}
			seen++
		case "schema":
			if h.Schema, err = dec.DecodeInt(); err != nil {
				return h, fmt.Errorf("schema field: %w", err)
			}
			seen++
		default:
			if err := dec.Skip(); err != nil {
				return h, fmt.Errorf("field %q: %w", key, err)
			}
		}
	}
	if seen == 0 {
		return h, fmt.Errorf("no format or schema field")
	}
	return h, nil
}
