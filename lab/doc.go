// Package lab builds network-namespace topologies (client, director,
// realservers joined by veth links and bridges, with per-link MTU, tbf rate
// and offloads) from a small declarative Spec, runs code and processes
// inside their hosts, and tears everything down again, including what a
// crashed earlier run left behind. It needs root.
package lab
