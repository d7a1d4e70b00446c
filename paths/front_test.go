package paths

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Through the embedded director with 2 realservers and rr, connections
// alternate between them.
func TestDirectorPathAlternates(t *testing.T) {
	var mu sync.Mutex
	n := 0
	start := func(ctx context.Context) (string, func() error, error) {
		mu.Lock()
		n++
		name := string(rune('a' + n - 1))
		mu.Unlock()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, name)
				c.Close()
			}
		}()
		return ln.Addr().String(), func() error { err := ln.Close(); wg.Wait(); return err }, nil
	}
	p, err := Start(context.Background(), Spec{Via: Director, Scheduler: "rr", Realservers: 2}, start)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Name != "director/proxy/rr" || p.Info["engine"] != "proxy" || p.Info["realserver2"] == "" {
		t.Errorf("path: want name director/proxy/rr with engine and realservers in Info, got %q %v", p.Name, p.Info)
	}
	var got []string
	for range 6 {
		c, err := net.DialTimeout("tcp", p.Target, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(b) != 1 {
			t.Fatalf("answer through the director: want one name, got %q (%v)", b, err)
		}
		got = append(got, string(b))
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("rr over 2 realservers: want alternating answers, got %v", got)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.Target, time.Second); err == nil {
		t.Errorf("dial after Close: want refused, the director still listens")
	}
}
