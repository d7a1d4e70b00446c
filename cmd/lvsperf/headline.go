package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
)

// quietHelp is the --quiet flag's help on every command that measures.
const quietHelp = "print only the headline (the run's answer in a line or two); files are still written"

// wideHelp is the --wide flag's help on every command that prints a table.
const wideHelp = "print tables with every column, boxed and unwrapped (default: within 100 columns)"

// showHeadline ends a run's output: the headline last on stdout, or, with
// JSON, the run (headline included) on stdout and the headline on stderr.
func showHeadline(r *results.Run, o showOptions, stdout, stderr io.Writer) error {
	lines := headline.Runs(r)
	if o.json {
		if err := results.EncodeJSONHeadline(stdout, r, lines); err != nil {
			return err
		}
		if o.quiet {
			return nil
		}
		return writeHeadline(stderr, lines, true)
	}
	return writeHeadline(stdout, lines, !o.quiet)
}

// writeHeadline prints lines, after a blank line when other output came
// before them.
func writeHeadline(w io.Writer, lines []string, spaced bool) error {
	if len(lines) == 0 {
		return nil
	}
	if spaced {
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return headline.Write(w, lines)
}

// jsonDoc is the --json document of a command whose result is not one run
// (a single hammer run, the latency table, experiments): its format name,
// the schema, the headline, and the command's own fields.
type jsonDoc struct {
	Format   string   `json:"format"`
	Schema   int      `json:"schema"`
	Headline []string `json:"headline"`
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	return nil
}

// hammerDoc is ptester's --json document of one run: the report's fields
// at the top level (as before), with the format, schema and headline.
type hammerDoc struct {
	jsonDoc
	*ptester.Report
}

// showHammer prints one hammer run over where: its text (or JSON) and
// the headline last.
func showHammer(w io.Writer, rep *ptester.Report, where string, asJSON, quiet bool) error {
	lines := []string{headline.Ptester(rep, where)}
	if asJSON {
		return writeJSON(w, hammerDoc{jsonDoc{Format: "lvsperf-hammer", Schema: 1, Headline: lines}, rep})
	}
	if !quiet {
		if err := rep.WriteText(w); err != nil {
			return err
		}
	}
	return writeHeadline(w, lines, !quiet)
}
