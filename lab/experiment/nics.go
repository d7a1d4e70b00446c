package experiment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lvsperf/lvsperf/director/nft"
	"github.com/lvsperf/lvsperf/internal/affinity"
	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/timing"
)

// runNICs compares LVS-DR through a one-NIC and a two-NIC director (seed
// §1.5.4), with the direct path of each shape beside it.
func runNICs(ctx context.Context, o Options) (*Report, error) {
	var curves []curve
	for _, one := range []bool{false, true} {
		s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OneNIC: one, OffloadsOff: true})
		if err != nil {
			return nil, err
		}
		l, err := lab.Up(ctx, s.Spec, lab.Options{})
		if err != nil {
			return nil, err
		}
		defer l.Close()
		prefix := "2nic "
		if one {
			prefix = "1nic "
		}
		curves = append(curves, pathCurves(l, s, prefix, []labPath{{name: "direct", target: s.DirectTarget(0)}, {name: "dr", mode: nft.DR, target: s.VIPDR}})...)
	}
	unpin, err := affinity.PinAll(0)
	if err != nil {
		return nil, err
	}
	defer unpin()
	const rounds = 3
	ms, _, err := measureRounds(ctx, o, "nics", curves, rounds, sweepOptions(o.MaxSize, o.Budget/time.Duration(rounds*len(curves))), pingPong)
	if err != nil {
		return nil, err
	}
	run := newRun("nics")
	run.Options["offloads"] = "off"
	run.Options["rounds"] = fmt.Sprint(rounds)
	var b strings.Builder
	fmt.Fprintf(&b, "experiment nics: netpipe client → realserver, direct and LVS-DR, through a two-NIC director (client link + realserver LAN)\n"+
		"and a one-NIC director (one LAN), offloads off, %d interleaved rounds\n\n", rounds)
	for _, m := range ms {
		run.Series = append(run.Series, m.rep)
	}
	table(&b, ms)
	b.WriteString("\nseed: \"The 1 NIC LVS has jaggies in the throughput plot at low throughput, while the 2 NIC LVS has a smooth transfer\n" +
		"curve. [...] This appears to be tcp problem rather than an LVS problem.\" (a 2.0.36 client kernel; compare the curves'\n" +
		"smoothness in nics-throughput.png)\n")
	jag := map[string][]float64{}
	for _, m := range ms {
		for _, r := range m.rounds {
			jag[m.label] = append(jag[m.label], float64(jaggedness(r)))
		}
	}
	vs := []Verdict{nicsVerdict(jag["1nic dr"], jag["2nic dr"])}
	writeVerdicts(&b, vs)
	files, err := save(o, "nics", run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: "nics", Finding: b.String(), Files: files, Latency: latencyRows("nics", run.Series), Verdicts: vs}, nil
}

// runMultiNetpipe runs netpipe from the director to the client and to a
// realserver, each alone and both at once, with one and two NICs (seed
// §1.5.2-3).
func runMultiNetpipe(ctx context.Context, o Options) (*Report, error) {
	run := newRun("multi-netpipe")
	run.Options["offloads"] = "off"
	const sweeps = 8 // 2 shapes × (2 alone + 2 together)
	topt := sweepOptions(o.MaxSize, o.Budget/sweeps)
	var b strings.Builder
	var vs []Verdict
	b.WriteString("experiment multi-netpipe: netpipe from the director to the client and to realserver 1, alone and simultaneously,\n" +
		"through a two-NIC and a one-NIC director, offloads off (not pinned: the two netpipes need both CPUs)\n\n")
	fmt.Fprintf(&b, "%-26s %14s %12s\n", "curve", "fit latency", "max rate")
	for _, one := range []bool{false, true} {
		s, err := lab.NewSeed(lab.SeedOptions{Realservers: 1, OneNIC: one, OffloadsOff: true})
		if err != nil {
			return nil, err
		}
		l, err := lab.Up(ctx, s.Spec, lab.Options{})
		if err != nil {
			return nil, err
		}
		shape := "2nic"
		if one {
			shape = "1nic"
		}
		dir := l.Host(lab.Director)
		legs := []struct {
			name   string
			server *lab.HostNS
			target string
			port   int
		}{
			{"to client", l.Host(lab.Client), s.ClientAddr.String(), netpipePort},
			{"to realserver", l.Host(lab.Realserver(1)), s.RealLAN[0].String(), netpipePort + 1},
		}
		add := func(label string, ser timing.Series) {
			ser.Label = label
			run.Series = append(run.Series, seriesOf(ser, "lab/"+shape))
			if ser.Fit != nil {
				fmt.Fprintf(&b, "%-26s %14v %12v\n", label, ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate)
				fmt.Fprintf(o.Progress, "multi-netpipe: %-26s latency %v max rate %v\n", label, ser.Fit.Latency.Round(10*time.Nanosecond), ser.Fit.MaxRate)
			}
		}
		alone := make([]timing.Series, len(legs))
		for i, g := range legs {
			ser, _, err := netpipeOver(ctx, g.server, dir, g.target, g.port, topt)
			alone[i] = ser
			if err != nil {
				l.Close()
				return nil, fmt.Errorf("%s %s alone: %w", shape, g.name, err)
			}
			add(fmt.Sprintf("%s %s alone", shape, g.name), ser)
		}
		// Both sweeps run at once; when one fails the other is stopped
		// rather than left measuring alone.
		res := make([]timing.Series, len(legs))
		grp, gctx := errgroup.WithContext(ctx)
		for i, g := range legs {
			grp.Go(func() error {
				var err error
				if res[i], _, err = netpipeOver(gctx, g.server, dir, g.target, g.port, topt); err != nil {
					return fmt.Errorf("%s %s together: %w", shape, g.name, err)
				}
				return nil
			})
		}
		err = grp.Wait()
		l.Close()
		if err != nil {
			return nil, err
		}
		for i, g := range legs {
			add(fmt.Sprintf("%s %s together", shape, g.name), res[i])
			vs = append(vs, multiVerdict(shape+" "+g.name, pairedBySize(largeRates(res[i]), largeRates(alone[i]))))
		}
	}
	b.WriteString("\nseed: \"Netpipe runs interfere with each other. The curve of throughput to client is lowered in the presence of another\n" +
		"netpipe process.\" and with 1 NIC \"The throughput on the director-client link [...] dropped [...] while that on the\n" +
		"director-realserver [...] increased [...] Presumably the total throughput did not change much.\"\n" +
		"caveat (the seed's too): the two sweeps are not synchronised, so at a given moment they measure different sizes.\n")
	writeVerdicts(&b, vs)
	files, err := save(o, "multi-netpipe", run, b.String())
	if err != nil {
		return nil, err
	}
	return &Report{Name: "multi-netpipe", Finding: b.String(), Files: files, Latency: latencyRows("multi-netpipe", run.Series), Verdicts: vs}, nil
}
