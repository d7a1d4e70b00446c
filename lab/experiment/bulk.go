package experiment

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// bulk describes a bulk-copy experiment: the seed ran rsh, lpd and NFS
// copies of file.0 … file.N direct and through the director.
type bulk struct {
	proto string
	port  int
	// serve and probe are extra arguments of `lvsperf serve PROTO` and
	// `lvsperf probe PROTO`.
	serve, probe []string
	seed         string
	// variants are further servers the same probe runs against (rsh's
	// disk sinks); each gets its own server process and port.
	variants []bulkVariant
	// judge computes the verdicts from the series measured.
	judge func(got []bulkSeries) []Verdict
}

// bulkVariant is one more server setup of a bulk experiment.
type bulkVariant struct {
	name string
	port int
	// spoolUnder, when set, is where a fresh spool directory is made; its
	// path is appended to serve after "--spool" and to probe after
	// "--sink-dir".
	spoolUnder   string
	serve, probe []string
}

// bulkSeries is one series a bulk experiment measured.
type bulkSeries struct {
	variant, path string
	// fsType is the filesystem of the variant's spool ("" for none).
	fsType string
	ser    results.Series
}

func (bk bulk) run(ctx context.Context, o Options) (*Report, error) {
	if o.Self == "" {
		return nil, fmt.Errorf("not implemented yet: experiment %s without Options.Self (the lvsperf binary whose serve and probe commands run inside the lab hosts)", bk.proto)
	}
	s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1})
	if err != nil {
		return nil, err
	}
	l, err := lab.Up(ctx, s.Spec, lab.Options{})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	tmp, err := os.MkdirTemp("", "lvsperf-lab-"+bk.proto+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	variants := append([]bulkVariant{{name: "", port: bk.port, serve: bk.serve, probe: bk.probe}}, bk.variants...)
	fsTypes := make([]string, len(variants))
	for i := range variants {
		v := &variants[i]
		if v.spoolUnder == "" {
			continue
		}
		dir, err := os.MkdirTemp(v.spoolUnder, "lvsperf-lab-"+bk.proto+"-spool-")
		if err != nil {
			return nil, fmt.Errorf("%s spool: %w", v.name, err)
		}
		defer os.RemoveAll(dir)
		if fsTypes[i], err = probes.FSType(dir); err != nil {
			return nil, err
		}
		v.serve = append(append([]string{}, v.serve...), "--spool", dir)
		v.probe = append(append([]string{}, v.probe...), "--sink-dir", dir)
	}
	// The servers are processes inside the realserver: every socket they
	// open (rshd's stderr back-connection included) stays in that namespace.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, v := range variants {
		srv := exec.CommandContext(sctx, o.Self, append([]string{"serve", bk.proto, "--listen", fmt.Sprintf("0.0.0.0:%d", v.port)}, v.serve...)...)
		var serr bytes.Buffer
		srv.Stderr = &serr
		if err := l.Host(lab.Realserver(1)).Start(srv); err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		defer func() { stop(); <-done }()
		if err := waitListen(srv.Process.Pid, v.port, done, 5*time.Second); err != nil {
			return nil, fmt.Errorf("lvsperf serve %s %s: %w: %s", bk.proto, v.name, err, strings.TrimSpace(serr.String()))
		}
	}
	paths := []labPath{
		{name: "direct", target: s.DirectTarget(0)},
		{name: "nat", mode: nft.NAT, target: s.VIPNAT},
		{name: "dr", mode: nft.DR, target: s.VIPDR},
	}
	run := newRun(bk.proto)
	run.Probe = bk.proto
	per := o.Budget / time.Duration(len(paths)*len(variants))
	var b strings.Builder
	var got []bulkSeries
	fmt.Fprintf(&b, "experiment %s: lvsperf probe %s from the client to `lvsperf serve %s` on realserver 1, direct, LVS-NAT and LVS-DR\n", bk.proto, bk.proto, bk.proto)
	for i, v := range variants {
		if fsTypes[i] != "" {
			fmt.Fprintf(&b, "%s: spool on %s (%s)\n", v.name, fsTypes[i], v.spoolUnder)
		}
	}
	fmt.Fprintf(&b, "\n%-34s %12s %14s %12s\n", "series", "latency", "max rate", "lat×rate")
	for _, p := range paths {
		for i, v := range variants {
			p.port = uint16(v.port)
			undo, err := program(l, s, p)
			if err != nil {
				return nil, err
			}
			dir := filepath.Join(tmp, p.name+v.name)
			args := append([]string{"probe", bk.proto, "--host", net.JoinHostPort(p.target.String(), fmt.Sprint(v.port)),
				"--budget", per.String(), "--out", dir, "--json"}, v.probe...)
			cctx, cancel := context.WithTimeout(ctx, per+time.Minute)
			cmd := exec.CommandContext(cctx, o.Self, args...)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			err = l.Host(lab.Client).Start(cmd)
			if err == nil {
				err = cmd.Wait()
			}
			cancel()
			if uerr := undo(); err == nil {
				err = uerr
			}
			if err != nil {
				return nil, fmt.Errorf("%s over %s: lvsperf %s: %w: %s", bk.proto, p.name, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
			}
			r, err := results.DecodeJSON(&out)
			if err != nil {
				return nil, fmt.Errorf("%s over %s: decode the probe's JSON run: %w (stderr: %s)", bk.proto, p.name, err, lastLines(stderr.String(), 5))
			}
			for _, ser := range r.Series {
				ser.Label = strings.Join(strings.Fields(p.name+" "+v.name+" "+ser.Label), " ")
				ser.Path = "lab/" + p.name
				run.Series = append(run.Series, ser)
				got = append(got, bulkSeries{variant: v.name, path: p.name, fsType: fsTypes[i], ser: ser})
				if ser.Fit != nil {
					fmt.Fprintf(&b, "%-34s %12v %14v %12v\n", ser.Label, ser.Fit.Latency.Round(time.Microsecond), ser.Fit.MaxRate, ser.Fit.LatencyBytes)
					fmt.Fprintf(o.Progress, "%s: %-34s latency %v max rate %v\n", bk.proto, ser.Label, ser.Fit.Latency.Round(time.Microsecond), ser.Fit.MaxRate)
				} else {
					fmt.Fprintf(&b, "%-34s no fit: %s\n", ser.Label, ser.FitError)
				}
			}
		}
	}
	var vs []Verdict
	if bk.judge != nil {
		vs = bk.judge(got)
		b.WriteString("\n")
		writeVerdicts(&b, vs)
	}
	b.WriteString("\nseed: " + bk.seed + "\n")
	files, err := save(o, bk.proto, run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: bk.proto, Finding: b.String(), Files: files, Latency: latencyRows(bk.proto, run.Series), Verdicts: vs}, nil
}

// maxRate is a series' fitted max rate, or its best point's rate without a fit.
func maxRate(s timing.Series) float64 {
	if s.Fit != nil {
		return float64(s.Fit.MaxRate)
	}
	var best float64
	for _, p := range s.Points {
		if p.Min > 0 {
			best = max(best, float64(timing.Rate(p.Bytes, p.Min)))
		}
	}
	return best
}

// pointTime is the best time of the point of n bytes (0 when absent).
func pointTime(s timing.Series, n timing.Bytes) time.Duration {
	for _, p := range s.Points {
		if p.Bytes == n {
			return p.Min
		}
	}
	return 0
}

// judgeRsh compares each disk variant with /dev/null, path by path.
func judgeRsh(got []bulkSeries) []Verdict {
	null := map[string]float64{}
	for _, g := range got {
		if g.variant == "" {
			null[g.path] = maxRate(g.ser.Series)
		}
	}
	var vs []Verdict
	for _, v := range []string{"disk tmpfs", "disk real"} {
		var d, n []float64
		fs := ""
		for _, g := range got {
			if g.variant == v {
				d, n, fs = append(d, maxRate(g.ser.Series)), append(n, null[g.path]), g.fsType
			}
		}
		if d != nil {
			vs = append(vs, rshVerdict(v+", "+fs, d, n))
		}
	}
	return vs
}

// judgeLpd reads the 4 KiB / 1 B job time ratio per path.
func judgeLpd(got []bulkSeries) []Verdict {
	var r []float64
	var setup []time.Duration
	for _, g := range got {
		t1, t4 := pointTime(g.ser.Series, 1), pointTime(g.ser.Series, 4<<10)
		if t1 > 0 && t4 > 0 {
			r = append(r, float64(t4)/float64(t1))
			setup = append(setup, t1)
		}
	}
	return []Verdict{lpdVerdict(r, medianDur(setup))}
}

// judgeNFS pairs read with write (at 16 KiB transfers) and 16 KiB with
// 1 KiB transfers, per path.
func judgeNFS(got []bulkSeries) []Verdict {
	rate := map[string]float64{}
	for _, g := range got {
		rate[g.ser.Label] = maxRate(g.ser.Series)
	}
	var read, write, small, big []float64
	for _, p := range []string{"direct", "nat", "dr"} {
		r16, w16 := rate[p+" nfs read rsize 16KiB"], rate[p+" nfs write wsize 16KiB"]
		r1, w1 := rate[p+" nfs read rsize 1KiB"], rate[p+" nfs write wsize 1KiB"]
		if r16 > 0 && w16 > 0 {
			read, write = append(read, r16), append(write, w16)
		}
		if r1 > 0 && r16 > 0 {
			small, big = append(small, r1), append(big, r16)
		}
		if w1 > 0 && w16 > 0 {
			small, big = append(small, w1), append(big, w16)
		}
	}
	return nfsVerdicts(read, write, small, big)
}

// waitListen waits until process pid listens on TCP port (in its own
// namespace), or it exits, or d passes.
func waitListen(pid, port int, exited chan error, d time.Duration) error {
	want := fmt.Sprintf(":%04X", port)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited before listening: %w", err)
		default:
		}
		for _, tab := range []string{"tcp", "tcp6"} {
			f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, tab))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fs := strings.Fields(sc.Text())
				if len(fs) > 3 && strings.HasSuffix(fs[1], want) && fs[3] == "0A" {
					f.Close()
					return nil
				}
			}
			f.Close()
		}
	}
	return fmt.Errorf("not listening on port %d after %v", port, d)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}
