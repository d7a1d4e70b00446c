package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/director/ipvsadm"
)

// newIpvsadmCmd sends ipvsadm commands to a running lvsperf director.
func newIpvsadmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ipvsadm [--control PATH] IPVSADM-ARGS…",
		Short: "Speak ipvsadm's grammar to a running lvsperf director (-A -E -D -a -e -d -C -Z -L -S -R --set)",
		Example: `  lvsperf ipvsadm -A -t 127.0.0.1:8080 -s rr
  lvsperf ipvsadm -a -t 127.0.0.1:8080 -r 127.0.0.1:9001 -m -w 2
  lvsperf ipvsadm -L -n --stats
  lvsperf ipvsadm -S -n > rules; lvsperf ipvsadm -R < rules`,
		// ipvsadm's options are not cobra's: pass them through untouched.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			control := ipvsadm.DefaultControlPath()
			switch {
			case len(args) > 0 && (args[0] == "--help" || args[0] == "-h" && len(args) == 1):
				return cmd.Help()
			case len(args) > 1 && args[0] == "--control":
				control, args = args[1], args[2:]
			case len(args) > 0 && strings.HasPrefix(args[0], "--control="):
				control, args = strings.TrimPrefix(args[0], "--control="), args[1:]
			}
			var stdin []byte
			if parsed, err := ipvsadm.Parse(args); err != nil {
				return err
			} else if parsed.Op == ipvsadm.OpRestore {
				b, err := io.ReadAll(io.LimitReader(os.Stdin, ipvsadm.MaxRequestBytes+1))
				if err != nil {
					return fmt.Errorf("ipvsadm -R: read rules from stdin: %w", err)
				}
				if len(b) > ipvsadm.MaxRequestBytes-4096 {
					return fmt.Errorf("ipvsadm -R: rules on stdin exceed %d bytes; split them", ipvsadm.MaxRequestBytes-4096)
				}
				stdin = b
			}
			out, err := ipvsadm.Call(cmd.Context(), control, args, stdin)
			fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
}
