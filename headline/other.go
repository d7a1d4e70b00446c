package headline

import (
	"fmt"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/ptester"
)

// Ptester returns the headline of one hammer run over path (e.g. "direct"
// or a host): hits/s, the request latency's mean and p99, errors.
func Ptester(rep *ptester.Report, path string) string {
	o := rep.Options
	loop := "closed loop"
	if o.Rate > 0 {
		loop = fmt.Sprintf("open loop at %s/s", fmtCount(o.Rate))
	}
	s := fmt.Sprintf("ptester %s: %s hits/s (%s, -c %d, -k %d, %s), latency mean %s p99 %s",
		orDash(path), fmtCount(rep.HitsPerSec), loop, max(o.Clients, 1), max(o.KeepAlive, 1),
		rep.Elapsed.Round(10*time.Millisecond), fmtDur(rep.Latency.Mean), fmtDur(rep.Latency.P99))
	if n := rep.Errs(); n > 0 {
		return s + fmt.Sprintf(", %d errors (%s)", n, errKinds(rep.Errors))
	}
	return s + ", no errors"
}

// PtesterPair compares two hammer runs of the same plan, direct and over
// another path.
func PtesterPair(direct, other *ptester.Report, path string) string {
	if direct.HitsPerSec <= 0 {
		return fmt.Sprintf("ptester %s vs direct: cannot compare, direct had no hits", path)
	}
	return fmt.Sprintf("ptester %s: %s hits/s, %.2f× direct's %s; latency mean %s vs %s",
		path, fmtCount(other.HitsPerSec), other.HitsPerSec/direct.HitsPerSec, fmtCount(direct.HitsPerSec),
		fmtDur(other.Latency.Mean), fmtDur(direct.Latency.Mean))
}

func errKinds(m map[string]uint64) string {
	var parts []string
	for _, k := range []string{"refused", "ports", "reset", "timeout", "bad_status", "short_body", "protocol", "other"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// Verdict is one of an experiment's verdicts against the seed's findings
// (lab/experiment's Verdict, without importing the lab).
type Verdict struct {
	Experiment string `json:"experiment"`
	Claim      string `json:"claim,omitempty"`
	Seed       string `json:"seed"`
	Ours       string `json:"ours"`
	Outcome    string `json:"outcome"`
	Why        string `json:"why,omitempty"`
}

// Verdicts returns an experiment's headline: how many of its claims were
// reproduced, then one line per claim with our figure.
func Verdicts(experiment string, vs []Verdict) []string {
	if len(vs) == 0 {
		return []string{fmt.Sprintf("experiment %s: no verdicts (nothing to compare with the seed)", experiment)}
	}
	counts := map[string]int{}
	var order []string
	for _, v := range vs {
		if counts[v.Outcome] == 0 {
			order = append(order, v.Outcome)
		}
		counts[v.Outcome]++
	}
	var parts []string
	for _, o := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
	}
	lines := []string{fmt.Sprintf("experiment %s: %d claim(s) against the seed: %s", experiment, len(vs), strings.Join(parts, ", "))}
	for _, v := range vs {
		claim := v.Claim
		if claim == "" {
			claim = v.Seed
		}
		lines = append(lines, fmt.Sprintf("  %s: %s — ours %s", claim, v.Outcome, v.Ours))
	}
	return lines
}
