package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// haproxy is a running HAProxy in mode tcp with one frontend per backend.
type haproxy struct {
	peer
	version string
}

// freePorts asks the kernel for n distinct free loopback ports. The
// listeners stay open until all are chosen: a port closed at once may be
// handed out again by the next bind (seen here: two services on one port).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startHAProxy starts haproxy with a generated config on 127.0.0.1, one
// frontend per backend address, and waits until every frontend accepts.
func startHAProxy(ctx context.Context, backends []string) (_ *haproxy, err error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("haproxy not found: %w (install Debian package haproxy)", err)
	}
	out, _ := exec.CommandContext(ctx, bin, "-v").Output()
	version, _, _ := strings.Cut(string(out), "\n")
	dir, err := os.MkdirTemp("", "lvsperf-haproxy-")
	if err != nil {
		return nil, err
	}
	h := &haproxy{peer: peer{name: "haproxy", dir: dir}, version: strings.TrimSpace(version)}
	defer func() {
		if err != nil {
			h.stop()
		}
	}()
	var cfg strings.Builder
	// Plain mode tcp, as a user would configure it: defaults for threads
	// (one per CPU) and buffers, generous timeouts, no logging.
	fmt.Fprintf(&cfg, "global\n  maxconn 8000\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 300s\n  timeout server 300s\n\n")
	ports, err := freePorts(len(backends))
	if err != nil {
		return nil, err
	}
	for i, be := range backends {
		front := fmt.Sprintf("127.0.0.1:%d", ports[i])
		h.fronts = append(h.fronts, front)
		fmt.Fprintf(&cfg, "frontend fe%d\n  bind %s\n  default_backend be%d\n\nbackend be%d\n  server s1 %s\n\n", i, front, i, i, be)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	if err := h.start(ctx, exec.Command(bin, "-db", "-f", path), 5*time.Second); err != nil {
		return nil, err
	}
	return h, nil
}

func waitListening(ctx context.Context, addr string, limit time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited before listening")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v: %w", limit, err)
		}
	}
}

// stop kills haproxy, waits for it and removes its directory.
func (h *haproxy) stop() { h.peer.stop(2 * time.Second) }
