// Package compare is lvsperf's regression gate: it compares two stored runs
// (BASE and NEW) series by series — the throughput at every size, the fitted
// latency and max_rate — or compares a ratio of two series measured inside
// each run (director/direct), and says what moved beyond the noise the runs
// themselves measured.
//
// # How the tolerance is derived
//
// Every figure is compared on a log scale: a change is ln(new/base), so 20%
// slower and 25% faster are the same distance, and a ratio of two series
// is a difference of logs.
//
// Per size, the headline statistic is the best trial (NetPIPE's). Its noise
// u is taken from the run: the spacing between the best and the next-best
// trial, (t₍₂₎ − t₍₁₎)/t₍₁₎ — on a shared machine trials are skewed (load
// only ever adds time), so the full range of trials measures how busy the
// machine was, not how well the best trial is known. With one trial, the
// spread of single transfers (p90 vs p50, over √transfers) stands in. The
// size's change d = ln(new/base) has noise σ = √(u_base² + u_new²) (a sum
// over four series in ratio mode); a size is beyond its own noise when
// |d| > max(floor, K·σ). Those per-size verdicts are shown, not gated.
//
// The curve's verdict gates. Its shift D is the median of the per-size
// changes: one noisy size cannot move it, a consistent shift does. Its
// standard error S is the larger of two measured estimates: the scatter of
// the per-size changes (1.4826·MAD) and the median per-size σ, each × 1.2533
// (the median's efficiency) over √n_eff, where n_eff = ⌈n/3⌉ because sizes
// measured back to back share the machine's state and are not independent.
// The curve regressed when D < −max(floor, K·S).
//
// Fitted latency and max_rate are compared the same way against the noise
// their 95% confidence intervals imply (half width / 1.96, relative), and
// shown. They gate only with Options.GateFits and when the model describes
// both runs (Fit.OK): an interval describes the points' scatter around the
// model within one run, not how far the fitted figure moves between runs,
// and on a shared machine gating on it raised false alarms between clean
// runs. An unbounded interval gives "unknown".
//
// The floor (default 10%) is the smallest change the gate acts on however
// quiet the runs were; K (default 3) is how many standard errors a change
// must pass. Both are Options, and `lvsperf compare` prints them with every
// table.
package compare
