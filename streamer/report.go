package streamer

import (
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/timing"
)

// IntervalHeader is the column line of the interval rows WriteInterval
// prints.
func IntervalHeader(udp bool) string {
	if udp {
		return fmt.Sprintf("%-6s %-15s %12s %14s %9s %9s %7s %10s", "stream", "interval", "bytes", "rate", "packets", "lost", "ooo", "jitter")
	}
	return fmt.Sprintf("%-6s %-15s %12s %14s %8s %12s", "stream", "interval", "bytes", "rate", "retr", "cwnd")
}

// FormatInterval is one interval row under IntervalHeader.
func FormatInterval(iv Interval, udp bool) string {
	id := strconv.Itoa(iv.Stream)
	if iv.Stream == 0 {
		id = "sum"
	}
	span := fmt.Sprintf("%6.2f-%-6.2f s", iv.Start.Seconds(), iv.End.Seconds())
	head := fmt.Sprintf("%-6s %-15s %12d %14s", id, span, iv.Bytes, iv.Rate())
	if udp {
		return head + fmt.Sprintf(" %9d %9s %7s %10s", iv.Packets, count(iv.Lost), count(iv.OutOfOrder), dur(iv.Jitter))
	}
	cw := "-"
	if iv.Cwnd >= 0 {
		cw = bytesOr(iv.Cwnd)
	}
	return head + fmt.Sprintf(" %8s %12s", count(iv.Retransmits), cw)
}

func count(v int64) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatInt(v, 10)
}

func dur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f ms", d.Seconds()*1e3)
}

// WriteSummary prints the totals of each stream and their sum, from both
// ends, the way iperf3 closes its output.
func WriteSummary(w io.Writer, r *Report) error {
	rows := r.Streams
	if len(rows) > 1 {
		rows = append(rows[:len(rows):len(rows)], r.Sum)
	}
	for _, s := range rows {
		id := strconv.Itoa(s.ID)
		if s.ID == 0 {
			id = "sum"
		}
		line := fmt.Sprintf("%-6s sender %s in %.2fs (%s)  receiver %s in %.2fs (%s)", id,
			bytesOr(s.SentBytes), s.SenderTime.Seconds(), rateOr(s.SentBytes, s.SenderRate()),
			bytesOr(s.ReceivedBytes), s.ReceiverTime.Seconds(), rateOr(s.ReceivedBytes, s.ReceiverRate()))
		if r.UDP {
			loss := "-"
			if p := s.LossPct(); p >= 0 {
				loss = fmt.Sprintf("%d/%d (%.3g%%)", s.Lost, s.Expected, p)
			}
			line += fmt.Sprintf("  lost %s  out of order %s  jitter %s", loss, count(s.OutOfOrder), dur(s.Jitter))
		} else {
			line += fmt.Sprintf("  retransmits %s", count(s.Retransmits))
			if s.Cwnd >= 0 {
				line += fmt.Sprintf("  cwnd %s  rtt %v", bytesOr(s.Cwnd), s.RTT)
			}
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "cpu: local %.1f%% (user %.1f%%, system %.1f%%), remote %.1f%% (user %.1f%%, system %.1f%%)\n",
		r.LocalCPU.Total, r.LocalCPU.User, r.LocalCPU.System, r.RemoteCPU.Total, r.RemoteCPU.User, r.RemoteCPU.System)
	return err
}

func bytesOr(b timing.Bytes) string {
	if b < 0 {
		return "-"
	}
	v, unit := float64(b), "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	if unit == "B" {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func rateOr(b timing.Bytes, r timing.BitsPerSecond) string {
	if b < 0 {
		return "-"
	}
	return r.String()
}

// Headline is the report's last lines: the receiver's throughput and,
// for UDP, loss and jitter.
func Headline(r *Report) []string {
	s := r.Sum
	dir := "client → server"
	if r.Reverse {
		dir = "server → client"
	}
	proto := "TCP"
	if r.UDP {
		proto = "UDP"
	}
	n := len(r.Streams)
	line := fmt.Sprintf("stream %s %s, %d stream(s), %.1fs: %s received (%s sent)", proto, dir, n, r.Duration.Seconds(),
		rateOr(s.ReceivedBytes, s.ReceiverRate()), rateOr(s.SentBytes, s.SenderRate()))
	var more string
	if r.UDP {
		loss := "unknown"
		if p := s.LossPct(); p >= 0 {
			loss = fmt.Sprintf("%.3g%%", p)
		}
		more = fmt.Sprintf("  loss %s, jitter %s, out of order %s", loss, dur(s.Jitter), count(s.OutOfOrder))
	} else {
		more = fmt.Sprintf("  retransmits %s", count(s.Retransmits))
	}
	return []string{line, more}
}

// Probe is the probe name of a timed stream's runs: its points are
// intervals, so it is not compared with NetPIPE's stream mode ("stream").
const Probe = "stream-timed"

// Run turns the report into a results.Run: one series per stream (and the
// sum first, with more than one stream) whose points are the intervals —
// each point's bytes are the interval's, its time the interval's length,
// so a point's rate is the interval's throughput. A timed stream has no
// size schedule, so the series carry no fit; the totals, retransmits, loss
// and jitter are in each series' Info.
func (r *Report) Run(options map[string]string) *results.Run {
	host, _ := os.Hostname()
	run := &results.Run{
		Format:   results.Format,
		Schema:   results.Schema,
		ID:       fmt.Sprintf("stream-%s-%s-%d", host, r.Started.UTC().Format("20060102T150405Z"), os.Getpid()),
		Probe:    Probe,
		Path:     "direct",
		Started:  r.Started,
		Finished: r.Started.Add(r.Duration),
		Complete: true,
		Env:      results.CollectEnv("lo"),
		Options:  maps.Clone(options),
	}
	byStream := map[int][]timing.Point{}
	for _, iv := range r.Intervals {
		d := iv.End - iv.Start
		byStream[iv.Stream] = append(byStream[iv.Stream], timing.Point{Bytes: iv.Bytes, Reps: 1,
			Trials: []time.Duration{d}, Min: d, Median: d, Max: d, Mean: d})
	}
	add := func(label string, id int, s StreamResult) {
		info := streamInfo(r, s)
		info["points"] = results.IntervalPoints
		for k, v := range intervalInfo(r, id) {
			info[k] = v
		}
		run.Series = append(run.Series, results.Series{
			Series: timing.Series{Label: label, Points: byStream[id], FitError: "a timed stream has no size schedule to fit"},
			Path:   "direct",
			Info:   info,
		})
	}
	if len(r.Streams) > 1 {
		add("stream sum", 0, r.Sum)
	}
	for _, s := range r.Streams {
		add(fmt.Sprintf("stream %d", s.ID), s.ID, s)
	}
	return run
}

func streamInfo(r *Report, s StreamResult) map[string]string {
	m := map[string]string{
		"peer":           r.Peer,
		"protocol":       map[bool]string{true: "udp", false: "tcp"}[r.UDP],
		"direction":      map[bool]string{true: "server-to-client", false: "client-to-server"}[r.Reverse],
		"sent_bytes":     strconv.FormatInt(int64(s.SentBytes), 10),
		"received_bytes": strconv.FormatInt(int64(s.ReceivedBytes), 10),
		"sender_s":       strconv.FormatFloat(s.SenderTime.Seconds(), 'f', 6, 64),
		"receiver_s":     strconv.FormatFloat(s.ReceiverTime.Seconds(), 'f', 6, 64),
		"receiver_bps":   strconv.FormatFloat(float64(s.ReceiverRate()), 'f', 0, 64),
		"sender_bps":     strconv.FormatFloat(float64(s.SenderRate()), 'f', 0, 64),
		"local_cpu_pct":  strconv.FormatFloat(r.LocalCPU.Total, 'f', 2, 64),
		"remote_cpu_pct": strconv.FormatFloat(r.RemoteCPU.Total, 'f', 2, 64),
	}
	if r.UDP {
		m["sent_packets"] = count(s.SentPackets)
		m["expected_packets"] = count(s.Expected)
		m["lost"] = count(s.Lost)
		m["out_of_order"] = count(s.OutOfOrder)
		m["jitter_ms"] = "-"
		if s.Jitter >= 0 {
			m["jitter_ms"] = strconv.FormatFloat(s.Jitter.Seconds()*1e3, 'f', 4, 64)
		}
		m["target_bps"] = strconv.FormatFloat(float64(r.Rate), 'f', 0, 64)
	} else {
		m["retransmits"] = count(s.Retransmits)
		if s.Cwnd >= 0 {
			m["cwnd_bytes"] = count(int64(s.Cwnd))
			m["rtt_us"] = strconv.FormatInt(s.RTT.Microseconds(), 10)
		}
		if r.Congestion != "" {
			m["congestion"] = r.Congestion
		}
	}
	return m
}

// intervalInfo lists, point by point, what a point cannot hold: each
// interval's retransmits and window (TCP) or loss, reordering and jitter
// (UDP), comma-separated, "-" where unknown.
func intervalInfo(r *Report, id int) map[string]string {
	cols := map[string][]string{}
	keys := []string{"interval_retransmits", "interval_cwnd_bytes"}
	if r.UDP {
		keys = []string{"interval_packets", "interval_lost", "interval_out_of_order", "interval_jitter_ms"}
	}
	for _, iv := range r.Intervals {
		if iv.Stream != id {
			continue
		}
		jit := "-"
		if iv.Jitter >= 0 {
			jit = strconv.FormatFloat(iv.Jitter.Seconds()*1e3, 'f', 4, 64)
		}
		vals := []string{count(iv.Retransmits), count(int64(iv.Cwnd))}
		if r.UDP {
			vals = []string{count(iv.Packets), count(iv.Lost), count(iv.OutOfOrder), jit}
		}
		for i, k := range keys {
			cols[k] = append(cols[k], vals[i])
		}
	}
	m := map[string]string{}
	for k, v := range cols {
		m[k] = strings.Join(v, ",")
	}
	return m
}
