package results

import (
	"time"

	"github.com/lvsperf/lvsperf/timing"
)

// Schema is the version of the Run layout this build writes. A reader refuses
// files from a newer schema rather than misreading them.
const Schema = 1

// Format names lvsperf's result files; it is the first field of every file.
const Format = "lvsperf-run"

// Run is one invocation of a probe: what was measured, how, and where.
type Run struct {
	Format string `msgpack:"format" json:"format"`
	Schema int    `msgpack:"schema" json:"schema"`
	// ID is unique per run (time and host based).
	ID string `msgpack:"id" json:"id"`
	// Probe names the unit of work: netpipe, stream, http, rsh, lpd, nfs, ftp.
	Probe string `msgpack:"probe" json:"probe"`
	// Path says where the traffic went: "direct", "director/proxy/rr",
	// "lab/nat", … Series of one run may carry their own paths.
	Path     string    `msgpack:"path" json:"path"`
	Started  time.Time `msgpack:"started" json:"started"`
	Finished time.Time `msgpack:"finished" json:"finished"`
	// Complete is false while a run is in progress or when it ended early;
	// Error then says why.
	Complete bool   `msgpack:"complete" json:"complete"`
	Error    string `msgpack:"error,omitempty" json:"error,omitempty"`
	Env      Env    `msgpack:"env" json:"env"`
	// Options records the probe's settings as the user would write them
	// (flag name → value), beside each series' timing options.
	Options map[string]string `msgpack:"options" json:"options"`
	Series  []Series          `msgpack:"series" json:"series"`
}

// Series is one curve of a run: a timing series and the path it took.
type Series struct {
	timing.Series `msgpack:",inline"`
	// Path of this series ("direct", "director/proxy/rr", …).
	Path string `msgpack:"path" json:"path"`
	// Info holds probe-specific facts about how the series ran (socket
	// buffers actually applied, realservers, engine, …).
	Info map[string]string `msgpack:"info,omitempty" json:"info,omitempty"`
}

// Env records the machine and software a run measured on.
type Env struct {
	Tool       string `msgpack:"tool" json:"tool"`
	Host       string `msgpack:"host" json:"host"`
	Kernel     string `msgpack:"kernel" json:"kernel"`
	CPU        string `msgpack:"cpu" json:"cpu"`
	CPUs       int    `msgpack:"cpus" json:"cpus"`
	GoVersion  string `msgpack:"go" json:"go_version"`
	GOMAXPROCS int    `msgpack:"gomaxprocs" json:"gomaxprocs"`
	// MTU of the interfaces the run used, by name.
	MTU map[string]int `msgpack:"mtu,omitempty" json:"mtu,omitempty"`
	// Offloads of those interfaces (name → "tso=on gso=on gro=on"), when known.
	Offloads map[string]string `msgpack:"offloads,omitempty" json:"offloads,omitempty"`
	// LoadBefore and LoadAfter are the 1-minute load averages around the run;
	// Contended is set when the machine was busier than the run itself.
	LoadBefore float64 `msgpack:"load_before" json:"load_before"`
	LoadAfter  float64 `msgpack:"load_after" json:"load_after"`
	// StealPct is the share of CPU time the hypervisor took during the run.
	StealPct  float64 `msgpack:"steal_pct" json:"steal_pct"`
	Contended bool    `msgpack:"contended" json:"contended"`
	// Note explains Contended.
	Note string `msgpack:"note,omitempty" json:"note,omitempty"`
	// CPUIdle names the kernel's idle driver and governor ("haltpoll/haltpoll").
	CPUIdle string `msgpack:"cpuidle,omitempty" json:"cpuidle,omitempty"`
	// IdlePoll is set when the run held a 0 µs CPU wake-up latency request
	// (--idle-poll): idle CPUs polled instead of halting.
	IdlePoll bool `msgpack:"idle_poll,omitempty" json:"idle_poll,omitempty"`
}

// IntervalPoints is the value of a series' Info["points"] when its points
// are the intervals of a timed run (the bytes moved in the interval, the
// interval's length as the time) rather than the sizes of a sweep; plots
// draw such series against time.
const IntervalPoints = "intervals"

// Intervals reports whether every series of r holds a timed run's
// intervals (Info["points"] is IntervalPoints) rather than a size sweep's
// points.
func (r *Run) Intervals() bool {
	for _, s := range r.Series {
		if s.Info["points"] != IntervalPoints {
			return false
		}
	}
	return len(r.Series) > 0
}
