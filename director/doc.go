// Package director is lvsperf's embedded IPVS director model: virtual
// services, realservers, every IPVS scheduler with the kernel's selection
// rules, a connection table with the kernel's TCP states and timeouts,
// persistence templates, and per-service and per-realserver statistics with
// IPVS's 2-second fixed-point rate estimator. It has no kernel dependency;
// engines (director/proxy, director/nft) move the bytes.
//
// API for engines and tools:
//
//	d := director.New(director.Options{})           // Options zero value = IPVS defaults
//	go d.Run(ctx)                                   // expiry (1 s) and estimator (2 s) ticker
//	d.AddService(director.ServiceConfig{Proto: dataplane.TCP, Addr: vip, Scheduler: "wlc"})
//	d.EditService / d.DeleteService(proto, vip) / d.Clear()
//	d.AddDest(proto, vip, director.DestConfig{Addr: rip, Weight: 1, Forward: director.Masq})
//	d.EditDest / d.DeleteDest(proto, vip, rip)
//	d.SetWeight(proto, vip, rip, 0)                 // health checks quiesce with weight 0
//	flow, err := d.Connect(proto, vip, client)      // implements dataplane.Picker
//	flow.Dest(); flow.Event(e); flow.Count(in, b, p) // implements dataplane.Flow
//	snap := d.Snapshot()                            // services, realservers, counters, rates
//	conns := d.Conns()                              // connection table + templates (ipvsadm -L -c)
//	d.Zero(nil); d.SetTimeouts(tcp, tcpfin, udp)    // ipvsadm -Z, --set
//	d.Tick()                                        // one expiry/estimator step (tests, own loops)
//	director.WriteMetrics(w, snap)                  // Prometheus text
//	director.NewScheduler(name, flags)              // a scheduler alone (for other engines)
//
// Locking: the set of services is an immutable map swapped with an atomic
// pointer (copy on write), so Connect takes no global lock. Scheduling and
// persistence take the chosen service's own mutex, as IPVS takes the
// service's scheduler lock. The connection table is sharded by flow key;
// Count only does atomic adds on the flow, its realserver and its service;
// Event takes the flow's own mutex. Expiry and the rate estimator run on a
// ticker (Run or Tick). A flow the engine still holds never expires (the
// engine owns the socket); once the engine reports Closed, the entry
// lingers for its state's IPVS timeout, so listings look like IPVS's.
// ipvsadm grammar, listings and the control socket are in director/ipvsadm;
// the seeds' lvs.conf format is in director/lvsconf.
package director
