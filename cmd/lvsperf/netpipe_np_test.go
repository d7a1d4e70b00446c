package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsperf/lvsperf/results"
)

func TestNetpipeBidirPairsRun(t *testing.T) {
	dir := t.TempDir()
	if _, err := lvsperf(t, "netpipe", "-2", "--pairs", "2", "-u", "16k", "--trial-time", "1ms", "--out", dir, "--name", "np2", "-q", "--no-plots"); err != nil {
		t.Fatal(err)
	}
	run, err := results.Load(filepath.Join(dir, "np2.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete || len(run.Series) != 3 || !strings.Contains(run.Series[0].Label, "aggregate") || len(run.Series[0].Points) < 20 {
		t.Fatalf("run complete=%v, %d series (want the aggregate and 2 pairs)", run.Complete, len(run.Series))
	}
	if run.Options["bidir"] != "true" || run.Options["pairs"] != "2" || run.Options["protocol"] != "nptcp-3.7" {
		t.Errorf("options not recorded: %v", run.Options)
	}
}

func TestNetpipeNPtcpBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"netpipe", "--peer", "iperf", "--out", dir, "-q"}, "want lvsperf or nptcp"},
		{[]string{"netpipe", "-2", "-h", "127.0.0.1:1", "--out", dir, "-q"}, "--peer nptcp"},
		{[]string{"netpipe", "--peer", "nptcp", "-r", "--out", dir, "-q"}, "drop them"},
		{[]string{"netpipe", "--peer", "nptcp", "--via", "director", "--out", dir, "-q"}, "drop --via"},
		{[]string{"netpipe", "--pairs", "100", "--out", dir, "-q"}, "want 1 to 64"},
		{[]string{"netpipe", "--peer", "nptcp", "-h", "127.0.0.1:1", "--out", dir, "-q"}, "NPtcp"},
	} {
		_, err := lvsperf(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lvsperf %v: err %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
