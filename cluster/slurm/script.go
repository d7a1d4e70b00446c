package slurm

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// ScriptOptions configure the batch script. The zero value of each field
// but Nodes and Plan means its default.
type ScriptOptions struct {
	// Nodes is the number of client hosts, one agent on each.
	Nodes int
	// Partition to submit to (default: the cluster's default).
	Partition string
	// TimeLimit bounds the job (default 10 minutes).
	TimeLimit time.Duration
	// JobName (default "lvsperf").
	JobName string
	// Port the coordinator listens on, on the first node (default 7411).
	Port int
	// Binary is the lvsperf executable as the nodes see it (default
	// "lvsperf" on PATH).
	Binary string
	// Out is the directory the coordinator writes results to (default ".").
	Out string
	// Plan is the rest of the `lvsperf cluster run` command line: the
	// probe's flags and path (-h HOST -t 10 -k 1 -c 8 /file/file.0).
	Plan []string
}

// DefaultPort is where the coordinator listens.
const DefaultPort = 7411

var jobNameOK = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (o ScriptOptions) normalize() (ScriptOptions, error) {
	if o.Nodes < 1 {
		return o, fmt.Errorf("slurm script: --nodes %d: want 1 or more client nodes", o.Nodes)
	}
	if len(o.Plan) == 0 {
		return o, fmt.Errorf("slurm script: no plan: give the ptester flags after --, e.g. -- -h 10.0.0.1:80 -t 10 -c 8 /file/file.0")
	}
	if o.TimeLimit == 0 {
		o.TimeLimit = 10 * time.Minute
	}
	if o.TimeLimit < time.Minute {
		return o, fmt.Errorf("slurm script: time limit %v: Slurm counts whole minutes, want at least 1m", o.TimeLimit)
	}
	if o.JobName == "" {
		o.JobName = "lvsperf"
	}
	if !jobNameOK.MatchString(o.JobName) {
		return o, fmt.Errorf("slurm script: job name %q: want letters, digits, . _ -", o.JobName)
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Port < 1 || o.Port > 65535 {
		return o, fmt.Errorf("slurm script: port %d: want 1-65535", o.Port)
	}
	if o.Binary == "" {
		o.Binary = "lvsperf"
	}
	if o.Out == "" {
		o.Out = "."
	}
	return o, nil
}

// WriteScript writes the sbatch script. The coordinator runs in the batch
// step on the job's first node and listens on every address; its address
// for the agents is that node's first address (hostname -I) unless the
// environment sets LVSPERF_COORD. srun then starts one agent per node,
// each dialling the coordinator with its SLURM_PROCID as index. The token
// comes from LVSPERF_TOKEN in the submitting environment (sbatch exports
// it) and is never written into the script.
func WriteScript(w io.Writer, opts ScriptOptions) error {
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", o.JobName)
	fmt.Fprintf(&b, "#SBATCH --nodes=%d\n", o.Nodes)
	fmt.Fprintf(&b, "#SBATCH --ntasks-per-node=1\n")
	fmt.Fprintf(&b, "#SBATCH --time=%d\n", int(o.TimeLimit.Minutes()))
	if o.Partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", quote(o.Partition))
	}
	fmt.Fprintf(&b, "# Rendered by lvsperf cluster slurm-script: one agent per node, the\n")
	fmt.Fprintf(&b, "# coordinator on the first. Submit with LVSPERF_TOKEN set: sbatch job.sh\n")
	fmt.Fprintf(&b, "set -u\n")
	fmt.Fprintf(&b, ": \"${LVSPERF_TOKEN:?set LVSPERF_TOKEN to a shared secret before sbatch}\"\n")
	fmt.Fprintf(&b, "coord=\"${LVSPERF_COORD:-$(hostname -I | cut -d' ' -f1)}\"\n")
	fmt.Fprintf(&b, "%s cluster run --listen 0.0.0.0:%d --agents \"$SLURM_NNODES\" --out %s", quote(o.Binary), o.Port, quote(o.Out))
	for _, a := range o.Plan {
		fmt.Fprintf(&b, " %s", quote(a))
	}
	fmt.Fprintf(&b, " &\ncoordinator=$!\n")
	fmt.Fprintf(&b, "srun --ntasks-per-node=1 --kill-on-bad-exit=0 %s agent --coordinator \"$coord:%d\"\n", quote(o.Binary), o.Port)
	fmt.Fprintf(&b, "agents=$?\n")
	fmt.Fprintf(&b, "wait \"$coordinator\"\nrc=$?\n")
	fmt.Fprintf(&b, "[ \"$agents\" = 0 ] || echo \"lvsperf: srun: an agent step ended with status $agents\" >&2\n")
	fmt.Fprintf(&b, "exit \"$rc\"\n")
	_, err = io.WriteString(w, b.String())
	return err
}

var plain = regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%-]+$`)

// quote makes s one word for sh.
func quote(s string) string {
	if plain.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
