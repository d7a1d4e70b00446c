package probes

import (
	"math/bits"
	"strconv"

	"github.com/lvsperf/lvsperf/timing"
)

// FileName is the name the seed gives a file of 2^exp bytes: file.exp.
func FileName(exp int) string { return "file." + strconv.Itoa(exp) }

// NameFor returns the file a transfer of n bytes copies: file.N for n = 2^N
// (the seed's names), file.nB otherwise.
func NameFor(n timing.Bytes) string {
	if n > 0 && n&(n-1) == 0 {
		return FileName(bits.TrailingZeros64(uint64(n)))
	}
	return "file." + strconv.FormatInt(int64(n), 10) + "B"
}

// FillFile fills b with the bytes found at offset off of every file the ftp
// and nfs probes write: a sequence with period 251 (a prime), so a misplaced
// block shows.
func FillFile(b []byte, off int64) {
	v := byte(off % 251)
	for i := range b {
		b[i] = v
		v++
		if v == 251 {
			v = 0
		}
	}
}
