package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultTokenEnv is the environment variable the token is read from.
const DefaultTokenEnv = "LVSPERF_TOKEN"

// TokenFrom reads the shared token from a file (when file is set) or from
// the environment variable env, and checks it.
func TokenFrom(env, file string) (Auth, error) {
	var tok string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return Auth{}, fmt.Errorf("--token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	default:
		tok = os.Getenv(env)
		if tok == "" {
			return Auth{}, fmt.Errorf("no cluster token: set %s (the same value for the coordinator and every agent, e.g. export %s=$(head -c 24 /dev/urandom | base64)) or use --token-file", env, env)
		}
	}
	a := Auth{Token: []byte(tok)}
	return a, a.Check()
}

// Launcher environment: what an engine tells each task about itself.
type Launcher struct {
	// Engine is "slurm", "kubernetes" or "" (started by hand).
	Engine string
	// Index is the task's rank (SLURM_PROCID, JOB_COMPLETION_INDEX); -1
	// when no engine said.
	Index int
	// Tasks is the number of agents the engine started (SLURM_NTASKS of a
	// step, SLURM_NNODES of an allocation); 0 when unknown.
	Tasks int
	// Node is the node's name as the engine knows it (SLURMD_NODENAME,
	// the pod's HOSTNAME).
	Node string
}

// FromEnv reads the launcher's environment through getenv (os.Getenv).
func FromEnv(getenv func(string) string) (Launcher, error) {
	atoi := func(k string) (int, error) {
		v := getenv(k)
		if v == "" {
			return -1, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return -1, fmt.Errorf("environment %s=%q: want a non-negative integer", k, v)
		}
		return n, nil
	}
	if getenv("SLURM_JOB_ID") != "" {
		l := Launcher{Engine: "slurm", Node: getenv("SLURMD_NODENAME")}
		var err error
		if l.Index, err = atoi("SLURM_PROCID"); err != nil {
			return l, err
		}
		n, err := atoi("SLURM_NTASKS")
		if err != nil {
			return l, err
		}
		if n < 0 {
			if n, err = atoi("SLURM_NNODES"); err != nil {
				return l, err
			}
		}
		l.Tasks = max(n, 0)
		return l, nil
	}
	if getenv("JOB_COMPLETION_INDEX") != "" {
		l := Launcher{Engine: "kubernetes", Node: getenv("HOSTNAME")}
		var err error
		l.Index, err = atoi("JOB_COMPLETION_INDEX")
		return l, err
	}
	return Launcher{Index: -1}, nil
}
