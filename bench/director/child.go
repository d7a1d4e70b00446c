package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/lvsperf/lvsperf/director/embed"
	"github.com/lvsperf/lvsperf/director/proxy"
)

// The benchmark re-runs itself as a separate director process, so the
// director is compared with HAProxy process against process and does not
// share the benchmark's Go runtime.
const (
	childEnv    = "LVSPERF_BENCH_DIRECTOR_BACKENDS"
	childCopy   = "LVSPERF_BENCH_DIRECTOR_COPY"
	childPrefix = "addrs "
)

// runChild serves one embedded director per backend until stdin closes.
func runChild(backends string) error {
	mode := proxy.CopySplice
	if os.Getenv(childCopy) == proxy.CopyIOCopy.String() {
		mode = proxy.CopyIOCopy
	}
	var addrs []string
	for _, be := range strings.Split(backends, ",") {
		d, err := embed.Start(context.Background(), embed.Options{Scheduler: "rr", Realservers: []string{be}, Proxy: proxy.Options{Copy: mode}})
		if err != nil {
			return err
		}
		defer d.Close()
		addrs = append(addrs, d.Addr())
	}
	fmt.Println(childPrefix + strings.Join(addrs, ","))
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// childDirector is the separate director process.
type childDirector struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	fronts []string
	exited chan struct{}
}

func startChild(ctx context.Context, backends []string, mode proxy.CopyMode) (*childDirector, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable to start the director process: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(backends, ","), childCopy+"="+mode.String())
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start director process: %w", err)
	}
	c := &childDirector{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(c.exited)
	}()
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, childPrefix) {
			c.stop()
			return nil, errors.New("director process did not report its addresses")
		}
		c.fronts = strings.Split(strings.TrimPrefix(l, childPrefix), ",")
	case <-time.After(10 * time.Second):
		c.stop()
		return nil, errors.New("director process did not start within 10s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	return c, nil
}

func (c *childDirector) pid() int { return c.cmd.Process.Pid }

func (c *childDirector) stop() {
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}
