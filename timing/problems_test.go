package timing

import (
	"math"
	"testing"
	"time"
)

func TestProblemNames(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"dropout at 128 bytes: rate 45% below its neighbours"}, "dropout"},
		{[]string{
			"dropout at 1 bytes: rate 30% below its neighbours", "dropout at 2 bytes: rate 30% below its neighbours",
			"dropout at 3 bytes: rate 30% below its neighbours", "dropout at 4 bytes: rate 30% below its neighbours",
			"dropout at 5 bytes: rate 30% below its neighbours", "… and 4 more dropouts",
			"time does not grow with size: the sizes are too small to show a rate limit",
			"poor fit: the model is off by 27% on a typical point",
		}, "dropout ×9, no rate limit, poor fit"},
		{[]string{"rate collapses past 16 MiB: 1 Gbit/s at 64 MiB is 23% of the peak; fitted sizes up to the peak only",
			"fitted latency is negative (-3µs): the small sizes do not follow the model"}, "collapse, negative latency"},
		{[]string{"something new: details"}, "something new"},
	} {
		if got := ProblemNames(c.in); got != c.want {
			t.Errorf("ProblemNames(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestProblemNamesOfFits names the problems FitPoints itself writes, so a
// reworded problem cannot fall through to the fallback unnoticed.
func TestProblemNamesOfFits(t *testing.T) {
	var flat, jagged []Point
	for i := 0; i < 12; i++ {
		b := Bytes(1) << (2 * i)
		flat = append(flat, Point{Bytes: b, Min: 10 * time.Microsecond})
		d := time.Duration(10e3 + float64(b)/1.25) // 10 µs + 10 Gbit/s
		if i%3 == 1 {
			d *= 3
		}
		jagged = append(jagged, Point{Bytes: b, Min: d})
	}
	f, err := FitPoints(flat)
	if err != nil {
		t.Fatal(err)
	}
	if got := ProblemNames(f.Problems); got != "no rate limit" || !math.IsInf(float64(f.MaxRate), 1) {
		t.Errorf("flat times: problems %q named %q, want \"no rate limit\"", f.Problems, got)
	}
	f, err = FitPoints(jagged)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Problems {
		switch ProblemName(p) {
		case "dropout", "collapse", "poor fit", "negative latency", "no rate limit":
		default:
			t.Errorf("problem %q has no short name (got %q)", p, ProblemName(p))
		}
	}
	if len(f.Problems) == 0 {
		t.Errorf("jagged times gave no problems to name")
	}
}
