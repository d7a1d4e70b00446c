package nfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/timing"
)

// ClientOptions say which server to copy to and from, and how. The zero
// value of every field but Addr means its default.
type ClientOptions struct {
	// Addr is the NFS service, host:port (2049 on a real server).
	Addr string
	// MountAddr is the MOUNT service, host:port. Empty means Addr: the
	// embedded server (go-nfs) serves MOUNT and NFS on one port. Neither is
	// looked up through a portmapper.
	MountAddr string
	// Export is the path to mount. Default "/".
	Export string
	// Dir is the directory inside the export holding file.N. Default the
	// export's root.
	Dir string
	// RSize and WSize are the payloads of one READ and one WRITE call, the
	// role mount(8)'s rsize and wsize play. go-nfs-client has no such
	// setting: they are the sizes of the buffers this client hands it (it
	// sends one READ of min(len, rtmax) per Read and WRITEs of
	// min(len, wtpref) per Write), so the server's FSINFO caps them.
	// Default 1 MiB each (Linux's default over TCP).
	RSize, WSize timing.Bytes
	// ReservedPort binds the client's source ports below 1024 (needs root),
	// for servers that insist on it.
	ReservedPort bool
	// Verify checks every byte read against probes.FillFile (costs CPU inside the
	// timed copy; for tests).
	Verify bool
}

// Defaults for ClientOptions.
const (
	DefaultRSize = 1 * timing.MiB
	DefaultWSize = 1 * timing.MiB
	// MaxXfer bounds RSize and WSize (go-nfs caps a READ at 16 MiB).
	MaxXfer = 16 * timing.MiB
)

// Normalize returns o with defaults filled in, or an error naming the
// option that makes no sense.
func (o ClientOptions) Normalize() (ClientOptions, error) {
	if o.Addr == "" {
		return o, errors.New("nfs client: no server address: give host:port of the NFS service")
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return o, fmt.Errorf("nfs client: address %q: want host:port: %w", o.Addr, err)
	}
	if o.MountAddr == "" {
		o.MountAddr = o.Addr
	} else if _, _, err := net.SplitHostPort(o.MountAddr); err != nil {
		return o, fmt.Errorf("nfs client: mount address %q: want host:port: %w", o.MountAddr, err)
	}
	if o.Export == "" {
		o.Export = "/"
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if checkName(o.Dir) != nil || path.IsAbs(o.Dir) {
		return o, fmt.Errorf("nfs client: dir %q: want a path inside the export without \"..\"", o.Dir)
	}
	if o.RSize == 0 {
		o.RSize = DefaultRSize
	}
	if o.WSize == 0 {
		o.WSize = DefaultWSize
	}
	if o.RSize < 512 || o.RSize > MaxXfer || o.WSize < 512 || o.WSize > MaxXfer {
		return o, fmt.Errorf("nfs client: rsize %v, wsize %v: want 512B to %v each", o.RSize, o.WSize, MaxXfer)
	}
	return o, nil
}

// Client is a mounted NFSv3 export. It is used by one goroutine at a time.
type Client struct {
	opts   ClientOptions
	tgt    *nfsc.Target
	info   *nfsc.FSInfo
	rsize  int
	wsize  int
	buf    []byte
	mu     sync.Mutex
	broken error
}

// Dial mounts opts.Export and reads the server's transfer sizes.
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	o, err := opts.Normalize()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o}
	// go-nfs-client's calls take no context: run the mount in its own
	// goroutine so a silent server cannot hold ctx's owner.
	err = c.do(ctx, func() error { return c.mount() })
	if err != nil {
		return nil, err
	}
	c.rsize = int(min(o.RSize, timing.Bytes(c.info.RTMax)))
	c.wsize = int(min(o.WSize, timing.Bytes(c.info.WTPref), timing.Bytes(c.info.WTMax)))
	if c.rsize <= 0 || c.wsize <= 0 {
		c.close()
		return nil, fmt.Errorf("nfs client: server at %s announced rtmax %d, wtpref %d, wtmax %d: want positive transfer sizes",
			o.Addr, c.info.RTMax, c.info.WTPref, c.info.WTMax)
	}
	c.buf = make([]byte, max(c.rsize, c.wsize))
	return c, nil
}

func (c *Client) auth() rpc.Auth {
	return rpc.NewAuthUnix("lvsperf", uint32(os.Getuid()), uint32(os.Getgid())).Auth()
}

// mount sends MNT to the MOUNT service and attaches to the NFS service.
func (c *Client) mount() error {
	o := c.opts
	mc, err := dialRPC(o.MountAddr, o.ReservedPort)
	if err != nil {
		return fmt.Errorf("nfs client: connect to MOUNT at %s: %w", o.MountAddr, err)
	}
	fh, err := callMNT(mc, o.Export, c.auth())
	if err != nil {
		mc.Close()
		hint := ""
		if o.MountAddr == o.Addr {
			hint = " (a server with its own MOUNT port, such as nfs-ganesha on 20048, needs that address too: --mount)"
		}
		return fmt.Errorf("nfs client: mount %s from %s: %w%s", o.Export, o.MountAddr, err, hint)
	}
	nc := mc
	if o.MountAddr != o.Addr {
		// A server with its own MOUNT port (Ganesha, knfsd): NFS calls go
		// to the NFS port; the MOUNT connection is done with.
		mc.Close()
		if nc, err = dialRPC(o.Addr, o.ReservedPort); err != nil {
			return fmt.Errorf("nfs client: connect to NFS at %s: %w", o.Addr, err)
		}
	}
	tgt, err := nfsc.NewTargetWithClient(nc, c.auth(), fh, o.Export, time.Second)
	if err != nil {
		nc.Close()
		return fmt.Errorf("nfs client: FSINFO on %s at %s: %w", o.Export, o.Addr, err)
	}
	c.tgt, c.info = tgt, nil
	info, err := tgt.FSInfo()
	if err != nil {
		nc.Close()
		return fmt.Errorf("nfs client: FSINFO on %s at %s: %w", o.Export, o.Addr, err)
	}
	c.info = info
	return nil
}

// dialAttempts bounds dialRPC's retries.
const dialAttempts = 32

// dialRPC connects an RPC client to addr. go-nfs-client binds a random source
// port itself (49152–65535, or 1–1023 when reserved) and gives up on the
// first EADDRINUSE for unreserved ports, which a busy machine hits: retry a
// bounded number of times.
func dialRPC(addr string, reserved bool) (*rpc.Client, error) {
	var err error
	for range dialAttempts {
		var c *rpc.Client
		if c, err = rpc.DialTCP("tcp", addr, reserved); err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w (after %d random source ports)", err, dialAttempts)
}

// callMNT sends MOUNTPROC3_MNT for export and returns the root file handle.
func callMNT(mc *rpc.Client, export string, auth rpc.Auth) ([]byte, error) {
	type mntArgs struct {
		rpc.Header
		Dirpath string
	}
	res, err := mc.Call(&mntArgs{
		Header: rpc.Header{
			Rpcvers: 2, Prog: nfsc.MountProg, Vers: nfsc.MountVers, Proc: nfsc.MountProc3MNT,
			Cred: auth, Verf: rpc.AuthNull,
		},
		Dirpath: export,
	})
	if err != nil {
		return nil, err
	}
	stat, err := xdr.ReadUint32(res)
	if err != nil {
		return nil, fmt.Errorf("short MNT reply: %w", err)
	}
	if stat != nfsc.MNT3Ok {
		return nil, fmt.Errorf("server refused the mount: MNT3 status %d (13 = ACCES: check the export's path and clients; 2 = NOENT: no such export)", stat)
	}
	fh, err := xdr.ReadOpaque(res)
	if err != nil {
		return nil, fmt.Errorf("short MNT reply: %w", err)
	}
	if len(fh) == 0 || len(fh) > 64 {
		return nil, fmt.Errorf("MNT returned a %d-byte file handle: want 1 to 64 bytes", len(fh))
	}
	return fh, nil
}

// Info describes the mount for results: the sizes asked for and the sizes
// in effect after the server's FSINFO capped them.
func (c *Client) Info() map[string]string {
	return map[string]string{
		"nfs_addr":       c.opts.Addr,
		"mount_addr":     c.opts.MountAddr,
		"export":         c.opts.Export,
		"rsize":          strconv.Itoa(c.rsize),
		"wsize":          strconv.Itoa(c.wsize),
		"rsize_asked":    strconv.FormatInt(int64(c.opts.RSize), 10),
		"wsize_asked":    strconv.FormatInt(int64(c.opts.WSize), 10),
		"server_rtmax":   strconv.FormatUint(uint64(c.info.RTMax), 10),
		"server_wtmax":   strconv.FormatUint(uint64(c.info.WTMax), 10),
		"server_wtpref":  strconv.FormatUint(uint64(c.info.WTPref), 10),
		"rsize_capped":   capped(c.opts.RSize, c.rsize, "FSINFO rtmax", c.info.RTMax),
		"wsize_capped":   capped(c.opts.WSize, c.wsize, "FSINFO wtpref/wtmax", min(c.info.WTPref, c.info.WTMax)),
		"write_stable":   "FILE_SYNC",
		"copy_semantics": "cp: LOOKUP, READ×⌈n/rsize⌉ | LOOKUP, SETATTR size 0 (or CREATE), LOOKUP, WRITE×⌈n/wsize⌉, COMMIT",
	}
}

// capped says whether the server's FSINFO cut the size asked for.
func capped(asked timing.Bytes, effective int, what string, limit uint32) string {
	if int64(effective) < int64(asked) {
		return fmt.Sprintf("true: the server's %s of %d cuts %d to %d", what, limit, asked, effective)
	}
	return "false"
}

// RSize and WSize return the READ and WRITE payloads in effect.
func (c *Client) RSize() timing.Bytes { return timing.Bytes(c.rsize) }

// WSize returns the WRITE payload in effect.
func (c *Client) WSize() timing.Bytes { return timing.Bytes(c.wsize) }

// ErrAbandoned is returned by every call after a cancelled copy left a call
// in flight; the client closes itself once that call returns.
var ErrAbandoned = errors.New("nfs client: a cancelled copy left a call in flight; dial again")

// do runs f in its own goroutine and waits for it or for ctx. go-nfs-client
// neither takes a context nor survives Close during a call (it closes the
// call's reply channel twice), so on cancellation the call is left to finish
// and the client is closed after it.
func (c *Client) do(ctx context.Context, f func() error) error {
	c.mu.Lock()
	broken := c.broken
	c.mu.Unlock()
	if broken != nil {
		return broken
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		c.broken = ErrAbandoned
		c.mu.Unlock()
		go func() {
			<-done
			c.close()
		}()
		return ctx.Err()
	}
}

func (c *Client) path(name string) string { return path.Join(c.opts.Dir, name) }

// Read copies name from the server to nowhere, as `cp /mnt/name /dev/null`,
// and returns the time the copy took. It fails unless exactly n bytes came.
func (c *Client) Read(ctx context.Context, name string, n timing.Bytes) (d time.Duration, err error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	err = c.do(ctx, func() error {
		t0 := time.Now()
		got, err := c.readAll(c.path(name))
		d = time.Since(t0)
		if err != nil {
			return fmt.Errorf("nfs read %s after %d bytes: %w", name, got, err)
		}
		if got != int64(n) {
			return fmt.Errorf("nfs read %s: got %d bytes, want %d: the file on the server has another size", name, got, n)
		}
		return nil
	})
	return d, err
}

func (c *Client) readAll(p string) (int64, error) {
	f, err := c.tgt.Open(p)
	if err != nil {
		return 0, err
	}
	var total int64
	buf := c.buf[:c.rsize]
	// Each READ either moves the offset or reports EOF; a server that does
	// neither is refused below, so the loop ends.
	for {
		k, err := f.Read(buf)
		if c.opts.Verify && k > 0 {
			if verr := verifyPattern(buf[:k], total); verr != nil {
				return total, verr
			}
		}
		total += int64(k)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if k == 0 {
			return total, errors.New("the server returned an empty READ without EOF")
		}
	}
}

// Write copies n bytes of probes.FillFile to name on the server, as
// `cp file /mnt/name` (truncating an existing file), and returns the time
// the copy took, COMMIT included.
func (c *Client) Write(ctx context.Context, name string, n timing.Bytes) (d time.Duration, err error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	err = c.do(ctx, func() error {
		t0 := time.Now()
		err := c.writeAll(c.path(name), int64(n))
		d = time.Since(t0)
		if err != nil {
			return fmt.Errorf("nfs write %s (%d bytes): %w", name, n, err)
		}
		return nil
	})
	return d, err
}

func (c *Client) writeAll(p string, n int64) error {
	fi, fh, err := c.tgt.Lookup(p)
	switch {
	case err == nil && fi.Size() > 0:
		// cp opens with O_TRUNC: a kernel client sends SETATTR size 0.
		if _, err := c.tgt.SetAttr(fh, nfsc.Sattr3{Size: nfsc.SetSize{SetIt: true, Size: 0}}); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	case err != nil && !os.IsNotExist(err):
		return err
	}
	f, err := c.tgt.OpenFile(p, 0o644)
	if err != nil {
		return err
	}
	buf := c.buf[:c.wsize]
	for off := int64(0); off < n; {
		b := buf[:min(int64(len(buf)), n-off)]
		probes.FillFile(b, off)
		k, err := f.Write(b)
		if err != nil {
			return err
		}
		if k != len(b) {
			return fmt.Errorf("short WRITE at offset %d: %d of %d bytes", off, k, len(b))
		}
		off += int64(k)
	}
	return f.Close() // COMMIT
}

// Remove deletes name on the server.
func (c *Client) Remove(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return c.do(ctx, func() error { return c.tgt.Remove(c.path(name)) })
}

// Size returns the size of name on the server, or an error satisfying
// os.IsNotExist when there is none.
func (c *Client) Size(ctx context.Context, name string) (timing.Bytes, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	var size int64
	err := c.do(ctx, func() error {
		fi, _, err := c.tgt.Lookup(c.path(name))
		if err == nil {
			size = fi.Size()
		}
		return err
	})
	return timing.Bytes(size), err
}

// Ensure makes name hold n bytes of probes.FillFile, writing it when it is missing
// or has another size. Reads use it to prepare file.N untimed.
func (c *Client) Ensure(ctx context.Context, name string, n timing.Bytes) error {
	size, err := c.Size(ctx, name)
	if err == nil && size == n {
		return nil
	}
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	_, err = c.Write(ctx, name, n)
	return err
}

// Close unmounts nothing (go-nfs-client keeps no server state to release;
// MNT's record on the server is advisory) and closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	broken := c.broken
	c.broken = errors.New("nfs client: closed")
	c.mu.Unlock()
	if broken == ErrAbandoned {
		return nil // closed by the abandoned call's goroutine
	}
	c.close()
	return nil
}

func (c *Client) close() {
	if c.tgt != nil {
		c.tgt.Close()
	}
}

// verifyPattern checks that b is probes.FillFile at offset off.
func verifyPattern(b []byte, off int64) error {
	want := make([]byte, len(b))
	probes.FillFile(want, off)
	if i := firstDiff(b, want); i >= 0 {
		return fmt.Errorf("byte %d is %#02x, want %#02x", off+int64(i), b[i], want[i])
	}
	return nil
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
