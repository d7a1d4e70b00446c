// Package latency redoes the seed's table "Network Latencies for services
// under LVS": it sweeps every service lvsperf has a probe for (netpipe, http,
// lpd, rsh, nfs, ftp) direct and through the director, fits each one's
// latency and max_rate, and prints them beside the values the seed published
// in 2000.
package latency
