package k8s

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Recommended Kubernetes labels; the Services select pods by all three.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
)

// Component label values, also the container and port names.
const (
	ComponentCoordinator = "coordinator"
	ComponentAgent       = "agent"
)

// hostnameTopologyKey is the node label that tells nodes apart.
const hostnameTopologyKey = "kubernetes.io/hostname"

// Objects are the Kubernetes objects of one lvsperf cluster run.
type Objects struct {
	// CoordinatorService is headless and selects the coordinator pod; agents
	// dial it by name.
	CoordinatorService *corev1.Service
	// AgentService is headless and selects the agent pods; it is their
	// subdomain, which gives each agent a stable DNS name.
	AgentService *corev1.Service
	// Coordinator is the Job running `lvsperf cluster run`.
	Coordinator *batchv1.Job
	// Agents is the Indexed Job running one `lvsperf agent` per index.
	Agents *batchv1.Job
}

// List returns the objects in the order to create them: the Services first,
// so that their DNS names exist when the pods start.
func (o Objects) List() []runtime.Object {
	return []runtime.Object{o.CoordinatorService, o.AgentService, o.Coordinator, o.Agents}
}

// Manifest builds the objects that run the plan in o on a cluster, or
// returns the error of [ManifestOptions.Normalized].
func Manifest(o ManifestOptions) (Objects, error) {
	o, err := o.Normalized()
	if err != nil {
		return Objects{}, fmt.Errorf("lvsperf cluster manifest: %w", err)
	}
	coordLabels := podLabels(o.Name, ComponentCoordinator)
	agentLabels := podLabels(o.Name, ComponentAgent)
	coordAddr := net.JoinHostPort(coordinatorName(o.Name), strconv.Itoa(o.CoordinatorPort))

	coordPod := podSpec(o, ComponentCoordinator, o.CoordinatorPort, coordinatorArgs(o.CoordinatorPort, o.Agents, o.Plan), o.CoordinatorResources)
	// The coordinator is idle while agents load the target, but it measures
	// their clock offsets before the start: keep it off a busy agent's node.
	coordPod.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 50, PodAffinityTerm: hostnameTerm(agentLabels)},
		},
	}}

	agentPod := podSpec(o, ComponentAgent, o.AgentPort, agentArgs(o.AgentPort, coordAddr), o.AgentResources)
	agentPod.Subdomain = agentServiceName(o.Name)
	// N agents on one node measure that node, not the director.
	spread := &corev1.PodAntiAffinity{}
	if o.RequireSpread {
		spread.RequiredDuringSchedulingIgnoredDuringExecution = []corev1.PodAffinityTerm{hostnameTerm(agentLabels)}
	} else {
		spread.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.WeightedPodAffinityTerm{
			{Weight: 100, PodAffinityTerm: hostnameTerm(agentLabels)},
		}
	}
	agentPod.Affinity = &corev1.Affinity{PodAntiAffinity: spread}

	deadline := ptr(int64((o.Deadline + time.Second - 1) / time.Second))
	agents := int32(o.Agents)
	return Objects{
		CoordinatorService: headlessService(o, coordinatorName(o.Name), ComponentCoordinator, o.CoordinatorPort),
		AgentService:       headlessService(o, agentServiceName(o.Name), ComponentAgent, o.AgentPort),
		Coordinator: &batchv1.Job{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: objectMeta(o, coordinatorName(o.Name), coordLabels),
			Spec: batchv1.JobSpec{
				// A second coordinator would start a second run while the
				// agents are in the first: never retry.
				BackoffLimit:          ptr(int32(0)),
				ActiveDeadlineSeconds: deadline,
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: coordLabels},
					Spec:       coordPod,
				},
			},
		},
		Agents: &batchv1.Job{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: objectMeta(o, agentJobName(o.Name), agentLabels),
			Spec: batchv1.JobSpec{
				CompletionMode: ptr(batchv1.IndexedCompletion),
				Parallelism:    ptr(agents),
				Completions:    ptr(agents),
				// A failed agent is not retried (it would join a run under
				// way) and does not fail the Job, which would kill the
				// other agents: the run finishes with them and names it.
				// backoffLimit stays unset, so it defaults to no limit; a
				// backoffLimit of 0 would kill all agents at the first
				// failure.
				BackoffLimitPerIndex:  ptr(int32(0)),
				ActiveDeadlineSeconds: deadline,
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: agentLabels},
					Spec:       agentPod,
				},
			},
		},
	}, nil
}

// podSpec is the spec both pods share: one container named after its
// component running [Binary] args, listening on port, with the token in
// [TokenEnv].
func podSpec(o ManifestOptions, component string, port int, args []string, res Resources) corev1.PodSpec {
	return corev1.PodSpec{
		// Never restart in place either: a restarted agent or coordinator
		// would rejoin a run under way.
		RestartPolicy: corev1.RestartPolicyNever,
		// Neither pod talks to the API server.
		AutomountServiceAccountToken: ptr(false),
		// Keep the environment to what the manifest sets.
		EnableServiceLinks: ptr(false),
		NodeSelector:       o.NodeSelector,
		Containers: []corev1.Container{{
			Name:    component,
			Image:   o.Image,
			Command: []string{Binary},
			Args:    args,
			Ports: []corev1.ContainerPort{{
				Name:          component,
				ContainerPort: int32(port),
				Protocol:      corev1.ProtocolTCP,
			}},
			Env: []corev1.EnvVar{{
				Name: TokenEnv,
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: o.TokenSecret},
					Key:                  o.TokenKey,
				}},
			}},
			Resources: res.requirements(),
		}},
	}
}

// headlessService selects the pods of component by their labels and
// publishes their addresses in DNS only (clusterIP: None, no proxying).
func headlessService(o ManifestOptions, name, component string, port int) *corev1.Service {
	labels := podLabels(o.Name, component)
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(o, name, labels),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  labels,
			// Publish a pod's name as soon as it has an address: the pods
			// have no readiness probe, and the peers retry their dials.
			PublishNotReadyAddresses: true,
			Ports: []corev1.ServicePort{{
				Name:       component,
				Protocol:   corev1.ProtocolTCP,
				Port:       int32(port),
				TargetPort: intstr.FromString(component),
			}},
		},
	}
}

// hostnameTerm is an affinity term over the pods with labels, per node.
func hostnameTerm(labels map[string]string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: maps.Clone(labels)},
		TopologyKey:   hostnameTopologyKey,
	}
}

// objectMeta names an object of the run.
func objectMeta(o ManifestOptions, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: maps.Clone(labels)}
}

// podLabels are the labels of the pods of one component of run name.
func podLabels(name, component string) map[string]string {
	return map[string]string{
		LabelName:      Binary,
		LabelInstance:  name,
		LabelComponent: component,
	}
}

// requirements converts validated quantities.
func (r Resources) requirements() corev1.ResourceRequirements {
	var req corev1.ResourceRequirements
	set := func(list *corev1.ResourceList, name corev1.ResourceName, value string) {
		if value == "" {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = resource.MustParse(value) // validated by Normalized
	}
	set(&req.Requests, corev1.ResourceCPU, r.CPURequest)
	set(&req.Requests, corev1.ResourceMemory, r.MemoryRequest)
	set(&req.Limits, corev1.ResourceCPU, r.CPULimit)
	set(&req.Limits, corev1.ResourceMemory, r.MemoryLimit)
	return req
}

// coordinatorName names the coordinator's Job and Service.
func coordinatorName(name string) string { return name + "-" + ComponentCoordinator }

// agentJobName names the agents' Job; its pods' hostnames are agentHostname.
func agentJobName(name string) string { return name + "-" + ComponentAgent }

// agentServiceName names the agents' Service, their subdomain.
func agentServiceName(name string) string { return name + "-agents" }

// agentHostname is the hostname the Job controller gives agent index i.
func agentHostname(name string, i int) string { return agentJobName(name) + "-" + strconv.Itoa(i) }

// AgentHost is the DNS name of agent index i of o's run (after
// [ManifestOptions.Normalized]), reachable from pods in its namespace.
func AgentHost(o ManifestOptions, i int) string {
	return agentHostname(o.Name, i) + "." + agentServiceName(o.Name)
}

// sortedKeys returns m's keys in order, so errors come out deterministically.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// ptr returns a pointer to v, for the API's optional fields.
func ptr[T any](v T) *T { return &v }
