// Package probes holds what the bulk-copy probes share: dialing and listening
// on reserved ports (512–1023) as rcmd(3) and RFC 1179 clients do, the
// payloads a probe sends and the file.N it names, a server's accept loop and
// start-up, and the pieces of a file.N sweep. Each protocol lives in its own
// subpackage (rsh, lpd, nfs, ftp) with its client, server and timing.Probe.
package probes
