// Package probes holds what the bulk-copy probes share: dialing and listening
// on reserved ports (512–1023) as rcmd(3) and RFC 1179 clients do, and the
// in-memory payload a probe sends. Each protocol lives in its own subpackage
// (rsh, lpd, nfs, ftp) with its client, server and timing.Probe.
package probes
