package lvsconf

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

var hosts = MapResolver{
	"lvs":             netip.MustParseAddr("192.168.2.110"),
	"director-inside": netip.MustParseAddr("192.168.1.9"),
	"realserver1":     netip.MustParseAddr("192.168.1.11"),
	"realserver2":     netip.MustParseAddr("192.168.1.12"),
}

func parseFile(t *testing.T, path string) *Config {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse("lvs.conf", f, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSeedDRConf parses the seed's lvs_dr.conf verbatim and applies it.
func TestSeedDRConf(t *testing.T) {
	c := parseFile(t, "testdata/lvs_dr.conf")
	if c.Type != VSDR || c.InitialState != "on" || c.VIP.Device != "eth1:110" || c.VIP.Addr != hosts["lvs"] {
		t.Fatalf("header: %+v VIP %+v", c, c.VIP)
	}
	if c.DirectorInsideIP == nil || c.DirectorInsideIP.Addr != hosts["director-inside"] ||
		strings.Join(c.DirectorInsideIP.Fields, " ") != "192.168.1.0 255.255.255.0 192.168.1.255" {
		t.Fatalf("DIRECTOR_INSIDEIP %+v", c.DirectorInsideIP)
	}
	if len(c.Services) != 2 || c.Services[0].Port != 23 || c.Services[1].Port != 5002 || c.Services[1].PortName != "netpipe" ||
		len(c.Services[0].Realservers) != 2 || len(c.Services[1].Realservers) != 1 {
		t.Fatalf("services %+v", c.Services)
	}
	var keys []string
	for _, o := range c.Other {
		keys = append(keys, o.Key)
	}
	if got := strings.Join(keys, " "); got != "DIRECTOR_DEFAULT_GW SERVER_VIP_DEVICE SERVER_NET_DEVICE SERVER_DEFAULT_GW" {
		t.Fatalf("other keys %q", got)
	}
}

func TestSeedTUNConfAndWeights(t *testing.T) {
	c := parseFile(t, "testdata/lvs_tun.conf")
	if c.Type != VSTUN || c.Type.Forward() != director.Tunnel {
		t.Fatalf("type %q", c.Type)
	}
	conf := "LVS_TYPE=VS_NAT\nVIP=lo 127.0.0.1\nSERVICE=u 53 wlc 10.0.0.1:5353,3 realserver2,0 # weights\nSERVICE=tcp http sh 10.0.0.2\n"
	c, err := Parse("x.conf", strings.NewReader(conf), hosts)
	if err != nil {
		t.Fatal(err)
	}
	rs := c.Services[0].Realservers
	if c.Services[0].Proto != dataplane.UDP || rs[0].Port != 5353 || rs[0].Weight != 3 || rs[1].Weight != 0 || rs[1].Addr != hosts["realserver2"] {
		t.Fatalf("realservers %+v", rs)
	}
	if c.Services[1].Port != 80 || c.Type.Forward() != director.Masq {
		t.Fatalf("service %+v type %s", c.Services[1], c.Type)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ conf, want string }{
		{"VIP=eth0 lvs\n\nSERVICE=x telnet rr realserver1\n", `lvs.conf:3: SERVICE needs a protocol (t or u), got "x"`},
		{"SERVICE=t telnet rr realserver1\n", "lvs.conf:1: SERVICE needs a VIP= line"},
		{"VIP=eth0 lvs\nSERVICE=t gopher rr realserver1\n", `lvs.conf:2: SERVICE port "gopher" is neither`},
		{"VIP=eth0 lvs\nSERVICE=t telnet xx realserver1\n", `lvs.conf:2: SERVICE telnet: unknown scheduler "xx" (want one of rr wrr`},
		{"VIP=eth0 lvs\nSERVICE=t telnet rr\n", "lvs.conf:2: SERVICE telnet needs at least one realserver"},
		{"VIP=eth0 lvs\nSERVICE=t telnet rr nohost\n", `lvs.conf:2: SERVICE telnet: realserver "nohost": unknown host "nohost"`},
		{"VIP=eth0 lvs\nSERVICE=t telnet rr realserver1,heavy\n", `lvs.conf:2: SERVICE telnet: realserver "realserver1,heavy": weight "heavy"`},
		{"LVS_TYPE=VS_FOO\n", `lvs.conf:1: LVS_TYPE must be VS_DR, VS_NAT or VS_TUN, got "VS_FOO"`},
		{"# ok\nthis is not a setting\n", `lvs.conf:2: want KEY=value, got "this is not a setting"`},
		{"lower=case\n", `lvs.conf:1: want KEY=value`},
		{"VIP=eth0\n", "lvs.conf:1: VIP needs a device and a host"},
		{"VIP=eth0 lvs\nVIP=eth1 lvs\n", "lvs.conf:2: VIP given twice (first on line 1)"},
		{"INITIAL_STATE=maybe\n", `lvs.conf:1: INITIAL_STATE must be on or off`},
		{"X=" + strings.Repeat("y", MaxLineBytes+10) + "\n", "lvs.conf:1: line longer than"},
	}
	for _, c := range cases {
		_, err := Parse("lvs.conf", strings.NewReader(c.conf), hosts)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to start with %q", c.conf, err, c.want)
		}
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Errorf("%q: error %T is not a *LineError", c.conf, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/lvs_dr.conf", "testdata/lvs_tun.conf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("VIP=lo 127.0.0.1\nSERVICE=u 53 wlc 10.0.0.1:5353,3\n")
	f.Add("SERVICE=t\n=\n#\nA=B=C\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("fuzz.conf", strings.NewReader(s), hosts)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v does not name a line", err)
			}
			return
		}
		d := director.New(director.Options{})
		if err := c.Apply(d, netip.MustParseAddr("127.0.0.1")); err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("apply error %v does not name a line", err)
			}
		}
	})
}
