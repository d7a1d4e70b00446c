package netpipe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultTrialTime is the target one-way time of a ping-pong trial: 50 ms,
// so a trial lasts about 100 ms of wall time. NetPIPE aims at 100 ms of
// one-way time but shortens most trials by its extrapolation; with the same
// schedule the whole sweep then takes no longer than NPtcp's.
const DefaultTrialTime = 50 * time.Millisecond

// RunOptions are the settings of `lvsperf netpipe` and `lvsperf stream`,
// named after NetPIPE's flags where NetPIPE has one. The zero value of each
// field means its default.
type RunOptions struct {
	// Host is the receiver's host[:port]; empty runs an in-process
	// receiver on loopback (--loopback).
	Host string
	// Start, End and Perturbation shape NetPIPE's schedule (-l, -u, -p).
	Start, End, Perturbation timing.Bytes
	// NoPerturbation turns -p off (NetPIPE's -p 0).
	NoPerturbation bool
	// Buffer sets SO_SNDBUF/SO_RCVBUF on both ends (-b).
	Buffer timing.Bytes
	// Delay leaves Nagle on (NetPIPE always sets TCP_NODELAY).
	Delay bool
	// Reconnect opens a new connection per size; Verify checks every byte.
	Reconnect, Verify bool
	// Reps fixes the repetitions per trial (-n); Trials, TrialTime, Warmup
	// and Budget go to the timing core.
	Reps, Trials int
	TrialTime    time.Duration
	Warmup       time.Duration
	Budget       time.Duration
	// IOTimeout bounds waiting for a silent peer.
	IOTimeout time.Duration
	// Via lists the paths to measure, one series each (direct, director).
	Via         []string
	Scheduler   string
	Realservers int
	OutDir      string
	Name        string
	// Pin puts every thread of the run on CPU number CPU (--cpu).
	Pin bool
	CPU int
	// IdlePoll keeps idle CPUs polling for the run (--idle-poll).
	IdlePoll bool
	// Peer is the receiver's protocol: "lvsperf" (default) or "nptcp"
	// (NetPIPE 3.7's NPtcp, or lvsperf netpipe --serve --peer nptcp).
	Peer string
	// Bidir is NetPIPE's -2: both ends send at once (NPtcp's protocol).
	Bidir bool
	// Pairs runs this many transmitter/receiver pairs at once (NPtcp's
	// protocol); 0 or 1 is one pair.
	Pairs int
}

// Peer protocols.
const (
	PeerLvsperf = "lvsperf"
	PeerNPtcp   = "nptcp"
)

// UsesNP reports whether the run speaks NPtcp's protocol: --peer nptcp,
// -2 and --pairs do.
func (o RunOptions) UsesNP() bool {
	return o.Peer == PeerNPtcp || o.Bidir || o.Pairs > 1
}

// NPOptions are the NPtcp-protocol options of o, for either end.
func (o RunOptions) NPOptions() (NPOptions, error) {
	switch o.Peer {
	case "", PeerLvsperf, PeerNPtcp:
	default:
		return NPOptions{}, fmt.Errorf("--peer %q: want lvsperf or nptcp", o.Peer)
	}
	start, end, pert := o.Start, o.End, o.Perturbation
	if start == 0 {
		start = 1
	}
	if end == 0 {
		end = timing.NetPIPEDefaultEnd
	}
	if pert == 0 {
		pert = timing.NetPIPEDefaultPerturbation
	}
	if o.NoPerturbation {
		pert = 0
	}
	if o.Buffer < 0 || o.Buffer > 1<<30 {
		return NPOptions{}, fmt.Errorf("buffer size %d: want 0 (kernel default) to 1 GiB", o.Buffer)
	}
	if end > 1<<30 {
		return NPOptions{}, fmt.Errorf("end size %d: NPtcp's protocol here takes messages up to 1 GiB", end)
	}
	return NPOptions{Start: start, End: end, Perturbation: pert, Bidir: o.Bidir, Sock: o.sock()}, nil
}

// NPConfig turns the options into an NPtcp-protocol run. Without Host it
// starts an in-process NPtcp-protocol receiver on loopback and returns its
// Close; with Host, pair i goes to port+i (one NPtcp process per pair).
func (o RunOptions) NPConfig(ctx context.Context) (NPRunConfig, func() error, error) {
	np, err := o.NPOptions()
	if err != nil {
		return NPRunConfig{}, nil, err
	}
	if o.Reconnect || o.Verify || o.Delay || o.IdlePoll || o.Budget > 0 || (o.Trials != 0 && o.Trials != npTrials) {
		return NPRunConfig{}, nil, errors.New("--peer nptcp, -2 and --pairs speak NPtcp's protocol, which has no -r, -i, --nodelay=false, --idle-poll, --budget or --trials other than 3 here: drop them")
	}
	if len(o.Via) > 1 || (len(o.Via) == 1 && o.Via[0] != string(paths.Direct)) {
		return NPRunConfig{}, nil, errors.New("--peer nptcp, -2 and --pairs run direct only: drop --via")
	}
	if o.Reps < 0 || o.Reps > 1_000_000 {
		return NPRunConfig{}, nil, fmt.Errorf("repetitions %d: want 1 to 1000000", o.Reps)
	}
	pairs := max(o.Pairs, 1)
	if pairs > 64 {
		return NPRunConfig{}, nil, fmt.Errorf("--pairs %d: want 1 to 64", pairs)
	}
	pert := np.Perturbation
	cfg := NPRunConfig{
		NP: np, TrialTime: o.TrialTime, Reps: o.Reps, OutDir: o.OutDir, Name: o.Name, Pin: o.Pin, CPU: o.CPU,
		Options: map[string]string{
			"start": strconv.FormatInt(int64(np.Start), 10), "end": strconv.FormatInt(int64(np.End), 10),
			"perturbation": strconv.FormatInt(int64(pert), 10), "buffer": strconv.FormatInt(int64(o.Buffer), 10),
			"peer": orDefault(o.Peer, PeerLvsperf), "bidir": strconv.FormatBool(o.Bidir), "pairs": strconv.Itoa(pairs),
			"host": o.Host, "protocol": "nptcp-3.7",
		},
	}
	if o.Host != "" {
		if o.Peer != PeerNPtcp {
			return NPRunConfig{}, nil, errors.New("-2 and --pairs speak NPtcp's protocol: give --peer nptcp, with NPtcp or `lvsperf netpipe --serve --peer nptcp` at -h")
		}
		cfg.Addrs, err = PairAddrs(o.Host, pairs)
		cfg.Remote = true
		return cfg, func() error { return nil }, err
	}
	s, err := NewNPServer(ctx, "127.0.0.1:0", np)
	if err != nil {
		return NPRunConfig{}, nil, err
	}
	for range pairs {
		cfg.Addrs = append(cfg.Addrs, s.Addr())
	}
	return cfg, s.Close, nil
}

func (o RunOptions) sock() wire.SockOptions {
	return wire.SockOptions{Buffer: int(o.Buffer), Delay: o.Delay, IOTimeout: o.IOTimeout}
}

// Config turns the options into a runner configuration for probe (netpipe
// or stream) using dial to connect, or explains what is wrong with them.
func (o RunOptions) Config(probe string, dial func(ctx context.Context, opts Options) (runner.Probe, error)) (runner.Config, error) {
	var cfg runner.Config
	if o.Start == 0 {
		o.Start = 1
	}
	if o.End == 0 {
		o.End = timing.NetPIPEDefaultEnd
	}
	pert := o.Perturbation
	if pert == 0 {
		pert = timing.NetPIPEDefaultPerturbation
	}
	if o.NoPerturbation {
		pert = 0
	}
	if o.Buffer < 0 || o.Buffer > 1<<30 {
		return cfg, fmt.Errorf("buffer size %d: want 0 (kernel default) to 1 GiB", o.Buffer)
	}
	if o.End > wire.MaxSize-pert {
		return cfg, fmt.Errorf("end size %d: the receiver takes messages up to %d bytes", o.End, wire.MaxSize)
	}
	sizes, err := timing.NetPIPESizes(o.Start, o.End, pert)
	if err != nil {
		return cfg, err
	}
	if o.Reps < 0 || o.Reps > wire.MaxReps {
		return cfg, fmt.Errorf("repetitions %d: want 1 to %d", o.Reps, wire.MaxReps)
	}
	if o.TrialTime == 0 {
		o.TrialTime = DefaultTrialTime
	}
	topts := timing.Options{Sizes: sizes, Reps: o.Reps, Trials: o.Trials, TrialTime: o.TrialTime, Warmup: o.Warmup, Budget: o.Budget}
	if _, err := topts.Normalize(); err != nil {
		return cfg, err
	}
	sock := o.sock()
	cfg = runner.Config{
		Pin:      o.Pin,
		CPU:      o.CPU,
		IdlePoll: o.IdlePoll,
		Probe:    probe,
		Timing:   topts,
		OutDir:   o.OutDir,
		Name:     o.Name,
		Options: map[string]string{
			"start": strconv.FormatInt(int64(o.Start), 10), "end": strconv.FormatInt(int64(o.End), 10),
			"perturbation": strconv.FormatInt(int64(pert), 10), "buffer": strconv.FormatInt(int64(o.Buffer), 10),
			"nodelay": strconv.FormatBool(!o.Delay), "reconnect": strconv.FormatBool(o.Reconnect),
			"verify": strconv.FormatBool(o.Verify), "host": o.Host,
		},
		Dial: func(ctx context.Context, target string) (runner.Probe, error) {
			return dial(ctx, Options{Addr: target, Sock: sock, Reconnect: o.Reconnect, Verify: o.Verify})
		},
	}
	if o.Host != "" {
		if len(o.Via) > 1 || (len(o.Via) == 1 && o.Via[0] != string(paths.Direct)) {
			return cfg, errors.New("--via needs the in-process receivers: drop -h/--host, or point -h at a director you run yourself")
		}
		host := o.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, strconv.Itoa(DefaultPort))
		}
		cfg.Legs = []runner.Leg{{Target: host, Label: probe + " " + host}}
		return cfg, nil
	}
	if len(o.Via) == 0 {
		o.Via = []string{string(paths.Direct)}
	}
	start := func(ctx context.Context) (string, func() error, error) {
		s, err := NewServer(ctx, ServerOptions{Listen: "127.0.0.1:0", Sock: sock})
		if err != nil {
			return "", nil, err
		}
		return s.Addr(), s.Close, nil
	}
	for _, v := range o.Via {
		spec := paths.Spec{Via: paths.Via(v), Scheduler: o.Scheduler, Realservers: o.Realservers}
		if spec.Via == paths.Direct {
			spec.Realservers = 0
		}
		label := probe + " " + v
		if spec.Via == paths.Director {
			label = fmt.Sprintf("%s director(%s)", probe, orDefault(o.Scheduler, "rr"))
		}
		cfg.Legs = append(cfg.Legs, runner.Leg{Spec: spec, Start: start, Label: label})
	}
	cfg.Options["via"] = fmt.Sprint(o.Via)
	return cfg, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// DialProbe connects a ping-pong transmitter; it is the netpipe dialer for Config.
func DialProbe(ctx context.Context, opts Options) (runner.Probe, error) {
	return Dial(ctx, opts)
}
