// Package wire is the socket layer and framing shared by the netpipe
// ping-pong and the streamer: TCP connections driven with blocking system
// calls on their own threads (no netpoller wake-up on the timed path), the
// socket options NetPIPE users expect, and the small control header that
// precedes every batch of transfers.
package wire
