package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// runNPtcpPairs runs pairs NPtcp receivers and transmitters at once (with
// -2 when bidir) and sums their rates per size from their np.out files.
// NPtcp pairs are not in lock-step: each calibrates and moves on by itself,
// so the sum is of rates measured at nearly, not exactly, the same time.
func runNPtcpPairs(ctx context.Context, end int64, reps, pairs int, bidir bool) (figures, error) {
	var f figures
	dir, err := os.MkdirTemp("", "nptcp-pairs")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	var rxs []*exec.Cmd
	defer func() {
		for _, rx := range rxs {
			rx.Process.Kill()
			rx.Wait()
		}
	}()
	var argsOf [][]string
	for i := range pairs {
		port, err := freePort()
		if err != nil {
			return f, err
		}
		args := []string{"-P", strconv.Itoa(port), "-u", strconv.FormatInt(end, 10)}
		if reps > 0 {
			args = append(args, "-n", strconv.Itoa(reps))
		}
		if bidir {
			args = append(args, "-2")
		}
		rx := exec.CommandContext(ctx, "NPtcp", args...)
		rx.Dir = dir
		if err := rx.Start(); err != nil {
			return f, err
		}
		rxs = append(rxs, rx)
		argsOf = append(argsOf, append(args, "-h", "127.0.0.1", "-o", filepath.Join(dir, fmt.Sprintf("np%d.out", i))))
	}
	time.Sleep(300 * time.Millisecond)
	f.other, f.load = results.IdleCheck(time.Second)
	start := time.Now()
	errs := make([]error, pairs)
	var wg sync.WaitGroup
	for i, args := range argsOf {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := exec.CommandContext(ctx, "NPtcp", args...)
			tx.Dir = dir
			if b, err := tx.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("NPtcp %v: %w: %s", args, err, b)
			}
		}()
	}
	wg.Wait()
	f.wall = time.Since(start)
	for _, err := range errs {
		if err != nil {
			return f, err
		}
	}
	// size → summed rate (bytes/s) and the pairs' worst time
	rate := map[int64]float64{}
	worst := map[int64]float64{}
	var order []int64
	for i := range pairs {
		file, err := os.Open(filepath.Join(dir, fmt.Sprintf("np%d.out", i)))
		if err != nil {
			return f, err
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 {
				continue
			}
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			t, _ := strconv.ParseFloat(fs[2], 64)
			if i == 0 {
				order = append(order, n)
			}
			rate[n] += float64(n) / t
			worst[n] = max(worst[n], t)
		}
		file.Close()
	}
	f.latency = time.Hour
	small := int64(64)
	if bidir {
		small = 128 // np.out's bytes count both directions
	}
	for _, n := range order {
		f.points++
		if n <= small {
			f.latency = min(f.latency, time.Duration(worst[n]*1e9))
		}
		f.peak = max(f.peak, rate[n]*8/1e6)
	}
	return f, nil
}

// runOursNP runs lvsperf netpipe -2 / --pairs with its defaults: in-process
// receivers on loopback, NPtcp's protocol and schedule.
func runOursNP(ctx context.Context, end int64, reps, pairs int, bidir bool) (figures, error) {
	var f figures
	cfg, stop, err := netpipe.RunOptions{End: timing.Bytes(end), Reps: reps, Pairs: pairs, Bidir: bidir}.NPConfig(ctx)
	if err != nil {
		return f, err
	}
	defer stop()
	f.other, f.load = results.IdleCheck(time.Second)
	start := time.Now()
	res, err := netpipe.RunNP(ctx, cfg)
	if err != nil {
		return f, err
	}
	f.wall = time.Since(start)
	s := res.Run.Series[0] // the aggregate when there are pairs
	f.latency = time.Hour
	small := timing.Bytes(64 * pairs)
	if bidir {
		small *= 2
	}
	for _, p := range s.Points {
		f.points++
		if p.Bytes <= small {
			f.latency = min(f.latency, worstPair(res.Run.Series, f.points-1, p.Min))
		}
		f.peak = max(f.peak, p.Rate().Mbps())
		if len(res.Run.Series) > 1 {
			var sum float64
			for _, ps := range res.Run.Series[1:] {
				sum += ps.Points[f.points-1].Rate().Mbps()
			}
			f.sumPeak = max(f.sumPeak, sum)
		}
	}
	return f, nil
}

// worstPair is the slowest pair's time at point i (the aggregate's own
// time when there is one pair), to compare with NPtcp pairs' worst.
func worstPair(series []results.Series, i int, agg time.Duration) time.Duration {
	if len(series) == 1 {
		return agg
	}
	var w time.Duration
	for _, s := range series[1:] {
		w = max(w, s.Points[i].Min)
	}
	return w
}
