package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsperf/lvsperf/internal/wire"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/streamer"
	"github.com/lvsperf/lvsperf/timing"
)

// netpipeFlags binds the flags netpipe and stream share.
type netpipeFlags struct {
	opts                  netpipe.RunOptions
	start, end, pert, buf string
	serve, loopback, json bool
	listen                string
	quiet, noPlots, wide  bool
	nodelay               bool
	cpu                   int
}

// bindNP binds the flags only netpipe has: NPtcp's protocol, -2, pairs.
func (f *netpipeFlags) bindNP(fs *pflag.FlagSet) {
	fs.StringVar(&f.opts.Peer, "peer", netpipe.PeerLvsperf, "the other end's protocol: lvsperf, or nptcp (NetPIPE 3.7's NPtcp; give both ends the same -l, -u, -p, -2)")
	fs.BoolVarP(&f.opts.Bidir, "bidir", "2", false, "bidirectional, NetPIPE's -2: both ends send at once; bytes and rate count both directions; sizes capped at SO_SNDBUF+SO_RCVBUF (NPtcp's protocol)")
	fs.IntVar(&f.opts.Pairs, "pairs", 1, "transmitter/receiver pairs at once, in lock-step per size: an aggregate row and one per pair; pair i goes to port+i (one NPtcp per port) (NPtcp's protocol)")
}

func (f *netpipeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.opts.Host, "host", "h", "", "receiver host[:port] (default port 5002); without it a receiver runs in-process on loopback")
	fs.BoolVar(&f.loopback, "loopback", false, "run the receiver in-process on loopback (the default when no --host is given)")
	fs.StringVarP(&f.start, "start", "l", "1", "smallest message size (NetPIPE -l)")
	fs.StringVarP(&f.end, "end", "u", "10000000", "largest base message size, e.g. 8M (NetPIPE -u; the +p point may pass it)")
	fs.StringVarP(&f.pert, "perturbation", "p", "3", "perturbation in bytes: each size c is also run as c-p and c+p; 0 turns it off (NetPIPE -p)")
	fs.StringVarP(&f.buf, "buffer", "b", "0", "SO_SNDBUF and SO_RCVBUF on both ends, e.g. 256k; 0 keeps the kernel's autotuning (NetPIPE -b)")
	fs.BoolVar(&f.nodelay, "nodelay", true, "set TCP_NODELAY (NetPIPE always does)")
	fs.BoolVarP(&f.opts.Reconnect, "reconnect", "r", false, "open a new connection for every size")
	fs.BoolVarP(&f.opts.Verify, "integrity", "i", false, "check every byte of every message at both ends")
	fs.IntVarP(&f.opts.Reps, "reps", "n", 0, "fixed repetitions per trial instead of calibrating (NetPIPE -n)")
	fs.IntVar(&f.opts.Trials, "trials", 0, "trials per size (default 3); the best is reported, as NetPIPE does")
	fs.DurationVar(&f.opts.TrialTime, "trial-time", 0, "target time of one trial (default 100ms)")
	fs.DurationVar(&f.opts.Warmup, "warmup", 0, "warm-up before the first size (default 50ms)")
	fs.DurationVar(&f.opts.Budget, "budget", 0, "scale trials to fit the whole sweep in this wall time, e.g. 30s")
	fs.DurationVar(&f.opts.IOTimeout, "io-timeout", 0, "how long to wait for a silent peer (default 30s)")
	fs.StringSliceVar(&f.opts.Via, "via", nil, "paths to measure, one series each: direct, director (e.g. --via direct,director)")
	fs.StringVar(&f.opts.Scheduler, "scheduler", "rr", "director scheduler with --via director")
	fs.IntVar(&f.opts.Realservers, "realservers", 1, "in-process realservers behind the director with --via director")
	fs.StringVar(&f.opts.OutDir, "out", "out", "directory for the result file and plots")
	fs.StringVar(&f.opts.Name, "name", "", "base name of the result files (default <probe>-<time>)")
	fs.BoolVar(&f.json, "json", false, "print the run (fits included) as JSON on stdout; the table goes to stderr")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, quietHelp)
	fs.BoolVar(&f.wide, "wide", false, wideHelp)
	fs.BoolVar(&f.noPlots, "no-plots", false, "do not draw plots")
	fs.IntVar(&f.cpu, "cpu", -1, "pin every thread to this CPU, like taskset -c on both ends (steadier small-message times on VMs); -1 leaves the scheduler alone; with --via director the in-process director shares that CPU, which costs it tens of µs per round trip")
	fs.BoolVar(&f.opts.IdlePoll, "idle-poll", false, "keep idle CPUs polling for the run (PM QoS cpu_dma_latency 0, as cyclictest does; root): on VMs whose idle vCPUs halt, every hop otherwise pays a wake-up of tens of µs; recorded in the result")
	fs.BoolVar(&f.serve, "serve", false, "run a receiver (for ping-pong and streams) until interrupted")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:5002", "address the receiver listens on with --serve (0.0.0.0:5002 for other hosts)")
	fs.Bool("help", false, "help for this command")
}

func (f *netpipeFlags) parse() error {
	var err error
	for _, s := range []struct {
		name string
		in   string
		out  *timing.Bytes
	}{{"--start", f.start, &f.opts.Start}, {"--end", f.end, &f.opts.End}, {"--perturbation", f.pert, &f.opts.Perturbation}, {"--buffer", f.buf, &f.opts.Buffer}} {
		if *s.out, err = timing.ParseBytes(s.in); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	f.opts.NoPerturbation = f.opts.Perturbation == 0
	f.opts.Pin, f.opts.CPU = f.cpu >= 0, f.cpu
	f.opts.Delay = !f.nodelay
	if p := f.opts.Peer; p != "" && p != netpipe.PeerLvsperf && p != netpipe.PeerNPtcp {
		return fmt.Errorf("--peer %q: want lvsperf or nptcp", p)
	}
	if f.loopback && f.opts.Host != "" {
		return fmt.Errorf("--loopback and --host exclude each other: drop one")
	}
	return nil
}

func newNetpipeCmd() *cobra.Command {
	return newPingStreamCmd("netpipe", "NetPIPE ping-pong: half the round trip of messages of doubling size", netpipe.DialProbe)
}

func newStreamCmd() *cobra.Command {
	return withTimedMode(newPingStreamCmd("stream", "NetPIPE stream mode: messages of doubling size one way, a small acknowledgement back", streamer.DialProbe))
}

func newPingStreamCmd(probe, short string, dial func(context.Context, netpipe.Options) (runner.Probe, error)) *cobra.Command {
	f := &netpipeFlags{}
	c := &cobra.Command{
		Use:   probe + " [flags]",
		Short: short,
		Example: "  lvsperf " + probe + "                                 # both ends in-process on loopback\n" +
			"  lvsperf " + probe + " -u 8M --via direct,director      # direct and through the embedded director, one plot\n" +
			"  lvsperf " + probe + " --serve --listen 0.0.0.0:5002    # receiver on the far host, then: lvsperf " + probe + " -h far-host",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.parse(); err != nil {
				return usageError(err)
			}
			if err := checkVia(f.opts.Via...); err != nil {
				return err
			}
			if f.opts.UsesNP() {
				if f.serve {
					return serveNPtcp(cmd.Context(), f)
				}
				return runNPtcp(cmd.Context(), f)
			}
			if f.serve {
				return serveNetpipe(cmd.Context(), f)
			}
			cfg, err := f.opts.Config(probe, dial)
			if err != nil {
				return usageError(err) // options out of range or inconsistent
			}
			return runAndReport(cmd.Context(), cfg, showOptions{json: f.json, tableWithJSON: true, noPlots: f.noPlots, quiet: f.quiet, wide: f.wide})
		},
	}
	f.bind(c.Flags())
	if probe == "netpipe" {
		f.bindNP(c.Flags())
		c.Example += "\n  lvsperf netpipe --peer nptcp -h host -u 8M          # against NPtcp (there: NPtcp -u 8388608)\n" +
			"  lvsperf netpipe -2 --pairs 4 -u 1M                # 4 bidirectional pairs in-process, aggregate and per pair"
	}
	return c
}

func serveNetpipe(ctx context.Context, f *netpipeFlags) error {
	s, err := netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: f.listen,
		Sock: wire.SockOptions{Buffer: int(f.opts.Buffer), Delay: f.opts.Delay, IOTimeout: f.opts.IOTimeout}})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "netpipe receiver on %s (ping-pong and stream); Ctrl-C stops it\n", s.Addr())
	<-ctx.Done()
	return s.Close()
}

// runAndReport runs cfg, prints the table (or JSON), and draws the plots.
func runAndReport(ctx context.Context, cfg runner.Config, o showOptions) error {
	if !o.quiet {
		cfg.Progress = os.Stderr
	}
	res, runErr := runner.Run(ctx, cfg)
	return showRun(res, runErr, o)
}

// showOptions say how showRun shows a run.
type showOptions struct {
	// json prints the run as JSON on stdout; the other lines go to stderr.
	json bool
	// tableWithJSON writes the table to stderr beside the JSON, as netpipe
	// and stream do; the bulk probes print JSON instead of tables.
	tableWithJSON bool
	// noPlots draws no plots.
	noPlots bool
	// quiet prints only the headline (JSON too with json).
	quiet bool
	// wide prints the table boxed with every cell on one line.
	wide bool
	// stdout and stderr default to os.Stdout and os.Stderr.
	stdout, stderr io.Writer
}

// showRun prints a run as a table (or JSON), says where it was saved,
// draws its plots beside it, and wraps runErr with where the sizes finished
// before it are kept.
func showRun(res runner.Result, runErr error, o showOptions) error {
	stdout, stderr := o.stdout, o.stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	if res.Run == nil || len(res.Run.Series) == 0 {
		return runErr
	}
	out := stdout
	if o.json {
		out = stderr
	}
	if o.quiet {
		out = io.Discard
	}
	if !o.json || o.tableWithJSON {
		if err := runner.WriteTable(out, res.Run, o.wide); err != nil {
			return err
		}
	}
	if res.File != "" {
		fmt.Fprintf(out, "results: %s\n", res.File)
		if !o.noPlots {
			base := filepath.Base(res.File[:len(res.File)-len(results.Extension)])
			files, err := drawPlots(filepath.Dir(res.File), base, []*results.Run{res.Run})
			if err != nil {
				fmt.Fprintf(stderr, "plots: %v\n", err)
			} else {
				fmt.Fprintf(out, "plots: %d files in %s (%s-*.png)\n", len(files), filepath.Dir(res.File), base)
			}
		}
	}
	if err := showHeadline(res.Run, o, stdout, stderr); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("%w (the sizes finished before it are kept in %s)", runErr, res.File)
	}
	return nil
}
