package k8s

import (
	"net"
	"strconv"
	"strings"

	"github.com/lvsperf/lvsperf/cluster"
)

// The command lines the pods run. They are the one place that knows the
// flags of `lvsperf agent` and `lvsperf cluster run`; change them here when
// those commands change.

// Binary is the program the pods run; the image must have it on its PATH.
const Binary = "lvsperf"

// TokenEnv is the environment variable from which the agent and the
// coordinator read the shared token (their --token-env flag names it).
const TokenEnv = cluster.DefaultTokenEnv

// IndexEnv is the variable the Job controller sets in every pod of an
// Indexed Job to that pod's completion index; the agent's --index refers to
// it through Kubernetes' $(VAR) expansion in args.
const IndexEnv = "JOB_COMPLETION_INDEX"

// listenHost is the address the pods listen on: all of the pod's IPv4
// addresses, since the pod network namespace is the pod's own.
const listenHost = "0.0.0.0"

// agentArgs is the agent's command line after [Binary].
func agentArgs(port int, coordinator string) []string {
	return []string{
		"agent",
		"--listen", net.JoinHostPort(listenHost, strconv.Itoa(port)),
		"--token-env", TokenEnv,
		"--index", "$(" + IndexEnv + ")",
		"--coordinator", coordinator,
	}
}

// coordinatorArgs is the coordinator's command line after [Binary]: its
// own flags, then the plan as given.
func coordinatorArgs(port, agents int, plan []string) []string {
	args := []string{
		"cluster", "run",
		"--listen", net.JoinHostPort(listenHost, strconv.Itoa(port)),
		"--agents", strconv.Itoa(agents),
		"--token-env", TokenEnv,
	}
	return append(args, plan...)
}

// ownFlagIn returns the first flag of `lvsperf cluster run` that the
// manifest sets itself and plan sets again before a "--" (after it,
// arguments belong to the probe), or "".
func ownFlagIn(plan []string) string {
	own := [...]string{"--listen", "--agents", "--token-env"}
	for _, a := range plan {
		if a == "--" {
			return ""
		}
		for _, f := range own {
			if a == f || strings.HasPrefix(a, f+"=") {
				return f
			}
		}
	}
	return ""
}
