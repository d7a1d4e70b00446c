// Package proxy is the director's userspace engine: a TCP and UDP proxy with
// LVS-NAT semantics (both directions pass through the director). It listens on
// each virtual service's address, asks a dataplane.Picker for a realserver per
// new connection, and moves bulk TCP bytes zero-copy with splice(2) on Linux.
//
// On Linux the default TCP engine, CopyEventLoop, runs its own event loops:
// a goroutine per loop blocking in epoll_wait over raw non-blocking sockets, each loop
// accepting, dialling and relaying for many connections with no goroutine
// or runtime poller round per connection; it copies reads smaller than its
// 16 KiB buffer (cheaper than a pipe round for request/response traffic)
// and splices a direction from its first full read on. CopySplice (the default
// elsewhere) runs two goroutines per connection on the runtime poller,
// accepting and dialling with plain system calls (accept4, socket,
// connect) handed to the poller through os.NewFile. CopyIOCopy uses the
// standard library throughout, for comparison.
package proxy
