package k8s_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/lvsperf/lvsperf/cluster/k8s"
)

// Example renders the manifest for four agents running ptester, as
// `lvsperf cluster manifest --image ... --agents 4 -- --probe ptester ...`
// does, and prints what it holds.
func Example() {
	objs, err := k8s.Manifest(k8s.ManifestOptions{
		Image:  "registry.example.com/lvsperf:v1",
		Agents: 4,
		Plan:   []string{"--probe", "ptester", "--target", "http://10.0.0.1/"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// To print the YAML for kubectl apply -f -:
	//	k8s.WriteYAML(os.Stdout, objs.List()...)
	fmt.Println("Service", objs.CoordinatorService.Name, "clusterIP", objs.CoordinatorService.Spec.ClusterIP)
	fmt.Println("Service", objs.AgentService.Name, "clusterIP", objs.AgentService.Spec.ClusterIP)
	c := objs.Coordinator.Spec.Template.Spec.Containers[0]
	fmt.Println("Job", objs.Coordinator.Name, "runs", strings.Join(append(c.Command, c.Args...), " "))
	a := objs.Agents.Spec.Template.Spec.Containers[0]
	fmt.Println("Job", objs.Agents.Name, *objs.Agents.Spec.CompletionMode, "x", *objs.Agents.Spec.Parallelism, "runs", strings.Join(append(a.Command, a.Args...), " "))
	fmt.Println("agent 3 is", k8s.AgentHost(k8s.ManifestOptions{Name: "lvsperf"}, 3))

	// Output:
	// Service lvsperf-coordinator clusterIP None
	// Service lvsperf-agents clusterIP None
	// Job lvsperf-coordinator runs lvsperf cluster run --listen 0.0.0.0:7411 --agents 4 --token-env LVSPERF_TOKEN --probe ptester --target http://10.0.0.1/
	// Job lvsperf-agent Indexed x 4 runs lvsperf agent --listen 0.0.0.0:7412 --token-env LVSPERF_TOKEN --index $(JOB_COMPLETION_INDEX) --coordinator lvsperf-coordinator:7411
	// agent 3 is lvsperf-agent-3.lvsperf-agents
}
