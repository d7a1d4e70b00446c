package compare

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/lvsperf/lvsperf/internal/texttable"
)

// WriteTable prints what moved: one row per compared figure (change,
// tolerance, verdict), then the sizes whose change is beyond their own
// noise (every size when all is set), then the warnings and the outcome.
// It fits texttable.Columns, the notes numbered under the table; wide
// prints boxed tables with the notes in a column.
func (r *Result) WriteTable(w io.Writer, all, wide bool) error {
	fmt.Fprintln(w, fold(fmt.Sprintf("compare (%s): a change counts when it passes max(%.0f%%, %g standard deviations of the measured noise)",
		r.Mode, 100*r.opts.Floor, r.opts.K), wide))
	t := &texttable.Table{Header: []string{"series", "measure", "base", "new", "change", "tolerance", "verdict", "note"},
		Left: []int{0, 1, 6, 7}, Wrap: []int{0, 1, 6}}
	var notes []string
	starred := false
	for _, m := range r.Metrics {
		v := string(m.Verdict)
		if !m.Gated && m.Verdict != Unknown {
			if wide {
				v += " (not gated)"
			} else {
				v += "*"
				starred = true
			}
		}
		note := m.Note
		if !wide && note != "" {
			i := slices.Index(notes, note)
			if i < 0 {
				notes, i = append(notes, note), len(notes)
			}
			note = strconv.Itoa(i + 1)
		}
		t.Append(m.Series, m.Measure, fmtValue(m.Base, m.Unit), fmtValue(m.New, m.Unit), fmtPct(m.Change), tolString(m), v, note)
	}
	if err := t.Write(w, wide); err != nil {
		return err
	}
	if starred {
		fmt.Fprintln(w, "* not gated: shown, but it cannot fail the run")
	}
	for i, n := range notes {
		fmt.Fprintln(w, fold(fmt.Sprintf("note %d: %s", i+1, n), wide))
	}
	var rows []SizeRow
	for _, s := range r.Sizes {
		if all || s.Verdict != Within {
			rows = append(rows, s)
		}
	}
	if len(rows) > 0 {
		if all {
			fmt.Fprintln(w, "every size (change against the size's own noise):")
		} else {
			fmt.Fprintln(w, "sizes beyond their own noise (informational; the curve's verdict above gates):")
		}
		unit := "Mbit/s"
		if r.Mode != "absolute" {
			unit = "ratio"
		}
		t := &texttable.Table{Header: []string{"series", "bytes", "base " + unit, "new " + unit, "change", "noise", "verdict"},
			Left: []int{0, 6}, Wrap: []int{0}}
		for _, s := range rows {
			t.Append(s.Series, strconv.FormatInt(int64(s.Bytes), 10), fmtNum(s.Base, unit), fmtNum(s.New, unit),
				fmtPct(s.Change), "±"+fmtPct(s.Noise)[1:], string(s.Verdict))
		}
		if err := t.Write(w, wide); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "no single size moved beyond its own noise (%d sizes)\n", len(r.Sizes))
	}
	for _, wn := range r.Warnings {
		fmt.Fprintln(w, fold("warning: "+wn, wide))
	}
	if r.Regressed {
		fmt.Fprintln(w, "result: REGRESSION beyond tolerance")
	} else {
		fmt.Fprintln(w, "result: no regression beyond tolerance")
	}
	return nil
}

// fold wraps a line to the table width unless wide.
func fold(s string, wide bool) string {
	if wide {
		return s
	}
	return texttable.Fold(s, texttable.Columns, "  ")
}

func tolString(m Metric) string {
	switch {
	case math.IsNaN(m.Tolerance):
		return "-"
	case math.IsInf(m.Tolerance, 1):
		return "unbounded"
	case m.Measure == "latency (fit)":
		return "+" + strconv.FormatFloat(100*m.Tolerance, 'f', 1, 64) + "%"
	}
	return "-" + strconv.FormatFloat(100*m.Tolerance, 'f', 1, 64) + "%"
}

func fmtPct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

func fmtValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if unit == "ratio" {
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return fmtNum(v, unit) + " " + unit
}

func fmtNum(v float64, unit string) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case unit == "ratio":
		return strconv.FormatFloat(v, 'f', 3, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
