package streamer

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// The kernel's receive timestamp arrives with each datagram read in a batch.
func TestRxTimestamps(t *testing.T) {
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if !enableRxTimestamps(rx) {
		t.Fatal("SO_TIMESTAMPNS refused")
	}
	tx, err := net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	before := time.Now()
	for range 3 {
		tx.Write(make([]byte, 100))
	}
	rx.SetReadDeadline(time.Now().Add(2 * time.Second))
	msgs := make([]ipv4.Message, 8)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{make([]byte, 2048)}, OOB: make([]byte, 128)}
	}
	got := 0
	for got < 3 {
		n, err := newBatchConn(rx).ReadBatch(msgs, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs[:n] {
			at, ok := rxTimestamp(m.OOB[:m.NN])
			if !ok || at.Before(before.Add(-time.Millisecond)) || at.After(time.Now()) {
				t.Errorf("datagram %d: timestamp %v (ok %v), want between %v and now", got, at, ok, before)
			}
			got++
		}
	}
	if _, ok := rxTimestamp([]byte{1, 2, 3}); ok {
		t.Error("timestamp found in 3 bytes")
	}
}
