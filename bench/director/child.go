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
	childEnv     = "LVSPERF_BENCH_DIRECTOR_BACKENDS"
	childVariant = "LVSPERF_BENCH_DIRECTOR_VARIANT"
	childPrefix  = "addrs "
)

// variant is one way to run the embedded director.
type variant struct {
	name    string
	desc    string
	process bool
	// dedicated sizes the director process with proxy.DedicatedProcess,
	// as lvsperf director does.
	dedicated bool
	opts      proxy.Options
}

// directorVariants are the director paths the benchmark knows. "director"
// and "director-proc" use embed's defaults, the configuration every probe's
// --via director gets.
var directorVariants = []variant{
	{name: "director", desc: "embed defaults (CopySplice: two goroutines per connection, splice through the runtime poller)"},
	{name: "director-eventloop", desc: "CopyEventLoop: event loops on locked threads, epoll over raw sockets", opts: proxy.Options{Copy: proxy.CopyEventLoop}},
	{name: "director-blocking", desc: "CopySplice with blocking splice on a thread per direction (BlockingConns 64)", opts: proxy.Options{Copy: proxy.CopySplice, BlockingConns: 64}},
	{name: "director-iocopy", desc: "standard library throughout: AcceptTCP, net.Dialer, io.Copy (Go's own splice)", opts: proxy.Options{Copy: proxy.CopyIOCopy}},
	{name: "director-proc", desc: "embed defaults (CopySplice)", process: true},
	{name: "director-proc-eventloop", desc: "CopyEventLoop, one loop per CPU and GOMAXPROCS one more (what the standalone lvsperf director runs)", process: true, dedicated: true, opts: proxy.Options{Copy: proxy.CopyEventLoop}},
	{name: "director-proc-oneloop", desc: "CopyEventLoop with one loop (Loops = GOMAXPROCS-1 on 2 CPUs, the standalone director's default until 2026-11-25)", process: true, opts: proxy.Options{Copy: proxy.CopyEventLoop, Loops: 1}},
	{name: "director-proc-iocopy", desc: "standard library throughout (AcceptTCP, net.Dialer, io.Copy)", process: true, opts: proxy.Options{Copy: proxy.CopyIOCopy}},
}

func variantNamed(name string) (variant, bool) {
	for _, v := range directorVariants {
		if v.name == name {
			return v, true
		}
	}
	return variant{}, false
}

// runChild serves one embedded director per backend until stdin closes.
func runChild(backends string) error {
	v, ok := variantNamed(os.Getenv(childVariant))
	if !ok {
		return fmt.Errorf("unknown director variant %q", os.Getenv(childVariant))
	}
	if v.dedicated {
		v.opts.Loops = proxy.DedicatedProcess(v.opts.Loops)
	}
	var addrs []string
	for _, be := range strings.Split(backends, ",") {
		d, err := embed.Start(context.Background(), embed.Options{Scheduler: "rr", Realservers: []string{be}, Proxy: v.opts})
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

func startChild(ctx context.Context, backends []string, v variant) (*childDirector, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable to start the director process: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(backends, ","), childVariant+"="+v.name)
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
