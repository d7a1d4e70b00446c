// Package proxy is the director's userspace engine: a TCP and UDP proxy with
// LVS-NAT semantics (both directions pass through the director). It listens on
// each virtual service's address, asks a dataplane.Picker for a realserver per
// new connection, and moves TCP bytes zero-copy with splice(2) on Linux.
package proxy
