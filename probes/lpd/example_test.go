package lpd_test

import (
	"fmt"

	"github.com/lvsperf/lvsperf/probes/lpd"
)

func ExampleControlFile() {
	cf := lpd.ControlFile("vm", "root", "file.20", "dfA163vm")
	fmt.Printf("%s", cf)
	c, err := lpd.ParseControl("cfA163vm", cf)
	fmt.Println(c.User, c.Files, err)
	// Output:
	// Hvm
	// Proot
	// Jfile.20
	// Nfile.20
	// ldfA163vm
	// UdfA163vm
	// root [dfA163vm] <nil>
}
