package ptester

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure one hammer run. The zero value of every field but Target
// means its default.
type Options struct {
	// Target is host[:port] (port 80 when absent) or an http:// URL, whose
	// path then replaces Path.
	Target string `json:"target"`
	// Path is the URL path to GET; default "/".
	Path string `json:"path"`
	// Duration of the timed run; default 10 s.
	Duration time.Duration `json:"duration_ns"`
	// KeepAlive is the number of GETs per TCP connection (ptester's -k):
	// 1 opens a new connection for every GET. Default 1.
	KeepAlive int `json:"keepalive"`
	// Clients is the number of concurrent clients, each with its own
	// connection, released together by a barrier. Default 1.
	Clients int `json:"clients"`
	// Rate, when positive, runs an open loop at this many requests per second
	// in total, spread evenly over the clients; latency is then measured from
	// each request's intended send time. 0 = closed loop (as fast as possible).
	Rate float64 `json:"rate"`
	// Timeout bounds one request (connect + response); default 10 s.
	Timeout time.Duration `json:"timeout_ns"`
	// NoPrefetch skips the untimed GET before the run (ptester's scripts
	// fetched once first so the server had the file in memory).
	NoPrefetch bool `json:"no_prefetch"`
	// Sources spreads client connections over this many source addresses
	// 127.0.0.2 … (loopback targets only), multiplying the ephemeral-port
	// budget; 0 lets the kernel choose.
	Sources int `json:"sources"`
	// Linger0 closes client connections with SO_LINGER 0 (RST, no TIME_WAIT
	// on the client). Normally the server closes first, which needs no trick.
	Linger0 bool `json:"linger0"`
	// Verify checks that every body byte is '0' (the file server's content).
	Verify bool `json:"verify"`
	// NoSplice makes clients copy every body into their buffer, as wrk and
	// hey do; by default bodies of 64 KiB and more are discarded in the
	// kernel with splice(2), counted exactly but not copied. Verify implies it.
	NoSplice bool `json:"no_splice"`
	// BufferSize is each client's read buffer; default 256 KiB.
	BufferSize int `json:"buffer_size"`
	// Engine drives the clients: EngineLoop (event loops over raw
	// non-blocking sockets, as wrk does), EngineGoroutines (a goroutine per
	// client on Go's poller) or EngineAuto (default: see Engine).
	Engine Engine `json:"engine"`
	// Loops is the number of event loops, each on its own OS thread, of the
	// loop engine; default GOMAXPROCS, at most Clients.
	Loops int `json:"loops"`

	// StartAt, when set, releases the clients at this instant instead of as
	// soon as they are ready (the cluster coordinator's synchronised start);
	// an instant already past starts at once.
	StartAt time.Time `json:"start_at,omitzero"`
	// Progress, when set, is called every ProgressEvery (default 250 ms)
	// during the run with the counts so far, from a goroutine of its own.
	Progress      func(Progress) `json:"-"`
	ProgressEvery time.Duration  `json:"-"`

	// keepSamples makes a run keep every latency (tests compare the
	// histogram's percentiles with a sort of these).
	keepSamples bool
}

// Defaults.
const (
	DefaultDuration   = 10 * time.Second
	DefaultTimeout    = 10 * time.Second
	DefaultBufferSize = 256 << 10
	// MaxClients bounds -c; each client holds a buffer and histograms.
	MaxClients = 4096
)

// Check rejects values a user set explicitly that make no sense, before
// anything runs: -k 0, -c 0, a negative -t, a malformed host or path. Zero
// values that mean "default" in Normalize are errors here, because a user
// who typed them meant them.
func (o Options) Check() error {
	if o.KeepAlive < 1 {
		return fmt.Errorf("-k %d: want 1 or more GETs per connection (1 = new connection per GET)", o.KeepAlive)
	}
	if o.Clients < 1 || o.Clients > MaxClients {
		return fmt.Errorf("-c %d: want 1 to %d clients", o.Clients, MaxClients)
	}
	if o.Duration < 0 {
		return fmt.Errorf("-t %v: want a positive duration", o.Duration)
	}
	_, err := o.Normalize()
	return err
}

// Normalize fills defaults and validates; the result is what a run records.
func (o Options) Normalize() (Options, error) {
	if o.Target == "" {
		return o, fmt.Errorf("no host: want -h host[:port]")
	}
	if strings.Contains(o.Target, "://") {
		u, err := url.Parse(o.Target)
		if err != nil {
			return o, fmt.Errorf("host %q: %w", o.Target, err)
		}
		if u.Scheme != "http" {
			return o, fmt.Errorf("host %q: scheme %q not supported, want http", o.Target, u.Scheme)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return o, fmt.Errorf("host %q: want http://host[:port][/path] without user, query or fragment", o.Target)
		}
		o.Target = u.Host
		if u.Path != "" && u.Path != "/" {
			o.Path = u.Path
		}
	}
	host, port, err := net.SplitHostPort(o.Target)
	if err != nil {
		if strings.Count(o.Target, ":") > 0 && !strings.HasPrefix(o.Target, "[") {
			return o, fmt.Errorf("host %q: want host[:port]", o.Target)
		}
		host, port = strings.Trim(o.Target, "[]"), "80"
	}
	if host == "" || strings.ContainsAny(host, "/ ?#@\t\r\n") {
		return o, fmt.Errorf("host %q: want host[:port], e.g. 127.0.0.1:8080", o.Target)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return o, fmt.Errorf("host %q: port %q, want 1 to 65535", o.Target, port)
	}
	o.Target = net.JoinHostPort(host, port)
	if o.Path == "" {
		o.Path = "/"
	}
	if !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, " \t\r\n#") {
		return o, fmt.Errorf("path %q: want an absolute URL path such as /file/file.10", o.Path)
	}
	switch {
	case o.Duration == 0:
		o.Duration = DefaultDuration
	case o.Duration < 0:
		return o, fmt.Errorf("duration %v: want a positive duration", o.Duration)
	}
	switch {
	case o.KeepAlive == 0:
		o.KeepAlive = 1
	case o.KeepAlive < 0:
		return o, fmt.Errorf("keep-alive %d: want 1 or more GETs per connection", o.KeepAlive)
	}
	switch {
	case o.Clients == 0:
		o.Clients = 1
	case o.Clients < 0 || o.Clients > MaxClients:
		return o, fmt.Errorf("clients %d: want 1 to %d", o.Clients, MaxClients)
	}
	if o.Rate < 0 {
		return o, fmt.Errorf("rate %g: want requests per second > 0, or 0 for a closed loop", o.Rate)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("timeout %v: want a positive duration", o.Timeout)
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BufferSize < 4<<10 {
		return o, fmt.Errorf("buffer size %d: want at least 4096 bytes", o.BufferSize)
	}
	switch o.Engine {
	case "":
		o.Engine = EngineAuto
	case EngineAuto, EngineLoop, EngineGoroutines:
	default:
		return o, fmt.Errorf("engine %q: want %s, %s or %s", o.Engine, EngineAuto, EngineLoop, EngineGoroutines)
	}
	if o.Engine == EngineLoop && o.Rate > 0 {
		return o, fmt.Errorf("engine %s has no open loop (--rate %g): use engine %s or %s", o.Engine, o.Rate, EngineGoroutines, EngineAuto)
	}
	if o.Loops < 0 || o.Loops > MaxClients {
		return o, fmt.Errorf("loops %d: want 0 (GOMAXPROCS) to %d event loops", o.Loops, MaxClients)
	}
	if o.Sources < 0 || o.Sources > 250 {
		return o, fmt.Errorf("sources %d: want 0 (kernel's choice) to 250 loopback addresses", o.Sources)
	}
	if o.Sources > 0 {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return o, fmt.Errorf("sources %d: spreading source addresses over 127.0.0.0/8 needs an IPv4 loopback target, got %q", o.Sources, host)
		}
	}
	return o, nil
}

// ParseSeconds parses ptester's -t: a number of seconds ("30", "0.5") or a
// Go duration ("500ms").
func ParseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("-t %q: want a positive number of seconds", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("-t %q: want seconds (30) or a duration (500ms)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("-t %q: want a positive duration", s)
	}
	return d, nil
}
