package rsh_test

import (
	"fmt"

	"github.com/lvsperf/lvsperf/probes/rsh"
)

func ExampleParseCommand() {
	for _, c := range []string{"cat > /dev/null", "(cd /usr; cat > file.20)", "cat > ../etc/passwd"} {
		cmd, err := rsh.ParseCommand(c)
		fmt.Println(cmd.Kind == rsh.SinkFile, cmd.Name, err != nil)
	}
	// Output:
	// false  false
	// true file.20 false
	// false  true
}
