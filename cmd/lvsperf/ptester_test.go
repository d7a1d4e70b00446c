package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPtesterBadInput checks that bad flags fail with one clear line before
// anything runs (nothing listens on 127.0.0.1:1, so a run would say "refused").
func TestPtesterBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h", "127.0.0.1:1", "-k", "0", "/x"}, "-k 0"},
		{[]string{"-h", "127.0.0.1:1", "-c", "0", "/x"}, "-c 0"},
		{[]string{"-h", "127.0.0.1:1", "-t", "-1", "/x"}, "-t"},
		{[]string{"-h", "http//bad:x", "/x"}, "want host[:port]"},
		{[]string{"-h", "127.0.0.1:1", "relative"}, "absolute URL path"},
		{[]string{"-h", "127.0.0.1:1", "--via", "director", "/x"}, "omit -h"},
		{[]string{"--sweep", "--to", "30"}, "to ≤ 26"},
		{[]string{"-h", "127.0.0.1:1", "--engine", "bogus", "/x"}, "want auto, loop or goroutines"},
		{[]string{"-h", "127.0.0.1:1", "--engine", "loop", "--rate", "100", "/x"}, "no open loop"},
	} {
		c := newPtesterCmd()
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(tc.args)
		err := c.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
		if strings.Contains(out.String(), "Requests/sec") {
			t.Errorf("%v: a run started:\n%s", tc.args, out.String())
		}
	}
}

func TestPtesterHelpStaysReachable(t *testing.T) {
	c := newPtesterCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetArgs([]string{"--help"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--sweep") || !strings.Contains(out.String(), "-h, --host") {
		t.Errorf("help:\n%s", out.String())
	}
}
