package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/lab/experiment"
	"github.com/lvsperf/lvsperf/results"
)

// VerdictsSuffix ends the file beside an experiment's results that holds
// its verdicts as JSON; lvsperf report reads it.
const verdictsSuffix = ".verdicts.json"

// experimentDoc is experiment's --json document.
type experimentDoc struct {
	jsonDoc
	Experiments []experimentEntry `json:"experiments"`
}

type experimentEntry struct {
	Name     string             `json:"name"`
	Finding  string             `json:"finding"`
	Files    []string           `json:"files"`
	Verdicts []headline.Verdict `json:"verdicts"`
}

// verdictsOf converts an experiment's verdicts for the headline.
func verdictsOf(r *experiment.Report) []headline.Verdict {
	var vs []headline.Verdict
	for _, v := range r.Verdicts {
		vs = append(vs, headline.Verdict{Experiment: v.Experiment, Claim: v.Claim, Seed: v.Seed, Ours: v.Ours, Outcome: string(v.Outcome), Why: v.Why})
	}
	return vs
}

// experimentHeadline is an experiment's verdicts, or, for one without
// any, the headline of the runs it saved.
func experimentHeadline(r *experiment.Report) []string {
	if len(r.Verdicts) > 0 {
		return headline.Verdicts(r.Name, verdictsOf(r))
	}
	var runs []*results.Run
	for _, f := range r.Files {
		if strings.HasSuffix(f, results.Extension) {
			if run, err := results.Load(f); err == nil {
				runs = append(runs, run)
			}
		}
	}
	if len(runs) == 0 {
		return nil
	}
	lines := headline.Runs(runs...)
	for i := range lines {
		if !strings.HasPrefix(lines[i], " ") {
			lines[i] = "experiment " + r.Name + ": " + lines[i]
		}
	}
	return lines
}

// saveVerdicts writes an experiment's verdicts beside its first file, for
// lvsperf report; an experiment without verdicts writes none.
func saveVerdicts(r *experiment.Report) error {
	if len(r.Verdicts) == 0 || len(r.Files) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := writeJSON(&b, verdictsOf(r)); err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(r.Files[0]), r.Name+verdictsSuffix)
	if err := results.WriteFileAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("save verdicts: %w", err)
	}
	r.Files = append(r.Files, path)
	return nil
}

// loadVerdicts reads a file saveVerdicts wrote.
func loadVerdicts(data []byte) ([]headline.Verdict, error) {
	var vs []headline.Verdict
	if err := json.Unmarshal(data, &vs); err != nil {
		return nil, fmt.Errorf("verdicts: %w", err)
	}
	return vs, nil
}

// showExperiments prints the experiments' findings (or JSON) and their
// headlines last.
func showExperiments(w io.Writer, reps []*experiment.Report, asJSON, quiet bool) error {
	var lines []string
	doc := experimentDoc{jsonDoc: jsonDoc{Format: "lvsperf-experiment", Schema: results.Schema}}
	for _, r := range reps {
		if err := saveVerdicts(r); err != nil {
			return err
		}
		lines = append(lines, experimentHeadline(r)...)
		doc.Experiments = append(doc.Experiments, experimentEntry{r.Name, r.Finding, r.Files, verdictsOf(r)})
	}
	if asJSON {
		doc.Headline = lines
		if doc.Headline == nil {
			doc.Headline = []string{}
		}
		return writeJSON(w, doc)
	}
	if !quiet {
		for _, r := range reps {
			fmt.Fprintf(w, "\n%s\nfiles: %s\n", r.Finding, strings.Join(r.Files, " "))
		}
	}
	return writeHeadline(w, lines, !quiet)
}

// knownExperiment reports whether name is an experiment (or "all").
func knownExperiment(name string) bool {
	if name == "all" {
		return true
	}
	for _, n := range experiment.Names() {
		if n[0] == name {
			return true
		}
	}
	return false
}
