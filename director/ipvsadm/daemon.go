package ipvsadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
	"github.com/lvsperf/lvsperf/director/health"
	"github.com/lvsperf/lvsperf/director/lvsconf"
	"github.com/lvsperf/lvsperf/director/proxy"
)

// DaemonOptions configure a standalone director (lvsperf director). The
// zero value serves nothing until services are added over the control
// socket.
type DaemonOptions struct {
	// Control is the control socket path (default DefaultControlPath()).
	Control string
	// Metrics, when set, serves Prometheus text on http://Metrics/metrics.
	Metrics string
	// Rules is a file of ipvsadm commands (the -S format) to apply at start.
	Rules string
	// LVSConf is an lvs.conf file to apply at start.
	LVSConf string
	// VIP replaces lvs.conf's VIP= address (default 127.0.0.1, so the
	// seed's files run on loopback); "conf" keeps the file's address.
	VIP string
	// Hosts resolves lvs.conf host names (name → address); names not in
	// it go to the system resolver.
	Hosts map[string]string
	// Service, Scheduler, UDP, Persistence and Realservers configure one
	// service from flags: Realservers are "addr:port[,weight]".
	Service     string
	UDP         bool
	Scheduler   string
	Persistence time.Duration
	Realservers []string
	// HealthInterval, when positive, checks every realserver configured at
	// start with a TCP connect and quiesces those that fail.
	HealthInterval time.Duration
	// AllowRemote permits virtual services and the metrics listener on
	// addresses other than loopback.
	AllowRemote bool
	// Model and Proxy configure the model and the proxy engine.
	Model director.Options
	Proxy proxy.Options
}

// sysResolver resolves through a map, then the system resolver.
type sysResolver struct{ hosts map[string]string }

func (r sysResolver) Resolve(host string) (netip.Addr, error) {
	if s, ok := r.hosts[host]; ok {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("host %s=%q: not an IP address", host, s)
		}
		return a, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("unknown host %q (give --host %s=ADDR): %v", host, host, err)
	}
	return addrs[0].Unmap(), nil
}

// RunDaemon runs a standalone director until ctx is done: the model, the
// userspace proxy engine, the control socket, optional health checks and
// metrics. It reports what it serves on log.
func RunDaemon(ctx context.Context, o DaemonOptions, log io.Writer) (err error) {
	if o.Control == "" {
		o.Control = DefaultControlPath()
	}
	var wg sync.WaitGroup
	defer wg.Wait() // runs last: after cancel below has stopped the goroutines
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	model := director.New(o.Model)
	wg.Add(1)
	go func() { defer wg.Done(); model.Run(ctx) }()
	px, err := proxy.New(ctx, model, o.Proxy)
	if err != nil {
		return fmt.Errorf("director: proxy engine: %w", err)
	}
	defer px.Close()
	var engine Engine = px
	if !o.AllowRemote {
		engine = loopbackOnly{px}
	}
	sa := NewStandalone(model, engine)

	if err := configure(sa, o); err != nil {
		return err
	}

	ctl, err := ListenControl(o.Control)
	if err != nil {
		return fmt.Errorf("director: %w", err)
	}
	defer ctl.Close()
	served := make(chan error, 1)
	go func() { served <- ctl.Serve(ctx, sa.Handle) }()
	defer func() { cancel(); <-served }()

	if o.HealthInterval > 0 {
		var targets []health.Target
		for _, s := range model.Snapshot().Services {
			if s.Proto != dataplane.TCP {
				continue
			}
			for _, d := range s.Dests {
				if d.Weight == 0 {
					continue // quiesced on purpose (INITIAL_STATE=off): not ours to bring up
				}
				targets = append(targets, health.Target{Proto: s.Proto, VIP: s.Addr, RIP: d.Addr, Weight: d.Weight})
			}
		}
		if len(targets) > 0 {
			hc, err := health.Start(ctx, model, targets, health.Options{Interval: o.HealthInterval, OnChange: func(c health.Change) {
				fmt.Fprintf(log, "health: %s %s up=%v %v\n", c.Target.VIP, c.Target.RIP, c.Up, c.Err)
			}})
			if err != nil {
				return fmt.Errorf("director: health checks: %w", err)
			}
			defer hc.Close()
		}
	}

	if o.Metrics != "" {
		srv, addr, err := serveMetrics(o.Metrics, o.AllowRemote, model)
		if err != nil {
			return fmt.Errorf("director: --metrics: %w", err)
		}
		defer srv.Close()
		fmt.Fprintf(log, "metrics on http://%s/metrics\n", addr)
	}
	fmt.Fprintf(log, "director serving %d virtual services; control socket %s (lvsperf ipvsadm --control %s -L -n)\n",
		len(model.Snapshot().Services), ctl.Path(), ctl.Path())
	<-ctx.Done()
	return nil
}

// loopbackOnly refuses virtual services off loopback.
type loopbackOnly struct{ Engine }

func (l loopbackOnly) Listen(proto dataplane.Protocol, addr netip.AddrPort) (netip.AddrPort, error) {
	if !addr.Addr().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("%s is not a loopback address; the director listens on loopback unless started with --allow-remote", addr.Addr())
	}
	return l.Engine.Listen(proto, addr)
}

func configure(sa *Standalone, o DaemonOptions) error {
	if o.LVSConf != "" {
		f, err := os.Open(o.LVSConf)
		if err != nil {
			return fmt.Errorf("director: %w", err)
		}
		conf, err := lvsconf.Parse(o.LVSConf, io.LimitReader(f, lvsconf.MaxLines*lvsconf.MaxLineBytes), sysResolver{o.Hosts})
		f.Close()
		if err != nil {
			return err
		}
		var vip netip.Addr
		switch o.VIP {
		case "conf":
		case "":
			vip = netip.MustParseAddr("127.0.0.1")
		default:
			if vip, err = netip.ParseAddr(o.VIP); err != nil {
				return fmt.Errorf("director: --vip %q: want an IP address or \"conf\"", o.VIP)
			}
		}
		if err := conf.Apply(sa.Model(), vip); err != nil {
			return err
		}
		if err := sa.Sync(); err != nil {
			return err
		}
	}
	if o.Rules != "" {
		f, err := os.Open(o.Rules)
		if err != nil {
			return fmt.Errorf("director: %w", err)
		}
		err = sa.Restore(o.Rules, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if o.Service == "" {
		if len(o.Realservers) > 0 {
			return errors.New("director: --realserver needs --service VIP:port")
		}
		return nil
	}
	args := []string{"-A", "-t", o.Service}
	if o.UDP {
		args[1] = "-u"
	}
	if o.Scheduler != "" {
		args = append(args, "-s", o.Scheduler)
	}
	if o.Persistence > 0 {
		args = append(args, "-p", strconv.Itoa(int(o.Persistence/time.Second)))
	}
	if err := sa.Handle(context.Background(), args, nil, io.Discard); err != nil {
		return fmt.Errorf("director: --service: %w", err)
	}
	for _, r := range o.Realservers {
		addr, w, hasW := strings.Cut(r, ",")
		rargs := []string{"-a", args[1], o.Service, "-r", addr, "-m"}
		if hasW {
			rargs = append(rargs, "-w", w)
		}
		if err := sa.Handle(context.Background(), rargs, nil, io.Discard); err != nil {
			return fmt.Errorf("director: --realserver %s: %w", r, err)
		}
	}
	return nil
}

func serveMetrics(addr string, allowRemote bool, model *director.Director) (*http.Server, string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("%q: want IP:port, e.g. 127.0.0.1:9100", addr)
	}
	if !allowRemote && !ap.Addr().IsLoopback() {
		return nil, "", fmt.Errorf("%s is not a loopback address; pass --allow-remote to serve metrics elsewhere", ap.Addr())
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		director.WriteMetrics(w, model.Snapshot())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}
