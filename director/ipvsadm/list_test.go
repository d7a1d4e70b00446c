package ipvsadm

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	ap = netip.MustParseAddrPort
)

// notesSnapshot holds the sample values of the ipvsadm renderings in
// notes/ipvs.md §4.2, so the expected texts below are the notes' verbatim
// renderings (ipvsadm 1.29's format strings applied to those values).
func notesSnapshot() director.Snapshot {
	return director.Snapshot{
		Version: "1.2.1", TableSize: 4096, Timeouts: director.DefaultTimeouts(),
		Services: []director.ServiceSnapshot{
			{
				ServiceConfig: director.ServiceConfig{Proto: dataplane.TCP, Addr: ap("10.0.0.1:80"), Scheduler: "wlc",
					Persistence: 300 * time.Second, Netmask: 24, Flags: director.FlagPersistent},
				Stats: director.Counters{Conns: 1234, InPkts: 567890, OutPkts: 432100, InBytes: 61234567, OutBytes: 987654321},
				Rates: director.Rates{CPS: 12, InPPS: 3400, OutPPS: 2900, InBPS: 310000, OutBPS: 4100000},
				Dests: []director.DestSnapshot{
					{DestConfig: director.DestConfig{Addr: ap("192.168.10.1:80"), Forward: director.Masq, Weight: 3}, ActiveConns: 12, InactConns: 40,
						Stats: director.Counters{Conns: 800, InPkts: 400000, OutPkts: 300000, InBytes: 40000000, OutBytes: 700000123},
						Rates: director.Rates{CPS: 8, InPPS: 2200, OutPPS: 1900, InBPS: 200000, OutBPS: 2700000}},
					{DestConfig: director.DestConfig{Addr: ap("192.168.10.2:80"), Forward: director.Route, Weight: 1}, ActiveConns: 4, InactConns: 13},
				},
			},
			{
				ServiceConfig: director.ServiceConfig{Proto: dataplane.UDP, Addr: ap("10.0.0.1:53"), Scheduler: "rr", Netmask: 32, Flags: director.FlagOnePacket},
				Dests: []director.DestSnapshot{
					{DestConfig: director.DestConfig{Addr: ap("192.168.10.3:53"), Forward: director.Masq, Weight: 1}, InactConns: 57},
				},
			},
		},
	}
}

func render(t *testing.T, opts ListOptions, snap director.Snapshot) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteList(&b, snap, opts, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestListPlainMatchesIpvsadm(t *testing.T) {
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  10.0.0.1:80 wlc persistent 300 mask 255.255.255.0\n" +
		"  -> 192.168.10.1:80              Masq    3      12         40        \n" +
		"  -> 192.168.10.2:80              Route   1      4          13        \n" +
		"UDP  10.0.0.1:53 rr ops\n" +
		"  -> 192.168.10.3:53              Masq    1      0          57        \n"
	if got := render(t, ListOptions{Numeric: true}, notesSnapshot()); got != want {
		t.Fatalf("-L -n:\n%s\nwant:\n%s", got, want)
	}
}

func TestListStatsMatchesIpvsadm(t *testing.T) {
	got := render(t, ListOptions{Stats: true}, notesSnapshot())
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
		"  -> RemoteAddress:Port\n" +
		"TCP  10.0.0.1:80                      1234   567890   432100 61234567  987654K\n" +
		"  -> 192.168.10.1:80                   800   400000   300000 40000000  700000K\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("--stats:\n%s\nwant it to start with:\n%s", got, want)
	}
	// A real capture from a stored page.
	snap := director.Snapshot{Version: "1.2.1", TableSize: 4096, Services: []director.ServiceSnapshot{{
		ServiceConfig: director.ServiceConfig{Proto: dataplane.TCP, Addr: ap("127.0.0.1:3001"), Scheduler: "rr"},
		Stats:         director.Counters{Conns: 2, InPkts: 660294, OutPkts: 661999, InBytes: 78202968, OutBytes: 184940555}}}}
	if got := render(t, ListOptions{Stats: true}, snap); !strings.Contains(got,
		"\nTCP  127.0.0.1:3001                      2   660294   661999 78202968  184940K\n") {
		t.Fatalf("--stats does not reproduce the real capture:\n%s", got)
	}
}

func TestListRateMatchesIpvsadm(t *testing.T) {
	got := render(t, ListOptions{Rate: true}, notesSnapshot())
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n" +
		"  -> RemoteAddress:Port\n" +
		"TCP  10.0.0.1:80                        12     3400     2900   310000  4100000\n" +
		"  -> 192.168.10.1:80                     8     2200     1900   200000  2700000\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("--rate:\n%s\nwant it to start with:\n%s", got, want)
	}
}

func TestListConnsMatchesIpvsadm(t *testing.T) {
	conns := []director.ConnEntry{
		{Proto: dataplane.TCP, Client: ap("10.1.1.7:51234"), VIP: ap("10.0.0.1:80"), Dest: ap("192.168.10.1:80"), State: director.StateEstablished, Expires: 899*time.Second + 500*time.Millisecond},
		{Proto: dataplane.TCP, Client: ap("10.1.1.7:51200"), VIP: ap("10.0.0.1:80"), Dest: ap("192.168.10.2:80"), State: director.StateTimeWait, Expires: 114 * time.Second},
		{Proto: dataplane.TCP, Client: ap("10.1.1.0:0"), VIP: ap("10.0.0.1:80"), Dest: ap("192.168.10.1:80"), State: director.StateNone, Expires: 298 * time.Second, Template: true},
		{Proto: dataplane.UDP, Client: ap("10.1.1.7:40000"), VIP: ap("10.0.0.1:53"), Dest: ap("192.168.10.3:53"), State: director.StateUDP, Expires: 299 * time.Second},
		{Proto: dataplane.TCP, Client: ap("169.60.24.86:52470"), VIP: ap("169.46.7.238:27234"), Dest: ap("169.48.180.244:27234"), State: director.StateEstablished, Expires: 899 * time.Second},
		{Proto: dataplane.TCP, Client: ap("192.168.123.248:0"), VIP: ap("10.254.66.97:8080"), Dest: ap("172.20.135.6:8080"), State: director.StateNone, Expires: 180*time.Minute + 3*time.Second, Template: true},
	}
	want := "IPVS connection entries\n" +
		"pro expire state       source             virtual            destination\n" +
		"TCP 14:59  ESTABLISHED 10.1.1.7:51234     10.0.0.1:80        192.168.10.1:80\n" +
		"TCP 01:54  TIME_WAIT   10.1.1.7:51200     10.0.0.1:80        192.168.10.2:80\n" +
		"TCP 04:58  NONE        10.1.1.0:0         10.0.0.1:80        192.168.10.1:80\n" +
		"UDP 04:59  UDP         10.1.1.7:40000     10.0.0.1:53        192.168.10.3:53\n" +
		// Real captures: long addresses overflow, minutes are unbounded.
		"TCP 14:59  ESTABLISHED 169.60.24.86:52470 169.46.7.238:27234 169.48.180.244:27234\n" +
		"TCP 180:03 NONE        192.168.123.248:0  10.254.66.97:8080  172.20.135.6:8080\n"
	var b bytes.Buffer
	if err := WriteConns(&b, conns, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Fatalf("-c:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestLargenum(t *testing.T) {
	cases := []struct {
		n     uint64
		exact bool
		want  string
	}{
		{0, false, "        0"},
		{99999999, false, " 99999999"},
		{100000000, false, "  100000K"},
		{999999999, false, "  999999K"},
		{1000000000, false, "    1000M"},
		{99999999999, false, "   99999M"},
		{100000000000, false, "     100G"},
		{100000000000000, false, "     100T"},
		{5, true, "        5"},
		{987654321, true, " 987654321"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		largenum(&b, c.n, c.exact)
		if b.String() != c.want {
			t.Errorf("largenum(%d, exact=%v) = %q, want %q", c.n, c.exact, b.String(), c.want)
		}
	}
}

func TestTimeoutListing(t *testing.T) {
	if got := render(t, ListOptions{Timeout: true}, notesSnapshot()); got != "Timeout (tcp tcpfin udp): 900 120 300\n" {
		t.Fatalf("--timeout: %q", got)
	}
}

// TestEndToEndGolden drives a real Director with ipvsadm commands and
// compares every listing with testdata/*.golden (go test -update rewrites).
func TestEndToEndGolden(t *testing.T) {
	clk := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	d := director.New(director.Options{Now: now})
	rules := `
# the seed's netpipe service, NAT, two realservers
-A -t 10.0.0.1:5002 -s wrr
-a -t 10.0.0.1:5002 -r 192.168.1.11:5002 -m -w 3
-a -t 10.0.0.1:5002 -r 192.168.1.12 -m -w 1 -x 100 -y 50
ipvsadm -A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port -o
-a -u 10.0.0.1:53 -r 192.168.1.11:53 -g
-A -t 10.0.0.1:80 -s lc -p -M 255.255.0.0
-a -t 10.0.0.1:80 -r 192.168.1.13:8080 -i -w 2
`
	if err := Restore(d, "rules", strings.NewReader(rules)); err != nil {
		t.Fatal(err)
	}
	vip := ap("10.0.0.1:5002")
	for i := 0; i < 8; i++ {
		f, err := d.Connect(dataplane.TCP, vip, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}), uint16(50000+i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Event(dataplane.Established)
		f.Count(true, int64(100*(i+1)), 2)
		f.Count(false, int64(1000*(i+1)), 3)
		if i%2 == 0 {
			f.Event(dataplane.ClientFin)
			f.Event(dataplane.ServerFin)
			f.Event(dataplane.Closed)
		}
	}
	uf, err := d.Connect(dataplane.UDP, ap("10.0.0.1:53"), ap("10.9.0.1:40000"))
	if err != nil {
		t.Fatal(err)
	}
	uf.Count(true, 60, 1)
	pf, err := d.Connect(dataplane.TCP, ap("10.0.0.1:80"), ap("10.9.3.4:41000"))
	if err != nil {
		t.Fatal(err)
	}
	pf.Event(dataplane.Established)
	clk = clk.Add(2 * time.Second)
	d.Tick()
	clk = clk.Add(30 * time.Second)

	for _, tc := range []struct {
		file string
		args string
	}{
		{"list.golden", "-L -n"},
		{"stats.golden", "-L -n --stats"},
		{"rate.golden", "-L -n --rate"},
		{"conns.golden", "-L -n -c"},
		{"exact.golden", "-L -n --stats --exact"},
		{"thresholds.golden", "-L -n --thresholds"},
		{"persistent.golden", "-L -n --persistent-conn"},
		{"save.golden", "-S -n"},
		{"one.golden", "-L -n -t 10.0.0.1:5002"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := Run(d, strings.Fields(tc.args), nil, &b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Fatalf("ipvsadm %s:\n%s\nwant (%s):\n%s", tc.args, b.String(), path, want)
			}
		})
	}

	// -S output restores to the same configuration.
	var saved bytes.Buffer
	if err := Run(d, []string{"-S", "-n"}, nil, &saved); err != nil {
		t.Fatal(err)
	}
	d2 := director.New(director.Options{Now: now})
	if err := Run(d2, []string{"-R"}, bytes.NewReader(saved.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := Run(d2, []string{"-S", "-n"}, nil, &again); err != nil {
		t.Fatal(err)
	}
	if again.String() != saved.String() {
		t.Fatalf("-S after -R:\n%s\nwant:\n%s", again.String(), saved.String())
	}
}
