package nfs

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes/internal/probetest"
)

func TestXDRRoundTrip(t *testing.T) {
	var e xdrEnc
	e.u32(7)
	e.u64(1 << 40)
	e.opaque([]byte{1, 2, 3})
	e.str("abcd")
	if len(e.b) != 4+8+8+8 {
		t.Fatalf("encoded %d bytes, want 28 (opaques padded to 4)", len(e.b))
	}
	d := &xdrDec{b: e.b}
	if d.u32() != 7 || d.u64() != 1<<40 || !bytes.Equal(d.opaque(8), []byte{1, 2, 3}) || string(d.opaque(8)) != "abcd" || d.err != nil || len(d.b) != 0 {
		t.Fatalf("decoded wrongly: %v", d.err)
	}
	d = &xdrDec{b: []byte{0, 0, 0, 9, 1}}
	if d.opaque(8); d.err == nil {
		t.Fatal("an opaque longer than its bound decoded")
	}
}

func FuzzXDRDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &xdrDec{b: b}
		d.postOpAttr()
		d.wcc()
		if p := d.opaque(64); len(p) > 64 {
			t.Fatalf("opaque of %d bytes past its bound", len(p))
		}
		d.handle()
		d.u64()
	})
}

// fakeUDPServer answers MNT and FSINFO like a real server, but drops the
// first datagram of every call, so the client must send each call twice.
func fakeUDPServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		seen := map[uint32]bool{}
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			d := &xdrDec{b: buf[:n]}
			xid := d.u32()
			d.u32()
			d.u32()
			prog, _, proc := d.u32(), d.u32(), d.u32()
			if !seen[xid] {
				seen[xid] = true
				continue
			}
			var e xdrEnc
			e.u32(xid)
			e.u32(rpcReply)
			e.u32(msgAccepted)
			e.u32(authNull)
			e.u32(0)
			e.u32(acceptSuccess)
			switch {
			case prog == progMount && proc == mountProcMNT:
				e.u32(0)
				e.opaque([]byte("root-handle"))
				e.u32(0)
			case prog == progNFS && proc == procFSInfo:
				e.u32(nfs3OK)
				e.u32(0)    // no attributes
				e.u32(8192) // rtmax
				e.u32(8192) // rtpref
				e.u32(1)    // rtmult
				e.u32(4096) // wtmax
			case prog == progNFS && proc == procLookup:
				e.u32(nfs3ErrNoEnt)
			}
			pc.WriteTo(e.b, from)
		}
	}()
	return pc.LocalAddr().String()
}

func TestUDPClientResendsAndCaps(t *testing.T) {
	addr := fakeUDPServer(t)
	ctx, cancel := context.WithTimeout(probetest.Context(t), 10*time.Second)
	defer cancel()
	c, err := DialUDP(ctx, ClientOptions{Addr: addr, MountAddr: addr, RSize: 1 << 20, WSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Retransmissions() != 2 { // MNT and FSINFO, each dropped once
		t.Errorf("%d calls resent, want 2", c.Retransmissions())
	}
	if c.RSize() != 8192 || c.WSize() != 4096 || c.Info()["rsize_capped"] == "false" {
		t.Fatalf("rsize %v wsize %v (%v); want the server's rtmax 8KiB and wtmax 4KiB", c.RSize(), c.WSize(), c.Info())
	}
	if _, err := c.Read(ctx, "nope", 1); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read of a missing file: %v; want NFS3ERR_NOENT as os.ErrNotExist", err)
	}
}
