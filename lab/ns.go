package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Prefix starts the name of every namespace lvsperf creates, so that the
// stale sweep only ever looks at its own namespaces.
const Prefix = "lvsperf-"

// KeepOwner is the owner field of namespaces built by `lvsperf lab up`,
// which outlive the process that built them until `lvsperf lab down`.
const KeepOwner = "keep"

// nsDir is where ip(8) and netns.NewNamed keep named namespaces.
const nsDir = "/run/netns"

// nameRE parses Prefix<owner>-<run>-<host>.
var nameRE = regexp.MustCompile(`^` + Prefix + `([0-9]+|` + KeepOwner + `)-([0-9a-f]{6})-([a-z0-9]+)$`)

// NSName is a parsed lab namespace name.
type NSName struct {
	// Owner is the pid of the process that built it, or KeepOwner.
	Owner string
	// Run identifies the lab among the owner's labs.
	Run string
	// Host is the host's name in the Spec.
	Host string
}

// String gives the namespace's name under /run/netns.
func (n NSName) String() string { return Prefix + n.Owner + "-" + n.Run + "-" + n.Host }

// ParseNSName parses a namespace name; ok is false for names that are not
// lvsperf's.
func ParseNSName(s string) (NSName, bool) {
	m := nameRE.FindStringSubmatch(s)
	if m == nil {
		return NSName{}, false
	}
	return NSName{Owner: m[1], Run: m[2], Host: m[3]}, true
}

func newRunID() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ErrNotRoot is returned when the lab is asked for without the privileges
// it needs.
var ErrNotRoot = errors.New("the namespace lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run as root or skip the lab")

// CheckRoot returns ErrNotRoot unless the process runs as root.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	return nil
}

// createNamed creates the named namespace without moving the calling
// goroutine's thread: it runs on a thread of its own that is thrown away.
func createNamed(name string) (netns.NsHandle, error) {
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		// The thread ends up in the new namespace; never unlock it, so the
		// runtime discards it when this goroutine returns.
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		c <- res{h, err}
	}()
	r := <-c
	if r.err != nil {
		return netns.None(), fmt.Errorf("create namespace %s: %w", name, r.err)
	}
	return r.h, nil
}

// inNS runs fn on a locked OS thread switched into ns. Sockets fn creates
// stay in ns; goroutines fn starts do not run in ns. The thread is
// discarded afterwards.
func inNS(ns netns.NsHandle, fn func() error) error {
	c := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(ns); err != nil {
			c <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		c <- fn()
	}()
	return <-c
}

// nsInode returns the inode of the namespace file at path.
func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// pidsIn lists the processes (other than this one) whose network namespace
// is the one at nsPath.
func pidsIn(nsPath string) ([]int, error) {
	ino, err := nsInode(nsPath)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if i, err := nsInode(filepath.Join("/proc", e.Name(), "ns/net")); err == nil && i == ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// deleteNamed kills every process left in the namespace and removes it.
func deleteNamed(name string) error {
	path := filepath.Join(nsDir, name)
	pids, err := pidsIn(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("list processes in %s: %w", name, err)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	// Give killed processes a moment to release the namespace.
	for i := 0; i < 50 && len(pids) > 0; i++ {
		if pids, _ = pidsIn(path); len(pids) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Namespaces lists the lvsperf namespaces present under /run/netns.
func Namespaces() ([]NSName, error) {
	ents, err := os.ReadDir(nsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", nsDir, err)
	}
	var out []NSName
	for _, e := range ents {
		if n, ok := ParseNSName(e.Name()); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// SweepStale removes the namespaces of lvsperf runs whose owner process is
// gone (a crash or SIGKILL), and, when keep is true, also those built by
// `lab up`. It never touches a namespace without lvsperf's prefix. It
// returns the names it removed.
func SweepStale(ctx context.Context, keep bool) ([]string, error) {
	names, err := Namespaces()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range names {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		if n.Owner == KeepOwner {
			if !keep {
				continue
			}
		} else if pid, _ := strconv.Atoi(n.Owner); alive(pid) {
			continue
		}
		if err := deleteNamed(n.String()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.String())
	}
	return removed, errors.Join(errs...)
}

// startIn starts cmd in ns: it is started from a thread inside
// the namespace, so the child inherits it.
func startIn(ns netns.NsHandle, cmd *exec.Cmd) error {
	return inNS(ns, cmd.Start)
}

// runIn runs a command to completion in ns and returns its combined output.
func runIn(ctx context.Context, ns netns.NsHandle, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startIn(ns, cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w (is it installed?)", name, err)
	}
	err := cmd.Wait()
	if err != nil {
		return []byte(out.String()), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return []byte(out.String()), nil
}
