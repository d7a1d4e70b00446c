package cluster

import (
	"fmt"
	"time"

	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/timing"
)

// Probes an agent can run.
const (
	ProbePtester = "ptester"
	// ProbeNetpipe runs N NetPIPE pairs in lock-step: every agent measures
	// the same size from the same instant, and the next size starts only
	// when every agent is done (the seed's "two simultaneous netpipes",
	// whose processes drifted apart, synchronised).
	ProbeNetpipe = "netpipe"
)

// NetpipePlan is the netpipe probe's part of a plan.
type NetpipePlan struct {
	// Target is the receiver (`lvsperf netpipe --serve`) as host:port.
	Target string `json:"target" msgpack:"target"`
	// Sizes are measured in order, each from one start instant.
	Sizes []timing.Bytes `json:"sizes" msgpack:"sizes"`
	// TrialTime and Trials go to the timing core (0: its defaults).
	TrialTime time.Duration `json:"trial_time_ns,omitempty" msgpack:"trial_time,omitempty"`
	Trials    int           `json:"trials,omitempty" msgpack:"trials,omitempty"`
}

// MaxNetpipeSize bounds one message of a cluster netpipe.
const MaxNetpipeSize = 64 << 20

func (n NetpipePlan) check() error {
	if n.Target == "" {
		return fmt.Errorf("plan: netpipe needs a receiver: -h host:port of `lvsperf netpipe --serve`")
	}
	if len(n.Sizes) == 0 {
		return fmt.Errorf("plan: netpipe needs sizes")
	}
	for _, s := range n.Sizes {
		if s < 1 || s > MaxNetpipeSize {
			return fmt.Errorf("plan: netpipe size %v: want 1 B to %v", s, timing.Bytes(MaxNetpipeSize))
		}
	}
	if n.Trials < 0 || n.Trials > 100 || n.TrialTime < 0 || n.TrialTime > 10*time.Second {
		return fmt.Errorf("plan: netpipe trials %d × %v: want 0-100 trials of at most 10 s", n.Trials, n.TrialTime)
	}
	return nil
}

// timing returns the timing core's options for one step.
func (n NetpipePlan) timing(size timing.Bytes, first bool) timing.Options {
	o := timing.Options{Sizes: []timing.Bytes{size}, TrialTime: n.TrialTime, Trials: n.Trials, StopTime: -1}
	if !first {
		o.Warmup = -1
	}
	return o
}

// stepBound is the longest one step may take: every trial at most 10× its
// target, the pilot, and slack.
func (n NetpipePlan) stepBound() time.Duration {
	tt, tr := n.TrialTime, n.Trials
	if tt == 0 {
		tt = 100 * time.Millisecond
	}
	if tr == 0 {
		tr = 3
	}
	return time.Duration(tr+1)*tt*10 + 10*time.Second
}

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
	// Netpipe configures the lock-step netpipe pairs.
	Netpipe *NetpipePlan `json:"netpipe,omitempty" msgpack:"netpipe,omitempty"`
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
	case ProbeNetpipe:
		if p.Netpipe == nil {
			return fmt.Errorf("plan: probe netpipe needs its options")
		}
		if err := p.Netpipe.check(); err != nil {
			return err
		}
	case "":
		return fmt.Errorf("plan: no probe: want %s or %s", ProbePtester, ProbeNetpipe)
	default:
		return fmt.Errorf("plan: probe %q cannot run on agents: want %s or %s (stream and the bulk probes are not implemented for clusters)", p.Probe, ProbePtester, ProbeNetpipe)
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
