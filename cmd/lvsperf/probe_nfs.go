package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/probes/nfs"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// probeNFSFlags are the command's flags before they become options.
type probeNFSFlags struct {
	o            nfs.SweepOptions
	host, mount  string
	dir          string
	rsize, wsize string
	budget       time.Duration
	out          string
	jsonOut      bool
	via          string
	scheduler    string
	realservers  int
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
The server's FSINFO caps rsize and wsize; the sizes in effect are recorded.

Without --host it starts an embedded server (lvsperf serve nfs) per direction,
reached --via direct or --via director. With --host it copies to a running
server; --mount gives the MOUNT service's address when it has its own port
(nfs-ganesha, knfsd: no portmapper is asked).

Examples:
  lvsperf probe nfs --max-exp 20 --out results/
  lvsperf probe nfs --via director --realservers 2 --dir read
  lvsperf probe nfs --host 127.0.0.1:2049 --mount 127.0.0.1:20048 --export /export --rsize 8k --wsize 8k`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.o
			var err error
			if o.Dirs, err = nfs.ParseDirs(f.dir); err != nil {
				return err
			}
			if o.Client.RSize, err = timing.ParseBytes(f.rsize); err != nil {
				return fmt.Errorf("--rsize: %w", err)
			}
			if o.Client.WSize, err = timing.ParseBytes(f.wsize); err != nil {
				return fmt.Errorf("--wsize: %w", err)
			}
			o.Client.Addr = withPort(f.host, "2049")
			o.Client.MountAddr = f.mount
			o.Path = paths.Spec{Via: paths.Via(f.via), Scheduler: f.scheduler, Realservers: f.realservers}
			o.Timing.Budget = f.budget
			o.OutDir, o.Progress = f.out, cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			o.Name = "nfs-" + pathLabel(o.Path, f.host)
			res, err := nfs.Sweep(ctx, o)
			return reportBulk(cmd, res, f.out, o.Name, f.jsonOut, err)
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
	fl.BoolVar(&f.o.Client.ReservedPort, "reserved-port", false, "connect from a port below 1024 (root), for servers that insist")
	fl.DurationVar(&f.budget, "budget", 30*time.Second, "time allowed for the whole sweep, shared by the directions (0 = the timing core's defaults)")
	fl.StringVar(&f.out, "out", ".", "directory for the run file and plots")
	fl.BoolVar(&f.jsonOut, "json", false, "print the run as JSON instead of tables")
	fl.StringVar(&f.via, "via", "direct", "path: direct or director (embedded servers only)")
	fl.StringVar(&f.scheduler, "scheduler", "rr", "director scheduler (with --via director)")
	fl.IntVar(&f.realservers, "realservers", 1, "servers behind the director (with --via director)")
	return c
}

// withPort appends :port to a host given without one ("" stays "").
func withPort(host, port string) string {
	if host == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

// pathLabel names a bulk probe's run file: the path, or "remote" for --host.
func pathLabel(s paths.Spec, host string) string {
	if host != "" {
		return "remote"
	}
	if s.Via == paths.Director {
		return "director-" + s.Scheduler
	}
	return "direct"
}

// reportBulk prints a bulk probe's run as tables (or JSON), says where it
// was saved, and draws its plots beside it.
func reportBulk(cmd *cobra.Command, res runner.Result, outDir, name string, asJSON bool, runErr error) error {
	if res.Run == nil || len(res.Run.Series) == 0 {
		return runErr
	}
	out := cmd.OutOrStdout()
	if asJSON {
		if err := results.EncodeJSON(out, res.Run); err != nil {
			return err
		}
		out = cmd.ErrOrStderr()
	} else if err := runner.WriteTable(out, res.Run); err != nil {
		return err
	}
	if res.File != "" {
		fmt.Fprintf(out, "results: %s\n", res.File)
		files, err := plot.WriteAll(outDir, name, res.Run.Series)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plots: %v\n", err)
		} else {
			fmt.Fprintf(out, "plots: %d files in %s (%s-*.png)\n", len(files), outDir, name)
		}
	}
	if runErr != nil {
		return fmt.Errorf("%w (the sizes finished before it are kept in %s)", runErr, res.File)
	}
	return nil
}
