package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/timing"
)

var testAuth = Auth{Token: []byte("0123456789abcdef-test-token")}

func fileServer(t *testing.T) string {
	t.Helper()
	s, err := ptester.NewFileServer(context.Background(), ptester.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr()
}

// startAgents runs n listening agents in this process and returns their
// addresses.
func startAgents(t *testing.T, ctx context.Context, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		ready := make(chan string, 1)
		wg.Go(func() {
			err := RunAgent(ctx, AgentOptions{Listen: "127.0.0.1:0", Auth: testAuth, Index: i, Sessions: 1,
				Ready: func(a string) { ready <- a }})
			if err != nil && ctx.Err() == nil {
				t.Errorf("agent %d: %v", i, err)
			}
		})
		select {
		case addrs[i] = <-ready:
		case <-time.After(5 * time.Second):
			t.Fatalf("agent %d did not listen", i)
		}
	}
	t.Cleanup(wg.Wait)
	return addrs
}

func plan(target string, d time.Duration) Plan {
	return Plan{Probe: ProbePtester, Ptester: &ptester.Options{Target: target, Path: "/file/file.0",
		Duration: d, Clients: 2, KeepAlive: 10, Engine: ptester.EngineGoroutines}}
}

// TestRunMergesExactly runs four agents against one file server and checks
// the merge against the agents' own rows.
func TestRunMergesExactly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := fileServer(t)
	addrs := startAgents(t, ctx, 4)
	res, err := Run(ctx, Options{Agents: addrs, Auth: testAuth, Plan: plan(target, 400*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete != 4 || len(res.Lost) != 0 {
		t.Fatalf("complete %d, lost %v", res.Complete, res.Lost)
	}
	var sum uint64
	h := ptester.NewLatencyHistogram()
	for _, a := range res.Agents {
		if a.Report.Requests == 0 {
			t.Errorf("agent %d made no requests", a.Index)
		}
		sum += a.Report.Requests
		h.Merge(hdrhistogram.Import(a.Hist))
		if a.Started.Before(res.StartAt.Add(-time.Millisecond)) {
			t.Errorf("agent %d started %v before the start instant", a.Index, res.StartAt.Sub(a.Started))
		}
		if a.Clock.Exchanges != DefaultExchanges || a.Clock.RTT <= 0 {
			t.Errorf("agent %d clock %+v", a.Index, a.Clock)
		}
	}
	if res.Requests != sum {
		t.Errorf("merged requests %d, agents' own counts sum to %d", res.Requests, sum)
	}
	want := ptester.Summarize(h)
	if res.Latency.P50 != want.P50 || res.Latency.P99 != want.P99 || res.Latency.Count != sum {
		t.Errorf("merged latency %+v, a merge of the raw histograms gives %+v", res.Latency, want)
	}
	// Same clock, one process: the skew is scheduling only. The goal (1 ms
	// at the 99th percentile of runs) is the benchmark's to judge; here a
	// skew past 50 ms would mean the start instant is ignored.
	if res.Skew <= 0 || res.Skew > 50*time.Millisecond {
		t.Errorf("start skew %v", res.Skew)
	}
	run := res.ToRun()
	if len(run.Series) != 5 || run.Series[0].Info[InfoRequests] != fmt.Sprint(sum) || !run.Complete {
		t.Errorf("run: %d series, merged info %v, complete %v", len(run.Series), run.Series[0].Info, run.Complete)
	}
	var b strings.Builder
	if err := res.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if len([]rune(l)) > 100 {
			t.Errorf("line wider than 100 columns: %q", l)
		}
	}
}

// TestOpenLoopRateIsShared checks that each agent gets its share of --rate.
func TestOpenLoopRateIsShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := fileServer(t)
	addrs := startAgents(t, ctx, 2)
	p := plan(target, time.Second)
	p.Ptester.Rate = 400
	res, err := Run(ctx, Options{Agents: addrs, Auth: testAuth, Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Agents {
		if a.Report.Options.Rate != 200 {
			t.Errorf("agent %d ran at %v/s, want its share 200/s", a.Index, a.Report.Options.Rate)
		}
	}
	// 400/s for 1 s: the open loop sends on schedule, so the total is
	// within a few requests of 400.
	if res.Requests < 380 || res.Requests > 402 {
		t.Errorf("open loop at 400/s for 1 s made %d requests", res.Requests)
	}
}

// TestHelperAgent is not a test: it is the agent process that
// TestKilledAgent starts and kills.
func TestHelperAgent(t *testing.T) {
	addr := os.Getenv("LVSPERF_TEST_AGENT_COORD")
	if addr == "" {
		t.Skip("helper process for TestKilledAgent")
	}
	err := RunAgent(context.Background(), AgentOptions{Coordinator: addr, Auth: testAuth, Index: 2, DialTimeout: 10 * time.Second})
	t.Log(err)
	os.Exit(0)
}

// TestKilledAgent kills one agent's process mid-run: the run completes with
// the others, names the lost agent with its partial counts, and keeps the
// others' data.
func TestKilledAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := fileServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	coord := ln.Addr().String()
	ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range 2 {
		wg.Go(func() {
			if err := RunAgent(ctx, AgentOptions{Coordinator: coord, Auth: testAuth, Index: i}); err != nil {
				t.Errorf("agent %d: %v", i, err)
			}
		})
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperAgent$")
	cmd.Env = append(os.Environ(), "LVSPERF_TEST_AGENT_COORD="+coord)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	p := plan(target, 1500*time.Millisecond)
	p.Ptester.KeepAlive = 1
	killedAt := make(chan time.Duration, 1)
	res, err := Run(ctx, Options{Listen: coord, Expect: 3, Auth: testAuth, Plan: p,
		Starting: func(at time.Time) {
			go func() {
				time.Sleep(time.Until(at) + 700*time.Millisecond)
				cmd.Process.Kill()
				killedAt <- time.Since(at)
			}()
		}})
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	k := <-killedAt
	if res.Complete != 2 || len(res.Lost) != 1 {
		t.Fatalf("complete %d, lost %v", res.Complete, res.Lost)
	}
	var lost AgentResult
	var sum uint64
	for _, a := range res.Agents {
		if a.OK() {
			sum += a.Report.Requests
			continue
		}
		lost = a
	}
	if lost.Index != 2 || !strings.Contains(res.Lost[0], "agent 2") {
		t.Errorf("lost agent %d, line %q; want agent 2", lost.Index, res.Lost[0])
	}
	if lost.Partial == nil || lost.Partial.Requests == 0 {
		t.Errorf("lost agent's partial data: %+v", lost.Partial)
	}
	if lost.FailedAfter < k-50*time.Millisecond || lost.FailedAfter > k+time.Second {
		t.Errorf("lost after %v, killed after %v", lost.FailedAfter, k)
	}
	if res.Requests != sum || sum == 0 {
		t.Errorf("merged %d requests, the complete agents made %d", res.Requests, sum)
	}
	if run := res.ToRun(); run.Complete || !strings.Contains(run.Error, "agent 2") {
		t.Errorf("run complete %v, error %q", run.Complete, run.Error)
	}
}

// TestNeverReady: an agent that never connects, and one whose target does
// not answer, are named in the coordinator's error.
func TestNeverReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := fileServer(t)
	var coord string
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Listen: "127.0.0.1:0", Expect: 2, Auth: testAuth, Plan: plan(target, time.Second),
			ReadyTimeout: 1500 * time.Millisecond, Listening: func(a string) { listening <- a }})
		done <- err
	}()
	coord = <-listening
	go RunAgent(ctx, AgentOptions{Coordinator: coord, Auth: testAuth, Index: 1, DialTimeout: time.Second})
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "1 of 2 agents connected") || !strings.Contains(err.Error(), "missing indexes: 0") {
		t.Errorf("one agent of two: %v", err)
	}

	// An agent that cannot reach the target is not ready.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	addrs := startAgents(t, ctx, 1)
	_, err = Run(ctx, Options{Agents: addrs, Auth: testAuth, Plan: plan(dead, time.Second), ReadyTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "agent 0") || !strings.Contains(err.Error(), "cannot reach the target") {
		t.Errorf("unreachable target: %v", err)
	}
}

// TestRefusesStrangers: a wrong token and a peer speaking another protocol
// are refused, both ways, without a hang.
func TestRefusesStrangers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := fileServer(t)
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Listen: "127.0.0.1:0", Expect: 1, Auth: testAuth, Plan: plan(target, 200*time.Millisecond),
			ReadyTimeout: 3 * time.Second, Listening: func(a string) { listening <- a }})
		done <- err
	}()
	coord := <-listening
	// Garbage first, then a wrong token, then the real agent.
	c, err := net.Dial("tcp", coord)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
	c.Close()
	wrong := Auth{Token: []byte("another-token-of-16-bytes")}
	if err := RunAgent(ctx, AgentOptions{Coordinator: coord, Auth: wrong, DialTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("agent with a wrong token: %v", err)
	}
	if err := RunAgent(ctx, AgentOptions{Coordinator: coord, Auth: testAuth, DialTimeout: time.Second}); err != nil {
		t.Errorf("the real agent after two strangers: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("coordinator: %v", err)
	}

	// An agent answers a non-coordinator with an error, not a hang.
	addrs := startAgents(t, ctx, 1)
	c, err = net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	sent := time.Now()
	fmt.Fprintf(c, "hello\n")
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			break // the agent closed: good
		}
	}
	if d := time.Since(sent); d > 10*time.Second {
		t.Errorf("agent held a garbage connection for %v", d)
	}
	if err := (Auth{Token: []byte("short")}).Check(); err == nil {
		t.Error("a 5-byte token was accepted")
	}
}

// TestNetpipeLockStep runs three netpipe pairs against one receiver in
// lock-step and checks that the aggregate at each size is the sum of the
// pairs' rates.
func TestNetpipeLockStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addrs := startAgents(t, ctx, 3)
	sizes := []timing.Bytes{1, 1024, 64 << 10}
	res, err := Run(ctx, Options{Agents: addrs, Auth: testAuth, Plan: Plan{Probe: ProbeNetpipe,
		Netpipe: &NetpipePlan{Target: srv.Addr(), Sizes: sizes, TrialTime: 10 * time.Millisecond, Trials: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete != 3 || len(res.StepSkews) != len(sizes) || len(res.Aggregate.Points) != len(sizes) {
		t.Fatalf("complete %d, %d step skews, %d aggregate points", res.Complete, len(res.StepSkews), len(res.Aggregate.Points))
	}
	for i, p := range res.Aggregate.Points {
		var sum float64
		for _, a := range res.Agents {
			if len(a.Series.Points) != len(sizes) || a.Series.Points[i].Bytes != sizes[i] {
				t.Fatalf("agent %d measured %d points", a.Index, len(a.Series.Points))
			}
			sum += float64(a.Series.Points[i].Rate())
		}
		if got := float64(p.Rate()); got < sum*0.999 || got > sum*1.001 {
			t.Errorf("size %v: aggregate %v, the pairs sum to %v", sizes[i], p.Rate(), timing.BitsPerSecond(sum))
		}
	}
	run := res.ToRun()
	if run.Probe != "netpipe" || len(run.Series) != 4 {
		t.Errorf("run probe %q with %d series", run.Probe, len(run.Series))
	}
	var b strings.Builder
	if err := res.WriteText(&b, false); err != nil || !strings.Contains(b.String(), "3 pairs in lock-step") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}
