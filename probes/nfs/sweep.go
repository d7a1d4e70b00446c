package nfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	gonfs "github.com/willscott/go-nfs"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// SweepOptions say what `lvsperf probe nfs` measures. The zero value sweeps
// file.0 … file.20 read then write against embedded servers reached
// directly, keeping nothing on disk.
type SweepOptions struct {
	// Client is the client's settings; an empty Client.Addr starts an
	// embedded server (Server) per direction on the path Path.
	Client ClientOptions
	// Server configures the embedded servers.
	Server ServerOptions
	// Path is direct or through the director (embedded servers only).
	Path paths.Spec
	// MinExp and MaxExp bound the sizes 2^MinExp … 2^MaxExp. Defaults 0, 20.
	MinExp, MaxExp int
	// Dirs are the directions to sweep, in order. Default read then write.
	Dirs []Direction
	// RWSizes, when set, sweeps the transfer size: one series per
	// direction and size, reads with that rsize and writes with that
	// wsize (Client.RSize and WSize are then ignored). DefaultRWSizes is
	// the seed's range. Each series records the size asked, the size in
	// effect after the server's FSINFO, and whether the server capped it.
	RWSizes []timing.Bytes
	// UDP sends NFS and MOUNT over UDP with UDPClient. The embedded server
	// (go-nfs) serves TCP only, so UDP needs Client.Addr and MountAddr of a
	// server that serves it (nfs-ganesha with Enable_UDP). rsize and wsize
	// are capped at MaxUDPXfer.
	UDP bool
	// Timing is the timing core's options (budget, trials, …); its Sizes
	// are set from MinExp and MaxExp. A budget is shared by the directions.
	Timing timing.Options
	// OutDir and Name say where the run is saved ("" keeps nothing).
	OutDir, Name string
	// Progress receives a line per measured size; nil is silent.
	Progress io.Writer
}

// ParseDirs reads "read", "write" or "both".
func ParseDirs(s string) ([]Direction, error) {
	return probes.ParseDirs(s, Read, Write)
}

// Sweep measures copies of file.MinExp … file.MaxExp in each direction, one
// series per direction, and saves the run as it goes.
func Sweep(ctx context.Context, o SweepOptions) (runner.Result, error) {
	if len(o.Dirs) == 0 {
		o.Dirs = []Direction{Read, Write}
	}
	if o.MaxExp >= MaxFiles {
		return runner.Result{}, fmt.Errorf("nfs sweep: max exponent %d: want at most %d", o.MaxExp, MaxFiles-1)
	}
	sizes, maxExp, err := probes.SweepSizes(o.MinExp, o.MaxExp)
	if err != nil {
		return runner.Result{}, err
	}
	o.MaxExp = maxExp
	co := o.Client
	if co.Addr == "" && co.MountAddr != "" {
		return runner.Result{}, errors.New("nfs sweep: a mount address needs the NFS address too (--host)")
	}
	if o.UDP && co.Addr == "" {
		return runner.Result{}, errors.New("nfs sweep over UDP: not implemented for the embedded server (go-nfs serves TCP only); give --host and --mount of a server that serves NFSv3 over UDP, such as nfs-ganesha with Enable_UDP")
	}
	if err := probes.CheckPath("nfs", co.Addr, o.Path); err != nil {
		return runner.Result{}, err
	}
	if _, err := o.Server.Normalize(); err != nil {
		return runner.Result{}, err
	}
	type leg struct {
		dir  Direction
		size timing.Bytes // 0: the client's own rsize and wsize
	}
	var plan []leg
	var legs []runner.Leg
	for _, d := range o.Dirs {
		sizes := o.RWSizes
		if len(sizes) == 0 {
			sizes = []timing.Bytes{0}
		}
		for _, sz := range sizes {
			label := "nfs " + string(d)
			if sz != 0 {
				if sz < 512 || sz > MaxXfer {
					return runner.Result{}, fmt.Errorf("nfs sweep: transfer size %v: want 512B to %v", sz, MaxXfer)
				}
				label += " " + map[Direction]string{Read: "rsize", Write: "wsize"}[d] + " " + sz.String()
			}
			plan = append(plan, leg{d, sz})
			legs = append(legs, runner.Leg{Label: label, Target: co.Addr, Spec: o.Path, Start: StartServer(o.Server)})
		}
	}
	topts := o.Timing
	topts.Sizes = sizes
	opts := probes.RunOptions(co.Addr, o.MinExp, o.MaxExp, o.Timing.Budget, o.Path)
	maps.Copy(opts, map[string]string{
		"mount": co.MountAddr, "export": co.Export,
		"rsize": strconv.FormatInt(int64(co.RSize), 10), "wsize": strconv.FormatInt(int64(co.WSize), 10),
		"reserved-port": strconv.FormatBool(co.ReservedPort), "rwsizes": joinSizes(o.RWSizes),
		"transport": map[bool]string{false: "tcp", true: "udp"}[o.UDP],
	})
	return runner.Run(ctx, runner.Config{
		Probe:   "nfs",
		Options: opts,
		Timing:  topts,
		Legs:    legs,
		Dial: probes.InOrder("nfs", len(plan), func(ctx context.Context, target string, i int) (runner.Probe, error) {
			opts := co
			opts.Addr = target
			if sz := plan[i].size; sz != 0 {
				opts.RSize, opts.WSize = sz, sz
			}
			if o.UDP {
				c, err := DialUDP(ctx, opts)
				if err != nil {
					return nil, err
				}
				return udpOwnedProbe{NewUDPProbe(c, plan[i].dir)}, nil
			}
			c, err := Dial(ctx, opts)
			if err != nil {
				return nil, err
			}
			return &ownedProbe{Probe: NewProbe(c, plan[i].dir), embedded: co.Addr == ""}, nil
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
}

func (p *ownedProbe) Close() error { return p.c.Close() }

func (p *ownedProbe) Info() map[string]string {
	info := p.c.Info()
	info["direction"] = string(p.dir)
	if p.embedded {
		info["server"] = "embedded go-nfs v0.0.4 over an osfs directory (RPC reply codes fixed)"
		// go-nfs announces rtmax 1 GiB but cuts every READ at its MaxRead.
		info["server_read_cap"] = strconv.Itoa(gonfs.MaxRead) + " (go-nfs MaxRead, not announced in FSINFO)"
		if p.c.RSize() > gonfs.MaxRead {
			info["rsize_capped"] = "true: go-nfs returns at most " + strconv.Itoa(gonfs.MaxRead) + " bytes per READ"
		}
	}
	return info
}

// udpOwnedProbe is a UDPProbe that owns its client.
type udpOwnedProbe struct{ *UDPProbe }

func (p udpOwnedProbe) Close() error { return p.c.Close() }

func (p udpOwnedProbe) Info() map[string]string {
	info := p.c.Info()
	info["direction"] = string(p.dir)
	return info
}

// DefaultRWSizes returns the transfer sizes of an rsize/wsize sweep: 1 KiB
// to 1 MiB in steps of 4.
func DefaultRWSizes() []timing.Bytes {
	return []timing.Bytes{1 * timing.KiB, 4 * timing.KiB, 16 * timing.KiB, 64 * timing.KiB, 256 * timing.KiB, 1 * timing.MiB}
}

func joinSizes(s []timing.Bytes) string {
	var parts []string
	for _, b := range s {
		parts = append(parts, strconv.FormatInt(int64(b), 10))
	}
	return strings.Join(parts, ",")
}
