// Package ptester is the HTTP side of lvsperf: a file server for realservers
// (/file/file.N = 2^N bytes of '0', served from one shared buffer or from a
// directory) and a hammer that fetches one path from C synchronised clients,
// K requests per connection, closed or open loop, on a lean raw-TCP HTTP/1.1
// client. Two engines drive the clients: event loops over raw non-blocking
// sockets, one per core as wrk does (closed loop, the default), and a
// goroutine per client on Go's poller (open loop, host names). A sweep over
// file sizes turns hammer runs into timing points for the latency/max_rate
// fit.
package ptester
