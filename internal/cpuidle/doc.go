// Package cpuidle keeps idle CPUs awake for the length of a measurement.
//
// On a virtual machine an idle vCPU usually halts, and waking it costs an exit
// to the hypervisor: tens of microseconds on the Firecracker guests lvsperf is
// developed on, whose cpuidle driver is haltpoll with guest_halt_poll_ns=0.
// Every hop of a request that lands on a halted CPU pays that cost, so a quiet
// machine measures a multi-hop path (a director, a proxy) slower than a busy
// one, and by an amount that changes from minute to minute. Holding a PM QoS
// request of 0 µs on /dev/cpu_dma_latency — what cyclictest and tuned's
// latency-performance profile do — makes the idle governor choose the polling
// state, so a woken thread runs at once. The request lasts while the file
// stays open and ends when it is closed or the process dies.
package cpuidle
