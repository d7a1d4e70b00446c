// Package lvsconf parses the LVS configure script's lvs.conf format used in
// the seed experiments (LVS_TYPE=, VIP=, DIRECTOR_INSIDEIP=, SERVICE=t
// netpipe rr realserver1 realserver2, …) and applies it to an embedded
// director. Host names go through a resolver the caller passes in; errors
// name the file and line.
package lvsconf
