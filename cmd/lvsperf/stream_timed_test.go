package main

import (
	"strings"
	"testing"

	"github.com/lvsperf/lvsperf/results"
	"github.com/lvsperf/lvsperf/streamer"
)

func TestStreamModeChoice(t *testing.T) {
	for args, timed := range map[string]bool{
		"-u 8M -p 0 --cpu 0 --budget 10s": false, // make demo's NetPIPE stream
		"-h host -b 256k -i":              false,
		"-t 5":                            true,
		"-c host -p 5201":                 true,
		"-P4":                             true,
		"-u -b 1G":                        true,
		"-u":                              true,
		"--time=3":                        true,
		"-R":                              true,
		"--peer iperf3 -c x":              true,
	} {
		if got := isTimed(strings.Fields(args)); got != timed {
			t.Errorf("isTimed(%q) = %v, want %v", args, got, timed)
		}
	}
}

func TestStreamTimedJSON(t *testing.T) {
	out, err := lvsperf(t, "stream", "-t", "0.3", "-P", "2", "-i", "0.1", "--json", "--out", t.TempDir())
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	run, err := results.DecodeJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("decode --json: %v: %s", err, out)
	}
	if run.Probe != streamer.Probe || len(run.Series) != 3 || !strings.Contains(out, `"headline"`) {
		t.Errorf("probe %q, %d series; want stream, sum and 2 streams, with a headline", run.Probe, len(run.Series))
	}
	if run.Options["parallel"] != "2" || run.Options["time"] != "0.3" {
		t.Errorf("options %v, want the flags given", run.Options)
	}
}

func TestStreamTimedBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stream", "-t", "1", "-P", "500"}, "parallel"},
		{[]string{"stream", "--peer", "iperf3", "-t", "1"}, "-c HOST"},
		{[]string{"stream", "-u", "-b", "fast"}, "--bitrate"},
		{[]string{"stream", "-t", "soon"}, "--time"},
		{[]string{"stream", "-t", "1", "-c", "127.0.0.1", "-p", "1", "--no-save"}, "connect"},
	} {
		_, err := lvsperf(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
