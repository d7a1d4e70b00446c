package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// peer is a proxy the benchmark runs as its own process (HAProxy, the
// `lvsperf director` command): a scratch directory, the front addresses it
// serves, its stderr, and a channel closed when it exits.
type peer struct {
	name   string
	cmd    *exec.Cmd
	dir    string
	fronts []string
	stderr strings.Builder
	exited chan struct{}
}

// start runs cmd (killed with the benchmark) and waits up to limit for
// every front to accept.
func (p *peer) start(ctx context.Context, cmd *exec.Cmd, limit time.Duration) error {
	p.cmd = cmd
	cmd.Stderr = &p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() { cmd.Wait(); close(p.exited) }()
	for _, f := range p.fronts {
		if err := waitListening(ctx, f, limit, p.exited); err != nil {
			return fmt.Errorf("%s front %s: %w; it said: %s", p.name, f, err, p.stderr.String())
		}
	}
	return nil
}

func (p *peer) pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop asks the process to end, kills it after grace, waits for it and
// removes its directory.
func (p *peer) stop(grace time.Duration) {
	if p.exited != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	os.RemoveAll(p.dir)
}
