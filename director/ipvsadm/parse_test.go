package ipvsadm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
)

func TestParseCommands(t *testing.T) {
	cmd, err := Parse(strings.Fields("-A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.255.0"))
	if err != nil {
		t.Fatal(err)
	}
	want := director.ServiceConfig{Proto: dataplane.TCP, Addr: ap("10.0.0.1:80"), Scheduler: "rr", Persistence: 300 * time.Second, Netmask: 24}
	if cmd.Op != OpAddService || cmd.Service != want {
		t.Fatalf("got %+v, want -A %+v", cmd, want)
	}
	cmd, err = Parse(strings.Fields("--add-server --udp-service 10.0.0.1:domain --real-server 192.168.1.1 --masquerading --weight=0 -x 10"))
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Op != OpAddDest || cmd.Service.Addr != ap("10.0.0.1:53") || cmd.Dest.Addr != ap("192.168.1.1:0") ||
		cmd.Dest.Forward != director.Masq || cmd.Dest.Weight != 0 || cmd.Dest.UpperThreshold != 10 {
		t.Fatalf("got %+v", cmd)
	}
	cmd, err = Parse([]string{"-Lnc"})
	if err != nil || cmd.Op != OpList || !cmd.List.Numeric || !cmd.List.Conns {
		t.Fatalf("-Lnc: %+v %v", cmd, err)
	}
	cmd, err = Parse(strings.Fields("-A -t 10.0.0.1 -p"))
	if err != nil || cmd.Service.Persistence != 360*time.Second || cmd.Service.Addr.Port() != 0 {
		t.Fatalf("-p without value on a port-zero service: %+v %v, want 360 s", cmd, err)
	}
	cmd, err = Parse(strings.Fields("-a -t 10.0.0.1:80 -r 10.1.1.1:8080"))
	if err != nil || cmd.Dest.Weight != 1 || cmd.Dest.Forward != director.Route {
		t.Fatalf("defaults: %+v %v, want weight 1 and -g", cmd, err)
	}
	cmd, err = Parse(strings.Fields("--set 1000 60 30"))
	if err != nil || cmd.Timeouts != [3]time.Duration{1000 * time.Second, 60 * time.Second, 30 * time.Second} {
		t.Fatalf("--set: %+v %v", cmd, err)
	}
}

func TestParseErrorsNameTheArgument(t *testing.T) {
	cases := []struct{ args, want string }{
		{"-A -t 10.0.0.1:80 -s xx", `ipvsadm: -s: unknown scheduler "xx" (want one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)`},
		{"-A -t 10.0.0.1:80 -w 3", "ipvsadm: -w: illegal with -A"},
		{"-a -t 10.0.0.1:80 -r 10.1.1.1 -s rr", "ipvsadm: -s: illegal with -a"},
		{"-a -t 10.0.0.1:80 -r 10.1.1.1 -w 70000", `ipvsadm: -w: weight "70000": want a number from 0 to 65535`},
		{"-a -t 10.0.0.1:80 -r 10.1.1.1 -w x", `ipvsadm: -w: weight "x"`},
		{"-a -t 10.0.0.1:80", "ipvsadm: -a: needs a realserver"},
		{"-A -s rr", "ipvsadm: -A: needs a virtual service"},
		{"-A -t nosuchhost:80", `ipvsadm: -t: address "nosuchhost:80": want a numeric IP address`},
		{"-A -t 10.0.0.1:99999", `ipvsadm: -t: address "10.0.0.1:99999": port "99999"`},
		{"-A -t 10.0.0.1", "ipvsadm: -t: service 10.0.0.1 has no port"},
		{"-A -t 10.0.0.1:80 -M 255.0.255.0", "ipvsadm: -M: netmask \"255.0.255.0\": the mask's one bits must be contiguous"},
		{"-A -t 10.0.0.1:80 -p 0", `ipvsadm: -p: persistence timeout "0"`},
		{"-A -t 10.0.0.1:80 -s rr -b sh-port", `ipvsadm: -b: flag "sh-port" is for the sh scheduler, not rr`},
		{"-A -t 10.0.0.1:80 -o", "ipvsadm: -o: one-packet scheduling is for UDP services only"},
		{"-A -D -t 10.0.0.1:80", "ipvsadm: -D: only one command at a time, already have -A"},
		{"-L --stats --rate", "ipvsadm: -L: give one of"},
		{"-L --bogus", "ipvsadm: --bogus: unknown option"},
		{"-Q", "ipvsadm: -Q: unknown option"},
		{"-a -t 10.0.0.1:80 -r 10.1.1.1 -m -g", "ipvsadm: -g: conflicts with -m"},
		{"-A -f 5 -s rr", "ipvsadm: -f: not supported"},
		{"--set 1 2", "ipvsadm: --set: needs three timeouts"},
		{"-L extra", `ipvsadm: extra: unexpected argument`},
		{"-A -t", "ipvsadm: -t: needs a value"},
	}
	for _, c := range cases {
		_, err := Parse(strings.Fields(c.args))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ipvsadm %s: error %v, want it to start with %q", c.args, err, c.want)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("ipvsadm %s: error %T is not an *ipvsadm.Error", c.args, err)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	d := director.New(director.Options{})
	if err := Run(d, strings.Fields("-a -t 10.0.0.1:80 -r 10.1.1.1"), nil, nil); err == nil ||
		!strings.Contains(err.Error(), "ipvsadm: -a: service TCP 10.0.0.1:80: not found") {
		t.Fatalf("adding to a missing service: %v", err)
	}
	rules := "-A -t 10.0.0.1:80 -s rr\n\n# comment\n-a -t 10.0.0.1:80 -r 10.1.1.1 -w 2\n-a -t 10.0.0.1:80 -r 10.1.1.2 -w nope\n"
	err := Restore(d, "rules.txt", strings.NewReader(rules))
	if err == nil || !strings.HasPrefix(err.Error(), `rules.txt:5: ipvsadm: -w: weight "nope"`) {
		t.Fatalf("bad rule: %v, want it to name rules.txt:5 and -w", err)
	}
	if err := Restore(d, "long", strings.NewReader(strings.Repeat("x", 5000))); err == nil || !strings.Contains(err.Error(), "long:1:") {
		t.Fatalf("over-long line: %v", err)
	}
}

// TestWRRIncrementalAddsLikeTheKernel: ip_vs_wrr_dest_changed keeps cw
// across adds, so A=3 then B=1 added one at a time starts at cw=1 and the
// sequence is the kernel's A A B A cycle entered at B.
func TestWRRIncrementalAddsLikeTheKernel(t *testing.T) {
	d := director.New(director.Options{})
	if err := Restore(d, "r", strings.NewReader("-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.1.1 -m -w 3\n-a -t 10.0.0.1:80 -r 10.1.1.2 -m -w 1\n")); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"10.1.1.1:80": "A", "10.1.1.2:80": "B"}
	var got []string
	for i := 0; i < 8; i++ {
		f, err := d.Connect(dataplane.TCP, ap("10.0.0.1:80"), ap("10.9.9.9:1000"))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names[f.Dest().String()])
	}
	if s := strings.Join(got, " "); s != "B A A A B A A A" {
		t.Fatalf("wrr sequence %q, want %q", s, "B A A A B A A A")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"-A -t 10.0.0.1:80 -s rr -p 300", "-a -u [::1]:53 -r [::2] -m -w 2", "-Lnc", "--set 1 2 3", "-p", "-A -t [::1", "-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, err := Parse(strings.Fields(s))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *ipvsadm.Error", err, err)
			}
			return
		}
		d := director.New(director.Options{})
		_ = Apply(d, cmd, strings.NewReader(""), &strings.Builder{})
	})
}
