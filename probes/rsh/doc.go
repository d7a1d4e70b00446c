// Package rsh is the rcmd(3) remote-shell protocol (BSD rshd, TCP port 514)
// as a bulk-copy probe: a client that copies n bytes with
// `rsh host "cat > /dev/null" < file` (or with rcp's protocol, RcpSend and
// RcpFetch), and a server that runs only those copy sinks (memory,
// /dev/null, a spool directory with or without fsync) and rcp's remote side
// (`rcp -t` and `rcp -f` inside the spool), never a shell. Probe times one
// whole copy for timing.Sweep.
package rsh
