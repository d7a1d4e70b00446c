// Package k8s renders the Kubernetes objects that run a synchronised
// multi-client lvsperf run on a cluster: an Indexed Job of agents, a Job for
// the coordinator, and the two headless Services through which they find each
// other.
//
// Kubernetes is the launcher and the placer; nothing here talks to an API
// server. [Manifest] builds typed k8s.io/api objects from [ManifestOptions],
// and [WriteYAML] renders them as one multi-document YAML stream for
// `kubectl apply -f`. The objects are:
//
//   - Service NAME-coordinator, headless (clusterIP: None), selecting the
//     coordinator pod: agents dial NAME-coordinator:PORT.
//   - Service NAME-agents, headless, selecting the agent pods; it is the agents'
//     subdomain, so agent i has the stable DNS name NAME-agent-i.NAME-agents.
//   - Job NAME-coordinator: one pod running `lvsperf cluster run` with the plan.
//   - Job NAME-agent: completionMode Indexed, parallelism = completions = N,
//     one pod per index running `lvsperf agent --index $(JOB_COMPLETION_INDEX)`.
//     backoffLimitPerIndex 0: an agent that fails is not restarted (it would
//     join a run already under way) and does not stop the others.
//
// Agents accept plans only from their coordinator through a shared token. The
// manifest never holds the token: both pods read it from a Secret key into
// the LVSPERF_TOKEN environment variable, and the Secret is created by the
// user (kubectl create secret generic lvsperf-token --from-literal=token=...).
//
// Agent pods prefer distinct nodes (podAntiAffinity on kubernetes.io/hostname,
// preferred by default, required on request), since N agents on one node
// measure that node rather than the director.
//
// The manifest needs Kubernetes 1.29 or later (backoffLimitPerIndex). It is
// untested against a live cluster: no cluster exists where lvsperf is
// developed. The tests check its structure only, by decoding the YAML back
// into the typed objects.
package k8s
