package director

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMetrics renders snap in the Prometheus text exposition format:
// per service and per realserver counters (lvsperf_director_conns_total,
// …_in_packets_total, …_out_packets_total, …_in_bytes_total,
// …_out_bytes_total), IPVS's estimated rates (…_cps, …_in_pps, …_out_pps,
// …_in_bytes_per_second, …_out_bytes_per_second) and connection gauges
// (…_active_conns, …_inactive_conns, …_persistent_conns, …_weight).
// Service rows carry only the service label; realserver rows add
// realserver.
func WriteMetrics(w io.Writer, snap Snapshot) error {
	bw := bufio.NewWriter(w)
	type row struct {
		labels string
		c      Counters
		r      Rates
		d      *DestSnapshot
	}
	var rows []row
	for _, s := range snap.Services {
		svc := fmt.Sprintf("%s %s", protoName(s.Proto), s.Addr)
		rows = append(rows, row{labels: fmt.Sprintf(`service="%s"`, escLabel(svc)), c: s.Stats, r: s.Rates})
		for i := range s.Dests {
			ds := &s.Dests[i]
			rows = append(rows, row{labels: fmt.Sprintf(`service="%s",realserver="%s"`, escLabel(svc), escLabel(ds.Addr.String())),
				c: ds.Stats, r: ds.Rates, d: ds})
		}
	}
	metric := func(name, typ, help string, val func(row) (uint64, bool)) {
		fmt.Fprintf(bw, "# HELP lvsperf_director_%s %s\n# TYPE lvsperf_director_%s %s\n", name, help, name, typ)
		for _, r := range rows {
			if v, ok := val(r); ok {
				fmt.Fprintf(bw, "lvsperf_director_%s{%s} %d\n", name, r.labels, v)
			}
		}
	}
	all := func(f func(row) uint64) func(row) (uint64, bool) {
		return func(r row) (uint64, bool) { return f(r), true }
	}
	dest := func(f func(*DestSnapshot) int64) func(row) (uint64, bool) {
		return func(r row) (uint64, bool) {
			if r.d == nil {
				return 0, false
			}
			return uint64(f(r.d)), true
		}
	}
	metric("conns_total", "counter", "Connections scheduled.", all(func(r row) uint64 { return r.c.Conns }))
	metric("in_packets_total", "counter", "Client to realserver packets (reads for a userspace engine).", all(func(r row) uint64 { return r.c.InPkts }))
	metric("out_packets_total", "counter", "Realserver to client packets (reads for a userspace engine).", all(func(r row) uint64 { return r.c.OutPkts }))
	metric("in_bytes_total", "counter", "Client to realserver payload bytes.", all(func(r row) uint64 { return r.c.InBytes }))
	metric("out_bytes_total", "counter", "Realserver to client payload bytes.", all(func(r row) uint64 { return r.c.OutBytes }))
	metric("cps", "gauge", "Connections per second (IPVS 2 s estimator).", all(func(r row) uint64 { return r.r.CPS }))
	metric("in_pps", "gauge", "Inbound packets per second (IPVS 2 s estimator).", all(func(r row) uint64 { return r.r.InPPS }))
	metric("out_pps", "gauge", "Outbound packets per second (IPVS 2 s estimator).", all(func(r row) uint64 { return r.r.OutPPS }))
	metric("in_bytes_per_second", "gauge", "Inbound bytes per second (IPVS 2 s estimator).", all(func(r row) uint64 { return r.r.InBPS }))
	metric("out_bytes_per_second", "gauge", "Outbound bytes per second (IPVS 2 s estimator).", all(func(r row) uint64 { return r.r.OutBPS }))
	metric("active_conns", "gauge", "Connections in an active TCP state (ipvsadm ActiveConn).", dest(func(d *DestSnapshot) int64 { return d.ActiveConns }))
	metric("inactive_conns", "gauge", "Other connections (ipvsadm InActConn).", dest(func(d *DestSnapshot) int64 { return d.InactConns }))
	metric("persistent_conns", "gauge", "Persistence templates pointing at the realserver.", dest(func(d *DestSnapshot) int64 { return d.PersistConns }))
	metric("weight", "gauge", "Realserver weight (0 = quiesced).", dest(func(d *DestSnapshot) int64 { return int64(d.Weight) }))
	return bw.Flush()
}

func escLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
