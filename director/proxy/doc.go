// Package proxy is the director's userspace engine: a TCP and UDP proxy with
// LVS-NAT semantics (both directions pass through the director). It listens on
// each virtual service's address, asks a dataplane.Picker for a realserver per
// new connection, and moves TCP bytes zero-copy with splice(2) on Linux.
//
// On Linux the TCP path accepts and dials with plain system calls (accept4,
// socket, connect) and hands the sockets to the runtime poller through
// os.NewFile, which spares the net package's per-connection getsockname,
// getpeername, getsockopt and setsockopt calls. CopyIOCopy uses the standard
// library throughout, for comparison. CopyEventLoop (Linux) replaces the
// goroutines and the runtime poller with event loops of its own: epoll on
// locked OS threads, which accept, dial and splice for many connections.
package proxy
