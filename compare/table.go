package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// WriteTable prints what moved: one row per compared figure (change,
// tolerance, verdict), then the sizes whose change is beyond their own
// noise (every size when all is set), then the warnings and the outcome.
func (r *Result) WriteTable(w io.Writer, all bool) error {
	fmt.Fprintf(w, "compare (%s): a change counts when it passes max(%.0f%%, %g standard deviations of the measured noise)\n",
		r.Mode, 100*r.opts.Floor, r.opts.K)
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	t.Header("series", "measure", "base", "new", "change", "tolerance", "verdict", "note")
	for _, m := range r.Metrics {
		v := string(m.Verdict)
		if !m.Gated && m.Verdict != Unknown {
			v += " (not gated)"
		}
		if err := t.Append(m.Series, m.Measure, fmtValue(m.Base, m.Unit), fmtValue(m.New, m.Unit),
			fmtPct(m.Change), tolString(m), v, m.Note); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
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
		t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
		t.Header("series", "bytes", "base "+unit, "new "+unit, "change", "noise", "verdict")
		for _, s := range rows {
			if err := t.Append(s.Series, strconv.FormatInt(int64(s.Bytes), 10), fmtNum(s.Base, unit), fmtNum(s.New, unit),
				fmtPct(s.Change), "±"+fmtPct(s.Noise)[1:], string(s.Verdict)); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "no single size moved beyond its own noise (%d sizes)\n", len(r.Sizes))
	}
	for _, wn := range r.Warnings {
		fmt.Fprintln(w, "warning:", wn)
	}
	if r.Regressed {
		fmt.Fprintln(w, "result: REGRESSION beyond tolerance")
	} else {
		fmt.Fprintln(w, "result: no regression beyond tolerance")
	}
	return nil
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
