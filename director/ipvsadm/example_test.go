package ipvsadm_test

import (
	"net/netip"
	"os"
	"strings"

	"github.com/lvsperf/lvsperf/director"
	"github.com/lvsperf/lvsperf/director/dataplane"
	"github.com/lvsperf/lvsperf/director/ipvsadm"
)

func Example() {
	d := director.New(director.Options{})
	for _, rule := range []string{
		"-A -t 10.0.0.1:80 -s wrr",
		"-a -t 10.0.0.1:80 -r 192.168.10.1:80 -m -w 3",
		"-a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1",
	} {
		if err := ipvsadm.Run(d, strings.Fields(rule), nil, os.Stdout); err != nil {
			panic(err)
		}
	}
	for i := 0; i < 4; i++ {
		f, _ := d.Connect(dataplane.TCP, netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.1.1.7:40000"))
		f.Event(dataplane.Established)
	}
	ipvsadm.Run(d, []string{"-L", "-n", "--stats"}, nil, os.Stdout)
	// Output:
	// IP Virtual Server version 1.2.1 (size=4096)
	// Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
	//   -> RemoteAddress:Port
	// TCP  10.0.0.1:80                         4        0        0        0        0
	//   -> 192.168.10.1:80                     3        0        0        0        0
	//   -> 192.168.10.2:80                     1        0        0        0        0
}
