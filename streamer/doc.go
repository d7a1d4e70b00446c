// Package streamer is NetPIPE's stream mode: the sender sends messages of
// growing size one way and the receiver returns only a small acknowledgement
// with the time it took to take them in. The sink is the netpipe receiver
// (one server answers both modes, as NPtcp's does); the sender here is a
// timing.Probe, timed the same way as the ping-pong.
package streamer
