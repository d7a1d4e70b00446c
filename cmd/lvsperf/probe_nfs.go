package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/nfs"
	"github.com/lvsperf/lvsperf/timing"
)

// probeNFSFlags are the command's flags before they become options.
type probeNFSFlags struct {
	o            nfs.SweepOptions
	host, mount  string
	dir          string
	rsize, wsize string
	sweepRW      bool
	rwsizes      string
	bulkFlags
}

// newProbeNFSCmd sweeps NFSv3 copies of file.N.
func newProbeNFSCmd() *cobra.Command {
	var f probeNFSFlags
	c := &cobra.Command{
		Use:   "nfs",
		Short: "Copy file.N to and from an NFSv3 server (as cp on a mount), timing each whole copy",
		Long: `Copy file.MIN … file.MAX (2^N bytes) from the server to nowhere (read: LOOKUP and
READs of --rsize) and to the server (write: LOOKUP, SETATTR size 0 or CREATE,
WRITEs of --wsize with FILE_SYNC, COMMIT), as cp on a mount did in the seed.
The server's FSINFO caps rsize and wsize; the sizes in effect are recorded,
with rsize_capped and wsize_capped saying whether the server cut them.

--sweep-rwsize sweeps the transfer size too: one series per direction and
size (1KiB, 4KiB, 16KiB, 64KiB, 256KiB, 1MiB, or --rwsizes), reads with that
rsize and writes with that wsize, as the seed's rsize test did. The series run
one after another, not interleaved.

--udp sends MOUNT and NFS over UDP (lvsperf's own ONC RPC client: one call per
datagram, resent after 500ms), as the seed did; the embedded server serves TCP
only, so --udp needs --host and --mount of a server that serves UDP, such as
nfs-ganesha with Enable_UDP. rsize and wsize are capped at 32KiB over UDP.

Without --host it starts an embedded server (lvsperf serve nfs) per direction,
reached --via direct or --via director. With --host it copies to a running
server; --mount gives the MOUNT service's address when it has its own port
(nfs-ganesha, knfsd: no portmapper is asked).

Examples:
  lvsperf probe nfs --max-exp 20 --out results/
  lvsperf probe nfs --via director --realservers 2 --dir read
  lvsperf probe nfs --host 127.0.0.1:2049 --mount 127.0.0.1:20048 --export /export --rsize 8k --wsize 8k
  lvsperf probe nfs --sweep-rwsize --min-exp 16 --max-exp 20 --budget 2m
  lvsperf probe nfs --rwsizes 1k,8k,32k --dir read
  lvsperf probe nfs --udp --host 127.0.0.1:2049 --mount 127.0.0.1:20048 --export /export --sweep-rwsize`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.o
			var err error
			if o.Dirs, err = nfs.ParseDirs(f.dir); err != nil {
				return usageError(err)
			}
			if o.Client.RSize, err = timing.ParseBytes(f.rsize); err != nil {
				return usageError(fmt.Errorf("--rsize: %w", err))
			}
			if o.Client.WSize, err = timing.ParseBytes(f.wsize); err != nil {
				return usageError(fmt.Errorf("--wsize: %w", err))
			}
			if f.sweepRW && f.rwsizes == "" {
				o.RWSizes = nfs.DefaultRWSizes()
			}
			for _, part := range strings.FieldsFunc(f.rwsizes, func(r rune) bool { return r == ',' }) {
				sz, err := timing.ParseBytes(strings.TrimSpace(part))
				if err != nil {
					return usageError(fmt.Errorf("--rwsizes %q: %w", part, err))
				}
				o.RWSizes = append(o.RWSizes, sz)
			}
			o.Client.Addr = withPort(f.host, "2049")
			o.Client.MountAddr = f.mount
			if err := checkVia(f.via); err != nil {
				return err
			}
			o.Path = f.path()
			o.Timing.Budget = f.budget
			o.OutDir, o.Progress = f.out, f.progress(cmd)
			o.Name = "nfs-" + pathLabel(o.Path, f.host)
			res, err := nfs.Sweep(cmd.Context(), o)
			return f.report(cmd, res, err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "", "NFS service as host[:port] (port 2049 when absent); empty starts an embedded server")
	fl.StringVar(&f.mount, "mount", "", "MOUNT service as host:port when it is not on the NFS port")
	fl.StringVar(&f.o.Client.Export, "export", "/", "export to mount")
	fl.IntVar(&f.o.MinExp, "min-exp", 0, "smallest file: file.N = 2^N bytes")
	fl.IntVar(&f.o.MaxExp, "max-exp", 20, "largest file (at most 30)")
	fl.StringVar(&f.dir, "dir", "both", "read, write or both")
	fl.StringVar(&f.rsize, "rsize", "1M", "READ payload (mount's rsize), e.g. 8k")
	fl.StringVar(&f.wsize, "wsize", "1M", "WRITE payload (mount's wsize), e.g. 8k")
	fl.BoolVar(&f.sweepRW, "sweep-rwsize", false, "one series per direction and transfer size, 1KiB to 1MiB in steps of 4")
	fl.StringVar(&f.rwsizes, "rwsizes", "", "the transfer sizes of the sweep, e.g. 1k,8k,64k (implies --sweep-rwsize)")
	fl.BoolVar(&f.o.UDP, "udp", false, "NFSv3 and MOUNT over UDP (needs --host and --mount; the embedded server is TCP only)")
	fl.BoolVar(&f.o.Client.ReservedPort, "reserved-port", false, "connect from a port below 1024 (root), for servers that insist")
	f.bind(fl, "time allowed for the whole sweep, shared by the directions (0 = the timing core's defaults)")
	return c
}
