package main

import (
	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/rsh"
)

// probeRshFlags are the command's flags before they become options.
type probeRshFlags struct {
	o          rsh.SweepOptions
	sink, null string
	ports      string
	bulkFlags
}

// newProbeRshCmd sweeps rsh copies of file.N.
func newProbeRshCmd() *cobra.Command {
	var f probeRshFlags
	c := &cobra.Command{
		Use:   "rsh",
		Short: `Copy file.N with rsh host "cat > /dev/null" < file.N, timing each whole copy`,
		Long: `Copy 2^MIN … 2^MAX bytes per rsh command, as the seed's run_rsh.sh did, and fit
latency and max_rate. One transfer is a whole copy: connect (from a reserved
port when root), the stderr back-connection, user names and command, the data,
the half-close, and the server closing both streams.

--sink null sends "cat > /dev/null"; --sink disk sends the seed's
"(cd /usr; cat > file.N)", which the embedded server writes into a temporary
spool directory made inside --sink-dir (default $TMPDIR or /tmp; give a tmpfs
such as /dev/shm or a directory on a real disk) and fsyncs before it answers
(--fsync=false to skip); the run records the directory's filesystem (statfs)
as sink_fs. Against --host, --sink-dir replaces /usr in the command and the
filesystem is the server's, not recorded. --rcp copies with rcp's protocol
(rcp -t /dev/null, rcp -t file.N) instead of cat.

Without --host it starts an embedded server (lvsperf serve rsh), reached
--via direct or --via director. With --host it copies to a running rshd
(in.rshd wants a reserved port, so run as root, and a .rhosts for --user).

Examples:
  lvsperf probe rsh --max-exp 20 --out results/
  lvsperf probe rsh --sink disk --sink-dir /dev/shm --via director --realservers 2
  lvsperf probe rsh --sink disk --sink-dir /var/tmp --rcp
  lvsperf probe rsh --host 127.0.0.1:514 --user bench --max-exp 26 --budget 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.o
			o.Sink, o.Server.Null, o.Client.Ports = rsh.Sink(f.sink), rsh.NullMode(f.null), rsh.SourcePort(f.ports)
			o.Client.LocalUser = o.Client.RemoteUser
			o.Host = withPort(o.Host, "514")
			if err := checkVia(f.via); err != nil {
				return err
			}
			o.Path = f.path()
			o.Timing.Budget = f.budget
			o.OutDir, o.Progress = f.out, f.progress(cmd)
			o.Name = "rsh-" + f.sink + "-" + pathLabel(o.Path, o.Host)
			res, err := rsh.Sweep(cmd.Context(), o)
			return f.report(cmd, res, err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.o.Host, "host", "", "rshd as host[:port] (port 514 when absent); empty starts an embedded server")
	fl.IntVar(&f.o.MinExp, "min-exp", 0, "smallest file: file.N = 2^N bytes")
	fl.IntVar(&f.o.MaxExp, "max-exp", 20, "largest file (the seed went to 26)")
	fl.StringVar(&f.sink, "sink", string(rsh.SinkNameNull), "null (cat > /dev/null) or disk ((cd /usr; cat > file.N))")
	fl.StringVar(&f.null, "null", string(rsh.NullDevNull), "embedded server: /dev/null as devnull (write(2) like cat) or memory (count only)")
	fl.BoolVar(&f.o.Server.Fsync, "fsync", true, "embedded server: fsync each file of the disk sink before answering")
	fl.StringVar(&f.o.SinkDir, "sink-dir", "", "disk sink: directory the embedded server's spool is made in (a tmpfs or a real disk); with --host, the cd directory (default /usr)")
	fl.BoolVar(&f.o.Rcp, "rcp", false, "copy with rcp's protocol (rcp -t) instead of cat")
	fl.StringVar(&f.o.Client.RemoteUser, "user", "", "local and remote user name (default: the current user)")
	fl.StringVar(&f.ports, "ports", string(rsh.PortAuto), "source ports: auto (reserved when root against --host, unprivileged against embedded servers, sparing the host's 512 reserved ports), reserved or any")
	fl.BoolVar(&f.o.Client.NoStderr, "no-stderr", false, `send "0": no stderr back-connection`)
	f.bind(fl, "time allowed for the whole sweep (0 = the timing core's defaults)")
	return c
}
