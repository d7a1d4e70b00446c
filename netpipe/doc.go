// Package netpipe is lvsperf's NetPIPE: a transmitter that bounces messages
// of n bytes off a receiver and reports half the round trip, as NetPIPE does,
// and the receiver, which also sinks NetPIPE's one-way streams (see package
// streamer). The transmitter is a timing.Probe; the timing core owns the size
// schedule, calibration and statistics.
//
// It also speaks NetPIPE 3.7's own TCP protocol (NPtcp, see nptcp.go): an
// NPTransmitter drives an NPtcp receiver, an NPServer answers NPtcp
// transmitters, with NetPIPE's -2 (both ends send at once), and RunNP runs
// N such pairs in lock-step with an aggregate series.
package netpipe
