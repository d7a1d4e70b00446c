package embed

import (
	"context"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkNewConnections measures connect, 1-byte exchange and close
// through the embedded director, 16 clients at a time.
func BenchmarkNewConnections(b *testing.B) {
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
	d, err := Start(context.Background(), Options{Realservers: []string{ln.Addr().String()}})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ReportAllocs()
	b.SetParallelism(8)
	var mu sync.Mutex
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := []byte{'x'}
		for pb.Next() {
			c, err := net.DialTimeout("tcp", d.Addr(), 5*time.Second)
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
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/conn")
}
