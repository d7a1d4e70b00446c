package main

import (
	"errors"

	"github.com/lvsperf/lvsperf/results"
)

// drawPlots draws the standard figures of runs into dir.
func drawPlots(dir, base string, runs []*results.Run) ([]string, error) {
	return nil, errors.New("not implemented yet: the plot package is being written")
}
