package timing

import "testing"

func TestMedian(t *testing.T) {
	v := []float64{5, 1, 4, 2}
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {v, 3}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if v[0] != 5 || v[1] != 1 {
		t.Errorf("Median sorted its argument: %v", v)
	}
}
