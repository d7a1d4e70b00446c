// Package headline states a run's answer in one or two lines: what the
// director adds to a round trip and how much of direct's max_rate it keeps
// (with 95% intervals), a single path's fitted latency and max_rate, an
// HTTP hammer's hits/s, an experiment's verdicts. Commands print it last on
// stdout (alone with --quiet) and the report opens with it.
//
// The interval of a difference or a ratio of two fits combines the two
// fits' 95% intervals as independent estimates (root sum of squares of the
// half-widths on each side; for ratios, of the logarithms). A side a fit
// cannot bound (max_rate's upper end is often +Inf) leaves that side of
// the ratio unbounded, and the line says so.
package headline
