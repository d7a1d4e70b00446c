package timing

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readNPtcpSizes reads the size column of an np.out written by Debian's
// NPtcp 3.7.2 (the fixtures under testdata were made with the commands in
// testdata/README).
func readNPtcpSizes(t *testing.T, path string) []Bytes {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sizes []Bytes
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		sizes = append(sizes, Bytes(n))
	}
	return sizes
}

func TestNetPIPESizesMatchNPtcp(t *testing.T) {
	for _, tc := range []struct {
		file             string
		start, end, pert Bytes
	}{
		{"testdata/nptcp-default.out", 1, NetPIPEDefaultEnd, 3},
		{"testdata/nptcp-l5-u70000-p2.out", 5, 70000, 2},
		{"testdata/nptcp-l100-u5000-p0.out", 100, 5000, 0},
	} {
		want := readNPtcpSizes(t, tc.file)
		got, err := NetPIPESizes(tc.start, tc.end, tc.pert)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: sizes differ from NPtcp's\n got %v\nwant %v", tc.file, got, want)
		}
	}
}

func TestNetPIPESizesShape(t *testing.T) {
	def, _ := NetPIPESizes(1, NetPIPEDefaultEnd, 3)
	if len(def) != 124 || !slices.Equal(def[len(def)-3:], []Bytes{8388605, 8388608, 8388611}) {
		t.Errorf("default schedule: %d points ending %v, want 124 ending 8388605 8388608 8388611", len(def), def[len(def)-3:])
	}
	if !slices.Equal(def[:10], []Bytes{1, 2, 3, 4, 6, 8, 12, 13, 16, 19}) {
		t.Errorf("default schedule starts %v", def[:10])
	}
	u8, _ := NetPIPESizes(1, 8*MiB, 3)
	if !slices.Equal(u8, def) {
		t.Errorf("-u 8388608 should run the same points as the default")
	}
	p0, _ := NetPIPESizes(1, 8*MiB, 0)
	if len(p0) != 46 || p0[45] != 8*MiB {
		t.Errorf("-p 0: %d points, last %d; want 46 ending 8388608", len(p0), p0[len(p0)-1])
	}
}

func TestNetPIPESizesRejectsNonsense(t *testing.T) {
	for _, tc := range []struct{ start, end, pert Bytes }{{0, 10, 3}, {100, 10, 3}, {1, 10, -1}} {
		if _, err := NetPIPESizes(tc.start, tc.end, tc.pert); err == nil {
			t.Errorf("NetPIPESizes(%d, %d, %d): no error", tc.start, tc.end, tc.pert)
		}
	}
}

func TestPowersOfTwo(t *testing.T) {
	got, err := PowersOfTwo(0, 26)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 27 || got[0] != 1 || got[26] != 64*MiB {
		t.Errorf("PowersOfTwo(0,26) = %d sizes from %d to %d", len(got), got[0], got[len(got)-1])
	}
	if _, err := PowersOfTwo(5, 2); err == nil {
		t.Error("PowersOfTwo(5, 2): no error")
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]Bytes{"1500": 1500, "64k": 64 * KiB, "64KiB": 64 * KiB, "8M": 8 * MiB, "8mb": 8 * MiB, "1g": GiB, "0": 0} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "x", "1.5k", "99999999999999999999"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q): no error", in)
		}
	}
}
