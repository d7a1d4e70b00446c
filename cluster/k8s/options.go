package k8s

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of [ManifestOptions], used where a field is zero.
const (
	DefaultName            = "lvsperf"
	DefaultAgents          = 1
	DefaultCoordinatorPort = 7411
	DefaultAgentPort       = 7412
	DefaultTokenSecret     = "lvsperf-token"
	DefaultTokenKey        = "token"
	DefaultDeadline        = time.Hour
)

// MaxAgents is the largest agent count: the API server's limit on the
// parallelism of an Indexed Job.
const MaxAgents = 100000

// ManifestOptions says what [Manifest] renders. Its zero value means the
// defaults, except Image, which is required. Each field's doc names the flag
// of `lvsperf cluster manifest` it comes from; errors name that flag.
type ManifestOptions struct {
	// Name (--name) prefixes every object's name; a DNS-1123 label that
	// starts with a letter, since Service names derive from it, of at most
	// 51 characters, since NAME-coordinator must fit in 63.
	// Default DefaultName.
	Name string
	// Namespace (--namespace) of every object; empty leaves it to kubectl
	// (its current namespace, or kubectl apply -n).
	Namespace string
	// Image (--image) is the container image of both pods; it must have
	// [Binary] on its PATH. Required.
	Image string
	// Agents (--agents) is the number of agent pods: the Indexed Job's
	// parallelism and completions. Default DefaultAgents.
	Agents int
	// CoordinatorPort (--coordinator-port) is the TCP port the coordinator
	// listens on. Default DefaultCoordinatorPort.
	CoordinatorPort int
	// AgentPort (--agent-port) is the TCP port every agent listens on.
	// Default DefaultAgentPort.
	AgentPort int
	// TokenSecret (--token-secret) names the Secret that holds the shared
	// token; the user creates it. Default DefaultTokenSecret.
	TokenSecret string
	// TokenKey (--token-key) is the key of the token in TokenSecret.
	// Default DefaultTokenKey.
	TokenKey string
	// Plan (the arguments after `lvsperf cluster manifest`'s own flags) is
	// appended to the coordinator's `lvsperf cluster run` command line:
	// the probe, target, schedule and so on. It must not set --listen,
	// --agents or --token-env before a "--": the manifest sets those.
	Plan []string
	// AgentResources (--agent-cpu-request, --agent-cpu-limit,
	// --agent-memory-request, --agent-memory-limit) are the agent
	// container's requests and limits; empty ones are left unset.
	AgentResources Resources
	// CoordinatorResources (--coordinator-cpu-request, ...) are the
	// coordinator container's requests and limits.
	CoordinatorResources Resources
	// NodeSelector (--node-selector key=value, repeatable) restricts both
	// pods to nodes with these labels.
	NodeSelector map[string]string
	// RequireSpread (--require-spread) makes agents' anti-affinity on
	// kubernetes.io/hostname required instead of preferred: at most one
	// agent per node, and agents stay Pending when nodes run out.
	RequireSpread bool
	// Deadline (--deadline) bounds each Job's run (activeDeadlineSeconds,
	// rounded up to whole seconds); past it Kubernetes kills its pods.
	// Default DefaultDeadline.
	Deadline time.Duration
}

// Resources are one container's requests and limits, as Kubernetes
// quantities ("500m", "2", "256Mi"); empty means unset.
type Resources struct {
	CPURequest    string
	CPULimit      string
	MemoryRequest string
	MemoryLimit   string
}

// Normalized returns o with the defaults filled in, or an error that lists
// every invalid field by its flag, what it must be and what it was.
func (o ManifestOptions) Normalized() (ManifestOptions, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Agents == 0 {
		o.Agents = DefaultAgents
	}
	if o.CoordinatorPort == 0 {
		o.CoordinatorPort = DefaultCoordinatorPort
	}
	if o.AgentPort == 0 {
		o.AgentPort = DefaultAgentPort
	}
	if o.TokenSecret == "" {
		o.TokenSecret = DefaultTokenSecret
	}
	if o.TokenKey == "" {
		o.TokenKey = DefaultTokenKey
	}
	if o.Deadline == 0 {
		o.Deadline = DefaultDeadline
	}
	o.Plan = append([]string(nil), o.Plan...)
	o.NodeSelector = maps.Clone(o.NodeSelector)
	return o, o.validate()
}

// validate checks normalized options.
func (o ManifestOptions) validate() error {
	var errs []error
	bad := func(flag, value, want string, msgs []string) {
		if len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s must be %s, got %q: %s", flag, want, value, strings.Join(msgs, "; ")))
		}
	}

	bad("--name", o.Name, "a DNS-1123 label", validation.IsDNS1123Label(o.Name))
	if len(validation.IsDNS1123Label(o.Name)) == 0 {
		// The names derived from Name must be valid too: Service names are
		// DNS-1035 labels (they start with a letter), and Job names become
		// label values (at most 63 characters).
		for _, d := range [...]struct{ what, name string }{
			{"the coordinator's Job and Service name", coordinatorName(o.Name)},
			{"the agents' Service name", agentServiceName(o.Name)},
			{"the agents' Job name", agentJobName(o.Name)},
		} {
			bad("--name", o.Name, fmt.Sprintf("a name from which %s %q is a DNS-1035 label", d.what, d.name), validation.IsDNS1035Label(d.name))
		}
		// The agents' hostnames NAME-agent-INDEX need no check of their
		// own: the coordinator's name caps NAME at 51 characters, and an
		// index below MaxAgents has at most 5 digits: 51+7+5 = 63.
	}
	if o.Namespace != "" {
		bad("--namespace", o.Namespace, "empty or a DNS-1123 label", validation.IsDNS1123Label(o.Namespace))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("--image is required: the container image with lvsperf on its PATH, e.g. --image registry.example.com/lvsperf:v1"))
	} else if strings.TrimSpace(o.Image) != o.Image || strings.ContainsAny(o.Image, " \t\n") {
		errs = append(errs, fmt.Errorf("--image must be an image reference without spaces, got %q", o.Image))
	}
	bad("--agents", fmt.Sprint(o.Agents), fmt.Sprintf("between 1 and %d", MaxAgents), validation.IsInRange(o.Agents, 1, MaxAgents))
	bad("--coordinator-port", fmt.Sprint(o.CoordinatorPort), "a TCP port", validation.IsValidPortNum(o.CoordinatorPort))
	bad("--agent-port", fmt.Sprint(o.AgentPort), "a TCP port", validation.IsValidPortNum(o.AgentPort))
	bad("--token-secret", o.TokenSecret, "a Secret name (DNS-1123 subdomain)", validation.IsDNS1123Subdomain(o.TokenSecret))
	bad("--token-key", o.TokenKey, "a Secret key", validation.IsConfigMapKey(o.TokenKey))
	if f := ownFlagIn(o.Plan); f != "" {
		errs = append(errs, fmt.Errorf("the plan must not set %s: the manifest sets it for `lvsperf cluster run` (use --agents, --coordinator-port or --token-secret of `lvsperf cluster manifest` instead)", f))
	}
	errs = append(errs, o.AgentResources.validate("agent")...)
	errs = append(errs, o.CoordinatorResources.validate("coordinator")...)
	for _, k := range sortedKeys(o.NodeSelector) {
		bad("--node-selector", k, "a label key", content.IsLabelKey(k))
		bad("--node-selector", o.NodeSelector[k], "a label value", content.IsLabelValue(o.NodeSelector[k]))
	}
	if o.Deadline < 0 {
		errs = append(errs, fmt.Errorf("--deadline must be positive, got %v", o.Deadline))
	}
	return errors.Join(errs...)
}

// validate checks r, naming its flags --ROLE-cpu-request and so on.
func (r Resources) validate(role string) []error {
	var errs []error
	parse := func(kind, value string) *resource.Quantity {
		if value == "" {
			return nil
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s-%s must be a Kubernetes quantity like 500m, 2 or 256Mi, got %q: %w", role, kind, value, err))
			return nil
		}
		if q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("--%s-%s must be positive, got %q", role, kind, value))
			return nil
		}
		return &q
	}
	for _, res := range [...]struct{ name, req, lim string }{
		{"cpu", r.CPURequest, r.CPULimit},
		{"memory", r.MemoryRequest, r.MemoryLimit},
	} {
		req, lim := parse(res.name+"-request", res.req), parse(res.name+"-limit", res.lim)
		if req != nil && lim != nil && req.Cmp(*lim) > 0 {
			errs = append(errs, fmt.Errorf("--%s-%s-request (%s) must not exceed --%s-%s-limit (%s)", role, res.name, res.req, role, res.name, res.lim))
		}
	}
	return errs
}
