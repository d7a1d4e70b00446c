package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/headline"
)

// AddVerdicts puts experiments' verdicts into the summary: their headline
// lines before the runs' and a verdict table.
func (r *Report) AddVerdicts(vs []headline.Verdict) {
	if len(vs) == 0 {
		return
	}
	if r.Verdicts == nil {
		r.Verdicts = &Table{Caption: "Experiments against the seed's findings",
			Header: []string{"experiment", "claim", "seed", "ours", "verdict", "why"}}
	}
	var order []string
	by := map[string][]headline.Verdict{}
	for _, v := range vs {
		if _, ok := by[v.Experiment]; !ok {
			order = append(order, v.Experiment)
		}
		by[v.Experiment] = append(by[v.Experiment], v)
		r.Verdicts.Rows = append(r.Verdicts.Rows, []string{v.Experiment, orDash(v.Claim), v.Seed, v.Ours, v.Outcome, orDash(v.Why)})
	}
	var lines []string
	for _, e := range order {
		lines = append(lines, headline.Verdicts(e, by[e])...)
	}
	r.Headlines = append(lines, r.Headlines...)
}

// environment summarises where the runs measured: one row per fact, the
// distinct values across runs joined.
func environment(inputs []Input) Table {
	t := Table{Caption: "Where the runs measured", Header: []string{"", ""}}
	var hosts, kernels, cpus, idle, tools, notes []string
	contended, polled := 0, 0
	loLoad, hiLoad, hiSteal := -1.0, 0.0, 0.0
	var first, last time.Time
	for _, in := range inputs {
		r := in.Run
		e := r.Env
		hosts = addDistinct(hosts, orDash(e.Host))
		kernels = addDistinct(kernels, orDash(e.Kernel))
		cpus = addDistinct(cpus, fmt.Sprintf("%s × %d (GOMAXPROCS %d)", orDash(e.CPU), e.CPUs, e.GOMAXPROCS))
		if e.CPUIdle != "" {
			idle = addDistinct(idle, e.CPUIdle)
		}
		tools = addDistinct(tools, strings.TrimSpace(orDash(e.Tool)+", "+orDash(e.GoVersion)))
		if e.IdlePoll {
			polled++
		}
		if e.Contended {
			contended++
			if e.Note != "" {
				notes = addDistinct(notes, e.Note)
			}
		}
		for _, l := range []float64{e.LoadBefore, e.LoadAfter} {
			if loLoad < 0 || l < loLoad {
				loLoad = l
			}
			hiLoad = max(hiLoad, l)
		}
		hiSteal = max(hiSteal, e.StealPct)
		if !r.Started.IsZero() && (first.IsZero() || r.Started.Before(first)) {
			first = r.Started
		}
		if r.Finished.After(last) {
			last = r.Finished
		}
	}
	n := len(inputs)
	idleText := "not recorded"
	if len(idle) > 0 {
		idleText = "idle driver/governor " + strings.Join(idle, "; ")
	}
	switch polled {
	case 0:
		idleText += "; idle CPUs could halt in every run (no --idle-poll)"
	case n:
		idleText += "; idle CPUs polled in every run (--idle-poll)"
	default:
		idleText += fmt.Sprintf("; idle CPUs polled in %d of %d runs (--idle-poll)", polled, n)
	}
	cont := fmt.Sprintf("%d of %d runs contended", contended, n)
	if contended == 0 {
		cont = "no run contended"
	}
	cont += fmt.Sprintf(" (1-minute load %.2f–%.2f, steal up to %.1f%%)", max(loLoad, 0), hiLoad, hiSteal)
	if len(notes) > 0 {
		cont += ": " + summariseNotes(notes)
	}
	t.Rows = [][]string{
		{"host", strings.Join(hosts, "; ")},
		{"kernel", strings.Join(kernels, "; ")},
		{"CPUs", strings.Join(cpus, "; ")},
		{"idle", idleText},
		{"contention", cont},
		{"tool", strings.Join(tools, "; ")},
		{"when", fmtTime(first) + " to " + fmtTime(last)},
	}
	return t
}

func addDistinct(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// summariseNotes folds the runs' contention notes, which mostly differ
// only in the share other processes took ("other processes used 37% of
// the CPUs (limit 25%); compare only runs taken side by side"), into one
// sentence with the range of shares; other notes are kept as they are.
func summariseNotes(notes []string) string {
	re := regexp.MustCompile(`other processes used (\d+)% of the CPUs \(limit (\d+)%\)`)
	lo, hi := -1, -1
	var limits, rest []string
	for _, n := range notes {
		m := re.FindStringSubmatch(n)
		if m == nil {
			rest = addDistinct(rest, n)
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
		limits = addDistinct(limits, m[2]+"%")
		tail := strings.TrimSpace(strings.TrimPrefix(strings.Replace(n, m[0], "", 1), "contended:"))
		tail = strings.TrimSpace(strings.TrimPrefix(tail, ";"))
		if tail != "" {
			rest = addDistinct(rest, tail)
		}
	}
	var out []string
	if lo >= 0 {
		share := fmt.Sprintf("%d%%", lo)
		if hi != lo {
			share = fmt.Sprintf("%d–%d%%", lo, hi)
		}
		out = append(out, fmt.Sprintf("other processes used %s of the CPUs (limit %s)", share, strings.Join(limits, ", ")))
	}
	return strings.Join(append(out, rest...), "; ")
}
