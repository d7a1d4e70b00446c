package ipvsadm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the daemon goroutine and the test.
type syncBuffer struct {
	ch chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	select {
	case b.ch <- string(p):
	default:
	}
	return len(p), nil
}

// TestDaemonFromLVSConf runs lvsperf director's daemon on loopback from
// an lvs.conf in the seed's format, then lists, relays, scrapes metrics,
// stops and checks it cleaned up.
func TestDaemonFromLVSConf(t *testing.T) {
	rs := echoServer(t)
	vip := freePort(t)
	metrics := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "lvs_nat.conf")
	text := fmt.Sprintf("#lvs_nat.conf\nLVS_TYPE=VS_NAT\nINITIAL_STATE=on\nVIP=lo lvs 255.255.255.255 lvs\n"+
		"SERVICE=t %d wrr realserver1:%d,2 #the service\nSERVER_VIP_DEVICE=lo:0\n", vip.Port(), rs.Port())
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "d.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := &syncBuffer{ch: make(chan string, 16)}
	go func() {
		done <- RunDaemon(ctx, DaemonOptions{Control: sock, LVSConf: conf, Metrics: metrics.String(),
			Hosts: map[string]string{"lvs": "127.0.0.1", "realserver1": "127.0.0.1"}}, log)
	}()
	stopped := false
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop within 10 s")
		}
	})
	deadline := time.After(10 * time.Second)
	for ready := false; !ready; {
		select {
		case line := <-log.ch:
			ready = strings.Contains(line, "director serving 1 virtual services")
		case err := <-done:
			stopped = true
			t.Fatalf("daemon exited: %v", err)
		case <-deadline:
			t.Fatal("daemon not ready within 10 s")
		}
	}
	out, err := Call(ctx, sock, []string{"-L", "-n"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("TCP  %s wrr\n  -> %-28s Masq    2 ", vip, rs); !strings.Contains(out, want) {
		t.Fatalf("-L -n:\n%s\nwant %q", out, want)
	}
	c, err := net.DialTimeout("tcp", vip.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("relay: %q %v", buf, err)
	}
	c.Close()
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + metrics.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	want := fmt.Sprintf(`lvsperf_director_conns_total{service="TCP %s",realserver="%s"} 1`, vip, rs)
	if !bytes.Contains(body, []byte(want)) {
		t.Fatalf("metrics lack %q:\n%s", want, body)
	}
	cancel()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("daemon returned %v, want nil on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("control socket left behind: %v", err)
	}
	if c, err := net.DialTimeout("tcp", vip.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("VIP still accepting after the daemon stopped")
	}
}

func TestDaemonRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.conf")
	os.WriteFile(conf, []byte("VIP=lo 127.0.0.1\nSERVICE=x 80 rr 127.0.0.1\n"), 0o600)
	err := RunDaemon(context.Background(), DaemonOptions{Control: filepath.Join(dir, "s"), LVSConf: conf}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "bad.conf:2: SERVICE needs a protocol (t or u), got \"x\"") {
		t.Fatalf("bad lvs.conf: %v", err)
	}
	rules := filepath.Join(dir, "rules")
	os.WriteFile(rules, []byte("-A -t 127.0.0.1:1 -s rr\n-a -t 127.0.0.1:1 -r 127.0.0.1:2 -w -3\n"), 0o600)
	err = RunDaemon(context.Background(), DaemonOptions{Control: filepath.Join(dir, "s"), Rules: rules}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rules:2: ipvsadm: -w") {
		t.Fatalf("bad rules: %v", err)
	}
	err = RunDaemon(context.Background(), DaemonOptions{Control: filepath.Join(dir, "s"), Service: "10.1.2.3:80", Realservers: []string{"127.0.0.1:2"}}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("non-loopback VIP: %v", err)
	}
}
