package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/cluster"
	"github.com/lvsperf/lvsperf/cluster/k8s"
	"github.com/lvsperf/lvsperf/cluster/slurm"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

type tokenFlags struct{ env, file string }

func (t *tokenFlags) bind(c *cobra.Command) {
	c.Flags().StringVar(&t.env, "token-env", cluster.DefaultTokenEnv, "environment variable holding the shared cluster token")
	c.Flags().StringVar(&t.file, "token-file", "", "read the shared cluster token from this file instead")
}

func newAgentCmd() *cobra.Command {
	var o cluster.AgentOptions
	var tf tokenFlags
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run probes' client side for a coordinator (`lvsperf cluster run`), started by Slurm or Kubernetes",
		Long: `An agent runs on each client host. It either dials its coordinator
(--coordinator, what a job script or a Kubernetes Job does) or listens for one
(--listen, loopback by default), proves it holds the shared token, lets the
coordinator measure its clock, runs the plan at the instant it is given, and
sends back its counts and latency histogram.

Its index comes from --index, else SLURM_PROCID or JOB_COMPLETION_INDEX.

Examples:
  srun --ntasks-per-node=1 lvsperf agent --coordinator $COORD:7411
  lvsperf agent --listen 0.0.0.0:7412 --sessions 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			auth, err := cluster.TokenFrom(tf.env, tf.file)
			if err != nil {
				return err
			}
			o.Auth = auth
			l, err := cluster.FromEnv(os.Getenv)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("index") && l.Index >= 0 {
				o.Index = l.Index
			}
			if o.Name == "" && l.Node != "" {
				o.Name = fmt.Sprintf("%s/%d", l.Node, o.Index)
			}
			o.Log = cmd.ErrOrStderr()
			return cluster.RunAgent(cmd.Context(), o)
		},
	}
	tf.bind(c)
	fl := c.Flags()
	fl.StringVar(&o.Coordinator, "coordinator", "", "dial the coordinator at host:port (and serve that one session)")
	fl.StringVar(&o.Listen, "listen", cluster.DefaultAgentListen, "listen here for a coordinator when --coordinator is not given")
	fl.IntVar(&o.Index, "index", 0, "this agent's rank (default SLURM_PROCID or JOB_COMPLETION_INDEX)")
	fl.StringVar(&o.Name, "name", "", "name in results (default node/index)")
	fl.DurationVar(&o.DialTimeout, "dial-timeout", cluster.DefaultDialTimeout, "how long to keep trying to reach the coordinator")
	fl.IntVar(&o.Sessions, "sessions", 0, "listening: exit after this many coordinator sessions (0 = until killed)")
	return c
}

func newClusterCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Synchronised runs from many client hosts: run the coordinator, or render a Kubernetes manifest",
	}
	c.AddCommand(newClusterRunCmd(), newSlurmScriptCmd(), newManifestCmd())
	return c
}

func newManifestCmd() *cobra.Command {
	var (
		o   k8s.ManifestOptions
		sel []string
	)
	c := &cobra.Command{
		Use:   "manifest --image IMAGE --agents N [flags] -- PLAN...",
		Short: "Print Kubernetes YAML: an Indexed Job of agents, the coordinator Job, headless Services",
		Long: `Print the objects to kubectl apply: a headless Service for the coordinator
(the agents dial it by name), a headless Service giving every agent pod a stable
name, the coordinator Job and an Indexed Job of N agents spread over nodes. PLAN
is the rest of a "lvsperf cluster run" command line. The token comes from a
Secret you create; the manifest never contains it. Untested against a live
cluster: only the objects' structure is tested here.

Example:
  lvsperf cluster manifest --image registry.example.com/lvsperf:v1 --agents 4 -- -h 10.0.0.1:80 -t 10 -c 8 /file/file.0 > lvsperf.yaml
  kubectl create secret generic lvsperf-token --from-literal=token="$(openssl rand -hex 32)"
  kubectl apply -f lvsperf.yaml && kubectl logs -f job/lvsperf-coordinator`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Plan = args
			for _, kv := range sel {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--node-selector %q: want key=value", kv)
				}
				if o.NodeSelector == nil {
					o.NodeSelector = map[string]string{}
				}
				o.NodeSelector[k] = v
			}
			objs, err := k8s.Manifest(o)
			if err != nil {
				return err
			}
			return k8s.WriteYAML(cmd.OutOrStdout(), objs.List()...)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Name, "name", k8s.DefaultName, "prefix of every object's name")
	fl.StringVar(&o.Namespace, "namespace", "", "namespace of every object (default: kubectl's)")
	fl.StringVar(&o.Image, "image", "", "container image with lvsperf on its PATH (required)")
	fl.IntVar(&o.Agents, "agents", k8s.DefaultAgents, "agent pods")
	fl.IntVar(&o.CoordinatorPort, "coordinator-port", k8s.DefaultCoordinatorPort, "port the coordinator listens on")
	fl.IntVar(&o.AgentPort, "agent-port", k8s.DefaultAgentPort, "port every agent listens on")
	fl.StringVar(&o.TokenSecret, "token-secret", k8s.DefaultTokenSecret, "Secret holding the shared token")
	fl.StringVar(&o.TokenKey, "token-key", k8s.DefaultTokenKey, "key of the token in the Secret")
	fl.StringArrayVar(&sel, "node-selector", nil, "key=value label both pods' nodes must have (repeatable)")
	fl.BoolVar(&o.RequireSpread, "require-spread", false, "at most one agent per node (required anti-affinity instead of preferred)")
	fl.DurationVar(&o.Deadline, "deadline", k8s.DefaultDeadline, "each Job's activeDeadlineSeconds")
	for _, r := range []struct {
		role string
		res  *k8s.Resources
	}{{"agent", &o.AgentResources}, {"coordinator", &o.CoordinatorResources}} {
		fl.StringVar(&r.res.CPURequest, r.role+"-cpu-request", "", r.role+" CPU request (e.g. 500m)")
		fl.StringVar(&r.res.CPULimit, r.role+"-cpu-limit", "", r.role+" CPU limit")
		fl.StringVar(&r.res.MemoryRequest, r.role+"-memory-request", "", r.role+" memory request (e.g. 256Mi)")
		fl.StringVar(&r.res.MemoryLimit, r.role+"-memory-limit", "", r.role+" memory limit")
	}
	return c
}

func newSlurmScriptCmd() *cobra.Command {
	var o slurm.ScriptOptions
	c := &cobra.Command{
		Use:   "slurm-script --nodes N [flags] -- PLAN...",
		Short: "Print an sbatch script: the coordinator on the first node, one agent per node by srun",
		Long: `Print a batch script for sbatch. PLAN is the rest of a "lvsperf cluster run"
command line (the ptester flags and path). Submit it with LVSPERF_TOKEN set in
the environment (sbatch exports it to the job; the script never contains it).

Example:
  lvsperf cluster slurm-script --nodes 4 --out results -- -h 10.0.0.1:80 -t 10 -c 8 /file/file.0 > job.sh
  LVSPERF_TOKEN=$(head -c 24 /dev/urandom | base64) sbatch job.sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Plan = args
			return slurm.WriteScript(cmd.OutOrStdout(), o)
		},
	}
	fl := c.Flags()
	fl.IntVar(&o.Nodes, "nodes", 0, "client nodes, one agent on each")
	fl.StringVar(&o.Partition, "partition", "", "partition (default: the cluster's default)")
	fl.DurationVar(&o.TimeLimit, "time-limit", 10*time.Minute, "job time limit (whole minutes)")
	fl.StringVar(&o.JobName, "job-name", "lvsperf", "job name")
	fl.IntVar(&o.Port, "port", slurm.DefaultPort, "port the coordinator listens on, on the first node")
	fl.StringVar(&o.Binary, "binary", "lvsperf", "lvsperf executable as the nodes see it")
	fl.StringVar(&o.Out, "out", ".", "directory the coordinator writes results to")
	return c
}

func newClusterRunCmd() *cobra.Command {
	var (
		o       cluster.Options
		tf      tokenFlags
		po      ptester.Options
		seconds string
		out     string
		name    string
		jsonOut bool
		wide    bool
		idle    bool
		probe   string
		np      cluster.NetpipePlan
		lo, hi  string
		perturb int
	)
	c := &cobra.Command{
		Use:   "run [-h HOST] [flags] [PATH]",
		Short: "Hand every agent the same ptester plan, start them at one instant, merge their results",
		Long: `The coordinator waits for --agents N agents to dial in on --listen (or dials
each --agent ADDR), measures each one's clock offset NTP-style (16 exchanges,
the shortest round trip wins), hands each the plan with its share of --rate,
and tells each its start instant in its own clock. It merges the agents' HDR
histograms exactly and sums their counters; an agent lost mid-run is named
with its partial counts and the others' data are kept. The run is saved as
NAME.msgpack (store, plots, report, compare) and NAME-cluster.json (every
agent's row and histogram).

Under Slurm --agents defaults to SLURM_NNODES; see README "Many client hosts".

Examples:
  lvsperf cluster run --listen 0.0.0.0:7411 --agents 4 -h 10.0.0.1:80 -t 10 -k 1 -c 8 /file/file.0
  lvsperf cluster run --agent 127.0.0.1:7412 --agent 127.0.0.1:7413 -h 127.0.0.1:8080 --rate 2000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch probe {
			case cluster.ProbePtester:
				if len(args) == 1 {
					po.Path = args[0]
				}
				d, err := ptester.ParseSeconds(seconds)
				if err != nil {
					return err
				}
				po.Duration = d
				if err := po.Check(); err != nil {
					return err
				}
				o.Plan = cluster.Plan{Probe: probe, Ptester: &po}
			case cluster.ProbeNetpipe:
				if len(args) > 0 {
					return fmt.Errorf("--probe netpipe takes no path argument, got %q", args[0])
				}
				start, err := timing.ParseBytes(lo)
				if err != nil {
					return fmt.Errorf("-l: %w", err)
				}
				end, err := timing.ParseBytes(hi)
				if err != nil {
					return fmt.Errorf("-u: %w", err)
				}
				if np.Sizes, err = timing.NetPIPESizes(start, end, timing.Bytes(perturb)); err != nil {
					return err
				}
				np.Target = po.Target
				o.Plan = cluster.Plan{Probe: probe, Netpipe: &np}
			default:
				return fmt.Errorf("--probe %q: want %s or %s", probe, cluster.ProbePtester, cluster.ProbeNetpipe)
			}
			auth, err := cluster.TokenFrom(tf.env, tf.file)
			if err != nil {
				return err
			}
			o.Auth = auth
			if !cmd.Flags().Changed("agents") && len(o.Agents) == 0 {
				l, err := cluster.FromEnv(os.Getenv)
				if err != nil {
					return err
				}
				if l.Engine == "slurm" {
					o.Expect = l.Tasks
				}
			}
			o.Plan.Seed, o.Plan.IdlePoll = time.Now().UnixNano(), idle
			o.Log = cmd.ErrOrStderr()
			res, err := cluster.Run(cmd.Context(), o)
			if res == nil {
				return err
			}
			if merr := os.MkdirAll(out, 0o755); merr != nil {
				return fmt.Errorf("--out: %w", merr)
			}
			base := filepath.Join(out, name)
			if serr := results.Save(base+results.Extension, res.ToRun()); serr != nil {
				return fmt.Errorf("save run: %w", serr)
			}
			raw, jerr := json.Marshal(res)
			if jerr != nil {
				return fmt.Errorf("encode cluster result: %w", jerr)
			}
			if werr := results.WriteFileAtomic(base+"-cluster.json", raw); werr != nil {
				return werr
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				if _, werr := w.Write(append(raw, '\n')); werr != nil {
					return werr
				}
			} else {
				if werr := res.WriteText(w, wide); werr != nil {
					return werr
				}
				fmt.Fprintf(w, "run saved to %s%s and %s-cluster.json\n", base, results.Extension, base)
			}
			if err == nil && len(res.Lost) > 0 {
				// The others' data are saved; the run still did not do
				// what was asked.
				err = fmt.Errorf("run finished with %d of %d agents; lost %s", res.Complete, len(res.Agents), strings.Join(res.Lost, "; "))
			}
			return err
		},
	}
	tf.bind(c)
	fl := c.Flags()
	fl.StringVar(&o.Listen, "listen", cluster.DefaultCoordinatorListen, "where agents dial in")
	fl.IntVar(&o.Expect, "agents", 0, "number of agents to wait for on --listen (default under Slurm: SLURM_NNODES)")
	fl.StringArrayVar(&o.Agents, "agent", nil, "dial a listening agent at host:port instead (repeat per agent)")
	fl.DurationVar(&o.ReadyTimeout, "ready-timeout", cluster.DefaultReadyTimeout, "time for every agent to connect and get ready")
	fl.DurationVar(&o.Lead, "lead", cluster.DefaultLead, "start this long after the last agent is ready")
	fl.StringVar(&out, "out", ".", "directory for the results")
	fl.StringVar(&name, "name", "cluster", "base name of the result files")
	fl.BoolVar(&jsonOut, "json", false, "print the merged result as JSON")
	fl.BoolVar(&wide, "wide", false, wideHelp)
	fl.BoolVar(&idle, "idle-poll", false, "agents keep idle CPUs polling from the plan to the run's end (PM QoS cpu_dma_latency 0; root): a halted vCPU's wake-up at the start instant adds 100-300 µs of skew")
	c.Flags().Bool("help", false, "help for run")
	fl.StringVar(&probe, "probe", cluster.ProbePtester, "what the agents run: ptester (HTTP hammer) or netpipe (pairs in lock-step against one receiver)")
	fl.StringVarP(&po.Target, "host", "h", "", "server as host[:port] as every agent reaches it (netpipe: the receiver)")
	fl.StringVarP(&lo, "start", "l", "1", "netpipe: smallest message")
	fl.StringVarP(&hi, "end", "u", "1M", "netpipe: largest message")
	fl.IntVarP(&perturb, "perturbation", "p", 0, "netpipe: NetPIPE's ±p sizes around each power of two")
	fl.DurationVar(&np.TrialTime, "trial-time", 0, "netpipe: target time of one trial (default the timing core's)")
	fl.IntVar(&np.Trials, "trials", 0, "netpipe: trials per size (default the timing core's)")
	fl.StringVarP(&seconds, "time", "t", "10", "seconds to run (or a duration such as 500ms)")
	fl.IntVarP(&po.KeepAlive, "keepalive", "k", 1, "GETs per TCP connection: 1 = new connection per GET")
	fl.IntVarP(&po.Clients, "clients", "c", 1, "concurrent clients per agent")
	fl.Float64Var(&po.Rate, "rate", 0, "open loop: total requests per second over every agent (0 = closed loop)")
	fl.DurationVar(&po.Timeout, "timeout", ptester.DefaultTimeout, "time allowed for one request")
	fl.StringVar((*string)(&po.Engine), "engine", string(ptester.EngineAuto), "agents' client engine: loop, goroutines or auto")
	return c
}
