// Package nft is the director's kernel engine: it programs nftables over
// netlink inside a director namespace for plain forwarding, LVS-NAT (dnat),
// LVS-DR (netdev ingress MAC rewrite), the seed's "martian" DR variant,
// LVS-TUN (a prerouting mark that policy routing sends into a tunnel; VXLAN
// in the lab, since this kernel has no ipip), and
// transparent proxy (tproxy on a realserver). With several realservers the
// kernel hashes each flow into buckets that the director model's scheduler
// fills, so a connection stays on one realserver.
package nft
