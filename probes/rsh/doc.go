// Package rsh is the rcmd(3) remote-shell protocol (BSD rshd, TCP port 514)
// as a bulk-copy probe: a client that copies n bytes with
// `rsh host "cat > /dev/null" < file`, and a server that runs only those
// copy sinks (memory, /dev/null, a spool directory with or without fsync) and
// never a shell. Probe times one whole copy for timing.Sweep.
package rsh
