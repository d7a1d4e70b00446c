package runner

import (
	"github.com/lvsperf/lvsperf/internal/cpuidle"

	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// Probe is what a dialled probe offers the runner: the timing core's unit of
// work, a way to release it, and the facts worth recording about it.
type Probe interface {
	timing.Probe
	io.Closer
	Info() map[string]string
}

// Dialer connects a probe to target (host:port).
type Dialer func(ctx context.Context, target string) (Probe, error)

// Leg is one series of a run: a path and how to reach it.
type Leg struct {
	// Label names the series in tables and legends; default the path name.
	Label string
	// Target, when set, is dialled as is (a remote receiver) and Spec is
	// ignored; otherwise Spec builds the path with Start.
	Target string
	Spec   paths.Spec
	Start  paths.StartServer
}

// Config says what to run and where to keep it.
type Config struct {
	// Probe names the probe in the stored run (netpipe, stream, …).
	Probe string
	// Options records the user's settings (flag → value).
	Options map[string]string
	Timing  timing.Options
	Legs    []Leg
	Dial    Dialer
	// OutDir receives the result file; "" keeps nothing on disk.
	OutDir string
	// Name is the result file's base name; default "<probe>-<time>".
	Name string
	// Progress receives one line per measured size; nil is silent.
	Progress io.Writer
	// Pin puts every thread of the process on CPU number CPU for the run
	// (both ends, when they run in-process), like taskset -c.
	Pin bool
	CPU int
	// IdlePoll holds a 0 µs CPU wake-up latency request for the run, so
	// idle CPUs poll instead of halting (see internal/cpuidle).
	IdlePoll bool
}

// Result is a finished (or interrupted) run and where it was saved.
type Result struct {
	Run  *results.Run
	File string
}

// Run measures every leg in turn and returns the run. On an error or an
// interrupt it returns what it finished, saved, together with the error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if len(cfg.Legs) == 0 {
		return Result{}, errors.New("nothing to run: no path given")
	}
	if _, err := cfg.Timing.Normalize(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	run := &results.Run{
		ID:      fmt.Sprintf("%s-%s-%d", cfg.Probe, start.UTC().Format("20060102T150405Z"), os.Getpid()),
		Probe:   cfg.Probe,
		Started: start,
		Options: maps.Clone(cfg.Options),
		Env:     results.CollectEnv("lo"),
	}
	var res Result
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return res, fmt.Errorf("output directory: %w", err)
		}
		name := cfg.Name
		if name == "" {
			name = cfg.Probe + "-" + start.Format("20060102-150405")
		}
		res.File = filepath.Join(cfg.OutDir, name+results.Extension)
	}
	res.Run = run
	save := func() error {
		if res.File == "" {
			return nil
		}
		return results.Save(res.File, run)
	}
	if cfg.Pin {
		unpin, err := affinity.PinAll(cfg.CPU)
		if err != nil {
			return res, fmt.Errorf("--cpu %d: %w", cfg.CPU, err)
		}
		defer unpin()
		if run.Options == nil {
			run.Options = map[string]string{}
		}
		run.Options["cpu"] = strconv.Itoa(cfg.CPU)
	}
	if cfg.IdlePoll {
		req, err := cpuidle.Hold()
		if err != nil {
			return res, fmt.Errorf("--idle-poll: %w", err)
		}
		defer req.Close()
		run.Env.IdlePoll = true
		if run.Options == nil {
			run.Options = map[string]string{}
		}
		run.Options["idle_poll"] = "true"
	}
	before, sampleErr := results.SampleCPU()
	var runErr error
	for _, leg := range cfg.Legs {
		err := runLeg(ctx, cfg, leg, run, save)
		if err != nil {
			runErr = err
			break
		}
	}
	run.Finished = time.Now()
	run.Complete = runErr == nil
	if runErr != nil {
		run.Error = runErr.Error()
	}
	if after, err := results.SampleCPU(); err == nil && sampleErr == nil {
		results.Contention(before, after, runtime.NumCPU()).Apply(&run.Env)
	}
	if len(run.Series) > 0 {
		run.Path = run.Series[0].Path
	}
	if err := save(); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

func runLeg(ctx context.Context, cfg Config, leg Leg, run *results.Run, save func() error) error {
	target, name := leg.Target, "remote"
	info := map[string]string{}
	if target == "" {
		p, err := paths.Start(ctx, leg.Spec, leg.Start)
		if err != nil {
			return err
		}
		defer p.Close()
		target, name = p.Target, p.Name
		for k, v := range p.Info {
			info[k] = v
		}
	}
	info["target"] = target
	probe, err := cfg.Dial(ctx, target)
	if err != nil {
		return err
	}
	defer probe.Close()
	for k, v := range probe.Info() {
		info[k] = v
	}
	label := leg.Label
	if label == "" {
		label = name
	}
	run.Series = append(run.Series, results.Series{Path: name, Info: info})
	cur := &run.Series[len(run.Series)-1]
	cur.Label = label
	onPoint := func(p timing.Progress) {
		cur.Points = append(cur.Points, p.Point)
		if cfg.Progress != nil {
			eta := time.Duration(float64(p.Elapsed) / float64(p.Index+1) * float64(p.Total-p.Index-1))
			fmt.Fprintf(cfg.Progress, "%s [%3d/%d] %10d B  %12v  %14v  spread %5.1f%%  eta %v\n",
				label, p.Index+1, p.Total, p.Point.Bytes, p.Point.Min, p.Point.Rate(), 100*p.Point.Spread(), eta.Round(time.Second))
		}
		// A checkpoint after every size: a killed run keeps what it finished.
		if err := save(); err != nil && cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "warning: checkpoint not saved: %v\n", err)
		}
	}
	topts := cfg.Timing
	if topts.Budget > 0 {
		// The budget covers the whole run: each leg gets its share.
		topts.Budget /= time.Duration(len(cfg.Legs))
	}
	s, err := timing.Sweep(ctx, probe, topts, onPoint)
	s.Label = label
	cur.Series = s
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	return save()
}
