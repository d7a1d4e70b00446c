// Package results holds what lvsperf measured and where: the Run record, its
// canonical msgpack store (written atomically, versioned), and its exports
// (NetPIPE 2.3 and 3.x text columns, CSV, JSON). Encoders and decoders are
// plain functions over io.Writer and io.Reader so every format round-trips in
// tests.
package results
