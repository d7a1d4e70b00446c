// Package lpd is the Line Printer Daemon protocol (RFC 1179, TCP port 515)
// as a bulk-copy probe: a client that sends a print job (control file and
// data file) as rlpr does, and a server that spools jobs into a queue
// directory or discards them like a printer on /dev/null, acknowledging every
// step. Probe times one whole job for timing.Sweep.
package lpd
