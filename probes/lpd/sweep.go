package lpd

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultStopTime ends a sweep after a size whose transfer took this long.
const DefaultStopTime = probes.DefaultStopTime

// SweepOptions say what `lvsperf probe lpd` measures. The zero value sweeps
// jobs of 2^0 … 2^20 bytes to the "null" queue of an embedded server that
// discards them (lp=/dev/null), reached directly, keeping nothing on disk.
type SweepOptions struct {
	// Host is a running lpd (host:port); empty starts embedded servers
	// (Server) on Path.
	Host string
	Path paths.Spec
	// MinExp and MaxExp bound the sizes 2^MinExp … 2^MaxExp (default 0, 20).
	MinExp, MaxExp int
	// Spool makes embedded servers spool each job to a temporary directory
	// (printed to /dev/null and removed when whole) instead of discarding
	// it as it arrives.
	Spool bool
	// Server configures embedded servers.
	Server Options
	// Probe sets the queue, host and user of each job and the client.
	Probe ProbeOptions
	// Timing is the timing core's options; Sizes is set from the exponents.
	Timing timing.Options
	// OutDir and Name say where the run is saved ("" keeps nothing).
	OutDir, Name string
	// Progress receives a line per measured size; nil is silent.
	Progress io.Writer
}

// StartServer returns a paths.StartServer that starts an embedded lpd with
// o on a free loopback port; with spool set and no o.SpoolDir it spools to
// a temporary directory removed when the server stops.
func StartServer(o Options, spool bool) paths.StartServer {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	return probes.StartSpooling(o.SpoolDir, spool, "lvsperf-lpd-spool-", func(_ context.Context, dir string) (*Server, error) {
		o := o
		o.SpoolDir = dir
		return NewServer(o)
	})
}

// Sweep measures print jobs of 2^MinExp … 2^MaxExp bytes and saves the run
// as it goes.
func Sweep(ctx context.Context, o SweepOptions) (runner.Result, error) {
	sizes, maxExp, err := probes.SweepSizes(o.MinExp, o.MaxExp)
	if err != nil {
		return runner.Result{}, fmt.Errorf("lpd sweep: %w", err)
	}
	o.MaxExp = maxExp
	if err := probes.CheckPath("lpd", o.Host, o.Path); err != nil {
		return runner.Result{}, err
	}
	if o.Probe.Queue == "" {
		o.Probe.Queue = DefaultQueue
	}
	if o.Server.Queue == "" {
		o.Server.Queue = o.Probe.Queue
	}
	if _, err := o.Server.normalize(); err != nil {
		return runner.Result{}, fmt.Errorf("lpd sweep: %w", err)
	}
	if _, err := (Job{Queue: o.Probe.Queue, Host: o.Probe.Host, User: o.Probe.User}).normalize(); err != nil {
		return runner.Result{}, fmt.Errorf("lpd sweep: %w", err)
	}
	topts := o.Timing
	topts.Sizes = sizes
	if topts.StopTime == 0 {
		topts.StopTime = DefaultStopTime
	}
	opts := probes.RunOptions(o.Host, o.MinExp, o.MaxExp, o.Timing.Budget, o.Path)
	maps.Copy(opts, map[string]string{
		"queue": o.Probe.Queue, "spool": strconv.FormatBool(o.Spool), "fsync": strconv.FormatBool(o.Server.Fsync),
		"data-first": strconv.FormatBool(o.Probe.DataFirst), "reserved-port": strconv.FormatBool(o.Probe.Client.ReservedPort),
	})
	return runner.Run(ctx, runner.Config{
		Probe:   "lpd",
		Options: opts,
		Timing:  topts,
		Legs:    []runner.Leg{{Label: "lpd job to queue " + o.Probe.Queue, Target: o.Host, Spec: o.Path, Start: StartServer(o.Server, o.Spool)}},
		Dial: func(_ context.Context, target string) (runner.Probe, error) {
			return &sweepProbe{NewProbe(target, o.Probe), o}, nil
		},
		OutDir:   o.OutDir,
		Name:     o.Name,
		Progress: o.Progress,
	})
}

// sweepProbe is a Probe with what the runner records about it.
type sweepProbe struct {
	*Probe
	o SweepOptions
}

func (p *sweepProbe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	return p.Probe.Run(ctx, n, each)
}

func (p *sweepProbe) Close() error { return nil }

func (p *sweepProbe) Info() map[string]string {
	order := "control file first (rlpr's default)"
	if p.o.Probe.DataFirst {
		order = "data file first"
	}
	info := map[string]string{
		"queue": p.o.Probe.Queue, "order": order,
		"transfer":    "connect, receive-job, control and data files, the last ack",
		"payload":     "in-memory pattern (no client disk reads)",
		"job_numbers": "cycling from a random start; a job refused after the queue accepted it is retried with the next number (at most 3 times), only the job that went through is timed",
	}
	if p.o.Host == "" {
		if p.o.Spool {
			info["server"] = fmt.Sprintf("embedded lvsperf lpd spooling to disk (fsync %v), printing to /dev/null", p.o.Server.Fsync)
		} else {
			info["server"] = "embedded lvsperf lpd discarding jobs as they arrive (lp=/dev/null)"
		}
	}
	return info
}
