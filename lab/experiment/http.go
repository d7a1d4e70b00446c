package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/ptester"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

const httpPort = 8080

// httpSyncClients is the number of synchronised clients of the http experiment.
const httpSyncClients = 8

// httpFiles are the file exponents the http experiment fetches (1 B … 1 MiB).
var httpFiles = []int{0, 6, 10, 13, 16, 20}

// runHTTP fetches files through LVS-DR with the ptester hammer:
// non-persistent (-k 1) and persistent (-k 100), one and two realservers,
// one serial client and synchronised clients (seed §4.1, 4.2, 4.4).
func runHTTP(ctx context.Context, o Options) (*Report, error) {
	if o.Self == "" {
		return nil, fmt.Errorf("not implemented yet: experiment http without Options.Self (the lvsperf binary whose `ptester` command runs inside the client namespace)")
	}
	const syncClients = httpSyncClients
	type cell struct {
		keep, rs, clients int
	}
	var cells []cell
	for _, rs := range []int{1, 2} {
		for _, c := range []int{1, syncClients} {
			for _, k := range []int{1, 100} {
				cells = append(cells, cell{k, rs, c})
			}
		}
	}
	per := o.Budget / time.Duration(len(cells)*len(httpFiles))
	per = max(per, 300*time.Millisecond)
	run := newRun("http")
	run.Probe = "http"
	run.Options["path"] = "lab LVS-DR, realserver: ptester file server (in-process), client: lvsperf ptester (process in the client namespace)"
	run.Options["time_per_size"] = per.String()
	hits := map[cell]map[int]float64{}
	maxMin := map[cell][2]time.Duration{} // for the smallest file: min and max request time
	for _, nrs := range []int{1, 2} {
		s, err := lab.NewSeed(lab.SeedOptions{Realservers: nrs})
		if err != nil {
			return nil, err
		}
		l, err := lab.Up(ctx, s.Spec, lab.Options{})
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer l.Close()
			for i := 1; i <= nrs; i++ {
				var srv *ptester.Server
				if err := l.Host(lab.Realserver(i)).Do(func() (err error) {
					srv, err = ptester.NewFileServer(ctx, ptester.ServerOptions{Addr: fmt.Sprintf("0.0.0.0:%d", httpPort), MaxKeepAliveRequests: -1})
					return err
				}); err != nil {
					return fmt.Errorf("file server in %s: %w", lab.Realserver(i), err)
				}
				defer srv.Close()
			}
			undo, err := program(l, s, labPath{name: "dr", mode: nft.DR, target: s.VIPDR, port: httpPort})
			if err != nil {
				return err
			}
			defer undo()
			for _, c := range cells {
				if c.rs != nrs {
					continue
				}
				ser := timing.Series{Label: fmt.Sprintf("k%d %drs %dc", c.keep, c.rs, c.clients)}
				hits[c] = map[int]float64{}
				for _, f := range httpFiles {
					rep, err := hammer(ctx, l.Host(lab.Client), o.Self, fmt.Sprintf("%s:%d", s.VIPDR, httpPort), f, c.keep, c.clients, per)
					if err != nil {
						return fmt.Errorf("%s file.%d: %w", ser.Label, f, err)
					}
					hits[c][f] = rep.HitsPerSec
					if f == httpFiles[0] {
						maxMin[c] = [2]time.Duration{rep.Latency.Min, rep.Latency.Max}
					}
					ser.Points = append(ser.Points, timing.Point{Bytes: timing.Bytes(1) << f, Reps: int(rep.Requests),
						Min: rep.Latency.Mean, Median: rep.Latency.P50, Mean: rep.Latency.Mean, Max: rep.Latency.Max,
						Fastest: rep.Latency.Min, Slowest: rep.Latency.Max, Transfers: int(rep.Requests)})
					fmt.Fprintf(o.Progress, "http: %-14s file.%-2d %8.0f hits/s %12v  (errors %d)\n", ser.Label, f, rep.HitsPerSec, rep.Throughput, rep.Errs())
				}
				ser.Refit()
				run.Series = append(run.Series, results.Series{Series: ser, Path: fmt.Sprintf("lab/dr/%drs", c.rs),
					Info: map[string]string{"keepalive": fmt.Sprint(c.keep), "clients": fmt.Sprint(c.clients), "realservers": fmt.Sprint(c.rs)}})
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "experiment http: GET /file/file.N through LVS-DR, %v per size; hits/s by file size\n\n", per)
	fmt.Fprintf(&b, "%-16s", "k / rs / clients")
	for _, f := range httpFiles {
		fmt.Fprintf(&b, " %9s", timing.Bytes(1)<<f)
	}
	fmt.Fprintf(&b, " %22s\n", "file.0 min / max time")
	for _, c := range cells {
		fmt.Fprintf(&b, "k%-3d %drs %2dc    ", c.keep, c.rs, c.clients)
		for _, f := range httpFiles {
			fmt.Fprintf(&b, " %9.0f", hits[c][f])
		}
		fmt.Fprintf(&b, " %10v / %v\n", maxMin[c][0].Round(time.Microsecond), maxMin[c][1].Round(time.Microsecond))
	}
	gain := func(clients, keep int) float64 {
		one, two := hits[cell{keep, 1, clients}][httpFiles[0]], hits[cell{keep, 2, clients}][httpFiles[0]]
		if one == 0 {
			return 0
		}
		return two / one
	}
	fmt.Fprintf(&b, "\nsmallest file, 2 realservers / 1 realserver hits/s: serial client %.2f× (non-persistent) %.2f× (persistent); %d synchronised clients %.2f× / %.2f×\n",
		gain(1, 1), gain(1, 100), syncClients, gain(syncClients, 1), gain(syncClients, 100))
	pk := hits[cell{100, 1, 1}][httpFiles[0]] / max(hits[cell{1, 1, 1}][httpFiles[0]], 1)
	fmt.Fprintf(&b, "persistent / non-persistent hits/s for the smallest file, serial client, 1 realserver: %.2f×\n", pk)
	b.WriteString("seed: \"Throughput at low netload was double for persistent http compared to non-persistent http.\" and \"It is clear\n" +
		"that there is no performance improvement with 2 realservers The reason for this is that the requests are serialised.\"\n" +
		"note: all hosts share the machine's 2 CPUs, so a second realserver adds no CPU; what the synchronised clients can show is\n" +
		"that the director spreads their connections, not that capacity doubles.\n")
	figs := httpFigures{}
	for c, m := range hits {
		for f, v := range m {
			figs[[4]int{c.keep, c.rs, c.clients, f}] = v
		}
	}
	vs := httpVerdicts(figs, httpFiles[0], httpFiles[len(httpFiles)-1], maxMin[cell{1, 1, 1}])
	writeVerdicts(&b, vs)
	files, err := save(o, "http", run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: "http", Finding: b.String(), Files: files, Verdicts: vs}, nil
}

// hammer runs `lvsperf ptester` inside the client host and decodes its
// JSON report.
func hammer(ctx context.Context, client *lab.HostNS, self, target string, file, keep, clients int, d time.Duration) (*ptester.Report, error) {
	cctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, self, "ptester", "-h", target, "-t", d.String(), "-k", fmt.Sprint(keep),
		"-c", fmt.Sprint(clients), "--timeout", "5s", "--json", ptester.FilePath(file))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := client.Start(cmd); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("lvsperf ptester: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep ptester.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("lvsperf ptester --json printed something else: %w", err)
	}
	return &rep, nil
}
