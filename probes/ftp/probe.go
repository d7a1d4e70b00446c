package ftp

import (
	"github.com/lvsperf/lvsperf/probes"
)

// Direction says which way a probe copies.
type Direction string

// Directions.
const (
	// Get copies file.N from the server (RETR).
	Get Direction = "get"
	// Put copies file.N to the server (STOR).
	Put Direction = "put"
)

// Probe is a timing.Probe that copies file.N one way per transfer, each
// copy timed from the command (or the login, with LoginPerTransfer) to the
// final reply. Before the first get of a size it makes sure the server
// holds the file, untimed.
type Probe struct {
	*probes.Copier
	c   *Client
	dir Direction
}

// NewProbe returns a probe copying in direction d over c.
func NewProbe(c *Client, d Direction) *Probe {
	transfer := c.Put
	if d == Get {
		transfer = c.Get
	}
	return &Probe{Copier: probes.NewCopier(d == Get, c.Ensure, transfer), c: c, dir: d}
}
