package rsh

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// Sink names what a sweep's copies go to on the server.
type Sink string

// Sinks.
const (
	// SinkNameNull copies with `cat > /dev/null`.
	SinkNameNull Sink = "null"
	// SinkNameDisk copies with the seed's `(cd /usr; cat > file.N)`.
	SinkNameDisk Sink = "disk"
)

// DefaultStopTime ends a sweep after a size whose transfer took this long.
const DefaultStopTime = probes.DefaultStopTime

// SweepOptions say what `lvsperf probe rsh` measures. The zero value sweeps
// file.0 … file.20 into /dev/null of an embedded server reached directly,
// keeping nothing on disk.
type SweepOptions struct {
	// Host is a running rshd (host:port); empty starts embedded servers
	// (Server) on Path.
	Host string
	Path paths.Spec
	// MinExp and MaxExp bound the sizes 2^MinExp … 2^MaxExp (default 0, 20).
	MinExp, MaxExp int
	// Sink is null (default) or disk.
	Sink Sink
	// SinkDir says where the disk sink's files go. With embedded servers
	// it is the directory their temporary spool is made in (default
	// os.TempDir()): a tmpfs or a real disk, which the run records from
	// statfs(2). Against Host it is the directory of the seed's command
	// `(cd SinkDir; cat > file.N)` (default /usr), on the server's side.
	SinkDir string
	// Rcp copies with rcp's protocol (rcp -t /dev/null, rcp -t file.N) in
	// place of cat: no stderr channel, a C line and acknowledgements. A
	// real rcp refuses -t /dev/null ("can't truncate"); ours takes it.
	Rcp bool
	// Server configures embedded servers; with the disk sink each gets a
	// temporary spool directory, removed when it stops.
	Server Options
	Client ClientOptions
	// Timing is the timing core's options; Sizes is set from the exponents.
	Timing timing.Options
	// OutDir and Name say where the run is saved ("" keeps nothing).
	OutDir, Name string
	// Progress receives a line per measured size; nil is silent.
	Progress io.Writer
}

// StartServer returns a paths.StartServer that starts an embedded rshd
// with o on a free loopback port. With spool set and no o.SpoolDir it makes
// a temporary spool directory and removes it when the server stops. When
// the process cannot bind reserved ports it accepts unprivileged clients,
// as it must to hear from a client of the same process.
func StartServer(o Options, spool bool) paths.StartServer {
	return StartServerIn("", o, spool)
}

// StartServerIn is StartServer with the temporary spool directory made
// inside parent ("" for os.TempDir()).
func StartServerIn(parent string, o Options, spool bool) paths.StartServer {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	return probes.StartSpoolingIn(parent, o.SpoolDir, spool, "lvsperf-rsh-spool-", func(_ context.Context, dir string) (*Server, error) {
		o := o
		if os.Geteuid() != 0 {
			o.AllowUnreserved = true
		}
		o.SpoolDir = dir
		return NewServer(o)
	})
}

// Sweep measures copies of file.MinExp … file.MaxExp and saves the run as
// it goes.
func Sweep(ctx context.Context, o SweepOptions) (runner.Result, error) {
	sizes, maxExp, err := probes.SweepSizes(o.MinExp, o.MaxExp)
	if err != nil {
		return runner.Result{}, fmt.Errorf("rsh sweep: %w", err)
	}
	o.MaxExp = maxExp
	if o.Sink == "" {
		o.Sink = SinkNameNull
	}
	if o.Sink != SinkNameNull && o.Sink != SinkNameDisk {
		return runner.Result{}, fmt.Errorf("rsh sweep: sink %q: want %q or %q", o.Sink, SinkNameNull, SinkNameDisk)
	}
	if err := probes.CheckPath("rsh", o.Host, o.Path); err != nil {
		return runner.Result{}, err
	}
	if _, err := o.Server.normalize(); err != nil {
		return runner.Result{}, fmt.Errorf("rsh sweep: %w", err)
	}
	copt, err := o.Client.normalize()
	if err != nil {
		return runner.Result{}, fmt.Errorf("rsh sweep: %w", err)
	}
	if o.Host == "" && copt.Ports == PortAuto {
		// Our own server needs no reserved ports, and a sweep would keep
		// the host's 512 of them in TIME_WAIT, starving every other rsh,
		// rlogin or NFS client on the machine. --ports reserved measures
		// them anyway.
		copt.Ports = PortAny
	}
	srv := o.Server
	// Embedded servers hear only our client. Through the director they
	// must accept unreserved ports in any case: the director is a userspace
	// proxy (LVS-NAT) that dials them from ephemeral ports, and the stderr
	// back-connection goes from the realserver to the address it sees,
	// which on loopback is the client's.
	srv.AllowUnreserved = true
	fs := ""
	if o.Sink == SinkNameDisk && o.Host == "" {
		// Where the embedded servers' spools will be: the filesystem the
		// copies land on.
		parent := cmp.Or(o.SinkDir, os.TempDir())
		if fs, err = probes.FSType(parent); err != nil {
			return runner.Result{}, fmt.Errorf("rsh sweep: sink directory: %w", err)
		}
	}
	label := "rsh " + o.command(probes.FileName(0))
	label = strings.Replace(label, "file.0", "file.N", 1)
	if fs != "" {
		label += " on " + fs
	}
	topts := o.Timing
	topts.Sizes = sizes
	if topts.StopTime == 0 {
		topts.StopTime = DefaultStopTime
	}
	opts := probes.RunOptions(o.Host, o.MinExp, o.MaxExp, o.Timing.Budget, o.Path)
	maps.Copy(opts, map[string]string{
		"sink": string(o.Sink), "null": string(o.Server.Null), "fsync": strconv.FormatBool(o.Server.Fsync),
		"ports": string(copt.Ports), "no-stderr": strconv.FormatBool(copt.NoStderr), "user": copt.RemoteUser,
		"sink-dir": o.SinkDir, "rcp": strconv.FormatBool(o.Rcp),
	})
	start := StartServerIn(o.SinkDir, srv, o.Sink == SinkNameDisk)
	if o.Host != "" {
		start = nil
	}
	return runner.Run(ctx, runner.Config{
		Probe:   "rsh",
		Options: opts,
		Timing:  topts,
		Legs:    []runner.Leg{{Label: label, Target: o.Host, Spec: o.Path, Start: start}},
		Dial: func(_ context.Context, target string) (runner.Probe, error) {
			return &sweepProbe{addr: target, o: o, client: copt, fs: fs}, nil
		},
		OutDir:   o.OutDir,
		Name:     o.Name,
		Progress: o.Progress,
	})
}

// sweepProbe is a Probe with what the runner records about it.
type sweepProbe struct {
	addr   string
	o      SweepOptions
	client ClientOptions
	// fs is the embedded servers' spool filesystem ("" for none or a
	// remote server).
	fs string
}

// command is the remote command that copies into the file name (or,
// for the null sink, into /dev/null).
func (o SweepOptions) command(name string) string {
	dir := "/usr"
	if o.Host != "" && o.SinkDir != "" {
		dir = o.SinkDir
	}
	switch {
	case o.Rcp && o.Sink == SinkNameDisk && o.Host != "" && o.SinkDir != "":
		return "rcp -t " + path.Join(dir, name)
	case o.Rcp && o.Sink == SinkNameDisk:
		return "rcp -t " + name
	case o.Rcp:
		return "rcp -t /dev/null"
	case o.Sink == SinkNameDisk:
		return "(cd " + dir + "; cat > " + name + ")"
	}
	return "cat > /dev/null"
}

// Command returns the remote command for a copy of n bytes to sink.
func (s Sink) Command(n timing.Bytes) string {
	if s != SinkNameDisk {
		return "cat > /dev/null"
	}
	return "(cd /usr; cat > " + probes.NameFor(n) + ")"
}

func (p *sweepProbe) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	if p.o.Rcp {
		target := p.o.command(probes.NameFor(n))[len("rcp -t "):]
		return timing.ProbeFunc(func(ctx context.Context, n timing.Bytes) (time.Duration, error) {
			t0 := time.Now()
			err := RcpSend(ctx, p.addr, target, probes.NewPattern(n), n, p.client)
			return time.Since(t0), err
		}).Run(ctx, n, each)
	}
	pr := NewProbe(p.addr, ProbeOptions{Command: p.o.command(probes.NameFor(n)), Client: p.client})
	return pr.Run(ctx, n, each)
}

func (p *sweepProbe) Close() error { return nil }

func (p *sweepProbe) Info() map[string]string {
	info := map[string]string{
		"command": p.o.command(probes.FileName(20)), "ports": string(p.client.Ports),
		"stderr_channel": strconv.FormatBool(!p.client.NoStderr && !p.o.Rcp), "transfer": "connect, rcmd handshake, data, half-close, server closes both streams",
		"payload": "in-memory pattern (no client disk reads)",
	}
	if p.o.Rcp {
		info["transfer"] = "connect, rcmd handshake (empty stderr port), rcp's C line, data, acknowledgements, server closes"
	}
	if p.o.Sink == SinkNameDisk {
		switch {
		case p.fs != "":
			info["sink_dir"] = cmp.Or(p.o.SinkDir, os.TempDir())
			info["sink_fs"] = p.fs
			info["sink_in_memory"] = strconv.FormatBool(probes.InMemory(p.fs))
		default:
			info["sink_fs"] = "unknown: the server's, not seen from the client"
		}
	}
	if p.o.Host == "" {
		null := p.o.Server.Null
		if null == "" {
			null = NullDevNull
		}
		info["server"] = fmt.Sprintf("embedded lvsperf rshd, /dev/null as %s, fsync %v", null, p.o.Server.Fsync)
		info["server"] += "; accepts unreserved ports; stderr back-connection straight to the client (also through the director)"
	}
	return info
}
