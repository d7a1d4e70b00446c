package probes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// DefaultMaxExp is the largest size of a sweep that sets neither bound:
// file.20, 1 MiB.
const DefaultMaxExp = 20

// DefaultStopTime ends an rsh or lpd sweep after a size whose transfer took
// this long. The core stops after a 1 s transfer by default; a real rsh or
// lpd copy can cost that much at any size (the seed's rsh latency was
// 1.1 s), so only the budget ends those sweeps early.
const DefaultStopTime = 30 * time.Second

// SweepSizes returns the sizes 2^minExp … 2^maxExp of a file.N sweep and the
// maxExp it used: DefaultMaxExp when both bounds are 0.
func SweepSizes(minExp, maxExp int) ([]timing.Bytes, int, error) {
	if minExp == 0 && maxExp == 0 {
		maxExp = DefaultMaxExp
	}
	sizes, err := timing.PowersOfTwo(minExp, maxExp)
	return sizes, maxExp, err
}

// CheckPath refuses a sweep of probe through the director toward a server
// named by host: through the director a sweep starts its own servers.
func CheckPath(probe, host string, p paths.Spec) error {
	if host != "" && p.Via == paths.Director {
		return errors.New(probe + " sweep: --via director starts its own servers behind the director: omit --host")
	}
	return nil
}

// RunOptions returns what every bulk-copy sweep records among its run's
// options; each probe adds its own.
func RunOptions(host string, minExp, maxExp int, budget time.Duration, p paths.Spec) map[string]string {
	return map[string]string{
		"host": host, "min-exp": strconv.Itoa(minExp), "max-exp": strconv.Itoa(maxExp),
		"budget": budget.String(), "via": string(p.Via), "scheduler": p.Scheduler,
		"realservers": strconv.Itoa(p.Realservers),
	}
}

// InOrder returns a runner.Dialer for n legs, which the runner dials one
// after another: the i-th call dials the i-th leg with dial(ctx, target, i);
// a call past the n-th fails.
func InOrder(probe string, n int, dial func(ctx context.Context, target string, i int) (runner.Probe, error)) runner.Dialer {
	next := 0
	return func(ctx context.Context, target string) (runner.Probe, error) {
		if next >= n {
			return nil, fmt.Errorf("%s sweep: dialled %d times for %d directions", probe, next+1, n)
		}
		i := next
		next++
		return dial(ctx, target, i)
	}
}

// ParseDirs reads the directions of a two-way sweep: a, b, or "both" (and
// "") for a then b.
func ParseDirs[D ~string](s string, a, b D) ([]D, error) {
	switch s {
	case string(a):
		return []D{a}, nil
	case string(b):
		return []D{b}, nil
	case "both", "":
		return []D{a, b}, nil
	}
	return nil, fmt.Errorf("direction %q: want %s, %s or both", s, a, b)
}
