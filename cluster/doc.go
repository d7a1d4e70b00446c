// Package cluster runs a probe's client side on many hosts at once: an
// agent on every client host, one coordinator that hands them all the same
// plan, measures each agent's clock offset NTP-style, starts them together
// at one instant, and merges what they measured exactly (HDR histograms
// added bucket by bucket, counters summed) into one result with a row per
// agent.
//
// Agents are started by an engine the user already runs — Slurm's srun or
// a Kubernetes Indexed Job (cluster/k8s) — never by lvsperf itself. Either
// side may open the connection: an agent listens (loopback by default)
// and the coordinator dials it, or the agent dials the coordinator, which
// is what a job script or a Job does. A shared token authenticates both
// ends with an HMAC challenge each way; see Auth.
package cluster
