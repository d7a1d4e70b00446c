package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/ftp"
)

// newServeFTPCmd runs the embedded FTP server until interrupted.
func newServeFTPCmd() *cobra.Command {
	var o ftp.ServerOptions
	var storage, pasv string
	c := &cobra.Command{
		Use:   "ftp",
		Short: "Serve files over FTP from memory or a directory (uploads atomic, or discarded with --sink)",
		Long: `Serve an FTP store (ftpserverlib): memory (default) or --storage disk (--dir, or a
temporary directory removed on exit). Uploads land under a temporary name and
are renamed into place only when the transfer ended cleanly; --sink counts and
discards them. With --files N it creates file.0 … file.N-1 (2^N bytes) first.
Any user logs in unless --user is set. Passive data listeners bind every
interface (ftpserverlib has no option) but accept only the control
connection's peer address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Storage = ftp.Storage(storage)
			if pasv != "" {
				r, err := ftp.ParsePortRange(pasv)
				if err != nil {
					return fmt.Errorf("--passive-ports: %w", err)
				}
				o.PassivePorts = r
			}
			ctx := cmd.Context()
			s, err := ftp.NewServer(ctx, o)
			if err != nil {
				return err
			}
			where := "memory"
			if s.Dir() != "" {
				where = s.Dir()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s over FTP on %s; interrupt to stop\n", where, s.Addr())
			<-ctx.Done()
			return s.Close()
		},
	}
	f := c.Flags()
	listenFlag(f, &o.Listen, "127.0.0.1:2121", "address of the control connection", "addr")
	f.StringVar(&storage, "storage", "memory", "memory or disk")
	f.StringVar(&o.Dir, "dir", "", "directory for --storage disk (default: a temporary one, removed on exit)")
	f.BoolVar(&o.Sink, "sink", false, "discard uploads after counting them")
	f.IntVar(&o.Files, "files", 0, "create file.0 … file.N-1 (2^N bytes each) first")
	f.StringVar(&o.User, "user", "", "the only user allowed (default: anyone)")
	f.StringVar(&o.Password, "password", "", "that user's password")
	f.StringVar(&pasv, "passive-ports", "", "passive data port range, e.g. 30000-30100 (default: any)")
	f.BoolVar(&o.ActivePort20, "active-port-20", false, "active data connections from port 20 (root), as RFC 959 says")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", ftp.DefaultIdleTimeout, "drop a control connection idle this long")
	return c
}
