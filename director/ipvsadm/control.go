package ipvsadm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Control protocol limits: one JSON request and one JSON reply per
// connection, each bounded, with a deadline.
const (
	MaxRequestBytes = 1 << 20
	MaxReplyBytes   = 64 << 20
	ControlTimeout  = 10 * time.Second
	// MaxControlConns bounds the requests served at once; more wait in
	// the listen backlog.
	MaxControlConns = 16
)

// Request is what `lvsperf ipvsadm` sends over the control socket.
type Request struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin,omitempty"`
}

// Reply is the director's answer.
type Reply struct {
	Out string `json:"out"`
	Err string `json:"err,omitempty"`
}

// Handler runs one request; out receives the listing.
type Handler func(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error

// DefaultControlPath is the control socket used when none is given:
// $XDG_RUNTIME_DIR/lvsperf/director.sock, else
// $TMPDIR/lvsperf-<uid>/director.sock.
func DefaultControlPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "lvsperf", "director.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("lvsperf-%d", os.Getuid()), "director.sock")
}

// ControlListener is the director's unix control socket.
type ControlListener struct {
	ln   *net.UnixListener
	path string
}

// ListenControl creates the control socket at path. Its directory is
// created with mode 0700 if missing, and must not be writable by group or
// others; the socket itself is 0600. It is bound under a private name and
// renamed into place, so it is never reachable with wider permissions. A
// stale socket at path (nobody answering) is replaced; a live one is an
// error.
func ListenControl(path string) (*ControlListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("control socket directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return nil, fmt.Errorf("control socket directory %s has mode %v: others could replace the socket; use a directory writable only by you", dir, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() && fi.Mode()&os.ModeSticky == 0 {
		return nil, fmt.Errorf("control socket directory %s belongs to uid %d, not to you (uid %d)", dir, st.Uid, os.Getuid())
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: a director is already running there; stop it or pass another --control path", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("stale control socket %s: %w", path, err)
		}
	}
	tmp, err := os.MkdirTemp(dir, ".ctl-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	private := filepath.Join(tmp, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: private, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(private, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Rename(private, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return &ControlListener{ln: ln, path: path}, nil
}

// Path is the socket's path.
func (l *ControlListener) Path() string { return l.path }

// Close stops listening and removes the socket.
func (l *ControlListener) Close() error {
	err := l.ln.Close()
	if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}

// Serve answers requests with h until ctx is done or the listener is
// closed; it returns after every connection it started has finished.
func (l *ControlListener) Serve(ctx context.Context, h Handler) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	slots := make(chan struct{}, MaxControlConns)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		c, err := l.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("control socket accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer c.Close()
			serveOne(ctx, c, h)
		}()
	}
}

func serveOne(ctx context.Context, c *net.UnixConn, h Handler) {
	c.SetDeadline(time.Now().Add(ControlTimeout))
	answer(ctx, c, h)
}

// answer reads one request from rw, runs it and writes the reply.
func answer(ctx context.Context, rw io.ReadWriter, h Handler) {
	c := rw
	var req Request
	var rep Reply
	dec := json.NewDecoder(io.LimitReader(c, MaxRequestBytes))
	if err := dec.Decode(&req); err != nil {
		rep.Err = fmt.Sprintf("control request: want one JSON object {\"args\": [...]} of at most %d bytes: %v", MaxRequestBytes, err)
	} else {
		var out bytes.Buffer
		if err := h(ctx, req.Args, bytes.NewReader([]byte(req.Stdin)), &out); err != nil {
			rep.Err = err.Error()
		}
		rep.Out = out.String()
	}
	json.NewEncoder(c).Encode(rep)
}

// Call sends one ipvsadm invocation to the director at path and returns
// its output. A director-side failure comes back as an error with the
// director's message.
func Call(ctx context.Context, path string, args []string, stdin []byte) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("no director at control socket %s (start one with lvsperf director, or pass --control): %w", path, err)
	}
	defer c.Close()
	deadline := time.Now().Add(ControlTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.SetDeadline(deadline)
	if err := json.NewEncoder(c).Encode(Request{Args: args, Stdin: string(stdin)}); err != nil {
		return "", fmt.Errorf("control socket %s: send: %w", path, err)
	}
	var rep Reply
	if err := json.NewDecoder(io.LimitReader(c, MaxReplyBytes)).Decode(&rep); err != nil {
		return "", fmt.Errorf("control socket %s: reply: %w", path, err)
	}
	if rep.Err != "" {
		return rep.Out, errors.New(rep.Err)
	}
	return rep.Out, nil
}
