package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/ptester"
)

// newServeHTTPCmd runs the realserver's HTTP file server until interrupted.
func newServeHTTPCmd() *cobra.Command {
	var o ptester.ServerOptions
	c := &cobra.Command{
		Use:   "http",
		Short: "Serve /file/file.N (2^N bytes of '0', N = 0…26) over HTTP/1.1 for ptester, curl, wrk, ab",
		Long: `Serve /file/file.N for N = 0…26: 2^N bytes of ASCII '0' from memory (one shared
64 MiB buffer), with Content-Length and Apache-like keep-alive limits. With --dir,
serve /file/NAME from the files in that directory instead (page cache, sendfile),
to show what happens when the files do not fit in memory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context() // cancelled on SIGINT/SIGTERM by main
			s, err := ptester.NewFileServer(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving http://%s/file/file.N (N = 0…%d); interrupt to stop\n", s.Addr(), ptester.MaxFileExp)
			<-ctx.Done()
			return s.Close()
		},
	}
	f := c.Flags()
	listenFlag(f, &o.Addr, "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for other hosts)", "addr")
	f.StringVar(&o.Dir, "dir", "", "serve /file/NAME from real files in this directory instead of memory")
	f.IntVar(&o.MaxKeepAliveRequests, "max-keepalive-requests", 100, "requests per connection before the server closes it (Apache MaxKeepAliveRequests; -1 = unlimited)")
	f.DurationVar(&o.KeepAliveTimeout, "keepalive-timeout", 15e9, "close a connection idle this long (Apache KeepAliveTimeout)")
	f.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", 10e9, "time allowed to read a request's headers")
	f.IntVar(&o.MaxHeaderBytes, "max-header-bytes", 8<<10, "largest request header accepted")
	return c
}
