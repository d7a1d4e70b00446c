// Package nfs is the NFSv3 bulk-copy probe: an embedded server (go-nfs over a
// directory, with its RPC reply codes corrected on the wire) and a client
// (go-nfs-client) that copies file.N to or from a server the way cp(1) on a
// mount does, timing each whole copy for the timing core. The client also
// talks to servers with separate MOUNT and NFS ports, such as nfs-ganesha.
//
// UDPClient is the project's own NFSv3-over-UDP client (no Go library or
// libnfs sends NFS over UDP), for servers that serve it; go-nfs serves TCP
// only. A sweep can also vary rsize and wsize (SweepOptions.RWSizes); the
// embedded server counts every READ and WRITE payload (Server.Payloads).
package nfs
