package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/streamer"
	"github.com/lvsperf/lvsperf/timing"
)

// timedFlags binds the time-bounded stream's flags (iperf3's names).
type timedFlags struct {
	opts                         streamer.TimedOptions
	client                       string
	port                         int
	dur, interval                string
	rate, length, window         string
	json, quiet                  bool
	out, name                    string
	set                          *pflag.FlagSet
	flagsGiven                   map[string]string
	stdout, stderr               io.Writer
	stderrIsTerminal             bool
	handshake                    time.Duration
	udp, reverse, nodelay, noOut bool
}

func (f *timedFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.client, "client", "c", "", "server host or host:port (iperf3 -c); without it an lvsperf server runs in-process on loopback")
	fs.IntVarP(&f.port, "port", "p", streamer.DefaultPort, "server port")
	fs.StringVar(&f.opts.Peer, "peer", streamer.PeerLvsperf, "the server: lvsperf (lvsperf serve stream) or iperf3 (iperf3 -s); both speak iperf3's control protocol, lvsperf also reports UDP reordering")
	fs.StringVarP(&f.dur, "time", "t", "10", "duration, seconds or a Go duration (10, 0.5, 1m); the server is told it in whole seconds, rounded up")
	fs.IntVarP(&f.opts.Streams, "parallel", "P", 1, "parallel streams (1 to 128)")
	fs.BoolVarP(&f.reverse, "reverse", "R", false, "reverse: the server sends, the client receives")
	fs.BoolVarP(&f.udp, "udp", "u", false, "UDP at the target rate (-b): sequence-numbered, timestamped datagrams; the receiver counts loss, reordering and RFC 3550 jitter")
	fs.StringVarP(&f.rate, "bitrate", "b", "0", "target rate per stream, e.g. 1G, 500M (powers of 1000); 0: 1M for UDP, unlimited for TCP (iperf3's defaults)")
	fs.StringVarP(&f.length, "length", "l", "0", "block size (TCP, default 128K) or datagram size (UDP, default 1460)")
	fs.StringVarP(&f.window, "window", "w", "0", "SO_SNDBUF and SO_RCVBUF of the data sockets at both ends; 0 keeps autotuning")
	fs.BoolVarP(&f.nodelay, "no-delay", "N", false, "set TCP_NODELAY on the data sockets")
	fs.StringVarP(&f.interval, "interval", "i", "1", "seconds between interval rows (0: none); a live line goes to stderr when it is a terminal")
	fs.DurationVar(&f.handshake, "connect-timeout", streamer.DefaultHandshakeTimeout, "bound on each control step: a server that does not speak iperf3's protocol is given up on after it")
	fs.BoolVar(&f.json, "json", false, "print the run (one series per stream, intervals as points) as JSON on stdout, the shape of every probe's --json")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, quietHelp)
	fs.StringVar(&f.out, "out", "out", "directory for the result file")
	fs.StringVar(&f.name, "name", "", "base name of the result file (default stream-<time>)")
	fs.BoolVar(&f.noOut, "no-save", false, "do not write a result file")
	f.set = fs
}

// parseSeconds reads iperf3's seconds (10, 0.5) or a Go duration (1m).
func parseSeconds(flag, s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 {
			return 0, fmt.Errorf("%s %q: want ≥ 0", flag, s)
		}
		return time.Duration(v * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want seconds (10, 0.5) or a duration (1m30s)", flag, s)
	}
	return d, nil
}

func (f *timedFlags) parse() error {
	var err error
	o := &f.opts
	if o.Duration, err = parseSeconds("--time", f.dur); err != nil {
		return err
	}
	if o.Duration == 0 {
		return fmt.Errorf("--time 0: want a duration above 0 (iperf3's -n byte counts are not implemented)")
	}
	if o.Interval, err = parseSeconds("--interval", f.interval); err != nil {
		return err
	}
	if o.Rate, err = streamer.ParseRate(f.rate); err != nil {
		return fmt.Errorf("--bitrate: %w", err)
	}
	for _, b := range []struct {
		name, in string
		out      *timing.Bytes
	}{{"--length", f.length, &o.Length}, {"--window", f.window, &o.Window}} {
		if *b.out, err = timing.ParseBytes(b.in); err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
	}
	o.UDP, o.Reverse, o.NoDelay, o.HandshakeTimeout = f.udp, f.reverse, f.nodelay, f.handshake
	if f.client != "" {
		host, port := f.client, strconv.Itoa(f.port)
		if h, p, err := net.SplitHostPort(f.client); err == nil {
			host, port = h, p
		}
		o.Addr = net.JoinHostPort(host, port)
	} else if o.Peer == streamer.PeerIperf3 {
		return fmt.Errorf("--peer iperf3 needs -c HOST (start iperf3 -s there)")
	}
	f.flagsGiven = map[string]string{}
	f.set.Visit(func(fl *pflag.Flag) { f.flagsGiven[fl.Name] = fl.Value.String() })
	return nil
}

// isTimedFlag says whether name (-x or --xyz) is a flag of the timed mode
// only; none of them is a flag of NetPIPE's stream mode.
func isTimedFlag(name string) bool {
	switch name {
	case "-t", "--time", "-c", "--client", "-P", "--parallel", "-R", "--reverse", "--udp", "--peer",
		"--bitrate", "--port", "--interval", "--window", "--length", "--no-delay", "--connect-timeout", "--no-save":
		return true
	}
	return false
}

// isTimed says whether args ask for the timed mode: any of its own flags,
// or -u without a size after it (NetPIPE's -u takes the largest size).
func isTimed(args []string) bool {
	for i, a := range args {
		if a == "--" {
			break
		}
		name := a
		switch {
		case strings.HasPrefix(a, "--"):
			name, _, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-") && len(a) >= 2:
			name = a[:2]
		default:
			continue
		}
		if isTimedFlag(name) {
			return true
		}
		if a == "-u" && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			return true
		}
	}
	return false
}

// withTimedMode gives `lvsperf stream` its second, iperf3-like mode: a
// test of a fixed duration with parallel, reverse and UDP streams, against
// lvsperf's own server or iperf3's. NetPIPE's stream mode (a size schedule)
// stays the default; the two share the command because users reach for
// "stream" in both senses, and their flags conflict (-u, -b, -p, -i), so
// the arguments are parsed by whichever mode they ask for.
func withTimedMode(c *cobra.Command) *cobra.Command {
	sweep := c.RunE
	tf := &timedFlags{}
	fs := pflag.NewFlagSet("stream", pflag.ContinueOnError)
	tf.bind(fs)
	c.DisableFlagParsing = true
	c.Args = cobra.ArbitraryArgs
	c.Short = "One-way streams: NetPIPE's size schedule, or iperf3-like timed tests (-t, -P, -R, -u -b) against lvsperf or iperf3"
	c.Example += "\n  lvsperf stream -t 10 -P 4 -R                          # timed: 4 streams, server sends, in-process server\n" +
		"  lvsperf stream -c host -u -b 1G -t 5                   # UDP at 1 Gbit/s to lvsperf serve stream on host\n" +
		"  lvsperf stream --peer iperf3 -c 127.0.0.1 -p 5201 -t 5 # against iperf3 -s"
	c.RunE = func(cmd *cobra.Command, args []string) error {
		for _, a := range args {
			if a == "--help" {
				if err := cmd.Help(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\nTimed mode (iperf3's model and control protocol), chosen by any of -t, -c, -P, -R, --udp, --peer:\n%s", fs.FlagUsages())
				return nil
			}
		}
		if isTimed(args) {
			if err := fs.Parse(args); err != nil {
				return usageError(fmt.Errorf("timed stream: %w", err))
			}
			if fs.NArg() > 0 {
				return usageError(fmt.Errorf("timed stream: unexpected arguments %q", fs.Args()))
			}
			if err := tf.parse(); err != nil {
				return usageError(err)
			}
			tf.stdout, tf.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			f, ok := tf.stderr.(*os.File)
			tf.stderrIsTerminal = ok && isTerminal(f)
			return runTimed(cmd.Context(), tf)
		}
		if err := cmd.Flags().Parse(args); err != nil {
			return usageError(err)
		}
		if cmd.Flags().NArg() > 0 {
			return usageError(fmt.Errorf("unexpected arguments %q", cmd.Flags().Args()))
		}
		return sweep(cmd, cmd.Flags().Args())
	}
	return c
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runTimed(ctx context.Context, f *timedFlags) error {
	o := f.opts
	rows := !f.json && !f.quiet
	live := f.stderrIsTerminal && !f.quiet
	headerDone := false
	o.OnInterval = func(iv streamer.Interval) {
		if live {
			fmt.Fprint(f.stderr, "\r\033[K")
		}
		if rows {
			if !headerDone {
				fmt.Fprintln(f.stdout, streamer.IntervalHeader(o.UDP))
				headerDone = true
			}
			fmt.Fprintln(f.stdout, streamer.FormatInterval(iv, o.UDP))
		}
		if live && (iv.Stream == 0 || o.Streams == 1) {
			fmt.Fprintf(f.stderr, "%6.1fs of %.1fs  %s", iv.End.Seconds(), o.Duration.Seconds(), iv.Rate())
		}
	}
	rep, err := streamer.RunTimed(ctx, o)
	if live {
		fmt.Fprint(f.stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	run := rep.Run(f.flagsGiven)
	file := ""
	if !f.noOut {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		name := f.name
		if name == "" {
			name = "stream-" + rep.Started.Format("20060102-150405")
		}
		file = filepath.Join(f.out, name+results.Extension)
		if err := results.Save(file, run); err != nil {
			return fmt.Errorf("save run: %w", err)
		}
	}
	head := streamer.Headline(rep)
	if f.json {
		return results.EncodeJSONHeadline(f.stdout, run, head)
	}
	if !f.quiet {
		if err := streamer.WriteSummary(f.stdout, rep); err != nil {
			return err
		}
		if file != "" {
			fmt.Fprintf(f.stdout, "results: %s\n", file)
		}
	}
	return writeHeadline(f.stdout, head, !f.quiet)
}

// newServeStreamCmd is the server of timed streams, for lvsperf stream -c
// and for iperf3 -c alike.
func newServeStreamCmd() *cobra.Command {
	var (
		o       streamer.ServerOptions
		peer    string
		oneOff  bool
		verbose bool
	)
	c := &cobra.Command{
		Use:   "stream",
		Short: "Answer timed stream tests (lvsperf stream -c, iperf3 -c: TCP, UDP, -P, -R) with iperf3's control protocol until interrupted",
		Example: "  lvsperf serve stream --listen 0.0.0.0:5201    # then: lvsperf stream -c host -t 10, or iperf3 -c host\n" +
			"  lvsperf serve stream -1                        # one test, then exit (iperf3 -s -1)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if peer != streamer.PeerLvsperf && peer != streamer.PeerIperf3 {
				return usageError(fmt.Errorf("--peer %q: want lvsperf or iperf3", peer))
			}
			stderr := cmd.ErrOrStderr()
			if verbose {
				o.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			s, err := streamer.NewServer(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "stream server (iperf3's protocol) on %s; Ctrl-C stops it\n", s.Addr())
			if oneOff {
				for s.Tests()+s.Errors() == 0 && ctx.Err() == nil {
					time.Sleep(20 * time.Millisecond)
				}
				cerr := s.Close()
				if err := s.LastError(); err != nil {
					return err
				}
				return cerr
			}
			<-ctx.Done()
			return s.Close()
		},
	}
	fl := c.Flags()
	listenFlag(fl, &o.Listen, fmt.Sprintf("127.0.0.1:%d", streamer.DefaultPort), "address to listen on, TCP and UDP (0.0.0.0:5201 for other hosts)", "addr")
	fl.DurationVar(&o.Timeout, "timeout", streamer.DefaultHandshakeTimeout, "bound on each control step and on a client silent past its test's end")
	fl.StringVar(&peer, "peer", streamer.PeerLvsperf, "clients to expect: lvsperf or iperf3; both are answered alike (one protocol, iperf3's), the flag is for symmetry with the client")
	fl.BoolVarP(&oneOff, "one-off", "1", false, "serve one test (or one refused peer), then exit (iperf3 -s -1)")
	fl.BoolVarP(&verbose, "verbose", "V", false, "log each test and each refused peer on stderr")
	return c
}
