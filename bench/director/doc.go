// Command director benchmarks the embedded director against going direct
// and against HAProxy in mode tcp, in one run on loopback: NetPIPE ping-pong
// latency and throughput, a one-way stream, and the new-connection rate,
// interleaved round by round, reporting medians, ratios and how busy the
// machine was.
package main
