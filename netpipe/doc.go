// Package netpipe is lvsperf's NetPIPE: a transmitter that bounces messages
// of n bytes off a receiver and reports half the round trip, as NetPIPE does,
// and the receiver, which also sinks NetPIPE's one-way streams (see package
// streamer). The transmitter is a timing.Probe; the timing core owns the size
// schedule, calibration and statistics.
package netpipe
