package nfs

import (
	"github.com/lvsperf/lvsperf/probes"
)

// Direction says which way a probe copies.
type Direction string

// Directions.
const (
	// Read copies file.N from the server (cp /mnt/file.N /dev/null).
	Read Direction = "read"
	// Write copies file.N to the server (cp file.N /mnt/).
	Write Direction = "write"
)

// Probe is a timing.Probe that copies file.N one way per transfer, each
// copy timed from open to the last reply (COMMIT for writes). Before the
// first read of a size it makes sure the server holds the file, untimed.
type Probe struct {
	*probes.Copier
	c   *Client
	dir Direction
}

// NewProbe returns a probe copying in direction d over c.
func NewProbe(c *Client, d Direction) *Probe {
	transfer := c.Write
	if d == Read {
		transfer = c.Read
	}
	return &Probe{Copier: probes.NewCopier(d == Read, c.Ensure, transfer), c: c, dir: d}
}

// UDPProbe is Probe over UDPClient.
type UDPProbe struct {
	*probes.Copier
	c   *UDPClient
	dir Direction
}

// NewUDPProbe returns a probe copying in direction d over c.
func NewUDPProbe(c *UDPClient, d Direction) *UDPProbe {
	transfer := c.Write
	if d == Read {
		transfer = c.Read
	}
	return &UDPProbe{Copier: probes.NewCopier(d == Read, c.Ensure, transfer), c: c, dir: d}
}
