// Package ipvsadm speaks ipvsadm's command grammar against an embedded
// director.Director and prints its listings in ipvsadm 1.29's exact formats
// (-L -n, --stats, --rate, -c, --thresholds, --persistent-conn, --timeout,
// -S), so scripts that parse ipvsadm keep working. It also carries the
// director's unix control socket, over which `lvsperf ipvsadm` runs
// commands in a running `lvsperf director`.
package ipvsadm
