package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
)

// compareOptions are the flags of lvsperf compare.
type compareOptions struct {
	opts compare.Options
	plot string
	all  bool
	wide bool
}

// errRegression is returned (exit 1) when NEW regressed beyond tolerance.
var errRegression = errors.New("regression beyond tolerance (see the table)")

// newCompareCmd compares two stored runs: the CI regression gate.
func newCompareCmd() *cobra.Command {
	var o compareOptions
	c := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two runs (the regression gate): exit 0 same, 1 regression, 2 cannot compare",
		Long: `Compare NEW against BASE, series by series (matched by label, else path):
the throughput at every size, and the fitted latency and max_rate.

The tolerance comes from the runs themselves. Per size the change is
ln(new/base) and its noise the trials' spread of both runs. The curve's
change is the median over sizes, so one noisy size does not fail a run but a
consistent shift does; it is a regression when it is worse than
max(--floor, --k standard deviations), the deviation estimated from both the
scatter of the per-size changes and the trials' spread. Fitted figures are
compared against their 95% confidence intervals and shown; with --gate-fits
they gate too when the model describes both runs (off by default: a fit's
interval leaves out run-to-run variation, and gating on it raised false
alarms between clean runs).

--ratio NUM/DEN (e.g. director/direct) compares the ratio of two series
measured inside each run instead of absolute figures: it holds across
machines of different speed.

Exit status: 0 nothing regressed beyond tolerance, 1 a regression,
2 the runs cannot be compared (different probe, no series in common, a file
that is truncated, from a newer lvsperf, or not lvsperf's).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(cmd, o, args[0], args[1])
		},
	}
	f := c.Flags()
	f.StringVar(&o.opts.Ratio, "ratio", "", "compare the ratio NUM/DEN of two series inside each run (labels or paths, e.g. director/direct)")
	f.Float64Var(&o.opts.K, "k", compare.DefaultK, "standard deviations of measured noise a change must pass")
	f.Float64Var(&o.opts.Floor, "floor", compare.DefaultFloor, "smallest relative change that counts (0.1 = 10%)")
	f.BoolVar(&o.opts.GateFits, "gate-fits", false, "let the fitted latency and max_rate fail the run too (their intervals leave out run-to-run variation)")
	f.StringVar(&o.plot, "plot", "", "draw an overlay of both runs' throughput to this file (.png or .svg)")
	f.BoolVar(&o.all, "all", false, "list every size, not only those beyond their own noise")
	f.BoolVar(&o.wide, "wide", false, wideHelp)
	return c
}

func runCompare(cmd *cobra.Command, o compareOptions, basePath, newPath string) error {
	base, err := results.LoadAny(basePath)
	if err != nil {
		return withExitCode(2, fmt.Errorf("cannot compare: BASE %w", err))
	}
	next, err := results.LoadAny(newPath)
	if err != nil {
		return withExitCode(2, fmt.Errorf("cannot compare: NEW %w", err))
	}
	res, err := compare.Runs(base, next, o.opts)
	if errors.Is(err, compare.ErrIncomparable) {
		return withExitCode(2, fmt.Errorf("%s and %s: %w", basePath, newPath, err))
	}
	if err != nil {
		return withExitCode(2, err)
	}
	if err := res.WriteTable(cmd.OutOrStdout(), o.all, o.wide); err != nil {
		return err
	}
	if o.plot != "" {
		p, err := plot.Draw(plot.Throughput, res.OverlaySeries())
		if err != nil {
			return fmt.Errorf("overlay plot: %w", err)
		}
		p.Title.Text = "BASE " + basePath + " vs NEW " + newPath
		if err := plot.Save(o.plot, p); err != nil {
			return fmt.Errorf("overlay plot: %w", err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), "overlay:", o.plot)
	}
	if res.Regressed {
		return errRegression
	}
	return nil
}
