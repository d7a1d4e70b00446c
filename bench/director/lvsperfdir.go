package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// lvsperfDirector is the real `lvsperf director` command in its own
// process, one virtual service per backend, configured with ipvsadm rules.
type lvsperfDirector struct {
	peer
}

// startLvsperfDirector runs bin (or, when bin is empty, a binary built from
// ./cmd/lvsperf in the current module) as `lvsperf director`.
func startLvsperfDirector(ctx context.Context, bin string, backends []string) (_ *lvsperfDirector, err error) {
	dir, err := os.MkdirTemp("", "lvsperf-director-")
	if err != nil {
		return nil, err
	}
	l := &lvsperfDirector{peer{name: "lvsperf director", dir: dir}}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
	if bin == "" {
		bin = filepath.Join(dir, "lvsperf")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/lvsperf")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build lvsperf from ./cmd/lvsperf (run from the module root, or pass -lvsperf): %w: %s", err, out)
		}
	}
	var rules strings.Builder
	ports, err := freePorts(len(backends))
	if err != nil {
		return nil, err
	}
	for i, be := range backends {
		front := fmt.Sprintf("127.0.0.1:%d", ports[i])
		l.fronts = append(l.fronts, front)
		fmt.Fprintf(&rules, "-A -t %s -s rr\n-a -t %s -r %s -m -w 1\n", front, front, be)
	}
	rulesPath := filepath.Join(dir, "rules")
	if err := os.WriteFile(rulesPath, []byte(rules.String()), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "director", "--rules", rulesPath, "--control", filepath.Join(dir, "director.sock"))
	if err := l.start(ctx, cmd, 10*time.Second); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lvsperfDirector) stop() { l.peer.stop(3 * time.Second) }
