package ptester

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// SweepOptions configure a sweep over /file/file.From … /file/file.To,
// persistent and non-persistent, like the seed's ptester scripts.
type SweepOptions struct {
	// Hammer holds the per-run options; its Duration is the time per size
	// (default 500 ms), its KeepAlive the persistent mode's K (default 100),
	// and its Path is ignored. With an empty Target the sweep starts its own
	// file servers on 127.0.0.1 through Path.
	Hammer Options
	// From and To are the exponents of the first and last file (default 0
	// and 20; at most 26).
	From, To int
	// Trials splits each size's time into this many runs whose mean request
	// times become the point's trials (default 3).
	Trials int
	// Path says how traffic reaches the servers (direct or the director).
	Path paths.Spec
	// Dir serves files from disk in the servers the sweep starts.
	Dir string
}

// Defaults of a sweep.
const (
	DefaultSweepTo        = 20
	DefaultPerSize        = 500 * time.Millisecond
	DefaultSweepTrials    = 3
	DefaultSweepKeepAlive = 100
)

// SweepProgress is reported after each size and mode.
type SweepProgress struct {
	Mode   string
	Exp    int
	Report *Report
	// From and To are the sweep's first and last exponents.
	From, To int
}

// Mode labels of a sweep's two series.
const (
	ModePersistent    = "persistent"
	ModeNonPersistent = "non-persistent"
)

// normalize fills the sweep's defaults.
func (so SweepOptions) normalize() (SweepOptions, error) {
	if so.To == 0 && so.From == 0 {
		so.To = DefaultSweepTo
	}
	if so.From < 0 || so.To > MaxFileExp || so.From > so.To {
		return so, fmt.Errorf("sweep sizes 2^%d … 2^%d: want 0 ≤ from ≤ to ≤ %d", so.From, so.To, MaxFileExp)
	}
	if so.Trials == 0 {
		so.Trials = DefaultSweepTrials
	}
	if so.Trials < 1 {
		return so, fmt.Errorf("trials %d: want 1 or more", so.Trials)
	}
	if so.Hammer.Duration == 0 {
		so.Hammer.Duration = DefaultPerSize
	}
	if so.Hammer.KeepAlive == 0 {
		so.Hammer.KeepAlive = DefaultSweepKeepAlive
	}
	if so.Hammer.KeepAlive < 2 {
		return so, fmt.Errorf("persistent -k %d: want 2 or more (the sweep always adds the -k1 series)", so.Hammer.KeepAlive)
	}
	if so.Hammer.Duration/time.Duration(so.Trials) < 10*time.Millisecond {
		return so, fmt.Errorf("time per size %v over %d trials: want at least 10 ms per trial", so.Hammer.Duration, so.Trials)
	}
	if so.Hammer.Target != "" && so.Dir != "" {
		return so, errors.New("--dir applies to the servers the sweep starts; omit -h, or start the server with `lvsperf serve http --dir`")
	}
	return so, nil
}

// Sweep runs the persistent and the non-persistent mode over every size and
// returns a Run with one series per mode. On an error it returns the run so
// far (Complete false) with the error.
func Sweep(ctx context.Context, opts SweepOptions, progress func(SweepProgress)) (*results.Run, error) {
	so, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	probe := so.Hammer
	probe.Path = FilePath(so.From)
	if probe.Target == "" {
		probe.Target = "127.0.0.1:1" // placeholder so Normalize checks the rest
	}
	if _, err := probe.Normalize(); err != nil {
		return nil, err
	}
	run := &results.Run{
		Format:  results.Format,
		Schema:  results.Schema,
		Probe:   "http",
		Started: time.Now().UTC(),
		Options: sweepOptionMap(so),
	}
	run.Env = results.CollectEnv("lo")
	run.ID = run.Started.Format("20060102T150405Z") + "-" + run.Env.Host + "-http"
	cpuBefore, cpuErr := results.SampleCPU()

	target := so.Hammer.Target
	pathName := string(paths.Direct)
	var pathInfo map[string]string
	if target == "" {
		p, err := paths.Start(ctx, so.Path, func(ctx context.Context) (string, func() error, error) {
			s, err := NewFileServer(ctx, ServerOptions{Dir: so.Dir, MaxKeepAliveRequests: -1})
			if err != nil {
				return "", nil, err
			}
			return s.Addr(), s.Close, nil
		})
		if err != nil {
			return nil, fmt.Errorf("http sweep: %w", err)
		}
		defer p.Close()
		target, pathName, pathInfo = p.Target, p.Name, p.Info
	} else if so.Path.Via == paths.Director {
		return nil, errors.New("--via director starts its own file servers behind the director: omit -h")
	}
	run.Path = pathName

	sizes, err := timing.PowersOfTwo(so.From, so.To)
	if err != nil {
		return nil, err
	}
	modes := []struct {
		label string
		k     int
	}{{ModePersistent, so.Hammer.KeepAlive}, {ModeNonPersistent, 1}}
	run.Series = make([]results.Series, len(modes))
	for i, m := range modes {
		s := &run.Series[i]
		s.Label = fmt.Sprintf("http %s (-k %d, -c %d)", m.label, m.k, max(so.Hammer.Clients, 1))
		s.Path = pathName
		s.Options = timing.Options{Sizes: sizes, TrialTime: so.Hammer.Duration / time.Duration(so.Trials), Trials: so.Trials}
		s.Info = map[string]string{"mode": m.label, "keepalive": strconv.Itoa(m.k), "clients": strconv.Itoa(max(so.Hammer.Clients, 1))}
		if so.Hammer.Rate > 0 {
			s.Info["rate"] = strconv.FormatFloat(so.Hammer.Rate, 'g', -1, 64)
		}
		for k, v := range pathInfo {
			s.Info["path."+k] = v
		}
	}
	finish := func(err error) (*results.Run, error) {
		for i := range run.Series {
			run.Series[i].Refit()
			if err != nil {
				run.Series[i].Stopped = err.Error()
			}
		}
		run.Finished = time.Now().UTC()
		if cpuAfter, aerr := results.SampleCPU(); cpuErr == nil && aerr == nil {
			c := results.Contention(cpuBefore, cpuAfter, runtime.NumCPU())
			run.Env.LoadBefore, run.Env.LoadAfter = c.LoadBefore, c.LoadAfter
			run.Env.StealPct, run.Env.Contended, run.Env.Note = c.StealPct, c.Contended, c.Note
		}
		run.Complete = err == nil
		if err != nil {
			run.Error = err.Error()
		}
		return run, err
	}
	// Sizes outer, modes inner: both curves see the same machine state.
	for exp := so.From; exp <= so.To; exp++ {
		for i, m := range modes {
			o := so.Hammer
			o.Target, o.Path, o.KeepAlive = target, FilePath(exp), m.k
			pt, rep, err := measureSize(ctx, o, timing.Bytes(1)<<exp, so.Trials)
			if err != nil {
				return finish(fmt.Errorf("%s at file.%d: %w", m.label, exp, err))
			}
			s := &run.Series[i]
			recordInfo(s.Info, timing.Bytes(1)<<exp, rep)
			if pt.Transfers > 0 {
				s.Points = append(s.Points, pt)
			}
			if progress != nil {
				progress(SweepProgress{Mode: m.label, Exp: exp, Report: rep, From: so.From, To: so.To})
			}
		}
	}
	return finish(nil)
}

// measureSize runs trials hammer runs on one path and folds them into a point
// and one merged report.
func measureSize(ctx context.Context, o Options, n timing.Bytes, trials int) (timing.Point, *Report, error) {
	per := o.Duration / time.Duration(trials)
	pt := timing.Point{}
	var merged *Report
	var hist *hdrhistogram.Histogram
	for t := range trials {
		to := o
		to.Duration = per
		to.NoPrefetch = o.NoPrefetch || t > 0
		rep, err := Run(ctx, to)
		if err != nil {
			return pt, rep, err
		}
		if merged == nil {
			merged, hist = rep, rep.latency
		} else {
			mergeReports(merged, rep)
		}
		if rep.Requests > 0 {
			pt.Trials = append(pt.Trials, rep.Latency.Mean)
		}
	}
	merged.Latency = summarize(hist)
	merged.Latency.Min, merged.Latency.Max = merged.fastest, merged.slowest
	merged.Transfer, merged.Connect = summarize(merged.trans), summarize(merged.conn)
	pt.Bytes = n
	if len(pt.Trials) == 0 {
		return pt, merged, nil
	}
	pt.Transfers = int(merged.Requests)
	pt.Reps = pt.Transfers / len(pt.Trials)
	s := slices.Clone(pt.Trials)
	slices.Sort(s)
	pt.Min, pt.Max = s[0], s[len(s)-1]
	if len(s)%2 == 1 {
		pt.Median = s[len(s)/2]
	} else {
		pt.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	var sum, sq float64
	for _, d := range s {
		sum += d.Seconds()
	}
	mean := sum / float64(len(s))
	for _, d := range s {
		sq += (d.Seconds() - mean) * (d.Seconds() - mean)
	}
	pt.Mean = time.Duration(math.Round(mean * 1e9))
	pt.Variance = sq / float64(len(s))
	for _, q := range timing.DefaultQuantiles() {
		pt.Quantiles = append(pt.Quantiles, timing.Quantile{Q: q, Time: time.Duration(hist.ValueAtPercentile(q * 100))})
	}
	pt.Fastest, pt.Slowest = merged.fastest, merged.slowest
	return pt, merged, nil
}

// mergeReports adds b's counts and histograms to a and recomputes its rates.
func mergeReports(a, b *Report) {
	a.latency.Merge(b.latency)
	a.trans.Merge(b.trans)
	a.conn.Merge(b.conn)
	a.Elapsed += b.Elapsed
	a.Requests += b.Requests
	a.Conns += b.Conns
	a.BodyBytes += b.BodyBytes
	a.Behind += b.Behind
	for k, v := range b.Errors {
		a.Errors[k] += v
	}
	if b.LastError != "" {
		a.LastError = b.LastError
	}
	if b.fastest > 0 && (a.fastest == 0 || b.fastest < a.fastest) {
		a.fastest = b.fastest
	}
	a.slowest = max(a.slowest, b.slowest)
	a.PortsExhausted = a.PortsExhausted || b.PortsExhausted
	for _, n := range b.Notes {
		if !slices.Contains(a.Notes, n) {
			a.Notes = append(a.Notes, n)
		}
	}
	secs := a.Elapsed.Seconds()
	a.HitsPerSec = float64(a.Requests) / secs
	a.ConnsPerSec = float64(a.Conns) / secs
	a.Throughput = timing.BitsPerSecond(float64(a.BodyBytes*8) / secs)
}

// Info keys a sweep records per size in a series' Info, as "<key>/<bytes>".
const (
	InfoHitsPerSec  = "hits_per_sec"
	InfoConnsPerSec = "conns_per_sec"
	InfoThroughput  = "throughput_bps"
	InfoErrors      = "errors"
	InfoConnectP50  = "connect_p50_ns"
	InfoPorts       = "ports_exhausted"
)

// InfoKey returns the Info key of a per-size figure.
func InfoKey(key string, n timing.Bytes) string { return key + "/" + strconv.FormatInt(int64(n), 10) }

func recordInfo(info map[string]string, n timing.Bytes, r *Report) {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	info[InfoKey(InfoHitsPerSec, n)] = f(r.HitsPerSec)
	info[InfoKey(InfoConnsPerSec, n)] = f(r.ConnsPerSec)
	info[InfoKey(InfoThroughput, n)] = f(float64(r.Throughput))
	info[InfoKey(InfoConnectP50, n)] = strconv.FormatInt(int64(r.Connect.P50), 10)
	var errs string
	for k := ErrRefused; k < numErrKinds; k++ {
		if v := r.Errors[k.String()]; v > 0 {
			if errs != "" {
				errs += " "
			}
			errs += k.String() + "=" + strconv.FormatUint(v, 10)
		}
	}
	info[InfoKey(InfoErrors, n)] = errs
	if r.PortsExhausted {
		info[InfoKey(InfoPorts, n)] = "true"
	}
}

func sweepOptionMap(so SweepOptions) map[string]string {
	h := so.Hammer
	m := map[string]string{
		"t":      h.Duration.String(),
		"k":      strconv.Itoa(h.KeepAlive),
		"c":      strconv.Itoa(max(h.Clients, 1)),
		"from":   strconv.Itoa(so.From),
		"to":     strconv.Itoa(so.To),
		"trials": strconv.Itoa(so.Trials),
		"via":    string(so.Path.Via),
	}
	if h.Target != "" {
		m["h"] = h.Target
	}
	if h.Rate > 0 {
		m["rate"] = strconv.FormatFloat(h.Rate, 'g', -1, 64)
	}
	if so.Path.Scheduler != "" {
		m["scheduler"] = so.Path.Scheduler
	}
	if so.Path.Realservers > 0 {
		m["realservers"] = strconv.Itoa(so.Path.Realservers)
	}
	if h.Sources > 0 {
		m["sources"] = strconv.Itoa(h.Sources)
	}
	if h.Linger0 {
		m["linger0"] = "true"
	}
	if so.Dir != "" {
		m["dir"] = so.Dir
	}
	return m
}

// HitsPerSec returns a sweep series' hits/sec per size from its Info, in the
// order of its points.
func HitsPerSec(s results.Series) []float64 {
	out := make([]float64, len(s.Points))
	for i, p := range s.Points {
		out[i], _ = strconv.ParseFloat(s.Info[InfoKey(InfoHitsPerSec, p.Bytes)], 64)
	}
	return out
}

// RunPath starts file servers on 127.0.0.1 behind path (direct, or the
// director in front of several), hammers them with o (whose Target must be
// empty), and stops them. The report's Notes name the path.
func RunPath(ctx context.Context, o Options, path paths.Spec, server ServerOptions) (*Report, error) {
	if o.Target != "" {
		return nil, fmt.Errorf("host %q given: RunPath starts its own servers, use Run for a running server", o.Target)
	}
	p, err := paths.Start(ctx, path, func(ctx context.Context) (string, func() error, error) {
		s, err := NewFileServer(ctx, server)
		if err != nil {
			return "", nil, err
		}
		return s.Addr(), s.Close, nil
	})
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	o.Target = p.Target
	rep, err := Run(ctx, o)
	cerr := p.Close()
	if rep != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("path %s to %d file server(s) started on 127.0.0.1", p.Name, max(path.Realservers, 1)))
	}
	if err == nil && cerr != nil {
		err = fmt.Errorf("stop servers: %w", cerr)
	}
	return rep, err
}
