package compare_test

import (
	"fmt"
	"time"

	"github.com/lvsperf/lvsperf/compare"
	"github.com/lvsperf/lvsperf/compare/comparetest"
)

// A director 20% slower is a regression of the director/direct ratio,
// measured inside each run, even when NEW ran on a machine twice as slow.
func ExampleRuns_ratio() {
	direct := comparetest.Path{Label: "netpipe direct", Path: "direct", Latency: 10 * time.Microsecond, Rate: 20e9, Noise: 0.03}
	director := comparetest.Path{Label: "netpipe director(rr)", Path: "director/proxy/rr", Latency: 30 * time.Microsecond, Rate: 8e9, Noise: 0.03}
	base := comparetest.Run("netpipe", 1, direct, director)
	direct.Slow, director.Slow = 2, 2*1.25
	next := comparetest.Run("netpipe", 2, direct, director)

	res, err := compare.Runs(base, next, compare.Options{Ratio: "director/direct"})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Metrics[0]
	fmt.Printf("%s: %s, change %.0f%%, regressed %v\n", m.Measure, m.Verdict, 100*m.Change, res.Regressed)
	// Output: throughput ratio: REGRESSED, change -20%, regressed true
}
