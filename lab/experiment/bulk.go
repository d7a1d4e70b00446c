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
	"github.com/lvsperf/lvsperf/results"
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
	// The server is a process inside the realserver: every socket it opens
	// (rshd's stderr back-connection included) stays in that namespace.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	srv := exec.CommandContext(sctx, o.Self, append([]string{"serve", bk.proto, "--listen", fmt.Sprintf("0.0.0.0:%d", bk.port)}, bk.serve...)...)
	var serr bytes.Buffer
	srv.Stderr = &serr
	if err := l.Host(lab.Realserver(1)).Start(srv); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() { stop(); <-done }()
	if err := waitListen(srv.Process.Pid, bk.port, done, 5*time.Second); err != nil {
		return nil, fmt.Errorf("lvsperf serve %s: %w: %s", bk.proto, err, strings.TrimSpace(serr.String()))
	}
	paths := []labPath{
		{name: "direct", target: s.DirectTarget(0)},
		{name: "nat", mode: nft.NAT, target: s.VIPNAT, port: uint16(bk.port)},
		{name: "dr", mode: nft.DR, target: s.VIPDR, port: uint16(bk.port)},
	}
	run := newRun(bk.proto)
	run.Probe = bk.proto
	per := o.Budget / time.Duration(len(paths))
	var b strings.Builder
	fmt.Fprintf(&b, "experiment %s: lvsperf probe %s from the client to `lvsperf serve %s` on realserver 1, direct, LVS-NAT and LVS-DR\n\n", bk.proto, bk.proto, bk.proto)
	fmt.Fprintf(&b, "%-22s %12s %14s %12s\n", "series", "latency", "max rate", "lat×rate")
	for _, p := range paths {
		undo, err := program(l, s, p)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmp, p.name)
		args := append([]string{"probe", bk.proto, "--host", net.JoinHostPort(p.target.String(), fmt.Sprint(bk.port)),
			"--budget", per.String(), "--out", dir, "--json"}, bk.probe...)
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
		{
			r, err := results.DecodeJSON(&out)
			if err != nil {
				return nil, fmt.Errorf("%s over %s: decode the probe's JSON run: %w (stderr: %s)", bk.proto, p.name, err, lastLines(stderr.String(), 5))
			}
			for _, ser := range r.Series {
				ser.Label = strings.TrimSpace(p.name + " " + ser.Label)
				ser.Path = "lab/" + p.name
				run.Series = append(run.Series, ser)
				if ser.Fit != nil {
					fmt.Fprintf(&b, "%-22s %12v %14v %12v\n", ser.Label, ser.Fit.Latency.Round(time.Microsecond), ser.Fit.MaxRate, ser.Fit.LatencyBytes)
					fmt.Fprintf(o.Progress, "%s: %-22s latency %v max rate %v\n", bk.proto, ser.Label, ser.Fit.Latency.Round(time.Microsecond), ser.Fit.MaxRate)
				} else {
					fmt.Fprintf(&b, "%-22s no fit: %s\n", ser.Label, ser.FitError)
				}
			}
		}
	}
	b.WriteString("\nseed: " + bk.seed + "\n")
	files, err := save(o, bk.proto, run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: bk.proto, Finding: b.String(), Files: files, Latency: latencyRows(bk.proto, run.Series)}, nil
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
