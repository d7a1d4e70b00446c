// Package plot draws lvsperf's figures from stored series: the log-log
// signature plot (throughput against transfer time), throughput against size
// and time against size with the fitted latency + bytes/max_rate line, several
// series per figure, as PNG or SVG with gonum/plot. It also writes gnuplot
// data files (NetPIPE 2 columns) and a script that redraws the same figures.
package plot
