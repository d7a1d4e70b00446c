package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/director/ipvsadm"
	"github.com/lvsperf/lvsperf/director/proxy"
	"github.com/lvsperf/lvsperf/internal/cpuidle"
)

// newDirectorCmd runs a standalone embedded director.
func newDirectorCmd() *cobra.Command {
	var o ipvsadm.DaemonOptions
	var hosts []string
	var idlePoll bool
	var loops int
	cmd := &cobra.Command{
		Use:   "director",
		Short: "Run a standalone IPVS-like director (userspace proxy engine) with an ipvsadm control socket",
		Long: `Run the embedded director: configure it from flags (--service, --realserver),
from a file of ipvsadm commands (--rules, the ipvsadm -S format) or from the
seeds' lvs.conf format (--lvs-conf), then change and list it with
"lvsperf ipvsadm". Virtual services listen on loopback unless --allow-remote.`,
		Example: `  lvsperf director --service 127.0.0.1:8080 --scheduler wrr --realserver 127.0.0.1:9001,3 --realserver 127.0.0.1:9002
  lvsperf director --lvs-conf lvs_dr.conf --host realserver1=127.0.0.2 --host lvs=127.0.0.1 --metrics 127.0.0.1:9100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Hosts = map[string]string{}
			for _, h := range hosts {
				name, addr, ok := strings.Cut(h, "=")
				if !ok || name == "" || addr == "" {
					return fmt.Errorf("--host %q: want NAME=ADDR", h)
				}
				o.Hosts[name] = addr
			}
			if loops < 0 {
				return fmt.Errorf("--loops %d: want 0 (one per CPU) or more", loops)
			}
			o.Proxy.Loops = proxy.DedicatedProcess(loops)
			if idlePoll {
				req, err := cpuidle.Hold()
				if err != nil {
					return fmt.Errorf("--idle-poll: %w", err)
				}
				defer req.Close()
			}
			return ipvsadm.RunDaemon(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Control, "control", "", "control socket path (default $XDG_RUNTIME_DIR/lvsperf/director.sock or $TMPDIR/lvsperf-UID/director.sock)")
	f.StringVar(&o.Metrics, "metrics", "", "serve Prometheus metrics on http://ADDR/metrics (loopback IP:port)")
	f.StringVar(&o.Rules, "rules", "", "file of ipvsadm commands to apply at start (ipvsadm -S format)")
	f.StringVar(&o.LVSConf, "lvs-conf", "", "lvs.conf file (LVS_TYPE=, VIP=, SERVICE=…) to apply at start")
	f.StringVar(&o.VIP, "vip", "", `address that replaces lvs.conf's VIP (default 127.0.0.1; "conf" keeps the file's)`)
	f.StringArrayVar(&hosts, "host", nil, "NAME=ADDR for lvs.conf host names (repeatable)")
	f.StringVar(&o.Service, "service", "", "one virtual service VIP:port from flags")
	f.BoolVar(&o.UDP, "udp", false, "--service is UDP")
	f.StringVarP(&o.Scheduler, "scheduler", "s", "", "scheduler of --service (default wlc)")
	f.DurationVar(&o.Persistence, "persistent", 0, "persistence timeout of --service (0 = none)")
	f.StringArrayVar(&o.Realservers, "realserver", nil, "realserver ADDR:port[,weight] of --service (repeatable)")
	f.DurationVar(&o.HealthInterval, "health-interval", 0, "TCP connect check of every realserver at this interval; failing ones are quiesced (0 = off)")
	f.BoolVar(&idlePoll, "idle-poll", false, "keep idle CPUs polling while the director runs (PM QoS cpu_dma_latency 0; root): on VMs whose idle vCPUs halt, each hop otherwise pays a wake-up")
	f.IntVar(&loops, "loops", 0, "event loops relaying TCP connections, each on its own thread (0 = one per CPU)")
	f.BoolVar(&o.AllowRemote, "allow-remote", false, "allow virtual services and metrics on non-loopback addresses")
	return cmd
}
