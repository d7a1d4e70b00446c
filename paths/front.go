package paths

import (
	"context"

	"github.com/lvsperf/lvsperf/director/dataplane"
	"github.com/lvsperf/lvsperf/director/embed"
)

// frontDirector starts the embedded director (model, proxy engine) in
// front of addrs. The director lives until the returned stop is called,
// not until ctx ends: ctx only bounds starting it.
func frontDirector(ctx context.Context, s Spec, addrs []string) (string, map[string]string, func() error, error) {
	proto := dataplane.TCP
	if s.UDP {
		proto = dataplane.UDP
	}
	d, err := embed.Start(context.WithoutCancel(ctx), embed.Options{Proto: proto, Scheduler: s.Scheduler, Realservers: addrs})
	if err != nil {
		return "", nil, nil, err
	}
	info := map[string]string{
		"engine":    "proxy",
		"director":  d.Addr(),
		"scheduler": s.Scheduler,
		"protocol":  string(proto),
	}
	return d.Addr(), info, d.Close, nil
}
