package main

import (
	"github.com/lvsperf/lvsperf/plot"
	"github.com/lvsperf/lvsperf/results"
)

// drawPlots draws the standard figures (signature, throughput, time with the
// fit) of runs into dir, as PNG and SVG plus gnuplot files.
func drawPlots(dir, base string, runs []*results.Run) ([]string, error) {
	return plot.WriteAll(dir, base, plot.FromRuns(nil, runs))
}
