// Package report turns stored runs into a report people can send each
// other: one self-contained HTML file (figures embedded as PNG data, no
// network needed to read it) and a Markdown twin with the PNGs beside it.
// For every run it shows the signature, throughput and time figures with
// fits, the fit table and the environment the run recorded; across runs, a
// latency table when several probes are present, and for runs of one probe
// over several paths an overlay figure and a table of throughput ratios.
package report
