package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/lpd"
)

// newServeLpdCmd runs the RFC 1179 line printer daemon until interrupted.
func newServeLpdCmd() *cobra.Command {
	var o lpd.Options
	c := &cobra.Command{
		Use:   "lpd",
		Short: "Serve an LPD print queue (RFC 1179) that discards jobs or spools them to a directory",
		Long: `Serve one print queue over RFC 1179 (receive job, queue state, remove jobs,
print waiting jobs). Without --spool it discards each job as it arrives, like a
printcap entry with lp=/dev/null. With --spool each file goes to a temporary
name and the job becomes visible (control file renamed last) only when whole;
it is then printed to /dev/null and removed, or kept until an 01 command with
--hold. File names (cfA/dfA, 3 digits, host), sizes and control files are
checked; anything else gets a non-zero ack.

Example:
  lvsperf serve lpd --listen 127.0.0.1:515 --queue null --spool /var/spool/lvsperf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logf = func(format string, args ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...) }
			ctx := cmd.Context()
			s, err := lpd.NewServer(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving LPD queue %q on %s; interrupt to stop\n", o.Queue, s.Addr())
			<-ctx.Done()
			err = s.Close()
			st := s.Stats()
			fmt.Fprintf(cmd.OutOrStdout(), "%d connections, %d jobs (%d bytes), %d printed, %d refused, %d failed\n", st.Accepted, st.Jobs, st.Bytes, st.Printed, st.Refused, st.Failed)
			return err
		},
	}
	f := c.Flags()
	listenFlag(f, &o.Listen, lpd.DefaultAddr, "address to listen on", "addr")
	f.StringVar(&o.Queue, "queue", lpd.DefaultQueue, "the queue's name")
	f.StringVar(&o.SpoolDir, "spool", "", "spool directory (default: discard jobs as they arrive)")
	f.BoolVar(&o.Fsync, "fsync", false, "fsync each spooled file before renaming it into place")
	f.BoolVar(&o.Hold, "hold", false, "keep spooled jobs until a print-waiting-jobs (01) command")
	f.IntVar(&o.MaxConns, "max-conns", lpd.DefaultMaxConns, "concurrent connections")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", lpd.DefaultIdleTimeout, "drop a job whose client sends nothing for this long")
	return c
}
