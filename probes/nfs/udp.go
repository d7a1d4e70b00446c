package nfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// NFSv3 over UDP. No Go library nor libnfs sends it, so this is the
// project's own small client: ONC RPC (RFC 5531) with one call per
// datagram and no record marking, MOUNT v3 (RFC 1813, appendix I) and the
// NFSv3 calls a copy needs (LOOKUP, CREATE, SETATTR, READ, WRITE, COMMIT,
// FSINFO), each encoded by hand in XDR (RFC 4506). A datagram that gets no
// answer is sent again with the same xid, a bounded number of times, as
// the kernel's client does over UDP.

// RPC and program numbers.
const (
	rpcCall       = 0
	rpcReply      = 1
	msgAccepted   = 0
	acceptSuccess = 0
	authNull      = 0
	authUnix      = 1

	progMount    = 100005
	mountVers3   = 3
	mountProcMNT = 1

	progNFS      = 100003
	nfsVers3     = 3
	procSetattr  = 2
	procLookup   = 3
	procRead     = 6
	procWrite    = 7
	procCreate   = 8
	procFSInfo   = 19
	procCommit   = 21
	nfs3OK       = 0
	nfs3ErrNoEnt = 2
	stableFile   = 2 // FILE_SYNC
	createUnchk  = 0
)

// UDP limits and defaults.
const (
	// MaxUDPXfer bounds rsize and wsize over UDP: a READ reply or a WRITE
	// call must fit in one datagram (64 KiB less the IP and UDP headers)
	// with its RPC and NFS headers; Linux caps UDP at 32 KiB.
	MaxUDPXfer = 32 * timing.KiB
	// DefaultUDPTimeout is how long a call waits for its reply before it is
	// sent again.
	DefaultUDPTimeout = 500 * time.Millisecond
	// udpAttempts bounds how often one call is sent.
	udpAttempts = 6
	maxDatagram = 65507
)

// xdrEnc appends XDR items to a buffer.
type xdrEnc struct{ b []byte }

func (e *xdrEnc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *xdrEnc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *xdrEnc) opaque(p []byte) {
	e.u32(uint32(len(p)))
	e.b = append(e.b, p...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}
func (e *xdrEnc) str(s string) { e.opaque([]byte(s)) }

// xdrDec reads XDR items; the first error sticks and later reads give
// zeros.
type xdrDec struct {
	b   []byte
	err error
}

func (d *xdrDec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("xdr: want %d bytes, %d left", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *xdrDec) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *xdrDec) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *xdrDec) opaque(max int) []byte {
	n := int(d.u32())
	if d.err == nil && n > max {
		d.err = fmt.Errorf("xdr: opaque of %d bytes, want at most %d", n, max)
		return nil
	}
	p := d.take(n)
	d.take((4 - n%4) % 4)
	return p
}

// handle reads a file handle (at most 64 bytes, NFS3_FHSIZE) into its own
// memory: the decoder's bytes are the receive buffer, which the next call
// overwrites.
func (d *xdrDec) handle() []byte {
	p := d.opaque(64)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *xdrDec) bool() bool { return d.u32() != 0 }

// postOpAttr reads a post_op_attr: a flag and, when set, a fattr3 (84 bytes),
// returning the file's size when present.
func (d *xdrDec) postOpAttr() (size int64, ok bool) {
	if !d.bool() {
		return 0, false
	}
	a := d.take(84)
	if a == nil {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(a[20:28])), true
}

// wcc skips a wcc_data: pre_op_attr (flag, 24 bytes) and post_op_attr.
func (d *xdrDec) wcc() {
	if d.bool() {
		d.take(24)
	}
	d.postOpAttr()
}

// UDPClient is an NFSv3 client over UDP of one export. It is used by one
// goroutine at a time.
type UDPClient struct {
	opts     ClientOptions
	nfs      *net.UDPConn
	cred     []byte
	root     []byte
	rsize    int
	wsize    int
	rtmax    uint32
	wtmax    uint32
	timeout  time.Duration
	retrans  int64
	xid      uint32
	rbuf     []byte
	fillBuf  []byte
	attempts int
}

// DialUDP mounts opts.Export over UDP (MOUNT at opts.MountAddr, which a UDP
// server always has apart: nfs-ganesha's 20048) and reads FSINFO. rsize and
// wsize are capped at MaxUDPXfer and at the server's rtmax and wtmax.
func DialUDP(ctx context.Context, opts ClientOptions) (*UDPClient, error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	c := &UDPClient{opts: o, timeout: DefaultUDPTimeout, attempts: udpAttempts, xid: rand.Uint32(), rbuf: make([]byte, maxDatagram+1)}
	c.cred = authUnixCred()
	mc, err := dialUDP(ctx, o.MountAddr, o.ReservedPort)
	if err != nil {
		return nil, fmt.Errorf("nfs udp: MOUNT at %s: %w", o.MountAddr, err)
	}
	defer mc.Close()
	var e xdrEnc
	e.str(o.Export)
	d, err := c.call(ctx, mc, progMount, mountVers3, mountProcMNT, e.b)
	if err != nil {
		return nil, fmt.Errorf("nfs udp: mount %s from %s: %w", o.Export, o.MountAddr, err)
	}
	if st := d.u32(); st != 0 {
		return nil, fmt.Errorf("nfs udp: mount %s from %s: MNT3 status %d (13 = ACCES: check the export's path and clients; 2 = NOENT)", o.Export, o.MountAddr, st)
	}
	c.root = d.handle()
	if d.err != nil || len(c.root) == 0 {
		return nil, fmt.Errorf("nfs udp: mount %s: bad MNT reply: %v", o.Export, d.err)
	}
	if c.nfs, err = dialUDP(ctx, o.Addr, o.ReservedPort); err != nil {
		return nil, fmt.Errorf("nfs udp: NFS at %s: %w", o.Addr, err)
	}
	if err := c.fsinfo(ctx); err != nil {
		c.nfs.Close()
		return nil, err
	}
	if o.Dir != "." {
		fh, _, err := c.lookupPath(ctx, o.Dir)
		if err != nil {
			c.nfs.Close()
			return nil, fmt.Errorf("nfs udp: directory %s: %w", o.Dir, err)
		}
		c.root = fh
	}
	c.rsize = int(min(o.RSize, MaxUDPXfer, timing.Bytes(c.rtmax)))
	c.wsize = int(min(o.WSize, MaxUDPXfer, timing.Bytes(c.wtmax)))
	c.fillBuf = make([]byte, c.wsize)
	return c, nil
}

func authUnixCred() []byte {
	var e xdrEnc
	e.u32(uint32(time.Now().Unix()))
	e.str("lvsperf")
	e.u32(uint32(os.Getuid()))
	e.u32(uint32(os.Getgid()))
	e.u32(0) // no supplementary groups
	return e.b
}

// dialUDP connects a UDP socket to addr, from a reserved port when asked.
func dialUDP(ctx context.Context, addr string, reserved bool) (*net.UDPConn, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	if !reserved {
		return net.DialUDP("udp", nil, ra)
	}
	var lastErr error
	for port := probes.RcmdHigh; port >= 600; port-- {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, err := net.DialUDP("udp", &net.UDPAddr{Port: port}, ra)
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no free reserved UDP port: %w", lastErr)
}

// call sends one RPC call on conn and returns the decoder positioned at
// the procedure's results, sending it again when no reply comes in time.
func (c *UDPClient) call(ctx context.Context, conn *net.UDPConn, prog, vers, proc uint32, args []byte) (*xdrDec, error) {
	c.xid++
	xid := c.xid
	var e xdrEnc
	e.u32(xid)
	e.u32(rpcCall)
	e.u32(2)
	e.u32(prog)
	e.u32(vers)
	e.u32(proc)
	e.u32(authUnix)
	e.opaque(c.cred)
	e.u32(authNull)
	e.u32(0)
	msg := append(e.b, args...)
	if len(msg) > maxDatagram {
		return nil, fmt.Errorf("rpc call of %d bytes does not fit in a datagram", len(msg))
	}
	for attempt := range c.attempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if attempt > 0 {
			c.retrans++
		}
		conn.SetDeadline(time.Now().Add(c.timeout))
		if _, err := conn.Write(msg); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		for {
			n, err := conn.Read(c.rbuf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // send again
			}
			if err != nil {
				return nil, fmt.Errorf("receive: %w", err)
			}
			d := &xdrDec{b: c.rbuf[:n]}
			if d.u32() != xid {
				continue // a late reply to an earlier send
			}
			if d.u32() != rpcReply {
				return nil, errors.New("rpc: a CALL came back where a REPLY was due")
			}
			if st := d.u32(); st != msgAccepted {
				return nil, fmt.Errorf("rpc: call denied (reply_stat %d: the server refused the credentials or the RPC version)", st)
			}
			d.u32()       // verifier flavour
			d.opaque(400) // verifier body
			st := d.u32()
			if d.err != nil {
				return nil, fmt.Errorf("rpc: short reply: %w", d.err)
			}
			if st != acceptSuccess {
				return nil, fmt.Errorf("rpc: accept_stat %d (1 PROG_UNAVAIL, 2 PROG_MISMATCH, 3 PROC_UNAVAIL, 4 GARBAGE_ARGS, 5 SYSTEM_ERR)", st)
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("no reply from %s after %d sends %v apart", conn.RemoteAddr(), c.attempts, c.timeout)
}

// nfsCall calls an NFS procedure and checks its nfsstat3.
func (c *UDPClient) nfsCall(ctx context.Context, proc uint32, args []byte) (*xdrDec, uint32, error) {
	d, err := c.call(ctx, c.nfs, progNFS, nfsVers3, proc, args)
	if err != nil {
		return nil, 0, err
	}
	st := d.u32()
	return d, st, d.err
}

func (c *UDPClient) fsinfo(ctx context.Context) error {
	var e xdrEnc
	e.opaque(c.root)
	d, st, err := c.nfsCall(ctx, procFSInfo, e.b)
	if err == nil && st != nfs3OK {
		err = fmt.Errorf("status %d", st)
	}
	if err != nil {
		return fmt.Errorf("nfs udp: FSINFO at %s: %w", c.opts.Addr, err)
	}
	d.postOpAttr()
	c.rtmax = d.u32()
	d.u32() // rtpref
	d.u32() // rtmult
	c.wtmax = d.u32()
	if d.err != nil || c.rtmax == 0 || c.wtmax == 0 {
		return fmt.Errorf("nfs udp: FSINFO at %s: rtmax %d, wtmax %d (%v): want positive sizes", c.opts.Addr, c.rtmax, c.wtmax, d.err)
	}
	return nil
}

// errNoEnt is NFS3ERR_NOENT; it satisfies os.IsNotExist.
var errNoEnt = fmt.Errorf("NFS3ERR_NOENT: %w", os.ErrNotExist)

func (c *UDPClient) lookup(ctx context.Context, dir []byte, name string) ([]byte, int64, error) {
	var e xdrEnc
	e.opaque(dir)
	e.str(name)
	d, st, err := c.nfsCall(ctx, procLookup, e.b)
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("LOOKUP %s: %w", name, err)
	case st == nfs3ErrNoEnt:
		return nil, 0, fmt.Errorf("LOOKUP %s: %w", name, errNoEnt)
	case st != nfs3OK:
		return nil, 0, fmt.Errorf("LOOKUP %s: NFS status %d", name, st)
	}
	fh := d.handle()
	size, _ := d.postOpAttr()
	return fh, size, d.err
}

func (c *UDPClient) lookupPath(ctx context.Context, p string) ([]byte, int64, error) {
	fh, size := c.root, int64(0)
	for _, part := range splitPath(p) {
		var err error
		if fh, size, err = c.lookup(ctx, fh, part); err != nil {
			return nil, 0, err
		}
	}
	return fh, size, nil
}

func splitPath(p string) []string {
	var parts []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if s := p[start:i]; s != "" && s != "." {
				parts = append(parts, s)
			}
			start = i + 1
		}
	}
	return parts
}

// Read copies name to nowhere in READs of rsize and returns the time it
// took (LOOKUP included), failing unless exactly n bytes came.
func (c *UDPClient) Read(ctx context.Context, name string, n timing.Bytes) (time.Duration, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	t0 := time.Now()
	fh, _, err := c.lookup(ctx, c.root, name)
	if err != nil {
		return time.Since(t0), fmt.Errorf("nfs udp read %s: %w", name, err)
	}
	var off uint64
	for {
		var e xdrEnc
		e.opaque(fh)
		e.u64(off)
		e.u32(uint32(c.rsize))
		d, st, err := c.nfsCall(ctx, procRead, e.b)
		if err == nil && st != nfs3OK {
			err = fmt.Errorf("NFS status %d", st)
		}
		if err != nil {
			return time.Since(t0), fmt.Errorf("nfs udp read %s at %d: %w", name, off, err)
		}
		d.postOpAttr()
		count := d.u32()
		eof := d.bool()
		data := d.opaque(c.rsize)
		if d.err != nil || int(count) != len(data) {
			return time.Since(t0), fmt.Errorf("nfs udp read %s at %d: bad reply (count %d, %d bytes of data, %v)", name, off, count, len(data), d.err)
		}
		if c.opts.Verify {
			if err := verifyPattern(data, int64(off)); err != nil {
				return time.Since(t0), fmt.Errorf("nfs udp read %s: %w", name, err)
			}
		}
		off += uint64(count)
		if eof {
			break
		}
		if count == 0 {
			return time.Since(t0), fmt.Errorf("nfs udp read %s at %d: an empty READ without EOF", name, off)
		}
	}
	d := time.Since(t0)
	if off != uint64(n) {
		return d, fmt.Errorf("nfs udp read %s: got %d bytes, want %d: the file on the server has another size", name, off, n)
	}
	return d, nil
}

// Write copies n bytes of probes.FillFile to name in FILE_SYNC WRITEs of
// wsize, as cp onto a mount (SETATTR size 0 for an existing file, CREATE
// otherwise), ending with COMMIT, and returns the time it took.
func (c *UDPClient) Write(ctx context.Context, name string, n timing.Bytes) (time.Duration, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	t0 := time.Now()
	fail := func(err error) (time.Duration, error) {
		return time.Since(t0), fmt.Errorf("nfs udp write %s (%d bytes): %w", name, n, err)
	}
	fh, size, err := c.lookup(ctx, c.root, name)
	switch {
	case err == nil && size > 0:
		var e xdrEnc
		e.opaque(fh)
		// sattr3: mode, uid, gid unset; size set to 0; times unchanged.
		for range 3 {
			e.u32(0)
		}
		e.u32(1)
		e.u64(0)
		e.u32(0)
		e.u32(0)
		e.u32(0) // no guard
		if _, st, err := c.nfsCall(ctx, procSetattr, e.b); err != nil || st != nfs3OK {
			return fail(fmt.Errorf("SETATTR size 0: status %d, %v", st, err))
		}
	case err != nil && errors.Is(err, os.ErrNotExist):
		var e xdrEnc
		e.opaque(c.root)
		e.str(name)
		e.u32(createUnchk)
		e.u32(1) // mode set
		e.u32(0o644)
		for range 2 {
			e.u32(0)
		}
		e.u32(1) // size set, to 0
		e.u64(0)
		e.u32(0)
		e.u32(0)
		d, st, err := c.nfsCall(ctx, procCreate, e.b)
		if err == nil && st != nfs3OK {
			err = fmt.Errorf("NFS status %d", st)
		}
		if err != nil {
			return fail(fmt.Errorf("CREATE: %w", err))
		}
		if d.bool() {
			fh = d.handle()
		}
		if d.err != nil || fh == nil {
			if fh, _, err = c.lookup(ctx, c.root, name); err != nil {
				return fail(fmt.Errorf("CREATE gave no handle, and %w", err))
			}
		}
	case err != nil:
		return fail(err)
	}
	for off := int64(0); off < int64(n); {
		b := c.fillBuf[:min(int64(c.wsize), int64(n)-off)]
		probes.FillFile(b, off)
		var e xdrEnc
		e.opaque(fh)
		e.u64(uint64(off))
		e.u32(uint32(len(b)))
		e.u32(stableFile)
		e.opaque(b)
		d, st, err := c.nfsCall(ctx, procWrite, e.b)
		if err == nil && st != nfs3OK {
			err = fmt.Errorf("NFS status %d", st)
		}
		if err != nil {
			return fail(fmt.Errorf("WRITE at %d: %w", off, err))
		}
		d.wcc()
		count := d.u32()
		if d.err != nil || count == 0 || int(count) > len(b) {
			return fail(fmt.Errorf("WRITE at %d: the server wrote %d of %d bytes (%v)", off, count, len(b), d.err))
		}
		off += int64(count)
	}
	var e xdrEnc
	e.opaque(fh)
	e.u64(0)
	e.u32(0)
	if _, st, err := c.nfsCall(ctx, procCommit, e.b); err != nil || st != nfs3OK {
		return fail(fmt.Errorf("COMMIT: status %d, %v", st, err))
	}
	return time.Since(t0), nil
}

// Ensure makes name hold n bytes of probes.FillFile, writing it when it is
// missing or has another size.
func (c *UDPClient) Ensure(ctx context.Context, name string, n timing.Bytes) error {
	_, size, err := c.lookup(ctx, c.root, name)
	if err == nil && size == int64(n) {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_, err = c.Write(ctx, name, n)
	return err
}

// RSize and WSize return the READ and WRITE payloads in effect.
func (c *UDPClient) RSize() timing.Bytes { return timing.Bytes(c.rsize) }

// WSize returns the WRITE payload in effect.
func (c *UDPClient) WSize() timing.Bytes { return timing.Bytes(c.wsize) }

// Retransmissions counts the calls sent again for want of a reply.
func (c *UDPClient) Retransmissions() int64 { return c.retrans }

// Info describes the mount for results.
func (c *UDPClient) Info() map[string]string {
	return map[string]string{
		"transport":    "udp",
		"nfs_addr":     c.opts.Addr,
		"mount_addr":   c.opts.MountAddr,
		"export":       c.opts.Export,
		"rsize":        strconv.Itoa(c.rsize),
		"wsize":        strconv.Itoa(c.wsize),
		"rsize_asked":  strconv.FormatInt(int64(c.opts.RSize), 10),
		"wsize_asked":  strconv.FormatInt(int64(c.opts.WSize), 10),
		"server_rtmax": strconv.FormatUint(uint64(c.rtmax), 10),
		"server_wtmax": strconv.FormatUint(uint64(c.wtmax), 10),
		"rsize_capped": capped(c.opts.RSize, c.rsize, "rtmax (or the UDP limit of 32 KiB)", min(c.rtmax, uint32(MaxUDPXfer))),
		"wsize_capped": capped(c.opts.WSize, c.wsize, "wtmax (or the UDP limit of 32 KiB)", min(c.wtmax, uint32(MaxUDPXfer))),
		"write_stable": "FILE_SYNC",
		"udp_timeout":  c.timeout.String(),
		"client":       "lvsperf's own ONC RPC over UDP (one call per datagram, resent after the timeout)",
	}
}

// Close closes the NFS socket (MOUNT's closed after the mount).
func (c *UDPClient) Close() error { return c.nfs.Close() }
