package director

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

func TestWriteMetrics(t *testing.T) {
	d, _ := newTestDirector(t, "rr", 3)
	f, err := d.Connect(dataplane.TCP, vip, client(1))
	if err != nil {
		t.Fatal(err)
	}
	f.Event(dataplane.Established)
	f.Count(true, 1500, 2)
	var buf bytes.Buffer
	if err := WriteMetrics(&buf, d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# TYPE lvsperf_director_conns_total counter\n",
		`lvsperf_director_conns_total{service="TCP 10.0.0.1:80"} 1` + "\n",
		`lvsperf_director_conns_total{service="TCP 10.0.0.1:80",realserver="192.168.10.1:80"} 1` + "\n",
		`lvsperf_director_in_bytes_total{service="TCP 10.0.0.1:80",realserver="192.168.10.1:80"} 1500` + "\n",
		`lvsperf_director_in_packets_total{service="TCP 10.0.0.1:80"} 2` + "\n",
		`lvsperf_director_active_conns{service="TCP 10.0.0.1:80",realserver="192.168.10.1:80"} 1` + "\n",
		`lvsperf_director_weight{service="TCP 10.0.0.1:80",realserver="192.168.10.1:80"} 3` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `lvsperf_director_weight{service="TCP 10.0.0.1:80"}`) {
		t.Error("a service row has a realserver-only gauge")
	}
}
