package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/nfs"
)

// newServeNFSCmd runs the embedded NFSv3 server until interrupted.
func newServeNFSCmd() *cobra.Command {
	var o nfs.ServerOptions
	c := &cobra.Command{
		Use:   "nfs",
		Short: "Serve a directory over NFSv3 (MOUNT and NFS on one TCP port, no portmapper)",
		Long: `Serve --export (default: a temporary directory removed on exit) as "/" over
NFSv3 on TCP, MOUNT and NFS on the one --listen port and no portmapper (go-nfs).
With --files N it creates file.0 … file.N-1 (2^N bytes) first.

libnfs clients need the port twice and auto-traverse-mounts=0 (this server has
no MOUNT EXPORT procedure):
  nfs-cp 'nfs://127.0.0.1/file.10?nfsport=PORT&mountport=PORT&auto-traverse-mounts=0' /tmp/x`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := nfs.NewServer(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s over NFSv3 on %s (MOUNT and NFS); interrupt to stop\n", s.Dir(), s.Addr())
			<-ctx.Done()
			return s.Close()
		},
	}
	f := c.Flags()
	listenFlag(f, &o.Listen, "127.0.0.1:2049", "TCP address for MOUNT and NFS", "addr")
	f.StringVar(&o.Dir, "export", "", "directory to export (default: a temporary one, removed on exit)")
	f.IntVar(&o.Files, "files", 0, "create file.0 … file.N-1 (2^N bytes each) in the export first")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", nfs.DefaultIdleTimeout, "drop a client silent this long")
	return c
}
