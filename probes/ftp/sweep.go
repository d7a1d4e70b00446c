package ftp

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// SweepOptions say what `lvsperf probe ftp` measures. The zero value sweeps
// file.0 … file.20 get then put, passive, against embedded servers reached
// directly, keeping nothing on disk.
type SweepOptions struct {
	// Client is the client's settings; an empty Client.Addr starts an
	// embedded server (Server) per direction on the path Path.
	Client ClientOptions
	// Server configures the embedded servers.
	Server ServerOptions
	// Path is direct or through the director (embedded servers only).
	// Through the director only the control connection passes it: the
	// server announces its own address for passive data and connects out
	// on its own for active data, so data goes straight between client and
	// realserver, as with LVS-DR and persistence.
	Path paths.Spec
	// MinExp and MaxExp bound the sizes 2^MinExp … 2^MaxExp. Defaults 0, 20.
	MinExp, MaxExp int
	// Dirs are the directions to sweep, in order. Default get then put.
	Dirs []Direction
	// Timing is the timing core's options (budget, trials, …); its Sizes
	// are set from MinExp and MaxExp. A budget is shared by the directions.
	Timing timing.Options
	// OutDir and Name say where the run is saved ("" keeps nothing).
	OutDir, Name string
	// Progress receives a line per measured size; nil is silent.
	Progress io.Writer
}

// ParseDirs reads "get", "put" or "both".
func ParseDirs(s string) ([]Direction, error) {
	return probes.ParseDirs(s, Get, Put)
}

// Sweep measures transfers of file.MinExp … file.MaxExp in each direction,
// one series per direction, and saves the run as it goes.
func Sweep(ctx context.Context, o SweepOptions) (runner.Result, error) {
	if len(o.Dirs) == 0 {
		o.Dirs = []Direction{Get, Put}
	}
	if o.MaxExp >= MaxFiles {
		return runner.Result{}, fmt.Errorf("ftp sweep: max exponent %d: want at most %d", o.MaxExp, MaxFiles-1)
	}
	sizes, maxExp, err := probes.SweepSizes(o.MinExp, o.MaxExp)
	if err != nil {
		return runner.Result{}, err
	}
	o.MaxExp = maxExp
	co := o.Client
	if err := probes.CheckPath("ftp", co.Addr, o.Path); err != nil {
		return runner.Result{}, err
	}
	so := o.Server
	if so.Sink {
		// Gets need the files a sink will not keep: make them at start.
		so.Files = max(so.Files, o.MaxExp+1)
	}
	if _, err := so.Normalize(); err != nil {
		return runner.Result{}, err
	}
	var legs []runner.Leg
	for _, d := range o.Dirs {
		legs = append(legs, runner.Leg{Label: "ftp " + string(d) + " (" + co.Mode() + ")", Target: co.Addr, Spec: o.Path, Start: StartServer(so)})
	}
	topts := o.Timing
	topts.Sizes = sizes
	opts := probes.RunOptions(co.Addr, o.MinExp, o.MaxExp, o.Timing.Budget, o.Path)
	maps.Copy(opts, map[string]string{
		"user": co.User, "active": strconv.FormatBool(co.Active),
		"disable-epsv": strconv.FormatBool(co.DisableEPSV), "login-per-transfer": strconv.FormatBool(co.LoginPerTransfer),
		"storage": string(so.Storage), "sink": strconv.FormatBool(so.Sink),
	})
	return runner.Run(ctx, runner.Config{
		Probe:   "ftp",
		Options: opts,
		Timing:  topts,
		Legs:    legs,
		Dial: probes.InOrder("ftp", len(o.Dirs), func(ctx context.Context, target string, i int) (runner.Probe, error) {
			opts := co
			opts.Addr = target
			c, err := Dial(ctx, opts)
			if err != nil {
				return nil, err
			}
			return &ownedProbe{Probe: NewProbe(c, o.Dirs[i]), embedded: co.Addr == "", server: so, path: o.Path}, nil
		}),
		OutDir:   o.OutDir,
		Name:     o.Name,
		Progress: o.Progress,
	})
}

// ownedProbe is a Probe that owns its client, as the runner wants.
type ownedProbe struct {
	*Probe
	embedded bool
	server   ServerOptions
	path     paths.Spec
}

func (p *ownedProbe) Close() error { return p.c.Close() }

func (p *ownedProbe) Info() map[string]string {
	info := p.c.Info()
	info["direction"] = string(p.dir)
	if p.embedded {
		st := p.server.Storage
		if st == "" {
			st = Memory
		}
		info["server"] = "embedded ftpserverlib v0.32.3, " + string(st) + " storage, sink " + strconv.FormatBool(p.server.Sink)
	}
	if p.path.Via == paths.Director {
		info["data_path"] = "control via the director; data straight between client and realserver (passive: the realserver announces its own address; active: it connects out itself)"
	}
	return info
}
