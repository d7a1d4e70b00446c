package main

import (
	"bytes"
	"os"
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

// TestSweepPrintsEachSizeOnce runs a short sweep with stdout and stderr
// together, as a log or `make demo | tee` keeps them: each size and mode
// is one row of the table, not also a progress line.
func TestSweepPrintsEachSizeOnce(t *testing.T) {
	out, err := lvsperf(t, "ptester", "--sweep", "-c", "1", "-t", "0.04", "--to", "3", "--trials", "1", "--out", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && (f[0] == "persistent" || f[0] == "non-persistent") {
			rows[f[0]+" "+f[1]]++
		}
		if strings.Contains(l, "file.2") && !strings.HasPrefix(l, "ptester sweep: file.0 … file.3,") {
			t.Errorf("a line about file.2 besides the table: %q", l)
		}
	}
	for _, mode := range []string{"persistent", "non-persistent"} {
		for _, size := range []string{"1", "2", "4", "8"} {
			if n := rows[mode+" "+size]; n != 1 {
				t.Errorf("%s %s B printed %d times, want once:\n%s", mode, size, n, out)
			}
		}
	}
}

func TestStatusLineOnlyOnATerminal(t *testing.T) {
	var b bytes.Buffer
	if newStatusLine(&b) != nil {
		t.Error("a status line on a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if newStatusLine(w) != nil {
		t.Error("a status line on a pipe")
	}
	var none *statusLine
	none.clear() // a nil line does nothing
}
