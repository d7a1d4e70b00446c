package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/internal/cpuacct"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/streamer"
	"github.com/lvsperf/lvsperf/timing"
)

// Options configure an experiment run. The zero value of each field means
// its default.
type Options struct {
	// OutDir receives results (<name>.msgpack), plots and the finding
	// (<name>.txt). Default "results/experiments".
	OutDir string
	// Budget bounds one experiment's measuring time (default 90s); `all`
	// splits its budget (default 8 minutes, so that the whole run with its
	// labs' set-up stays under 10) among the experiments it can run.
	Budget time.Duration
	// MaxSize is the largest netpipe message (default 1 MiB).
	MaxSize timing.Bytes
	// CPUBulk is what one transfer of the cpu experiment moves each way
	// (default 48 MiB: about half a second on the direct path here, fifty
	// of /proc/stat's 10 ms ticks).
	CPUBulk timing.Bytes
	// Progress receives one line per finished curve (default io.Discard).
	Progress io.Writer
	// Self is the lvsperf binary. Experiments run some of its commands as
	// processes inside a lab host, so that every socket they open stays in
	// that namespace: `lvsperf director` (the userspace proxy engine, for
	// the paths experiment's proxy curve) and `lvsperf ptester` (the http
	// experiment's clients). Empty leaves those out and says so.
	Self string
}

// Default budgets.
const (
	DefaultBudget    = 90 * time.Second
	DefaultAllBudget = 8 * time.Minute
	// minShare is the least measuring time an experiment of `all` gets
	// when earlier ones overran.
	minShare = 15 * time.Second
)

func (o Options) normalize() Options {
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "experiments")
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxSize == 0 {
		o.MaxSize = 1 << 20
	}
	if o.CPUBulk == 0 {
		o.CPUBulk = 48 << 20
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Report is what an experiment found.
type Report struct {
	Name string
	// Finding is the text written beside the seed's finding.
	Finding string
	// Files written (results, plots, finding).
	Files []string
	// Latency lists each curve's fitted latency, for the `all` table.
	Latency []LatencyRow
	// Verdicts compare the figures with the seed's findings, one per claim.
	Verdicts []Verdict
}

// LatencyRow is one curve's fitted latency and rate.
type LatencyRow struct {
	Experiment, Series string
	Latency            time.Duration
	MaxRate            timing.BitsPerSecond
	LatencyBytes       timing.Bytes
}

type experiment struct {
	name, about string
	run         func(ctx context.Context, o Options) (*Report, error)
	// notYet marks an experiment that only returns "not implemented yet".
	notYet bool
}

func registry() []experiment {
	return []experiment{
		{"paths", "netpipe direct / forward / NAT / DR / TUN (VXLAN: no ipip here) / martian (seed §2.1)", runPaths, false},
		{"cpu", "director CPU per byte and per packet: forward, NAT, DR, TUN (VXLAN), userspace proxy (seed §2.1)", runCPU, false},
		{"mtu", "netpipe at MTU 1500, 750, 400, 200, offloads off: the pole moves with the MTU (seed §1.4)", runMTU, false},
		{"nics", "one-NIC vs two-NIC director (seed §1.5.4)", runNICs, false},
		{"multi-netpipe", "two simultaneous netpipes from the director (seed §1.5.2-3)", runMultiNetpipe, false},
		{"tp", "transparent proxy on realserver, director, both (seed §3)", runTP, false},
		{"http", "persistent vs non-persistent HTTP, 1 vs 2 realservers, serial vs synchronised clients (seed §4)", runHTTP, false},
		{"stream", "netpipe streaming over the same paths (seed §5.1)", runStream, false},
		{"scale", "synchronised clients on 1, 2, 4 hosts × 1, 2, 4 rate-limited realservers, NAT and DR (seed §4.4)", runScale, false},
		{"rsh", "rsh copy through the lab, to /dev/null and to an fsync'd file on tmpfs and on disk (seed §5.2)", bulk{proto: "rsh", port: 514, probe: []string{"--no-stderr", "--max-exp", "20"},
			variants: []bulkVariant{
				{name: "disk tmpfs", port: 5141, spoolUnder: "/dev/shm", serve: []string{"--fsync"}, probe: []string{"--no-stderr", "--max-exp", "20", "--sink", "disk"}},
				{name: "disk real", port: 5142, spoolUnder: "/var/tmp", serve: []string{"--fsync"}, probe: []string{"--no-stderr", "--max-exp", "20", "--sink", "disk"}},
			},
			judge: judgeRsh,
			seed: "\"The throughput for small (<128k) files is set by a 1.1sec minimum transfer time [...] Throughput reaches 40Mbps for\n" +
				"copy to /dev/null on the realserver by forwarding and [...] by lvs.\" To disk (/usr): \"reaches 12Mbps\"."}.run, false},
		{"lpd", "lpd printing through the lab (seed §5.3)", bulk{proto: "lpd", port: 515, probe: []string{"--max-exp", "20"}, judge: judgeLpd,
			seed: "\"The throughput for small jobs is determined by the minimum time to setup and pulldown the connection, about 0.2sec.\""}.run, false},
		{"nfs", "NFS copy through the lab, read and write, rsize/wsize 1k and 16k (seed §6)", bulk{proto: "nfs", port: 2049, probe: []string{"--max-exp", "20", "--rwsizes", "1k,16k"}, judge: judgeNFS,
			seed: "NFS over UDP through VS-DR; \"no difference was seen in latency or throughput\" for rsize/wsize 1-16k (NFS here is TCP: go-nfs serves TCP only)."}.run, false},
	}
}

func notYet(name string) func(context.Context, Options) (*Report, error) {
	return func(context.Context, Options) (*Report, error) {
		return nil, fmt.Errorf("not implemented yet: experiment %q (the lab and nft engine it needs exist; its probe wiring does not); run paths or mtu", name)
	}
}

// Names lists the experiments with a one-line description each, "all" last.
func Names() [][2]string {
	var out [][2]string
	for _, e := range registry() {
		out = append(out, [2]string{e.name, e.about})
	}
	return append(out, [2]string{"all", "every experiment above within one budget, then the latency table"})
}

// Run runs the named experiment ("all" runs every implemented one).
func Run(ctx context.Context, name string, o Options) ([]*Report, error) {
	o = o.normalize()
	var exp *experiment
	for _, e := range registry() {
		if e.name == name {
			exp = &e
		}
	}
	if exp == nil && name != "all" {
		var names []string
		for _, n := range Names() {
			names = append(names, n[0])
		}
		return nil, fmt.Errorf("unknown experiment %q: want one of %s", name, strings.Join(names, ", "))
	}
	if exp != nil && exp.notYet {
		_, err := exp.run(ctx, o)
		return nil, err
	}
	if err := lab.CheckRoot(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if exp == nil {
		if o.Budget == DefaultBudget {
			o.Budget = DefaultAllBudget
		}
		return runAll(ctx, o)
	}
	r, err := exp.run(ctx, o)
	if err != nil {
		return nil, err
	}
	return []*Report{r}, nil
}

func runAll(ctx context.Context, o Options) ([]*Report, error) {
	var reps []*Report
	var skipped []string
	var failed []error
	var rows []Verdict
	exps := registry()
	n := 0
	for _, e := range exps {
		if !e.notYet {
			n++
		}
	}
	per := o.Budget / time.Duration(n)
	remaining := n
	start := time.Now()
	before, err := leftovers(ctx)
	if err != nil {
		return nil, err
	}
	for i, e := range exps {
		if e.notYet {
			skipped = append(skipped, e.name)
			continue
		}
		if ctx.Err() != nil {
			rows = append(rows, failedRow(e.name, ctx.Err()))
			continue
		}
		fmt.Fprintf(o.Progress, "[%d/%d, %v elapsed] ", i+1, len(exps), time.Since(start).Round(time.Second))
		// What earlier experiments left unused (or overran) is shared
		// among those still to run, so the whole run keeps to its budget
		// and no experiment's time is wasted.
		if left := o.Budget - time.Since(start); remaining > 0 {
			per = max(left/time.Duration(remaining), minShare)
		}
		remaining--
		eo := o
		eo.Budget = per
		fmt.Fprintf(o.Progress, "== experiment %s (budget %v)\n", e.name, per.Round(time.Second))
		r, err := e.run(ctx, eo)
		if err != nil {
			// One failed experiment (a sweep without a fit on a busy
			// machine) must not cost the others' results.
			failed = append(failed, fmt.Errorf("experiment %s: %w", e.name, err))
			fmt.Fprintf(o.Progress, "   failed: %v\n", err)
			rows = append(rows, failedRow(e.name, err))
			continue
		}
		reps = append(reps, r)
		if len(r.Verdicts) == 0 {
			rows = append(rows, Verdict{Experiment: e.name, Outcome: "no verdict", Ours: "(the experiment computed none)"})
		}
		rows = append(rows, r.Verdicts...)
	}
	var lat []LatencyRow
	for _, r := range reps {
		lat = append(lat, r.Latency...)
	}
	var lb strings.Builder
	fmt.Fprintf(&lb, "%-13s %-28s %12s %14s %12s\n", "experiment", "series", "latency", "max rate", "lat×rate")
	for _, r := range lat {
		fmt.Fprintf(&lb, "%-13s %-28s %12v %14v %12v\n", r.Experiment, r.Series, r.Latency.Round(10*time.Nanosecond), r.MaxRate, r.LatencyBytes)
	}
	var b strings.Builder
	b.WriteString(VerdictTable(rows))
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "not implemented yet, skipped: %s\n", strings.Join(skipped, ", "))
	}
	after, err := leftovers(ctx)
	if err != nil {
		failed = append(failed, err)
	}
	if left := newEntries(before, after); len(left) > 0 {
		err := fmt.Errorf("left behind: %s", strings.Join(left, ", "))
		failed = append(failed, err)
		fmt.Fprintf(&b, "%v\n", err)
	} else {
		b.WriteString("left behind: no namespace, link, nft table or cgroup of this run\n")
	}
	fmt.Fprintf(&b, "wall time %v (budget %v)\n", time.Since(start).Round(time.Second), o.Budget)
	path := filepath.Join(o.OutDir, "all.txt")
	if err := results.WriteFileAtomic(path, []byte(b.String()+"\n"+lb.String())); err != nil {
		return reps, err
	}
	reps = append(reps, &Report{Name: "all", Finding: b.String(), Files: []string{path}})
	return reps, errors.Join(failed...)
}

func failedRow(name string, err error) Verdict {
	return Verdict{Experiment: name, Outcome: "failed", Ours: err.Error()}
}

// leftovers lists what a lab of this process could leave behind: its
// namespaces (owner = this pid), its cpuacct groups, and the root namespace's links and nft
// tables (all of them, since a leak there has no owner to tell it by;
// newEntries keeps only those that appeared during the run).
func leftovers(ctx context.Context) ([]string, error) {
	var out []string
	ns, err := lab.Namespaces()
	if err != nil {
		return nil, err
	}
	pid := fmt.Sprint(os.Getpid())
	for _, n := range ns {
		if n.Owner == pid {
			out = append(out, "namespace "+n.String())
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, i := range ifs {
		out = append(out, "link "+i.Name)
	}
	groups, err := cpuacct.Groups("")
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if strings.HasPrefix(g, cpuacct.Prefix+pid+"-") {
			out = append(out, "cgroup "+g)
		}
	}
	if b, err := exec.CommandContext(ctx, "nft", "list", "tables").Output(); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.Contains(l, lab.Prefix) || strings.Contains(l, nft.TableName) {
				out = append(out, "nft "+l)
			}
		}
	}
	return out, nil
}

// newEntries are the entries of after not in before, except links and
// tables another process made: only lvsperf-looking names count, besides
// this run's namespaces.
func newEntries(before, after []string) []string {
	seen := map[string]bool{}
	for _, b := range before {
		seen[b] = true
	}
	var out []string
	for _, a := range after {
		if !seen[a] && (strings.HasPrefix(a, "namespace ") || strings.HasPrefix(a, "nft ") || strings.HasPrefix(a, "cgroup ") || strings.Contains(a, "lvs")) {
			out = append(out, a)
		}
	}
	return out
}

// Table widths: they add up to 97 columns with the separators.
const (
	colExp, colSeed, colOurs, colVerdict = 17, 32, 32, 13
)

// VerdictTable prints verdicts as one table that fits 100 columns:
// experiment and claim, the seed's finding, our figure with its interval,
// the verdict; long cells wrap.
func VerdictTable(vs []Verdict) string {
	var b strings.Builder
	row := func(cells ...string) {
		cols := [][]string{wrap(cells[0], colExp), wrap(cells[1], colSeed), wrap(cells[2], colOurs), wrap(cells[3], colVerdict)}
		n := 0
		for _, c := range cols {
			n = max(n, len(c))
		}
		for i := 0; i < n; i++ {
			line := ""
			for j, c := range cols {
				cell := ""
				if i < len(c) {
					cell = c[i]
				}
				w := []int{colExp, colSeed, colOurs, colVerdict}[j]
				if j < len(cols)-1 {
					line += cell + strings.Repeat(" ", max(0, w-utf8.RuneCountInString(cell))) + " "
				} else {
					line += cell
				}
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	row("experiment", "seed's finding", "ours (95% interval)", "verdict")
	b.WriteString(strings.Repeat("-", colExp+colSeed+colOurs+colVerdict+3) + "\n")
	for _, v := range vs {
		name := v.Experiment
		if v.Claim != "" {
			name += ": " + v.Claim
		}
		row(name, v.Seed, v.Ours, string(v.Outcome))
	}
	return b.String()
}

// wrap breaks s into lines of at most w runes, at spaces where it can.
func wrap(s string, w int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > w {
			r := []rune(word)
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			lines, word = append(lines, string(r[:w])), string(r[w:])
		}
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= w:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// probeKind says which netpipe probe a curve runs.
type probeKind int

const (
	pingPong probeKind = iota // NetPIPE's default: a reply as big as the message
	stream                    // NetPIPE's -s: one-way, a small acknowledgement
)

// netpipeOver measures one netpipe curve: a receiver in server listening
// on port, a transmitter (or stream sender) in client dialing target.
func netpipeOver(ctx context.Context, server, client *lab.HostNS, target string, port int, topt timing.Options, kind ...probeKind) (timing.Series, map[string]string, error) {
	var srv *netpipe.Server
	if err := server.Do(func() (err error) {
		srv, err = netpipe.NewServer(ctx, netpipe.ServerOptions{Listen: fmt.Sprintf(":%d", port)})
		return err
	}); err != nil {
		return timing.Series{}, nil, err
	}
	defer srv.Close()
	type probe interface {
		timing.Probe
		Info() map[string]string
		Close() error
	}
	var tx probe
	opts := netpipe.Options{Addr: net.JoinHostPort(target, fmt.Sprint(port)), DialTimeout: 3 * time.Second}
	if err := client.Do(func() (err error) {
		if len(kind) > 0 && kind[0] == stream {
			tx, err = streamer.Dial(ctx, opts)
		} else {
			tx, err = netpipe.Dial(ctx, opts)
		}
		return err
	}); err != nil {
		return timing.Series{}, nil, err
	}
	s, err := timing.Sweep(ctx, tx, topt, nil)
	info := tx.Info()
	if cerr := tx.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return s, info, err
}

// curve is one netpipe curve an experiment compares.
type curve struct {
	label          string
	server, client *lab.HostNS
	target         string
	// setup installs what the curve needs (director rules) and returns its undo.
	setup func() (func() error, error)
	// pingPong runs this curve ping-pong whatever the experiment's kind.
	pingPong bool
	// optional curves are dropped, with the reason kept in dropped, when
	// they fail; any other curve's failure ends the experiment.
	optional bool
}

// measured is a curve's rounds and its representative series.
type measured struct {
	label  string
	rounds []timing.Series
	small  []time.Duration
	fitLat []time.Duration
	// rep is the round with the median small-message time.
	rep results.Series
	// dropped says why an optional curve was left out.
	dropped error
}

// measureRounds runs every curve once per round, interleaving the curves
// so that the shared machine's load falls on all of them alike.
func measureRounds(ctx context.Context, o Options, exp string, curves []curve, rounds int, topt timing.Options, kind probeKind) ([]*measured, []string, error) {
	ms, left, _, err := measureUntil(ctx, o, exp, curves, stopRule{min: rounds, max: rounds}, topt, kind)
	return ms, left, err
}

// stopRule says when interleaved rounds may stop: after min rounds, as
// soon as settled reports the headline interval narrow enough, or after
// max rounds, or once the budget (from the first round) ends.
type stopRule struct {
	min, max int
	budget   time.Duration
	// settled returns whether the headline comparison's interval is
	// narrow enough and its half-width, in words.
	settled func(ms []*measured) (bool, string)
}

// measureUntil is measureRounds with a stop rule; it says why it stopped.
func measureUntil(ctx context.Context, o Options, exp string, curves []curve, rule stopRule, topt timing.Options, kind probeKind) ([]*measured, []string, string, error) {
	out := make([]*measured, len(curves))
	for i, c := range curves {
		out[i] = &measured{label: c.label}
	}
	start := time.Now()
	var why string
	for r := 1; r <= rule.max; r++ {
		for i, c := range curves {
			if out[i].dropped != nil {
				continue
			}
			k := kind
			if c.pingPong {
				k = pingPong
			}
			ser, info, err := measureOnce(ctx, c, topt, k)
			if err != nil && c.optional && ctx.Err() == nil {
				out[i].dropped = fmt.Errorf("round %d: %w", r, err)
				fmt.Fprintf(o.Progress, "%s: %s left out: %v\n", exp, c.label, err)
				continue
			}
			if err != nil {
				return nil, nil, "", fmt.Errorf("%s, round %d: %w", c.label, r, err)
			}
			if out[i].rep.Info == nil {
				out[i].rep.Info = info
			}
			if err := out[i].add(o, exp, r, rule.max, ser); err != nil {
				return nil, nil, "", err
			}
		}
		if rule.settled == nil || r < rule.min {
			why = fmt.Sprintf("%d rounds", r)
			continue
		}
		ok, half := rule.settled(out)
		if ok {
			why = fmt.Sprintf("settled after %d rounds (headline interval %s)", r, half)
			break
		}
		// Stop when another round would not fit in the budget.
		if el := time.Since(start); el+el/time.Duration(r) > rule.budget || r == rule.max {
			why = fmt.Sprintf("budget ended after %d rounds, headline interval still %s", r, half)
			break
		}
	}
	var kept []*measured
	for _, m := range out {
		if m.dropped == nil {
			m.finish()
			kept = append(kept, m)
		}
	}
	return kept, dropped(out), why, nil
}

// dropped lists the optional curves left out, with why.
func dropped(ms []*measured) []string {
	var d []string
	for _, m := range ms {
		if m.dropped != nil {
			d = append(d, fmt.Sprintf("%s left out: %v", m.label, m.dropped))
		}
	}
	return d
}

func measureOnce(ctx context.Context, c curve, topt timing.Options, kind probeKind) (timing.Series, map[string]string, error) {
	undo := func() error { return nil }
	if c.setup != nil {
		u, err := c.setup()
		if err != nil {
			return timing.Series{}, nil, err
		}
		undo = u
	}
	ser, info, err := netpipeOver(ctx, c.server, c.client, c.target, netpipePort, topt, kind)
	if uerr := undo(); err == nil {
		err = uerr
	}
	return ser, info, err
}

// add records one round's series.
func (m *measured) add(o Options, exp string, r, rounds int, ser timing.Series) error {
	if ser.Fit == nil {
		return fmt.Errorf("%s, round %d: no fit: %s", m.label, r, ser.FitError)
	}
	ser.Label = m.label
	m.rounds = append(m.rounds, ser)
	m.small = append(m.small, smallLatency(ser))
	m.fitLat = append(m.fitLat, ser.Fit.Latency)
	fmt.Fprintf(o.Progress, "%s: round %d/%d %-16s ≤64B time %v  fitted latency %v  max rate %v\n", exp, r, rounds, m.label,
		smallLatency(ser).Round(10*time.Nanosecond), ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate)
	return nil
}

// finish picks the round with the median small-message time as the curve.
func (m *measured) finish() {
	idx := make([]int, len(m.rounds))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return m.small[idx[a]] < m.small[idx[b]] })
	m.rep.Series = m.rounds[idx[len(idx)/2]]
	m.rep.Path = "lab/" + m.label
}

// table writes the usual per-curve summary.
func table(b *strings.Builder, ms []*measured) {
	fmt.Fprintf(b, "%-18s %14s %14s %12s %10s\n", "curve", "≤64B time(med)", "fit lat(med)", "max rate", "lat×rate")
	for _, m := range ms {
		f := m.rep.Fit
		fmt.Fprintf(b, "%-18s %14v %14v %12v %10v\n", m.label, medianDur(m.small).Round(10*time.Nanosecond),
			medianDur(m.fitLat).Round(10*time.Nanosecond), f.MaxRate, f.LatencyBytes)
	}
}

// sweepOptions fits a netpipe sweep of sizes up to max into budget. A
// ping-pong trial takes about twice its calibrated time (the probe reports
// half the round trip), so the trial time is set from the budget with that
// factor rather than left to Options.Budget alone, which would spend the
// budget on the small sizes and never reach the rate limit.
func sweepOptions(largest timing.Bytes, budget time.Duration) timing.Options {
	sz := sizes(largest)
	const trials = 3
	tt := budget / time.Duration(len(sz)*trials*3)
	tt = min(max(tt, 2*time.Millisecond), 100*time.Millisecond)
	return timing.Options{Sizes: sz, Trials: trials, TrialTime: tt, Budget: budget, StopTime: 200 * time.Millisecond, Warmup: 20 * time.Millisecond}
}

// sizes is the netpipe schedule of the experiments: NetPIPE's sizes
// without perturbation, 1 byte to max.
func sizes(max timing.Bytes) []timing.Bytes {
	s, err := timing.NetPIPESizes(1, max, 0)
	if err != nil {
		panic(err) // constant arguments
	}
	return s
}

// save writes the run, the plots and the finding.
func save(o Options, name string, run *results.Run, finding string) ([]string, error) {
	run.Finished = time.Now()
	run.Complete = true
	path := filepath.Join(o.OutDir, name+results.Extension)
	if err := results.Save(path, run); err != nil {
		return nil, err
	}
	files := []string{path}
	pf, err := plot.WriteAll(o.OutDir, name, run.Series)
	files = append(files, pf...)
	if err != nil {
		return files, fmt.Errorf("plots of %s: %w", name, err)
	}
	tp := filepath.Join(o.OutDir, name+".txt")
	if err := results.WriteFileAtomic(tp, []byte(finding)); err != nil {
		return files, err
	}
	return append(files, tp), nil
}

func newRun(name string) *results.Run {
	now := time.Now()
	return &results.Run{Format: results.Format, Schema: results.Schema,
		ID:    fmt.Sprintf("%s-%s-%d", name, now.UTC().Format("20060102T150405"), os.Getpid()),
		Probe: "netpipe", Path: "lab/" + name, Started: now, Env: results.CollectEnv(),
		Options: map[string]string{}}
}

func latencyRows(exp string, ss []results.Series) []LatencyRow {
	var rows []LatencyRow
	for _, s := range ss {
		if s.Fit == nil {
			continue
		}
		rows = append(rows, LatencyRow{Experiment: exp, Series: s.Label, Latency: s.Fit.Latency, MaxRate: s.Fit.MaxRate, LatencyBytes: s.Fit.LatencyBytes})
	}
	return rows
}

// smallLatency is the best time of the messages of 64 bytes or less (the
// way notes/lab.md reads NPtcp's latency), which the large sizes cannot
// pull around the way they pull the fitted intercept.
func smallLatency(s timing.Series) time.Duration {
	var best time.Duration
	for _, p := range s.Points {
		if p.Bytes <= 64 && (best == 0 || p.Min < best) {
			best = p.Min
		}
	}
	return best
}

func seriesOf(s timing.Series, path string) results.Series {
	return results.Series{Series: s, Path: path}
}

func medianDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
