package proxy

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNewConnections measures connect, 1-byte exchange and close
// through the proxy with a trivial picker (client and server in the same
// process), per TCP engine; it reports the process's CPU per connection.
func BenchmarkNewConnections(b *testing.B) {
	for _, m := range tcpEngines {
		b.Run(m.String(), func(b *testing.B) { benchNewConnections(b, m) })
	}
}

func benchNewConnections(b *testing.B, mode CopyMode) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var x [1]byte
				if _, err := io.ReadFull(c, x[:]); err == nil {
					c.Write(x[:])
				}
			}()
		}
	}()
	pk := &testPicker{dests: []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}, discard: true}
	px, err := New(context.Background(), pk, Options{Copy: mode})
	if err != nil {
		b.Fatal(err)
	}
	defer px.Close()
	vip, err := px.Listen(dataplane.TCP, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	var mu sync.Mutex
	c0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := []byte{'x'}
		for pb.Next() {
			c, err := net.DialTimeout("tcp", vip.String(), 5*time.Second)
			if err != nil {
				mu.Lock()
				b.Error(err)
				mu.Unlock()
				return
			}
			c.Write(x)
			io.ReadFull(c, x)
			c.Close()
		}
	})
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-µs/conn")
}
