package lvsconf_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
	"github.com/lvsperf/lvsperf/director/ipvsadm"
	"github.com/lvsperf/lvsperf/director/lvsconf"
)

// TestSeedDRConfApplies applies the seed's lvs_dr.conf and checks the
// resulting rules in ipvsadm -S form.
func TestSeedDRConfApplies(t *testing.T) {
	f, err := os.Open("testdata/lvs_dr.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hosts := lvsconf.MapResolver{
		"lvs":             netip.MustParseAddr("192.168.2.110"),
		"director-inside": netip.MustParseAddr("192.168.1.9"),
		"realserver1":     netip.MustParseAddr("192.168.1.11"),
		"realserver2":     netip.MustParseAddr("192.168.1.12"),
	}
	c, err := lvsconf.Parse("lvs.conf", f, hosts)
	if err != nil {
		t.Fatal(err)
	}
	d := director.New(director.Options{})
	if err := c.Apply(d, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ipvsadm.WriteSave(&b, d.Snapshot()); err != nil {
		t.Fatal(err)
	}
	want := "-A -t 127.0.0.1:23 -s rr\n" +
		"-a -t 127.0.0.1:23 -r 192.168.1.11:23 -g -w 1\n" +
		"-a -t 127.0.0.1:23 -r 192.168.1.12:23 -g -w 1\n" +
		"-A -t 127.0.0.1:5002 -s rr\n" +
		"-a -t 127.0.0.1:5002 -r 192.168.1.11:5002 -g -w 1\n"
	if b.String() != want {
		t.Fatalf("applied:\n%s\nwant:\n%s", b.String(), want)
	}
	if f, err := d.Connect(dataplane.TCP, netip.MustParseAddrPort("127.0.0.1:5002"), netip.MustParseAddrPort("127.0.0.1:40000")); err != nil ||
		f.Dest() != netip.MustParseAddrPort("192.168.1.11:5002") {
		t.Fatalf("connect through the applied config: %v", err)
	}
}
