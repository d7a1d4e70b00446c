package hint_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/internal/hint"
)

// Each case makes the real error over loopback (or the resolver) and
// checks its kind and that the hint names the matching thing to check.
func TestHintPerKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) error
		kind hint.Kind
		want string
	}{
		{"dns", dnsFailure, hint.DNS, "host name does not resolve"},
		{"refused", refused, hint.Refused, "is lvsperf serve http running there"},
		{"timeout", stalled, hint.Timeout, "is the host up"},
		{"reset", reset, hint.Reset, "peer closed the connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make(t)
			if err == nil {
				t.Fatal("no error")
			}
			wrapped := fmt.Errorf("prefetch: connect to x: %w", err)
			if k := hint.KindOf(wrapped); k != tc.kind {
				t.Fatalf("kind of %v: %q, want %q", err, k, tc.kind)
			}
			h := hint.For(wrapped, "lvsperf serve http")
			if tc.kind == hint.DNS && strings.Contains(h, "name server did not answer") {
				return // a resolver without network: a timeout, also a DNS hint
			}
			if !strings.Contains(h, tc.want) {
				t.Errorf("hint %q lacks %q", h, tc.want)
			}
			if strings.Contains(h, "running") && tc.kind != hint.Refused {
				t.Errorf("hint %q asks whether the server runs after a %s error", h, tc.kind)
			}
		})
	}
	if h := hint.For(errors.New("bad status 404"), ""); h != "" {
		t.Errorf("hint for a non-network error: %q", h)
	}
}

// dnsFailure resolves a name under .invalid, which never exists (RFC 6761).
func dnsFailure(t *testing.T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", "no-such-host.invalid:80")
	if err == nil {
		c.Close()
	}
	return err
}

// refused dials a loopback port that was just closed.
func refused(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// stalled reads from a listener that accepts and never answers.
func stalled(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	return err
}

// reset reads from a listener that closes each connection with SO_LINGER
// 0, which sends a RST.
func reset(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		s, err := l.Accept()
		if err != nil {
			return
		}
		_ = s.(*net.TCPConn).SetLinger(0)
		s.Close()
	}()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		return err // the RST can come before connect returns
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	time.Sleep(50 * time.Millisecond)
	_, err = c.Read(make([]byte, 1))
	return err
}
