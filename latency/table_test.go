package latency

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
)

func TestEveryServiceGivesARow(t *testing.T) {
	tab, err := Run(context.Background(), Options{Vias: []paths.Via{paths.Direct}, Budget: 1500 * time.Millisecond, MaxExp: 12})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range tab.Rows {
		seen[r.Service] = true
		if r.Fit == nil && r.Err == "" {
			t.Errorf("%s %s: neither a fit nor an error", r.Service, r.Detail)
		}
		if r.Fit != nil && r.Fit.Latency <= 0 && r.Service == "netpipe" {
			t.Errorf("netpipe latency %v", r.Fit.Latency)
		}
	}
	for _, s := range Services() {
		if !seen[s] {
			t.Errorf("no row for %s", s)
		}
	}
	var out bytes.Buffer
	if err := tab.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"netpipe", "300.00µs", "1.100s", "seed latency"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("wide table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := tab.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"netpipe", "netpipe 300µs, lat-eq 1500", "rsh 1.1s, lat-eq 3M", "latency ±95%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUnknownService(t *testing.T) {
	if _, err := Run(context.Background(), Options{Services: []string{"gopher"}}); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("unknown service: %v", err)
	}
}
