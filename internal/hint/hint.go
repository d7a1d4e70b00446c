package hint

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// Kind is what went wrong on the network, as far as the error tells.
type Kind string

// The kinds For recognises.
const (
	None        Kind = ""
	DNS         Kind = "dns"
	Refused     Kind = "refused"
	Timeout     Kind = "timeout"
	Reset       Kind = "reset"
	Unreachable Kind = "unreachable"
)

// KindOf classifies err by what its chain holds.
func KindOf(err error) Kind {
	if err == nil {
		return None
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return DNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return None
}

// For returns what to check after err ("" when err is not a network error
// For knows). server names what should be listening, e.g. "lvsperf serve
// http or a web server"; "" says "the server".
func For(err error, server string) string {
	if server == "" {
		server = "the server"
	}
	switch KindOf(err) {
	case DNS:
		var d *net.DNSError
		errors.As(err, &d)
		if d.IsTimeout {
			return "the name server did not answer: check /etc/resolv.conf, or give the host as an IP address"
		}
		return "the host name does not resolve: check its spelling, or give the host as an IP address"
	case Refused:
		return "nothing listens on that port: is " + server + " running there, and is the port right?"
	case Timeout:
		return "no answer in time: is the host up, is there a route to it, and does a firewall drop the packets?"
	case Reset:
		return "the peer closed the connection: is that port " + server + " (the same protocol), or did it crash or limit connections?"
	case Unreachable:
		return "no route to the host: check the address, the interface and the routes (ip route get ADDR)"
	}
	return ""
}
