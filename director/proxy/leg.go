package proxy

import (
	"io"
	"net"
	"syscall"
)

// leg is one side of a relayed TCP connection: the accepted client, or the
// connection to the realserver.
type leg struct {
	rc syscall.RawConn
	c  io.Closer
	// tcp is set when the leg is a *net.TCPConn: always for the client, and
	// for the realserver when it was dialled with net.Dialer (CopyIOCopy,
	// or off Linux).
	tcp *net.TCPConn
}

func tcpLeg(c *net.TCPConn) (*leg, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &leg{rc: rc, c: c, tcp: c}, nil
}

// closeWrite sends a FIN (shutdown SHUT_WR).
func (l *leg) closeWrite() error {
	if l.tcp != nil {
		return l.tcp.CloseWrite()
	}
	return sysShutdown(l.rc, syscall.SHUT_WR)
}

// shutdown shuts both directions down, which wakes a read or splice blocked
// on the leg (closing would not, and could let the descriptor be reused).
func (l *leg) shutdown() {
	if l.tcp != nil {
		l.tcp.CloseRead()
		l.tcp.CloseWrite()
		return
	}
	sysShutdown(l.rc, syscall.SHUT_RDWR)
}

// shutdownRead shuts the receive side down, which wakes a read or splice
// blocked on the leg and sends nothing to the peer.
func (l *leg) shutdownRead() {
	if l.tcp != nil {
		l.tcp.CloseRead()
		return
	}
	sysShutdown(l.rc, syscall.SHUT_RD)
}

// resetOnClose makes the coming close send a RST (SO_LINGER 0).
func (l *leg) resetOnClose() {
	if l.tcp != nil {
		l.tcp.SetLinger(0)
		return
	}
	sysLinger0(l.rc)
}

func (l *leg) close() error { return l.c.Close() }
