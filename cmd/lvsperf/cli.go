package main

import (
	"fmt"

	"github.com/lvsperf/lvsperf/paths"
)

// checkVia refuses a --via value that names no path before anything
// starts, as a usage error (exit 2).
func checkVia(vias ...string) error {
	for _, v := range vias {
		switch paths.Via(v) {
		case paths.Direct, paths.Director:
		default:
			return usageError(fmt.Errorf("--via %q: want %q or %q", v, paths.Direct, paths.Director))
		}
	}
	return nil
}
