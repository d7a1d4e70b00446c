package main

import (
	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/lpd"
)

// probeLpdFlags are the command's flags before they become options.
type probeLpdFlags struct {
	o lpd.SweepOptions
	bulkFlags
}

// newProbeLpdCmd sweeps LPD print jobs of file.N.
func newProbeLpdCmd() *cobra.Command {
	var f probeLpdFlags
	c := &cobra.Command{
		Use:   "lpd",
		Short: "Print file.N to an LPD queue as rlpr does, timing each whole job",
		Long: `Send print jobs of 2^MIN … 2^MAX bytes (RFC 1179: receive job, control file, data
file, an ack after every step), as the seed's rlpr runs did, and fit latency and
max_rate. One transfer is a whole job: connect, the receive-job command, both
files, and the server's last ack (the job is queued).

Without --host it starts an embedded server (lvsperf serve lpd) that discards
jobs like lp=/dev/null, or spools them to a temporary directory with --spool
(--fsync to sync each file), reached --via direct or --via director. With
--host it prints to a running lpd (BSD lpd wants the client's host in
hosts.lpd).

Examples:
  lvsperf probe lpd --max-exp 20 --out results/
  lvsperf probe lpd --spool --fsync --via director
  lvsperf probe lpd --host 127.0.0.1:515 --queue null --max-exp 26 --budget 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.o
			o.Host = withPort(o.Host, "515")
			if err := checkVia(f.via); err != nil {
				return err
			}
			o.Path = f.path()
			o.Timing.Budget = f.budget
			o.OutDir, o.Progress = f.out, f.progress(cmd)
			o.Name = "lpd-" + pathLabel(o.Path, o.Host)
			res, err := lpd.Sweep(cmd.Context(), o)
			return f.report(cmd, res, err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.o.Host, "host", "", "lpd as host[:port] (port 515 when absent); empty starts an embedded server")
	fl.IntVar(&f.o.MinExp, "min-exp", 0, "smallest job: 2^N bytes")
	fl.IntVar(&f.o.MaxExp, "max-exp", 20, "largest job (the seed went to 26)")
	fl.StringVar(&f.o.Probe.Queue, "queue", lpd.DefaultQueue, "print queue")
	fl.StringVar(&f.o.Probe.Host, "job-host", "", "host name in the control file and file names (default: this host's)")
	fl.StringVar(&f.o.Probe.User, "user", "", "user in the control file (default: the current user)")
	fl.BoolVar(&f.o.Probe.DataFirst, "data-first", false, "send the data file before the control file (rlpr --send-data-first)")
	fl.BoolVar(&f.o.Probe.Client.ReservedPort, "reserved-port", false, "send from ports 721-731 as RFC 1179 asks (root)")
	fl.BoolVar(&f.o.Spool, "spool", false, "embedded server: spool jobs to disk instead of discarding them")
	fl.BoolVar(&f.o.Server.Fsync, "fsync", false, "embedded server: fsync each spooled file")
	f.bind(fl, "time allowed for the whole sweep (0 = the timing core's defaults)")
	return c
}
