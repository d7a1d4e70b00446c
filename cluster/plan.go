package cluster

import (
	"fmt"
	"time"

	"github.com/lvsperf/lvsperf/ptester"
)

// Probes an agent can run.
const (
	ProbePtester = "ptester"
)

// Plan is what every agent runs: the same probe, target, schedule,
// duration and seed, with its share of the rate.
type Plan struct {
	// Probe names the client to run (ProbePtester).
	Probe string `json:"probe" msgpack:"probe"`
	// Agents is how many agents share the plan; the open loop's rate is
	// divided among them.
	Agents int `json:"agents" msgpack:"agents"`
	// Seed makes any randomised choice of the probe repeatable per agent
	// (agent i uses Seed+i).
	Seed int64 `json:"seed" msgpack:"seed"`
	// IdlePoll makes every agent hold a 0 µs PM QoS request
	// (/dev/cpu_dma_latency, root) from the plan to the run's end, so that
	// its wake-up at the start instant does not wait for a halted vCPU
	// (tens to hundreds of µs on VMs whose idle vCPUs halt).
	IdlePoll bool `json:"idle_poll,omitempty" msgpack:"idle_poll,omitempty"`
	// Ptester configures ptester: Target, Path, Duration, KeepAlive,
	// Clients (per agent), Rate (in total, over every agent), Timeout,
	// Engine. StartAt and Progress are set by the agent.
	Ptester *ptester.Options `json:"ptester,omitempty" msgpack:"ptester,omitempty"`
}

// Check rejects a plan an agent could not run, before any agent is asked.
func (p Plan) Check() error {
	switch p.Probe {
	case ProbePtester:
		if p.Ptester == nil {
			return fmt.Errorf("plan: probe ptester needs its options")
		}
		if err := p.Ptester.Check(); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
	case "":
		return fmt.Errorf("plan: no probe: want %s", ProbePtester)
	default:
		return fmt.Errorf("plan: probe %q cannot run on agents yet: want %s (netpipe pairs and the bulk probes are not implemented for clusters)", p.Probe, ProbePtester)
	}
	if p.Agents < 1 {
		return fmt.Errorf("plan: %d agents: want 1 or more", p.Agents)
	}
	return nil
}

// bound is the longest the probe can run once started: its duration and
// one request's timeout.
func (p Plan) bound() time.Duration {
	if p.Ptester != nil {
		o, err := p.Ptester.Normalize()
		if err == nil {
			return o.Duration + o.Timeout
		}
	}
	return 0
}

// forAgent returns the plan agent index runs: its rate share and seed.
func (p Plan) forAgent(index int) Plan {
	q := p
	q.Seed = p.Seed + int64(index)
	if p.Ptester != nil {
		o := *p.Ptester
		o.Rate = p.Ptester.Rate / float64(p.Agents)
		q.Ptester = &o
	}
	return q
}
