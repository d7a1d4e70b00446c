package cpuidle

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHoldWritesZeroAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qos")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := holdAt(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if len(b) != 4 || binary.NativeEndian.Uint32(b) != 0 {
		t.Fatalf("wrote %x, want a 4-byte zero", b)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestHoldMissingDeviceSaysWhatToDo(t *testing.T) {
	_, err := holdAt(filepath.Join(t.TempDir(), "absent"))
	if err == nil || !strings.Contains(err.Error(), "without --idle-poll") {
		t.Fatalf("err = %v, want advice to run without --idle-poll", err)
	}
}

// TestHoldReal takes the real request where the device exists and is
// writable (root on Linux), and checks the kernel saw it while held.
func TestHoldReal(t *testing.T) {
	if _, err := os.Stat(QoSPath); err != nil {
		t.Skipf("no %s on this kernel", QoSPath)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it")
		}
		t.Skip("needs root to write " + QoSPath)
	}
	r, err := Hold()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Reading the device gives the current aggregate request: 0 while held.
	f, err := os.Open(QoSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4)
	if n, err := f.Read(b); err != nil || n != 4 {
		t.Fatalf("read %s: %d bytes, %v", QoSPath, n, err)
	}
	if v := int32(binary.NativeEndian.Uint32(b)); v != 0 {
		t.Fatalf("aggregate CPU latency request is %d µs while held, want 0", v)
	}
}

func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "current_driver"), []byte("haltpoll\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "current_governor_ro"), []byte("haltpoll\n"), 0o600)
	if got := describeAt(dir); got != "haltpoll/haltpoll" {
		t.Fatalf("describe = %q", got)
	}
	if got := describeAt(filepath.Join(dir, "none")); got != "" {
		t.Fatalf("describe of nothing = %q", got)
	}
}
