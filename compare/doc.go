// Package compare is lvsperf's regression gate: it compares two stored runs
// (BASE and NEW) series by series — the throughput at every size, the fitted
// latency and max_rate — or compares a ratio of two series measured inside
// each run (director/direct), and says what moved beyond the noise the runs
// themselves measured. The tolerance comes from the data: trial spreads,
// fit confidence intervals and the scatter of the per-size changes.
package compare
