package timing

import "fmt"

// NetPIPEDefaultEnd is NetPIPE's default upper bound (MAXINT in netpipe.h).
const NetPIPEDefaultEnd Bytes = 10_000_000

// NetPIPEDefaultPerturbation is NetPIPE's default perturbation (DEFPERT).
const NetPIPEDefaultPerturbation Bytes = 3

// maxSchedulePoints bounds a schedule like NetPIPE's NSAMP-3.
const maxSchedulePoints = 7997

// NetPIPESizes returns NetPIPE 3.7.2's message sizes for start, end and
// perturbation p: base sizes grow 1, 2, 3, 4, 6, 8, 12, 16, … (every 2^k and
// 3·2^(k-1)) and each base size c is measured as c-p, c and c+p once the
// increment exceeds p+1. As in NetPIPE, end bounds the base size only, so the
// c+p point may pass it.
func NetPIPESizes(start, end, p Bytes) ([]Bytes, error) {
	if start < 1 {
		return nil, fmt.Errorf("start size %d: NetPIPE schedules start at 1 byte or more (-l 1)", start)
	}
	if end < start {
		return nil, fmt.Errorf("end size %d is below start size %d: give -u at least -l", end, start)
	}
	if p < 0 {
		return nil, fmt.Errorf("perturbation %d: want 0 (none) or more bytes", p)
	}
	inc := Bytes(1)
	nq := 0
	if start > 1 {
		inc = start / 2
		nq = 1
	}
	var sizes []Bytes
	for length := start; len(sizes) < maxSchedulePoints && length <= end; length, nq = length+inc, nq+1 {
		if nq > 2 && nq%2 == 1 {
			inc += inc
		}
		perturbed := p > 0 && inc > p+1
		if !perturbed {
			sizes = append(sizes, length)
			continue
		}
		for _, d := range []Bytes{-p, 0, p} {
			sizes = append(sizes, length+d)
		}
	}
	return sizes, nil
}

// PowersOfTwo returns 2^lo … 2^hi bytes, the seed's file.lo … file.hi.
func PowersOfTwo(lo, hi int) ([]Bytes, error) {
	if lo < 0 || hi > 40 || hi < lo {
		return nil, fmt.Errorf("powers of two %d…%d: want 0 <= lo <= hi <= 40", lo, hi)
	}
	sizes := make([]Bytes, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		sizes = append(sizes, Bytes(1)<<k)
	}
	return sizes, nil
}
