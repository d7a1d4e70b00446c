package nfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// record encodes one RPC call with its record marker.
func record(t *testing.T, call any) []byte {
	t.Helper()
	var b bytes.Buffer
	msg := struct {
		Xid     uint32
		Msgtype uint32
		Body    any
	}{Xid: 42, Body: call}
	if err := xdr.Write(&b, msg); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4, 4+b.Len())
	binary.BigEndian.PutUint32(out, uint32(b.Len())|lastFragment)
	return append(out, b.Bytes()...)
}

func nfsHeader(proc uint32) rpc.Header {
	return rpc.Header{Rpcvers: 2, Prog: nfsc.Nfs3Prog, Vers: nfsc.Nfs3Vers, Proc: proc, Cred: rpc.AuthNull, Verf: rpc.AuthNull}
}

// stillServes checks that a new client can mount and read.
func stillServes(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, ClientOptions{Addr: s.Addr()})
	if err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
	defer c.Close()
	if err := c.Ensure(ctx, "alive", 10); err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
}

func TestProcUnavailReadsAsProcUnavail(t *testing.T) {
	s := startServer(t, ServerOptions{})
	mc, err := dialRPC(s.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	// MOUNTPROC3_EXPORT, which go-nfs does not implement and libnfs calls
	// unless auto-traverse-mounts=0.
	_, err = mc.Call(&struct{ rpc.Header }{rpc.Header{Rpcvers: 2, Prog: nfsc.MountProg, Vers: nfsc.MountVers, Proc: nfsc.MountProc3Export, Cred: rpc.AuthNull, Verf: rpc.AuthNull}})
	if err == nil || !strings.Contains(err.Error(), "PROC_UNAVAIL") {
		t.Fatalf("MOUNT EXPORT: %v, want PROC_UNAVAIL (go-nfs alone sends what reads as PROG_MISMATCH)", err)
	}
}

func TestOversizedRecordDropsOnlyThatClient(t *testing.T) {
	s := startServer(t, ServerOptions{MaxRecord: 64 << 10})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{0xff, 0xff, 0xff, 0xf0}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("server answered %d bytes to a 2 GiB record instead of hanging up", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept a connection that announced a 2 GiB record")
	}
	stillServes(t, s)
}

func TestIdleClientIsDropped(t *testing.T) {
	s := startServer(t, ServerOptions{IdleTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{0x80, 0, 0}) // half a record marker, then silence
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("server answered half a record marker")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept a silent client past its idle timeout")
	}
}

func TestDroppedWriteLeavesFileAlone(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 64 << 10
	if _, err := c.Write(ctx, "victim", n); err != nil {
		t.Fatal(err)
	}
	_, fh, err := c.tgt.Lookup("victim")
	if err != nil {
		t.Fatal(err)
	}
	type writeArgs struct {
		rpc.Header
		FH       []byte
		Offset   uint64
		Count    uint32
		How      uint32
		Contents []byte
	}
	rec := record(t, &writeArgs{Header: nfsHeader(nfsc.NFSProc3Write), FH: fh, Count: n, How: 2, Contents: make([]byte, n)})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// Half the WRITE, then the connection drops.
	if _, err := conn.Write(rec[:len(rec)/2]); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Clients() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got, err := os.ReadFile(filepath.Join(s.Dir(), "victim"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyPattern(got, 0); err != nil || len(got) != n {
		t.Fatalf("after a WRITE cut in half: %d bytes, %v; want the %d bytes written before", len(got), err, n)
	}
	stillServes(t, s)
}

func TestDotDotIsRefused(t *testing.T) {
	s := startServer(t, ServerOptions{})
	c := dial(t, ClientOptions{Addr: s.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, rootFH, err := c.tgt.Lookup(".")
	if err != nil {
		t.Fatal(err)
	}
	type createArgs struct {
		rpc.Header
		Where nfsc.Diropargs3
		Mode  uint32
		Attr  nfsc.Sattr3
	}
	outside := filepath.Join(filepath.Dir(s.Dir()), "escape-"+filepath.Base(s.Dir()))
	t.Cleanup(func() { os.Remove(outside) })
	for _, name := range []string{"../" + filepath.Base(outside), ".."} {
		_, err := c.tgt.Call(&createArgs{Header: nfsHeader(nfsc.NFSProc3Create), Where: nfsc.Diropargs3{FH: rootFH, Filename: name}})
		if err != nil {
			t.Fatalf("CREATE %q: the RPC failed (%v), want an NFS error status", name, err)
		}
		if _, err := os.Stat(outside); err == nil {
			t.Fatalf("CREATE %q made a file outside the export", name)
		}
	}
	// LOOKUP ".." at the root is refused (go-nfs answers NFS3ERR_ACCES).
	if _, _, err := c.tgt.Lookup(".."); err == nil {
		t.Fatal(`LOOKUP ".." at the export's root succeeded`)
	}
	// The client refuses such names before sending anything.
	if _, err := c.Write(ctx, "../x", 1); !errors.Is(err, ErrPathEscape) {
		t.Fatalf("client write to ../x: %v, want ErrPathEscape", err)
	}
	stillServes(t, s)
}

func TestSilentServerHonoursContext(t *testing.T) {
	// A server that accepts and never answers: Dial must give up with ctx.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = Dial(ctx, ClientOptions{Addr: ln.Addr().String()})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to a silent server: %v, want the context's deadline", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("dial to a silent server took %v with a 300ms context", d)
	}
}
