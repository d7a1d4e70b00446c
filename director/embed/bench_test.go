package embed

import (
	"context"
	"io"
	"net"
	"sync"
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
}
