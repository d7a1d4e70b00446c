// Package streamer is lvsperf's one-way streaming, in two models.
//
// NetPIPE's stream mode (Sender): the sender sends messages of growing size
// one way and the receiver returns only a small acknowledgement with the
// time it took to take them in. The sink is the netpipe receiver (one
// server answers both modes, as NPtcp's does); the sender is a
// timing.Probe, timed the same way as the ping-pong.
//
// Timed streams (RunTimed, Server): iperf3's model — a test of a fixed
// duration with parallel streams, reverse direction, TCP or UDP at a target
// rate, interval rows, TCP_INFO retransmits and window per stream, and UDP
// loss, reordering and RFC 3550 jitter at the receiver (UDPStats) — spoken
// over iperf3's own control protocol (iperf.go), so the client drives
// `iperf3 -s` as well as Server, and Server answers `iperf3 -c`.
package streamer
