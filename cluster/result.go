package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/timing"
)

// AgentResult is one agent's row: its clock, its start and what it
// measured, or how it failed and what it had done by then.
type AgentResult struct {
	Index int    `json:"index" msgpack:"index"`
	Name  string `json:"name" msgpack:"name"`
	Addr  string `json:"addr" msgpack:"addr"`
	Clock Clock  `json:"clock" msgpack:"clock"`
	// StartAt is the instant it was told, Started when its clients were
	// released, both in the coordinator's clock (the agent's reading less
	// Clock.Offset).
	StartAt time.Time `json:"start_at" msgpack:"start_at"`
	Started time.Time `json:"started,omitzero" msgpack:"started"`
	// StartedOwn is Started as the agent's own clock read it.
	StartedOwn time.Time `json:"started_own,omitzero" msgpack:"started_own"`
	// StartLate is how far past StartAt the agent was ready (0: in time).
	StartLate time.Duration `json:"start_late_ns,omitempty" msgpack:"start_late,omitempty"`
	// Report and Hist are the agent's own measurement; nil when it failed.
	Report *ptester.Report        `json:"report,omitempty" msgpack:"report,omitempty"`
	Hist   *hdrhistogram.Snapshot `json:"hist,omitempty" msgpack:"hist,omitempty"`
	// Series is a lock-step netpipe's curve: the sizes this agent measured.
	Series *timing.Series `json:"series,omitempty" msgpack:"series,omitempty"`
	// Failed says why the agent's row is incomplete, FailedAfter when (from
	// StartAt); Partial holds its last progress before that.
	Failed      string        `json:"failed,omitempty" msgpack:"failed,omitempty"`
	FailedAfter time.Duration `json:"failed_after_ns,omitempty" msgpack:"failed_after,omitempty"`
	Partial     *Partial      `json:"partial,omitempty" msgpack:"partial,omitempty"`
}

// OK says the agent delivered a complete measurement.
func (a AgentResult) OK() bool {
	if a.Series != nil {
		return a.Failed == ""
	}
	return a.Failed == "" && a.Report != nil && a.Hist != nil
}

func (a *AgentResult) fail(err error, startAt time.Time) {
	if a.Failed != "" {
		return
	}
	a.Failed = err.Error()
	a.FailedAfter = time.Since(startAt)
}

func (a *AgentResult) take(m *AgentMeasure) {
	a.Report, a.Hist = m.Report, m.Hist
	if m.Started != 0 {
		a.StartedOwn = time.Unix(0, m.Started)
		a.Started = a.StartedOwn.Add(-a.Clock.Offset)
	}
	a.StartLate = m.Report.StartLate
	if m.Error != "" {
		a.Failed = "run stopped early: " + m.Error
	}
	if m.Hist == nil {
		a.Failed = "result without a latency histogram"
	}
}

// Result is a coordinated run: every agent's row and their exact merge.
type Result struct {
	Plan     Plan          `json:"plan" msgpack:"plan"`
	StartAt  time.Time     `json:"start_at" msgpack:"start_at"`
	Started  time.Time     `json:"started" msgpack:"started"`
	Finished time.Time     `json:"finished" msgpack:"finished"`
	Agents   []AgentResult `json:"agents" msgpack:"agents"`
	// Skew is the spread (max − min) of the agents' actual starts in the
	// coordinator's clock; ClockUncertainty the largest half round trip of
	// the chosen clock exchanges, which bounds how wrong Skew can be.
	Skew             time.Duration `json:"skew_ns" msgpack:"skew"`
	ClockUncertainty time.Duration `json:"clock_uncertainty_ns" msgpack:"clock_uncertainty"`
	// SkewOwnClocks is the spread of the starts as each agent's own clock
	// read them. When the agents share one clock (network namespaces of
	// one machine) it is the true skew, offset errors included; across
	// machines it means nothing.
	SkewOwnClocks time.Duration `json:"skew_own_clocks_ns" msgpack:"skew_own_clocks"`
	// Complete counts the agents that delivered; Lost names the others.
	Complete int      `json:"complete" msgpack:"complete"`
	Lost     []string `json:"lost,omitempty" msgpack:"lost,omitempty"`
	// The merge over complete agents: counts summed, histograms added.
	Requests   uint64               `json:"requests" msgpack:"requests"`
	Errors     uint64               `json:"errors" msgpack:"errors"`
	BodyBytes  int64                `json:"body_bytes" msgpack:"body_bytes"`
	Conns      uint64               `json:"connections" msgpack:"connections"`
	HitsPerSec float64              `json:"hits_per_sec" msgpack:"hits_per_sec"`
	Throughput timing.BitsPerSecond `json:"throughput_bps" msgpack:"throughput"`
	Latency    ptester.Summary      `json:"latency" msgpack:"latency"`
	// Hist is the merged latency histogram.
	Hist *hdrhistogram.Snapshot `json:"hist,omitempty" msgpack:"hist,omitempty"`
	// Aggregate is a lock-step netpipe's sum: at each size, the rates of
	// every agent that measured it added (its Points' times are the time
	// the summed rate would take for one message). StepSkews are each
	// size's start spread in the agents' own clocks.
	Aggregate *timing.Series  `json:"aggregate,omitempty" msgpack:"aggregate,omitempty"`
	StepSkews []time.Duration `json:"step_skews_ns,omitempty" msgpack:"step_skews,omitempty"`
	// PartialRequests counts what lost agents had done before they were
	// lost (not in the merge: their latencies never arrived).
	PartialRequests uint64 `json:"partial_requests,omitempty" msgpack:"partial_requests,omitempty"`
}

// ErrNoneComplete is returned when no agent delivered a measurement.
var ErrNoneComplete = errors.New("no agent delivered a measurement")

// merge sums the complete agents' counters and adds their histograms. The
// aggregate rate is the sum of each agent's own rate over its own elapsed
// time: the agents ran at once, so their rates add.
func (r *Result) merge() error {
	if r.Plan.Probe == ProbeNetpipe {
		return r.mergeNetpipe()
	}
	h := ptester.NewLatencyHistogram()
	var first, last, firstOwn, lastOwn time.Time
	r.Complete, r.Lost = 0, nil
	for _, a := range r.Agents {
		if !a.StartedOwn.IsZero() {
			if firstOwn.IsZero() || a.StartedOwn.Before(firstOwn) {
				firstOwn = a.StartedOwn
			}
			if a.StartedOwn.After(lastOwn) {
				lastOwn = a.StartedOwn
			}
		}
		if !a.Started.IsZero() {
			if first.IsZero() || a.Started.Before(first) {
				first = a.Started
			}
			if a.Started.After(last) {
				last = a.Started
			}
		}
		r.ClockUncertainty = max(r.ClockUncertainty, a.Clock.Uncertainty())
		if !a.OK() {
			r.Lost = append(r.Lost, a.lostLine())
			if a.Partial != nil {
				r.PartialRequests += a.Partial.Requests
			}
			continue
		}
		if dropped := h.Merge(hdrhistogram.Import(a.Hist)); dropped != 0 {
			return fmt.Errorf("merge agent %d: %d values outside the histogram's range (another lvsperf version?)", a.Index, dropped)
		}
		r.Complete++
		rep := a.Report
		r.Requests += rep.Requests
		r.Errors += rep.Errs()
		r.BodyBytes += rep.BodyBytes
		r.Conns += rep.Conns
		r.HitsPerSec += rep.HitsPerSec
		r.Throughput += rep.Throughput
	}
	r.Skew = last.Sub(first)
	r.SkewOwnClocks = lastOwn.Sub(firstOwn)
	r.Hist = h.Export()
	r.Latency = ptester.Summarize(h)
	if r.Complete == 0 {
		return ErrNoneComplete
	}
	return nil
}

func (a AgentResult) lostLine() string {
	s := fmt.Sprintf("agent %d (%s): %s after %v", a.Index, a.Name, a.Failed, a.FailedAfter.Round(time.Millisecond))
	if a.Partial != nil {
		s += fmt.Sprintf("; partial: %d requests, %d errors in its first %v", a.Partial.Requests, a.Partial.Errors, a.Partial.Elapsed.Round(time.Millisecond))
	} else {
		s += "; no partial data"
	}
	return s
}

// mergeNetpipe adds the agents' rates size by size. A lost agent's sizes
// before it was lost count: they ran beside the others.
func (r *Result) mergeNetpipe() error {
	agg := &timing.Series{Label: fmt.Sprintf("aggregate (%d pairs)", len(r.Agents))}
	r.Complete, r.Lost = 0, nil
	for _, a := range r.Agents {
		if a.OK() {
			r.Complete++
		} else {
			r.Lost = append(r.Lost, a.lostLine())
		}
		r.ClockUncertainty = max(r.ClockUncertainty, a.Clock.Uncertainty())
	}
	for i, n := range r.Plan.Netpipe.Sizes {
		var sum float64
		var reps, pairs int
		for _, a := range r.Agents {
			if a.Series != nil && i < len(a.Series.Points) {
				sum += float64(a.Series.Points[i].Rate())
				reps += a.Series.Points[i].Reps
				pairs++
			}
		}
		if pairs == 0 || sum <= 0 {
			break
		}
		d := time.Duration(float64(n.Bits()) / sum * 1e9)
		agg.Points = append(agg.Points, timing.Point{Bytes: n, Reps: reps, Trials: []time.Duration{d}, Min: d, Median: d, Max: d, Mean: d})
	}
	agg.Refit()
	r.Aggregate = agg
	for _, s := range r.StepSkews {
		r.SkewOwnClocks = max(r.SkewOwnClocks, s)
	}
	if r.Complete == 0 {
		return ErrNoneComplete
	}
	return nil
}
