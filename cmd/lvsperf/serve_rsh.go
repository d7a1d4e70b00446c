package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/rsh"
)

// newServeRshCmd runs the copy-sink rshd until interrupted.
func newServeRshCmd() *cobra.Command {
	var o rsh.Options
	var null string
	c := &cobra.Command{
		Use:   "rsh",
		Short: "Serve rsh and rcp copies (cat > /dev/null, cat > NAME, rcp -t/-f in a spool directory); never runs a shell",
		Long: `Serve the rcmd protocol (BSD rshd) for bulk-copy probes. It accepts only
"cat > /dev/null", "cat > NAME" and the seed's "(cd DIR; cat > NAME)", the last
two into --spool (DIR is mapped onto it), and rcp's remote side, "rcp -t PATH"
and "rcp -f PATH" (with -p, -r and -d), so that netkit rcp copies both ways:
PATH is resolved inside --spool, which stands for / and the home directory
("rcp -t /dev/null" needs no spool). Anything else is refused with rshd's
error byte and a message. A file appears under its name only when its copy
ended cleanly. Like BSD rshd it wants clients on reserved ports (512-1023) and
connects back to the stderr port from one; --allow-unreserved lifts that.

Example:
  lvsperf serve rsh --listen 127.0.0.1:514 --spool /var/tmp/rsh --fsync
  rcp file.20 127.0.0.1:/file.20 && rcp 127.0.0.1:file.20 back.20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Null = rsh.NullMode(null)
			o.Logf = func(format string, args ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...) }
			ctx := cmd.Context()
			s, err := rsh.NewServer(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving rsh copies on %s; interrupt to stop\n", s.Addr())
			if o.SpoolDir != "" {
				fs, err := probes.FSType(o.SpoolDir)
				if err != nil {
					fs = err.Error()
				}
				fmt.Fprintf(cmd.OutOrStdout(), "spool %s on %s, fsync %v\n", o.SpoolDir, fs, o.Fsync)
			}
			<-ctx.Done()
			err = s.Close()
			st := s.Stats()
			fmt.Fprintf(cmd.OutOrStdout(), "%d connections, %d copies (%d bytes), %d refused, %d failed\n", st.Accepted, st.Completed, st.Bytes, st.Refused, st.Failed)
			return err
		},
	}
	f := c.Flags()
	listenFlag(f, &o.Listen, rsh.DefaultAddr, "address to listen on", "addr")
	f.StringVar(&o.SpoolDir, "spool", "", "directory for cat > NAME copies (default: refuse them)")
	f.StringVar(&null, "null", string(rsh.NullDevNull), "what cat > /dev/null does: devnull (write to /dev/null as cat does) or memory (count only)")
	f.BoolVar(&o.Fsync, "fsync", false, "fsync each spooled file before renaming it into place")
	f.BoolVar(&o.AllowUnreserved, "allow-unreserved", false, "accept clients and stderr ports outside 512-1023")
	f.IntVar(&o.MaxConns, "max-conns", rsh.DefaultMaxConns, "concurrent connections")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", rsh.DefaultIdleTimeout, "drop a copy whose client sends nothing for this long")
	return c
}
