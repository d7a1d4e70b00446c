package streamer

import (
	"net"
	"testing"
	"time"
)

// The kernel's receive timestamp arrives with each datagram.
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
	buf, oob := make([]byte, 2048), make([]byte, 128)
	for i := range 3 {
		_, oobn, _, _, err := rx.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		at, ok := rxTimestamp(oob[:oobn])
		if !ok || at.Before(before.Add(-time.Millisecond)) || at.After(time.Now()) {
			t.Errorf("datagram %d: timestamp %v (ok %v), want between %v and now", i, at, ok, before)
		}
	}
	if _, ok := rxTimestamp([]byte{1, 2, 3}); ok {
		t.Error("timestamp found in 3 bytes")
	}
}
