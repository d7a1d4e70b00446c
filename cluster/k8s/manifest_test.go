package k8s

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fullOptions sets every field away from its default.
func fullOptions() ManifestOptions {
	return ManifestOptions{
		Name:            "bench",
		Namespace:       "perf",
		Image:           "registry.example.com/lvsperf:v1.2.3",
		Agents:          8,
		CoordinatorPort: 9000,
		AgentPort:       9001,
		TokenSecret:     "bench-token",
		TokenKey:        "shared",
		Plan:            []string{"--probe", "ptester", "--target", "http://10.0.0.1/", "--duration", "30s", "--", "--keepalive"},
		AgentResources:  Resources{CPURequest: "2", CPULimit: "2", MemoryRequest: "512Mi", MemoryLimit: "1Gi"},
		CoordinatorResources: Resources{
			CPURequest: "250m", MemoryRequest: "128Mi",
		},
		NodeSelector:  map[string]string{"node-role.example.com/loadgen": "true", "topology.kubernetes.io/zone": "eu-1a"},
		RequireSpread: true,
		Deadline:      90*time.Minute + 500*time.Millisecond,
	}
}

func render(t testing.TB, o ManifestOptions) []byte {
	t.Helper()
	objs, err := Manifest(o)
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	var b bytes.Buffer
	if err := WriteYAML(&b, objs.List()...); err != nil {
		t.Fatalf("WriteYAML: %v", err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for name, o := range map[string]ManifestOptions{
		"minimal": {Image: "lvsperf:dev", Agents: 4, Plan: []string{"--probe", "ptester", "--target", "http://10.0.0.1/"}},
		"full":    fullOptions(),
	} {
		t.Run(name, func(t *testing.T) {
			got := render(t, o)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("YAML differs from %s (go test -update rewrites it); got:\n%s", path, got)
			}
		})
	}
}

// decoded is a rendered manifest read back through apimachinery's strict
// YAML deserializer, which rejects unknown fields and unregistered kinds.
type decoded struct {
	kinds    []string
	services []*corev1.Service
	jobs     []*batchv1.Job
}

func decode(t testing.TB, y []byte) decoded {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := batchv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(y)))
	var d decoded
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the YAML stream: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decoding document %d: %v\n%s", len(d.kinds)+1, err, doc)
		}
		d.kinds = append(d.kinds, gvk.GroupVersion().String()+"/"+gvk.Kind)
		switch obj := obj.(type) {
		case *corev1.Service:
			d.services = append(d.services, obj)
		case *batchv1.Job:
			d.jobs = append(d.jobs, obj)
		default:
			t.Fatalf("document %d is a %T, want a Service or a Job", len(d.kinds), obj)
		}
	}
	want := []string{"v1/Service", "v1/Service", "batch/v1/Job", "batch/v1/Job"}
	if !slices.Equal(d.kinds, want) {
		t.Fatalf("documents are %v, want %v", d.kinds, want)
	}
	return d
}

// jobFor returns the decoded Job whose pods have component's label.
func (d decoded) jobFor(t testing.TB, component string) *batchv1.Job {
	t.Helper()
	for _, j := range d.jobs {
		if j.Spec.Template.Labels[LabelComponent] == component {
			return j
		}
	}
	t.Fatalf("no Job with %s pods", component)
	return nil
}

// serviceFor returns the decoded Service whose selector matches job's pods,
// failing unless exactly one does.
func (d decoded) serviceFor(t testing.TB, job *batchv1.Job) *corev1.Service {
	t.Helper()
	var found []*corev1.Service
	for _, s := range d.services {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(job.Spec.Template.Labels)) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d Services select the pods of Job %s, want 1", len(found), job.Name)
	}
	return found[0]
}

func container(t testing.TB, j *batchv1.Job) corev1.Container {
	t.Helper()
	if n := len(j.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Job %s has %d containers, want 1", j.Name, n)
	}
	return j.Spec.Template.Spec.Containers[0]
}

// flagValue returns the value after flag in args.
func flagValue(t testing.TB, args []string, flag string) string {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("args %q have no %s VALUE", args, flag)
	}
	return args[i+1]
}

func TestManifestStructure(t *testing.T) {
	cases := map[string]ManifestOptions{
		"defaults":     {Image: "lvsperf:dev"},
		"one agent":    {Image: "lvsperf:dev", Agents: 1, Plan: []string{"--probe", "ptester"}},
		"four agents":  {Image: "lvsperf:dev", Agents: 4},
		"many agents":  {Image: "lvsperf:dev", Agents: 250, AgentPort: 1, CoordinatorPort: 65535},
		"every option": fullOptions(),
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := o.Normalized()
			if err != nil {
				t.Fatal(err)
			}
			d := decode(t, render(t, o))
			agents, coord := d.jobFor(t, ComponentAgent), d.jobFor(t, ComponentCoordinator)
			agentSvc, coordSvc := d.serviceFor(t, agents), d.serviceFor(t, coord)
			if agentSvc == coordSvc {
				t.Fatal("one Service selects both the agents and the coordinator")
			}

			// The agents: an Indexed Job of N pods that are never retried.
			as := agents.Spec
			if as.CompletionMode == nil || *as.CompletionMode != batchv1.IndexedCompletion {
				t.Errorf("agents' completionMode = %v, want Indexed", as.CompletionMode)
			}
			if as.Parallelism == nil || as.Completions == nil || *as.Parallelism != int32(n.Agents) || *as.Completions != int32(n.Agents) {
				t.Errorf("agents' parallelism %s completions %s, want both %d", show(as.Parallelism), show(as.Completions), n.Agents)
			}
			if as.BackoffLimitPerIndex == nil || *as.BackoffLimitPerIndex != 0 || as.BackoffLimit != nil {
				t.Errorf("agents' backoffLimitPerIndex %s backoffLimit %s, want 0 and unset", show(as.BackoffLimitPerIndex), show(as.BackoffLimit))
			}
			if cs := coord.Spec; cs.BackoffLimit == nil || *cs.BackoffLimit != 0 || cs.CompletionMode != nil || cs.Parallelism != nil {
				t.Errorf("coordinator's backoffLimit %s completionMode %s parallelism %s, want 0, unset, unset", show(cs.BackoffLimit), show(cs.CompletionMode), show(cs.Parallelism))
			}
			wantDeadline := int64((n.Deadline + time.Second - 1) / time.Second)
			for _, j := range d.jobs {
				if j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds != wantDeadline || wantDeadline < 1 {
					t.Errorf("Job %s activeDeadlineSeconds %s, want %d", j.Name, show(j.Spec.ActiveDeadlineSeconds), wantDeadline)
				}
				if p := j.Spec.Template.Spec; p.RestartPolicy != corev1.RestartPolicyNever {
					t.Errorf("Job %s restartPolicy %q, want Never", j.Name, p.RestartPolicy)
				}
			}

			// The Services: headless, one port each, the pods' port.
			for _, pair := range []struct {
				svc  *corev1.Service
				job  *batchv1.Job
				port int
			}{{agentSvc, agents, n.AgentPort}, {coordSvc, coord, n.CoordinatorPort}} {
				if pair.svc.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("Service %s clusterIP %q, want None (headless)", pair.svc.Name, pair.svc.Spec.ClusterIP)
				}
				c := container(t, pair.job)
				if len(pair.svc.Spec.Ports) != 1 || len(c.Ports) != 1 {
					t.Fatalf("Service %s has ports %v and its pods %v, want one each", pair.svc.Name, pair.svc.Spec.Ports, c.Ports)
				}
				sp, cp := pair.svc.Spec.Ports[0], c.Ports[0]
				if sp.Port != int32(pair.port) || cp.ContainerPort != int32(pair.port) || sp.TargetPort.String() != cp.Name {
					t.Errorf("Service %s port %d → %s, container port %s=%d; want %d to the named container port", pair.svc.Name, sp.Port, sp.TargetPort.String(), cp.Name, cp.ContainerPort, pair.port)
				}
				if got := flagValue(t, c.Args, "--listen"); got != fmt.Sprintf("0.0.0.0:%d", pair.port) {
					t.Errorf("Job %s --listen %s, want 0.0.0.0:%d", pair.job.Name, got, pair.port)
				}
				if want := n.Namespace; pair.svc.Namespace != want || pair.job.Namespace != want {
					t.Errorf("namespaces %q, %q, want %q", pair.svc.Namespace, pair.job.Namespace, want)
				}
			}

			// Agents reach the coordinator through its Service's name and
			// port, and get stable names under their own Service.
			ac, cc := container(t, agents), container(t, coord)
			if want := fmt.Sprintf("%s:%d", coordSvc.Name, coordSvc.Spec.Ports[0].Port); flagValue(t, ac.Args, "--coordinator") != want {
				t.Errorf("agents' --coordinator %s, want %s", flagValue(t, ac.Args, "--coordinator"), want)
			}
			if got := flagValue(t, ac.Args, "--index"); got != "$(JOB_COMPLETION_INDEX)" {
				t.Errorf("agents' --index %s, want $(JOB_COMPLETION_INDEX)", got)
			}
			if agents.Spec.Template.Spec.Subdomain != agentSvc.Name {
				t.Errorf("agents' subdomain %q, want their Service %q", agents.Spec.Template.Spec.Subdomain, agentSvc.Name)
			}
			if want := fmt.Sprintf("%s-%d.%s", agents.Name, n.Agents-1, agentSvc.Name); AgentHost(n, n.Agents-1) != want {
				t.Errorf("AgentHost = %s, want the Indexed Job hostname under the subdomain %s", AgentHost(n, n.Agents-1), want)
			}

			// The coordinator runs the plan for N agents.
			wantArgs := append([]string{"cluster", "run", "--listen", fmt.Sprintf("0.0.0.0:%d", n.CoordinatorPort), "--agents", fmt.Sprint(n.Agents), "--token-env", TokenEnv}, n.Plan...)
			if !slices.Equal(cc.Args, wantArgs) || !slices.Equal(cc.Command, []string{Binary}) {
				t.Errorf("coordinator runs %q %q, want %q %q", cc.Command, cc.Args, Binary, wantArgs)
			}
			if ac.Args[0] != "agent" || !slices.Equal(ac.Command, []string{Binary}) || flagValue(t, ac.Args, "--token-env") != TokenEnv {
				t.Errorf("agents run %q %q, want %s agent ... --token-env %s", ac.Command, ac.Args, Binary, TokenEnv)
			}

			// The token comes from the Secret, never from the manifest.
			for _, c := range []corev1.Container{ac, cc} {
				if c.Image != n.Image {
					t.Errorf("container %s image %q, want %q", c.Name, c.Image, n.Image)
				}
				if len(c.EnvFrom) != 0 {
					t.Errorf("container %s has envFrom %v, want none", c.Name, c.EnvFrom)
				}
				var tokens int
				for _, e := range c.Env {
					if e.Value != "" {
						t.Errorf("container %s sets %s to a literal value; the manifest must not carry values", c.Name, e.Name)
					}
					if e.Name != TokenEnv {
						continue
					}
					tokens++
					if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						t.Fatalf("container %s gets %s from %v, want a secretKeyRef", c.Name, TokenEnv, e.ValueFrom)
					}
					ref := e.ValueFrom.SecretKeyRef
					if ref.Name != n.TokenSecret || ref.Key != n.TokenKey || (ref.Optional != nil && *ref.Optional) {
						t.Errorf("container %s token from secret %q key %q optional %v, want %q %q required", c.Name, ref.Name, ref.Key, ref.Optional, n.TokenSecret, n.TokenKey)
					}
				}
				if tokens != 1 {
					t.Errorf("container %s sets %s %d times, want once", c.Name, TokenEnv, tokens)
				}
			}

			// Agents spread over nodes; the coordinator avoids agents.
			checkSpread(t, agents, agents, n.RequireSpread, 100)
			checkSpread(t, coord, agents, false, 50)
			for _, j := range d.jobs {
				if got := j.Spec.Template.Spec.NodeSelector; !mapsEqual(got, n.NodeSelector) {
					t.Errorf("Job %s nodeSelector %v, want %v", j.Name, got, n.NodeSelector)
				}
			}
			checkResources(t, ac, n.AgentResources)
			checkResources(t, cc, n.CoordinatorResources)
		})
	}
}

// checkSpread checks that job's pods have a podAntiAffinity term on
// kubernetes.io/hostname whose selector matches avoid's pods: required, or
// preferred with weight.
func checkSpread(t *testing.T, job, avoid *batchv1.Job, required bool, weight int32) {
	t.Helper()
	aff := job.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil {
		t.Fatalf("Job %s has no podAntiAffinity", job.Name)
	}
	anti := aff.PodAntiAffinity
	var terms []corev1.PodAffinityTerm
	if required {
		terms = anti.RequiredDuringSchedulingIgnoredDuringExecution
		if len(anti.PreferredDuringSchedulingIgnoredDuringExecution) != 0 {
			t.Errorf("Job %s has preferred terms besides the required ones", job.Name)
		}
	} else {
		for _, w := range anti.PreferredDuringSchedulingIgnoredDuringExecution {
			if w.Weight != weight {
				t.Errorf("Job %s preferred term weight %d, want %d", job.Name, w.Weight, weight)
			}
			terms = append(terms, w.PodAffinityTerm)
		}
		if len(anti.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
			t.Errorf("Job %s has required terms, want preferred only", job.Name)
		}
	}
	if len(terms) != 1 {
		t.Fatalf("Job %s has %d anti-affinity terms (required=%v), want 1", job.Name, len(terms), required)
	}
	term := terms[0]
	if term.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("Job %s topologyKey %q, want kubernetes.io/hostname", job.Name, term.TopologyKey)
	}
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(avoid.Spec.Template.Labels)) {
		t.Errorf("Job %s's anti-affinity selector %v does not match the pods of %s (%v)", job.Name, sel, avoid.Name, avoid.Spec.Template.Labels)
	}
	if job != avoid && sel.Matches(labels.Set(job.Spec.Template.Labels)) {
		t.Errorf("Job %s's anti-affinity selector %v matches its own pods", job.Name, sel)
	}
}

func checkResources(t *testing.T, c corev1.Container, want Resources) {
	t.Helper()
	for _, r := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		want string
	}{
		{c.Resources.Requests, corev1.ResourceCPU, want.CPURequest},
		{c.Resources.Requests, corev1.ResourceMemory, want.MemoryRequest},
		{c.Resources.Limits, corev1.ResourceCPU, want.CPULimit},
		{c.Resources.Limits, corev1.ResourceMemory, want.MemoryLimit},
	} {
		q, ok := r.list[r.name]
		switch {
		case r.want == "" && ok:
			t.Errorf("container %s sets %s to %s, want it unset", c.Name, r.name, q.String())
		case r.want != "" && (!ok || q.String() != r.want):
			t.Errorf("container %s %s = %v (set %v), want %s", c.Name, r.name, q.String(), ok, r.want)
		}
	}
}

// show prints an optional field's value, or "unset".
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNormalizedDefaults(t *testing.T) {
	n, err := ManifestOptions{Image: "i"}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	want := ManifestOptions{
		Name: DefaultName, Image: "i", Agents: DefaultAgents,
		CoordinatorPort: DefaultCoordinatorPort, AgentPort: DefaultAgentPort,
		TokenSecret: DefaultTokenSecret, TokenKey: DefaultTokenKey, Deadline: DefaultDeadline,
	}
	if fmt.Sprintf("%#v", n) != fmt.Sprintf("%#v", want) {
		t.Errorf("Normalized() = %+v, want %+v", n, want)
	}
}

func TestManifestValidation(t *testing.T) {
	long := strings.Repeat("a", 52)
	cases := []struct {
		name string
		edit func(*ManifestOptions)
		want []string // every one must appear in the error
	}{
		{"no image", func(o *ManifestOptions) { o.Image = "" }, []string{"--image is required"}},
		{"image with space", func(o *ManifestOptions) { o.Image = "lvsperf: v1" }, []string{"--image", "without spaces"}},
		{"negative agents", func(o *ManifestOptions) { o.Agents = -1 }, []string{"--agents must be between 1 and 100000", `"-1"`}},
		{"too many agents", func(o *ManifestOptions) { o.Agents = MaxAgents + 1 }, []string{"--agents must be between 1"}},
		{"coordinator port too big", func(o *ManifestOptions) { o.CoordinatorPort = 65536 }, []string{"--coordinator-port must be a TCP port", "65536"}},
		{"negative agent port", func(o *ManifestOptions) { o.AgentPort = -7 }, []string{"--agent-port must be a TCP port"}},
		{"upper-case name", func(o *ManifestOptions) { o.Name = "LVSPerf" }, []string{"--name must be a DNS-1123 label", `"LVSPerf"`}},
		{"dotted name", func(o *ManifestOptions) { o.Name = "lvs.perf" }, []string{"--name", "must not contain dots"}},
		{"name starting with a digit", func(o *ManifestOptions) { o.Name = "1perf" }, []string{"--name", "DNS-1035"}},
		{"name too long for the coordinator", func(o *ManifestOptions) { o.Name = long }, []string{"--name", "coordinator's Job and Service name", long + "-coordinator", "63"}},
		{"bad namespace", func(o *ManifestOptions) { o.Namespace = "Perf_1" }, []string{"--namespace must be empty or a DNS-1123 label"}},
		{"bad secret name", func(o *ManifestOptions) { o.TokenSecret = "Token!" }, []string{"--token-secret must be a Secret name"}},
		{"bad secret key", func(o *ManifestOptions) { o.TokenKey = "a/b" }, []string{"--token-key must be a Secret key"}},
		{"plan sets --agents", func(o *ManifestOptions) { o.Plan = []string{"--probe", "ptester", "--agents", "3"} }, []string{"plan must not set --agents"}},
		{"plan sets --listen=", func(o *ManifestOptions) { o.Plan = []string{"--listen=:1"} }, []string{"plan must not set --listen"}},
		{"bad quantity", func(o *ManifestOptions) { o.AgentResources.CPURequest = "two" }, []string{"--agent-cpu-request must be a Kubernetes quantity", `"two"`}},
		{"zero quantity", func(o *ManifestOptions) { o.CoordinatorResources.MemoryLimit = "0" }, []string{"--coordinator-memory-limit must be positive"}},
		{"request over limit", func(o *ManifestOptions) { o.AgentResources.MemoryRequest, o.AgentResources.MemoryLimit = "2Gi", "1Gi" }, []string{"--agent-memory-request (2Gi) must not exceed --agent-memory-limit (1Gi)"}},
		{"bad node selector key", func(o *ManifestOptions) { o.NodeSelector = map[string]string{"-x": "y"} }, []string{"--node-selector must be a label key", `"-x"`}},
		{"bad node selector value", func(o *ManifestOptions) { o.NodeSelector = map[string]string{"x": "a b"} }, []string{"--node-selector must be a label value", `"a b"`}},
		{"negative deadline", func(o *ManifestOptions) { o.Deadline = -time.Second }, []string{"--deadline must be positive", "-1s"}},
		{"several at once", func(o *ManifestOptions) { o.Image, o.Agents, o.AgentPort = "", -2, 70000 }, []string{"--image", "--agents", "--agent-port"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ManifestOptions{Image: "lvsperf:dev", Agents: 2}
			c.edit(&o)
			objs, err := Manifest(o)
			if err == nil {
				t.Fatalf("Manifest(%+v) = nil error, want one naming %q", o, c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if objs.Agents != nil || objs.Coordinator != nil {
				t.Errorf("Manifest returned objects with its error")
			}
		})
	}
	// The boundaries themselves are fine.
	for _, o := range []ManifestOptions{
		{Image: "i", Agents: MaxAgents, Name: "p"},
		{Image: "i", Agents: 100, Name: strings.Repeat("a", 51)},
		{Image: "i", AgentPort: 65535, CoordinatorPort: 1},
		{Image: "i", Plan: []string{"--probe", "x", "--", "--agents", "3"}},
		{Image: "i", Deadline: time.Nanosecond},
	} {
		if _, err := Manifest(o); err != nil {
			t.Errorf("Manifest(%+v): %v, want no error", o, err)
		}
	}
}

// TestLongestAgentHostname checks the reasoning that lets validate skip the
// agents' hostnames: at the longest name and the most agents, the last
// hostname is still a DNS label.
func TestLongestAgentHostname(t *testing.T) {
	o := ManifestOptions{Image: "i", Agents: MaxAgents, Name: strings.Repeat("a", 51)}
	if _, err := o.Normalized(); err != nil {
		t.Fatal(err)
	}
	if _, err := (ManifestOptions{Image: "i", Name: strings.Repeat("a", 52)}).Normalized(); err == nil {
		t.Fatal("a 52-character name passes, so 51 is not the longest")
	}
	host := agentHostname(o.Name, MaxAgents-1)
	if msgs := validation.IsDNS1123Label(host); len(msgs) > 0 {
		t.Errorf("hostname %q of the last agent is not a DNS label: %v", host, msgs)
	}
}

func TestManifestDoesNotAliasOptions(t *testing.T) {
	o := fullOptions()
	before := render(t, o)
	objs, err := Manifest(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Plan[1] = "changed"
	o.NodeSelector["added"] = "later"
	var after bytes.Buffer
	if err := WriteYAML(&after, objs.List()...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after.Bytes()) {
		t.Error("editing the options' Plan or NodeSelector after Manifest changed its objects")
	}
}

func TestWriteYAMLDeterministic(t *testing.T) {
	o := fullOptions()
	o.NodeSelector = map[string]string{}
	for i := range 32 {
		o.NodeSelector[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
	}
	first := render(t, o)
	for range 5 {
		if got := render(t, o); !bytes.Equal(got, first) {
			t.Fatalf("two renderings of the same options differ:\n%s\n----\n%s", first, got)
		}
	}
	if bytes.Contains(first, []byte("status:")) || bytes.Contains(first, []byte("creationTimestamp")) {
		t.Errorf("output carries server-owned fields:\n%s", first)
	}
}

func TestWriteYAMLErrors(t *testing.T) {
	err := WriteYAML(io.Discard, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	if err == nil || !strings.Contains(err.Error(), "apiVersion and kind") {
		t.Errorf("WriteYAML of an object without TypeMeta: %v, want an error about apiVersion and kind", err)
	}
	if err := WriteYAML(io.Discard, nil); err == nil {
		t.Error("WriteYAML(nil object) = nil error")
	}
	if err := WriteYAML(io.Discard, Objects{}.List()...); err == nil || !strings.Contains(err.Error(), "nil *v1.Service") {
		t.Errorf("WriteYAML of nil typed objects: %v, want an error naming the nil *v1.Service", err)
	}
	objs, err := Manifest(ManifestOptions{Image: "i"})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteYAML(failWriter{}, objs.List()...); !errors.Is(err, errFail) {
		t.Errorf("WriteYAML to a failing writer: %v, want it wrapping %v", err, errFail)
	}
	var b bytes.Buffer
	if err := WriteYAML(&b); err != nil || b.Len() != 0 {
		t.Errorf("WriteYAML of nothing wrote %q, %v; want nothing", b.String(), err)
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

// FuzzManifest checks that any options either fail validation or render a
// manifest that decodes back with the agent count and ports they asked for.
func FuzzManifest(f *testing.F) {
	f.Add("lvsperf", "default", "lvsperf:dev", 4, 7411, 7412, "--probe ptester")
	f.Add("x", "", "i", 1, 1, 65535, "-- --agents 3")
	f.Add("A", "ns", "", 0, 0, 0, "--agents 3")
	f.Add("a-", "n.s", "i i", -1, 70000, -1, "")
	f.Fuzz(func(t *testing.T, name, ns, image string, agents, cport, aport int, plan string) {
		if agents > 300 {
			agents %= 300 // keep each case quick; the bound is tested above
		}
		o := ManifestOptions{Name: name, Namespace: ns, Image: image, Agents: agents, CoordinatorPort: cport, AgentPort: aport, Plan: strings.Fields(plan)}
		objs, err := Manifest(o)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteYAML(&b, objs.List()...); err != nil {
			t.Fatalf("valid options %+v fail to render: %v", o, err)
		}
		d := decode(t, b.Bytes())
		n, _ := o.Normalized()
		aj := d.jobFor(t, ComponentAgent)
		if *aj.Spec.Parallelism != int32(n.Agents) || d.serviceFor(t, aj).Spec.Ports[0].Port != int32(n.AgentPort) {
			t.Fatalf("options %+v decoded to parallelism %d port %d", o, *aj.Spec.Parallelism, d.serviceFor(t, aj).Spec.Ports[0].Port)
		}
		if got := container(t, d.jobFor(t, ComponentCoordinator)).Args; !slices.Equal(got[len(got)-len(n.Plan):], n.Plan) {
			t.Fatalf("coordinator args %q do not end in the plan %q", got, n.Plan)
		}
	})
}
