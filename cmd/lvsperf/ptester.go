package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/headline"
	"github.com/lvsperf/lvsperf/internal/cpuidle"
	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
)

// ptesterFlags are the command's flags before they become options.
type ptesterFlags struct {
	o           ptester.Options
	seconds     string
	jsonOut     bool
	quiet       bool
	sweep       bool
	from, to    int
	trials      int
	out         string
	dir         string
	via         string
	scheduler   string
	realservers int
	engine      string
	idlePoll    bool
	wide        bool
}

// newPtesterCmd is the HTTP hammer: ptester's options, plus concurrency, an
// open loop and a size sweep.
func newPtesterCmd() *cobra.Command {
	var f ptesterFlags
	c := &cobra.Command{
		Use:   "ptester [-h host[:port]] [-t seconds] [-k K] [-c clients] [PATH]",
		Short: "HTTP hammer: GET one path for -t seconds, -k GETs per connection, -c synchronised clients",
		Long: `ptester fetches PATH again and again for -t seconds from -c clients released
together, opening a new TCP connection for every GET (-k 1, non-persistent) or
keeping K GETs on one connection (-k K, persistent). It prints hits/sec,
throughput, connect and transfer times (min, mean, HDR percentiles, max) and
errors by kind (refused, ports, reset, timeout, bad_status, short_body).

With --rate R it runs an open loop at R requests/s in total and measures each
request from its intended send time, so a stalled server shows in the high
percentiles (coordinated omission); the uncorrected figures are printed too.

Without -h it starts its own file server(s) on 127.0.0.1 (lvsperf serve http,
PATH defaulting to /file/file.0), reached --via direct or --via director
(--scheduler, --realservers), and stops them after.

Sweep mode (--sweep): runs /file/file.FROM … /file/file.TO (default 0 … 20,
i.e. 1 B … 1 MiB; --to 26 for the seed's full 64 MiB) persistent (-k K,
default 100) and non-persistent (-k 1), -t per size (default 0.5 s, split in
--trials runs), and writes a results run (ptester-<via>.msgpack) and plots
(throughput, hits/sec, min and max transfer time vs size, both modes on one
figure, with the latency/max_rate fit) into --out.

Examples:
  lvsperf serve http --listen 127.0.0.1:8080 &
  lvsperf ptester -h 127.0.0.1:8080 -t 10 -k 1 -c 32 /file/file.0
  lvsperf ptester -h 127.0.0.1:8080 -t 5 -k 100 -c 4 --rate 2000 /file/file.10
  lvsperf ptester --sweep --via director --realservers 2 -c 4 --out results/`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.o.Path = args[0]
			}
			f.o.Engine = ptester.Engine(f.engine)
			if f.idlePoll {
				req, err := cpuidle.Hold()
				if err != nil {
					return fmt.Errorf("--idle-poll: %w", err)
				}
				defer req.Close()
			}
			flags := cmd.Flags()
			if flags.Changed("time") {
				d, err := ptester.ParseSeconds(f.seconds)
				if err != nil {
					return usageError(err)
				}
				f.o.Duration = d
			}
			spec := paths.Spec{Via: paths.Via(f.via), Scheduler: f.scheduler, Realservers: f.realservers}
			if err := checkVia(f.via); err != nil {
				return err
			}
			if f.sweep {
				return runPtesterSweep(cmd, f, spec)
			}
			chk := f.o
			if chk.Target == "" {
				chk.Target = "127.0.0.1:80" // servers are started below
			}
			if err := chk.Check(); err != nil {
				return usageError(err)
			}
			if f.o.Target != "" && spec.Via == paths.Director {
				return usageError(fmt.Errorf("--via director starts file servers behind the director: omit -h, or point -h at a running director"))
			}
			ctx := cmd.Context() // cancelled on SIGINT/SIGTERM by main
			var rep *ptester.Report
			var err error
			if f.o.Target == "" {
				if f.o.Path == "" {
					f.o.Path = ptester.FilePath(0)
				}
				rep, err = ptester.RunPath(ctx, f.o, spec, ptester.ServerOptions{Dir: f.dir, MaxKeepAliveRequests: -1})
			} else {
				rep, err = ptester.Run(ctx, f.o)
			}
			if rep != nil {
				where := f.o.Target
				if where == "" {
					where = f.via
				}
				if werr := showHammer(cmd.OutOrStdout(), rep, where, f.jsonOut, f.quiet); werr != nil {
					return werr
				}
				if err == nil && rep.Requests == 0 {
					err = fmt.Errorf("no GET succeeded in %v (%d errors, e.g. %s)", rep.Elapsed.Round(time.Millisecond), rep.Errs(), rep.LastError)
				}
			}
			return err
		},
	}
	// -h is ptester's host; help stays reachable as --help.
	c.Flags().Bool("help", false, "help for ptester")
	fl := c.Flags()
	fl.StringVarP(&f.o.Target, "host", "h", "", "server as host[:port] (port 80 when absent) or http://host:port/path")
	fl.StringVarP(&f.seconds, "time", "t", "10", "seconds to run (or a duration such as 500ms); per size with --sweep (default there 0.5)")
	fl.IntVarP(&f.o.KeepAlive, "keepalive", "k", 1, "GETs per TCP connection: 1 = new connection per GET (non-persistent); with --sweep, the persistent mode's K (default 100)")
	fl.IntVarP(&f.o.Clients, "clients", "c", 1, "concurrent clients, started together")
	fl.Float64Var(&f.o.Rate, "rate", 0, "open loop: total requests per second (0 = closed loop, as fast as possible)")
	fl.DurationVar(&f.o.Timeout, "timeout", ptester.DefaultTimeout, "time allowed for one request (connect + response)")
	fl.BoolVar(&f.o.NoPrefetch, "no-prefetch", false, "skip the untimed GET before the run")
	fl.IntVar(&f.o.Sources, "sources", 0, "spread connections over this many source addresses 127.0.0.2… (loopback targets; more ephemeral ports)")
	fl.BoolVar(&f.o.Linger0, "linger0", false, "close with SO_LINGER 0 (RST): no TIME_WAIT on the client")
	fl.BoolVar(&f.o.Verify, "verify", false, "check that every body byte is '0' (implies --no-splice)")
	fl.BoolVar(&f.o.NoSplice, "no-splice", false, "copy every body into user space as wrk and hey do (default: bodies ≥ 64 KiB are spliced to /dev/null, counted but not copied)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON (with its headline; a sweep as its run, the shape of lvsperf export --format json)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, quietHelp)
	fl.BoolVar(&f.wide, "wide", false, wideHelp)
	fl.BoolVar(&f.sweep, "sweep", false, "sweep file.FROM…file.TO persistent and non-persistent; write a run and plots")
	fl.IntVar(&f.from, "from", 0, "sweep: first file exponent (file.N = 2^N bytes)")
	fl.IntVar(&f.to, "to", ptester.DefaultSweepTo, "sweep: last file exponent (at most 26 = 64 MiB)")
	fl.IntVar(&f.trials, "trials", ptester.DefaultSweepTrials, "sweep: runs per size (their mean times are the point's trials)")
	fl.StringVar(&f.out, "out", ".", "sweep: directory for the run file and plots")
	fl.StringVar(&f.dir, "dir", "", "without -h: the started servers serve /file/NAME from this directory instead of memory")
	fl.StringVar(&f.via, "via", "direct", "path: direct or director")
	fl.StringVar(&f.scheduler, "scheduler", "rr", "director scheduler (with --via director)")
	fl.IntVar(&f.realservers, "realservers", 1, "file servers behind the director (with --via director)")
	fl.StringVar(&f.engine, "engine", string(ptester.EngineAuto), "client engine: loop (one event loop per core over raw sockets, as wrk), goroutines (a goroutine per client; has the open loop) or auto (loop for closed-loop runs against an IPv4 address)")
	fl.IntVar(&f.o.Loops, "loops", 0, "event loops with --engine loop (default: one per core, at most -c)")
	fl.BoolVar(&f.idlePoll, "idle-poll", false, "keep idle CPUs polling for the run (PM QoS cpu_dma_latency 0; root): on VMs whose idle vCPUs halt, every hop otherwise pays a wake-up")
	return c
}

func runPtesterSweep(cmd *cobra.Command, f ptesterFlags, spec paths.Spec) error {
	flags := cmd.Flags()
	o := f.o
	if !flags.Changed("time") {
		o.Duration = ptester.DefaultPerSize
	}
	if !flags.Changed("keepalive") {
		o.KeepAlive = ptester.DefaultSweepKeepAlive
	}
	chk := o
	if chk.Target == "" {
		chk.Target = "127.0.0.1:80" // the sweep starts its own servers
	}
	if err := chk.Check(); err != nil {
		return usageError(err)
	}
	ctx := cmd.Context() // cancelled on SIGINT/SIGTERM by main
	// Each size is printed once, in the table on stdout. A terminal's
	// stderr shows a status line while the sweep runs; elsewhere one line
	// says what runs and for how long.
	var progress func(ptester.SweepProgress)
	status := newStatusLine(cmd.ErrOrStderr())
	if !f.quiet {
		if status != nil {
			progress = func(p ptester.SweepProgress) { status.show(p.Status()) }
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "ptester sweep: file.%d … file.%d, -k %d and -k 1, %v per size and mode (about %v)\n",
				f.from, f.to, o.KeepAlive, o.Duration, 2*time.Duration(f.to-f.from+1)*o.Duration)
		}
	}
	run, err := ptester.Sweep(ctx, ptester.SweepOptions{
		Hammer: o, From: f.from, To: f.to, Trials: f.trials, Path: spec, Dir: f.dir,
	}, progress)
	status.clear()
	if run == nil {
		return err
	}
	if merr := os.MkdirAll(f.out, 0o755); merr != nil {
		return fmt.Errorf("--out: %w", merr)
	}
	base := filepath.Join(f.out, "ptester-"+sanitize(run.Path))
	if serr := results.Save(base+results.Extension, run); serr != nil {
		return fmt.Errorf("save run: %w (sweep error: %v)", serr, err)
	}
	files, perr := ptester.WritePlots(f.out, "ptester-"+sanitize(run.Path), run)
	out := cmd.OutOrStdout()
	if f.jsonOut {
		if jerr := results.EncodeJSONHeadline(out, run, headline.Runs(run)); jerr != nil {
			return jerr
		}
	} else if !f.quiet {
		if werr := ptester.WriteSweepText(out, run, f.wide); werr != nil {
			return werr
		}
		fmt.Fprintf(out, "run saved to %s%s\n", base, results.Extension)
		if len(files) > 0 {
			fmt.Fprintf(out, "plots: %d files in %s (%s-*)\n", len(files), f.out, filepath.Base(base))
		}
	}
	if !f.jsonOut {
		if herr := writeHeadline(out, headline.Runs(run), !f.quiet); herr != nil {
			return herr
		}
	}
	if perr != nil {
		return fmt.Errorf("plots: %w", perr)
	}
	return err
}

// sanitize turns a path name such as "director/proxy/rr" into a file name part.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' || c == ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}

// statusLine is a line on a terminal that each update overwrites.
type statusLine struct {
	w     io.Writer
	shown bool
}

// newStatusLine returns a status line on w, or nil when w is not a
// terminal (a file or a pipe would keep every update).
func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &statusLine{w: w}
}

// show replaces the line with s, cut to fit 100 columns.
func (l *statusLine) show(s string) {
	if r := []rune(s); len(r) > 99 {
		s = string(r[:99])
	}
	fmt.Fprint(l.w, "\r\x1b[K"+s)
	l.shown = true
}

// clear removes the line; a nil line does nothing.
func (l *statusLine) clear() {
	if l != nil && l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.shown = false
	}
}
