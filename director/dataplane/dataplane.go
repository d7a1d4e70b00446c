// Package dataplane is the narrow interface between the director's model
// (services, schedulers, connection table, stats) and its engines (the
// userspace proxy, nftables, kernel IPVS). The model implements Picker and
// Flow; an engine calls them once per connection and counts traffic on the
// flow without taking a global lock.
package dataplane

import (
	"errors"
	"net/netip"
)

// Protocol is a virtual service's transport protocol.
type Protocol string

// Protocols a director serves.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Event is a change in a flow's life that the engine observed.
type Event int

// Flow events, in the order an engine normally reports them.
const (
	// Established: the engine connected to the realserver (TCP) or sent the
	// first datagram (UDP).
	Established Event = iota + 1
	// DialFailed: the realserver refused or did not answer; the flow ends.
	DialFailed
	// ClientFin: the client half-closed its side.
	ClientFin
	// ServerFin: the realserver half-closed its side.
	ServerFin
	// Reset: either side reset the connection.
	Reset
	// Closed: the engine released the flow; no more calls follow.
	Closed
)

// String names the event.
func (e Event) String() string {
	switch e {
	case Established:
		return "established"
	case DialFailed:
		return "dial-failed"
	case ClientFin:
		return "client-fin"
	case ServerFin:
		return "server-fin"
	case Reset:
		return "reset"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// ErrNoDestination is returned by Picker.Connect when the service has no
// realserver that may take a new connection (all quiesced, overloaded or
// down). The engine refuses the client connection.
var ErrNoDestination = errors.New("no realserver available")

// ErrNoService is returned by Picker.Connect when no virtual service matches.
var ErrNoService = errors.New("no such virtual service")

// Picker schedules new connections. It is called once per new flow and must
// be safe for concurrent use.
type Picker interface {
	// Connect schedules a new flow from client to the virtual service vip
	// and returns it; the flow says which realserver to dial.
	Connect(proto Protocol, vip, client netip.AddrPort) (Flow, error)
}

// Flow is one scheduled connection (an entry of the connection table).
type Flow interface {
	// Dest is the realserver to forward to.
	Dest() netip.AddrPort
	// Event records a change in the flow's life. After Closed the engine
	// makes no further calls on the flow.
	Event(e Event)
	// Count adds traffic: inbound is client→realserver. packets counts the
	// reads (userspace) or packets (kernel) that carried the bytes. It must
	// not take a lock shared with other flows.
	Count(inbound bool, bytes, packets int64)
}
