package lpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/probes"
	"github.com/lvsperf/lvsperf/probes/internal/nsexec"
	"github.com/lvsperf/lvsperf/probes/internal/probetest"
	"github.com/lvsperf/lvsperf/timing"
)

func TestMain(m *testing.M) {
	nsexec.Main(map[string]nsexec.Func{
		"rlpr-to-ours":    rlprToOurs,
		"ours-to-bsd-lpd": oursToBSDLpd,
	})
	os.Exit(m.Run())
}

// TestInteropRlpr runs rlpr (which always dials port 515) against our lpd
// on 127.0.0.1:515 of a private network namespace.
func TestInteropRlpr(t *testing.T) {
	nsexec.Require(t, "rlpr")
	nsexec.Run(t, "rlpr-to-ours", 20*time.Second)
}

// TestInteropBSDLpd runs our client against BSD lpd (package lpr) with a
// null printer, its printcap, hosts.lpd and run directory on private
// overlays of a private mount namespace.
func TestInteropBSDLpd(t *testing.T) {
	nsexec.Require(t, "/usr/sbin/lpd")
	nsexec.Run(t, "ours-to-bsd-lpd", 20*time.Second)
}

func rlprToOurs(dir string) error {
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o755); err != nil {
		return err
	}
	s, err := NewServer(Options{Listen: DefaultAddr, SpoolDir: spool, Hold: true, Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer s.Close()
	in := filepath.Join(dir, "file.20")
	data := probetest.PatternBytes(1 << 20)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		return err
	}
	rlpr := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "rlpr", args...).CombinedOutput()
		return string(out), err
	}
	// -N: unprivileged source port; without it rlpr uses 721–731 as root.
	for i, args := range [][]string{{"-N"}, {}, {"-N", "--send-data-first"}} {
		out, err := rlpr(append(args, "-H", "127.0.0.1", "-P", "null", "-J", "job"+strconv.Itoa(i), in)...)
		if err != nil {
			return fmt.Errorf("rlpr %v: %v: %s", args, err, out)
		}
	}
	if st := s.Stats(); st.Jobs != 3 || st.Bytes != 3<<20 || st.Failed != 0 {
		return fmt.Errorf("server stats %+v: want 3 whole jobs of 1 MiB", st)
	}
	var cfs, dfs int
	ents, _ := os.ReadDir(spool)
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "cfA"):
			cfs++
		case strings.HasPrefix(e.Name(), "dfA"):
			dfs++
			if b, err := os.ReadFile(filepath.Join(spool, e.Name())); err != nil || !bytes.Equal(b, data) {
				return fmt.Errorf("%s: %d bytes (%v), want the 1 MiB file", e.Name(), len(b), err)
			}
		default:
			return fmt.Errorf("unexpected spool file %s", e.Name())
		}
	}
	if cfs != 3 || dfs != 3 {
		return fmt.Errorf("spool holds %d control and %d data files, want 3 and 3", cfs, dfs)
	}
	out, err := Command(context.Background(), DefaultAddr, QueueShort, "null")
	if err != nil {
		return err
	}
	fmt.Print("queue after rlpr:\n", out)
	out, err = rlpr("-N", "-H", "127.0.0.1", "-P", "nosuch", in)
	if err == nil {
		return fmt.Errorf("rlpr to an unknown queue succeeded: %s", out)
	}
	fmt.Printf("rlpr to an unknown queue: %v: %s", err, out)
	return nil
}

func oursToBSDLpd(dir string) error {
	for _, d := range []string{"/etc", "/run", "/var/spool"} {
		if err := nsexec.Overlay(d, filepath.Join(dir, "ov"+strings.ReplaceAll(d, "/", "-"))); err != nil {
			return err
		}
	}
	spool := "/var/spool/lpd/null"
	logf := filepath.Join(dir, "lpd.log")
	printcap := "null|Null sink:lp=/dev/null:sd=" + spool + ":lf=" + logf + ":mx#0:sh:\n"
	if err := os.WriteFile("/etc/printcap", []byte(printcap), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile("/etc/hosts.lpd", []byte("localhost\n127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(spool, 0o775); err != nil {
		return err
	}
	lp, err := user.Lookup("lp")
	if err != nil {
		return fmt.Errorf("user lp: %w", err)
	}
	uid, _ := strconv.Atoi(lp.Uid)
	gid, _ := strconv.Atoi(lp.Gid)
	for _, p := range []string{spool, filepath.Dir(spool)} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	if err := os.WriteFile(logf, nil, 0o666); err != nil {
		return err
	}
	if out, err := exec.Command("/usr/sbin/lpd", "-l", "-b", "127.0.0.1").CombinedOutput(); err != nil {
		return fmt.Errorf("start lpd: %v: %s", err, out)
	}
	defer func() {
		if b, err := os.ReadFile("/run/lpd.pid"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		if b, _ := os.ReadFile(logf); len(b) > 0 {
			fmt.Printf("lpd log:\n%s", b)
		}
	}()
	ready := false
	for range 100 {
		if c, err := net.Dial("tcp", DefaultAddr); err == nil {
			c.Close()
			ready = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		return errors.New("lpd did not listen on 127.0.0.1:515 within 5 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, o := range []ClientOptions{{}, {ReservedPort: true}} {
		job := Job{Queue: "null", Host: "localhost", Number: 10 + i, Data: probes.NewPattern(1 << 20), Size: 1 << 20, DataFirst: i == 1}
		if err := Send(ctx, DefaultAddr, job, o); err != nil {
			return fmt.Errorf("job %d to BSD lpd: %w", i, err)
		}
	}
	err = Send(ctx, DefaultAddr, Job{Queue: "nosuch", Host: "localhost", Size: 1, Data: strings.NewReader("x")}, ClientOptions{})
	if !errors.Is(err, ErrRefused) {
		return fmt.Errorf("job to an unknown queue: got %v, want a refusal", err)
	}
	fmt.Println("unknown queue:", err)
	out, err := Command(ctx, DefaultAddr, QueueShort, "null")
	fmt.Printf("BSD lpd queue state (%v):\n%s", err, out)
	// lpd prints each whole job to /dev/null and removes it; a job it
	// found broken would stay or be reported in its log.
	if err := drained(spool, 10*time.Second); err != nil {
		return err
	}
	sizes := []timing.Bytes{1, 1 << 4, 1 << 8, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20}
	p := NewProbe(DefaultAddr, ProbeOptions{Queue: "null", Host: "localhost"})
	// Fixed repeats keep the job count (about 100) well below the 1000 job
	// numbers, and the test within its time.
	ser, err := timing.Sweep(ctx, p, timing.Options{Sizes: sizes, Reps: 4, Trials: 3}, nil)
	if err != nil {
		return fmt.Errorf("sweep against BSD lpd: %w", err)
	}
	if ser.Fit == nil {
		return fmt.Errorf("sweep against BSD lpd: no fit: %s", ser.FitError)
	}
	for _, pt := range ser.Points {
		fmt.Printf("  %8d B  min %v  median %v  reps %d\n", pt.Bytes, pt.Min, pt.Median, pt.Reps)
	}
	fmt.Printf("BSD lpd sweep 1B–%v: latency %v, max rate %v, %d points, stopped %q, renumbered %d\n",
		ser.Points[len(ser.Points)-1].Bytes, ser.Fit.Latency, ser.Fit.MaxRate, len(ser.Points), ser.Stopped, p.Renumbered())
	return nil
}

// drained waits until spool holds no control file.
func drained(spool string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ents, err := os.ReadDir(spool)
		if err != nil {
			return err
		}
		var left []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "cf") || strings.HasPrefix(e.Name(), "df") {
				left = append(left, e.Name())
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lpd did not print its queue within %v: %q remain", within, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
