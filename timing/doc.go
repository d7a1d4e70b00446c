// Package timing is the measurement core every lvsperf probe shares: size
// schedules, warm-up and trial calibration, per-size statistics and the fit of
// transfer_time = latency + bytes/max_rate (the Hockney model). It knows nothing
// of sockets: a probe offers one small interface, Probe, and the core owns the
// size loop, the repeat counts and the numbers.
package timing
