package rsh

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/paths"
	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

func TestSinkCommand(t *testing.T) {
	for n, want := range map[timing.Bytes]string{
		1: "(cd /usr; cat > file.0)", 1 << 20: "(cd /usr; cat > file.20)", 1000: "(cd /usr; cat > file.1000B)",
	} {
		if got := SinkNameDisk.Command(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
		if _, err := ParseCommand(SinkNameDisk.Command(n)); err != nil {
			t.Errorf("our server refuses our own disk command: %v", err)
		}
	}
	if got := SinkNameNull.Command(5); got != "cat > /dev/null" {
		t.Errorf("null sink: %q", got)
	}
}

func TestSweepSavesRunDirectAndDirector(t *testing.T) {
	for _, tc := range []struct {
		via  paths.Via
		sink Sink
	}{{paths.Direct, SinkNameDisk}, {paths.Director, SinkNameNull}} {
		out := t.TempDir()
		before := probetest.TempDirs(t, "lvsperf-rsh-spool-*")
		res, r := probetest.SavedRun(t, string(tc.via)+"/"+string(tc.sink), 20*time.Second, out, "t", func(ctx context.Context) (runner.Result, error) {
			return Sweep(ctx, SweepOptions{MinExp: 0, MaxExp: 12, Sink: tc.sink, Path: paths.Spec{Via: tc.via},
				Timing: timing.Options{Budget: 1500 * time.Millisecond}, OutDir: out, Name: "t"})
		})
		if r.Probe != "rsh" || len(r.Series) != 1 || len(r.Series[0].Points) < 3 || !strings.HasPrefix(r.Series[0].Path, string(tc.via)) {
			t.Fatalf("%s/%s: saved run %+v", tc.via, tc.sink, r.Series)
		}
		if res.Run.Series[0].Info["command"] != tc.sink.Command(1<<20) {
			t.Errorf("info %v", res.Run.Series[0].Info)
		}
		if after := probetest.TempDirs(t, "lvsperf-rsh-spool-*"); after != before {
			t.Errorf("temporary spool directories: %d before, %d after", before, after)
		}
	}
}

// TestSweepSinkDir sweeps the fsync'd disk sink into a chosen directory
// with cat and with rcp, and checks the run records that directory's
// filesystem.
func TestSweepSinkDir(t *testing.T) {
	parent := t.TempDir()
	fs, err := probes.FSType(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, useRcp := range []bool{false, true} {
		res, err := Sweep(probetest.Context(t), SweepOptions{MinExp: 0, MaxExp: 10, Sink: SinkNameDisk, SinkDir: parent, Rcp: useRcp,
			Server: Options{Fsync: true}, Timing: timing.Options{Budget: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		ser := res.Run.Series[0]
		if ser.Info["sink_fs"] != fs || ser.Info["sink_dir"] != parent || len(ser.Points) < 3 {
			t.Fatalf("rcp=%v: info %v, %d points; want sink_fs %q in %s", useRcp, ser.Info, len(ser.Points), fs, parent)
		}
		if want := map[bool]string{false: "(cd /usr; cat > file.20)", true: "rcp -t file.20"}[useRcp]; ser.Info["command"] != want {
			t.Errorf("command %q, want %q", ser.Info["command"], want)
		}
		if !strings.HasSuffix(ser.Label, " on "+fs) {
			t.Errorf("label %q does not name the filesystem", ser.Label)
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 0 {
			t.Fatalf("the sweep left %d entries in the sink directory", len(ents))
		}
	}
}

func TestSweepRcpNull(t *testing.T) {
	res, err := Sweep(probetest.Context(t), SweepOptions{MinExp: 0, MaxExp: 10, Rcp: true, Timing: timing.Options{Budget: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if ser := res.Run.Series[0]; ser.Info["command"] != "rcp -t /dev/null" || len(ser.Points) < 3 || ser.Info["sink_fs"] != "" {
		t.Fatalf("info %v, %d points", ser.Info, len(ser.Points))
	}
}

func TestSweepCommands(t *testing.T) {
	for _, tc := range []struct {
		o    SweepOptions
		want string
	}{
		{SweepOptions{Sink: SinkNameNull}, "cat > /dev/null"},
		{SweepOptions{Sink: SinkNameDisk, SinkDir: "/dev/shm"}, "(cd /usr; cat > file.3)"}, // embedded: the spool is made in SinkDir
		{SweepOptions{Sink: SinkNameDisk, Host: "h:514", SinkDir: "/var/tmp"}, "(cd /var/tmp; cat > file.3)"},
		{SweepOptions{Sink: SinkNameDisk, Host: "h:514"}, "(cd /usr; cat > file.3)"},
		{SweepOptions{Sink: SinkNameNull, Rcp: true}, "rcp -t /dev/null"},
		{SweepOptions{Sink: SinkNameDisk, Rcp: true}, "rcp -t file.3"},
		{SweepOptions{Sink: SinkNameDisk, Rcp: true, Host: "h:514", SinkDir: "/var/tmp"}, "rcp -t /var/tmp/file.3"},
	} {
		got := tc.o.command("file.3")
		if got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
		if _, err := ParseCommand(got); err != nil {
			t.Errorf("our server refuses our own command %q: %v", got, err)
		}
	}
}
