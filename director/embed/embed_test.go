package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
	"golang.org/x/sync/errgroup"
)

// namedServer answers every connection with its name and closes; kill
// stops it (listener and all).
type namedServer struct {
	name string
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

func startNamed(t *testing.T, name string) *namedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &namedServer{name: name, addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, name)
			c.Close()
		}
	}()
	t.Cleanup(s.kill)
	return s
}

func (s *namedServer) kill() {
	s.once.Do(func() { s.ln.Close(); s.wg.Wait() })
}

// ask connects to addr and returns what the server said.
func ask(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", errors.New("connection closed without an answer")
	}
	return string(b), nil
}

func TestRoundRobinAlternates(t *testing.T) {
	a, b := startNamed(t, "a"), startNamed(t, "b")
	d, err := Start(context.Background(), Options{Scheduler: "rr", Realservers: []string{a.addr, b.addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got []string
	for range 10 {
		name, err := ask(context.Background(), d.Addr())
		if err != nil {
			t.Fatalf("connection %d through the director: %v", len(got)+1, err)
		}
		got = append(got, name)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("rr over 2 realservers: want alternating answers, got %v", got)
		}
	}
	// The model saw the connections and the bytes the engine counted.
	deadline := time.Now().Add(2 * time.Second)
	for {
		snap := d.Snapshot()
		if len(snap.Services) != 1 || len(snap.Services[0].Dests) != 2 {
			t.Fatalf("snapshot: want 1 service with 2 realservers, got %+v", snap)
		}
		ds := snap.Services[0].Dests
		if ds[0].Stats.Conns == 5 && ds[1].Stats.Conns == 5 && snap.Services[0].Stats.OutBytes == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats: want 5 conns per realserver and 10 bytes out, got service %+v dests %+v", snap.Services[0].Stats, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill a realserver mid-run: health checks take it out within two
// intervals, new connections go to the other, and the run reports the
// errors it saw and finishes.
func TestKillRealserverMidRun(t *testing.T) {
	const interval = 100 * time.Millisecond
	a, b := startNamed(t, "a"), startNamed(t, "b")
	d, err := Start(context.Background(), Options{Scheduler: "rr", Realservers: []string{a.addr, b.addr}, HealthInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	type result struct {
		at   time.Time
		name string
		err  error
	}
	var (
		mu      sync.Mutex
		results []result
		killed  time.Time
		stop    atomic.Bool
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			for i := 0; i < 5000 && !stop.Load() && ctx.Err() == nil; i++ {
				name, err := ask(ctx, d.Addr())
				mu.Lock()
				results = append(results, result{time.Now(), name, err})
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
			return nil
		})
	}
	// Kill between two checks, so the window until the next check shows
	// the errors clients see.
	time.Sleep(3*interval + interval/2)
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	a.kill()
	time.Sleep(6 * interval)
	stop.Store(true)
	g.Wait()

	var before, errs, afterOut int
	var lastErr time.Time
	outAt := killed.Add(2 * interval)
	for _, r := range results {
		switch {
		case r.err != nil:
			errs++
			if r.at.After(lastErr) {
				lastErr = r.at
			}
		case r.at.Before(killed):
			before++
		case r.at.After(outAt) && r.name != "b":
			afterOut++
		}
	}
	t.Logf("run: %d connections, %d errors, last error %v after the kill, %d to the killed one after two intervals",
		len(results), errs, lastErr.Sub(killed).Round(time.Millisecond), afterOut)
	if before == 0 {
		t.Fatalf("no successful connection before the kill; the run did not start properly")
	}
	// No error at all is fine: on a loaded machine the next check can
	// come before any client picks the killed realserver. The kill itself
	// is proven by the health states below.
	if errs > 0 && lastErr.After(outAt) {
		t.Errorf("errors seen until %v after the kill: want none later than two health intervals (%v)", lastErr.Sub(killed), 2*interval)
	}
	if afterOut != 0 {
		t.Errorf("connections answered by the killed realserver after two intervals: want 0, got %d", afterOut)
	}
	h := d.Health()
	if len(h) != 2 || h[0].Up == h[1].Up {
		t.Errorf("health: want one down, one up; got %+v", h)
	}
	var downWeight = -1
	for _, ds := range d.Snapshot().Services[0].Dests {
		if ds.Addr.String() == a.addr {
			downWeight = ds.Weight
		}
	}
	if downWeight != 0 {
		t.Errorf("killed realserver's weight: want 0 (quiesced), got %d", downWeight)
	}
}

func TestUDPService(t *testing.T) {
	var addrs []string
	for _, name := range []string{"a", "b"} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(append([]byte(name+":"), buf[:n]...), from)
			}
		}()
		addrs = append(addrs, pc.LocalAddr().String())
	}
	d, err := Start(context.Background(), Options{Proto: dataplane.UDP, Scheduler: "rr", Realservers: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	seen := map[string]bool{}
	for i := range 2 {
		c, err := net.Dial("udp", d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 2048)
		var first string
		for j := range 3 {
			msg := fmt.Sprintf("c%d-%d", i, j)
			c.Write([]byte(msg))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("client %d datagram %d through the director: %v", i, j, err)
			}
			got := string(buf[:n])
			name, rest, _ := strings.Cut(got, ":")
			if rest != msg {
				t.Fatalf("answer: want %q echoed, got %q", msg, got)
			}
			if j == 0 {
				first = name
			} else if name != first {
				t.Errorf("client %d: want all its datagrams on one realserver (one flow), got %s then %s", i, first, name)
			}
		}
		seen[first] = true
	}
	if len(seen) != 2 {
		t.Errorf("rr over 2 UDP realservers with 2 clients: want both used, got %v", seen)
	}
	// The engine counts a datagram after forwarding it, so the client can
	// hold the answer a moment before the count lands: wait for it.
	deadline := time.Now().Add(2 * time.Second)
	for {
		s := d.Snapshot().Services[0].Stats
		if s.InPkts == 6 && s.OutPkts == 6 {
			break
		}
		if time.Now().After(deadline) || s.InPkts > 6 || s.OutPkts > 6 {
			t.Errorf("UDP packets in/out: want 6/6, got %d/%d", s.InPkts, s.OutPkts)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

func settle(want int, f func() int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if n := f(); n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 10,000 connections through the embedded director (model, engine and
// health checks) leave no goroutines or descriptors behind.
func TestNoLeaks10000Connections(t *testing.T) {
	const conns, clients = 10000, 50
	a, b := startNamed(t, "a"), startNamed(t, "b")
	runtime.GC()
	fds0, g0 := openFDs(t), runtime.NumGoroutine()
	d, err := Start(context.Background(), Options{Realservers: []string{a.addr, b.addr}, HealthInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var g errgroup.Group
	for range clients {
		g.Go(func() error {
			for range conns / clients {
				if _, err := ask(ctx, d.Addr()); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("client: %v", err)
	}
	if s := d.EngineStats(); s.Accepted != conns {
		t.Errorf("engine accepted: want %d, got %d", conns, s.Accepted)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := settle(fds0, func() int { return openFDs(t) }); n > fds0 {
		t.Errorf("open descriptors after %d connections and Close: want at most %d as before, got %d", conns, fds0, n)
	}
	if n := settle(g0, runtime.NumGoroutine); n > g0 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines after %d connections and Close: want %d as before, got %d\n%s", conns, g0, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestStartRejects(t *testing.T) {
	for _, o := range []Options{
		{},
		{Realservers: []string{"127.0.0.1"}},
		{Realservers: []string{"127.0.0.1:1"}, Weights: []int{1, 2}},
		{Realservers: []string{"127.0.0.1:1"}, Scheduler: "nope"},
		{Realservers: []string{"127.0.0.1:1"}, Proto: dataplane.UDP, HealthInterval: time.Second},
	} {
		if d, err := Start(context.Background(), o); err == nil {
			d.Close()
			t.Errorf("options %+v: want an error, got nil", o)
		}
	}
}
