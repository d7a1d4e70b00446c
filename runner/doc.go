// Package runner drives a probe's sweep over one or more paths and keeps what
// it measured: it starts the path (direct or through the director), hands the
// probe to the timing core, saves the run after every size so a killed run
// loses nothing it finished, and reports progress and a summary table.
package runner
