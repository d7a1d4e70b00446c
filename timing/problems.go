package timing

import (
	"fmt"
	"strings"
)

// ProblemName is the short name of one of a fit's Problems: "dropout",
// "collapse", "poor fit", "negative latency" or "no rate limit"; for a
// problem this package does not write, the text before its first colon.
func ProblemName(p string) string {
	switch {
	case strings.HasPrefix(p, "dropout at "), strings.Contains(p, "more dropouts"):
		return "dropout"
	case strings.HasPrefix(p, "rate collapses"):
		return "collapse"
	case strings.HasPrefix(p, "poor fit"):
		return "poor fit"
	case strings.HasPrefix(p, "fitted latency is negative"):
		return "negative latency"
	case strings.HasPrefix(p, "time does not grow with size"):
		return "no rate limit"
	}
	name, _, _ := strings.Cut(p, ":")
	return strings.TrimSpace(name)
}

// ProblemNames names a fit's problems in one short phrase, in the order
// they first occur, with a count where one occurs more than once:
// "dropout ×3, no rate limit, poor fit". It is "" for a fit without
// problems.
func ProblemNames(problems []string) string {
	var order []string
	count := map[string]int{}
	for _, p := range problems {
		n := ProblemName(p)
		more := 1
		// "… and 4 more dropouts" stands for four of them.
		if _, rest, ok := strings.Cut(p, "and "); ok && n == "dropout" {
			if _, err := fmt.Sscanf(rest, "%d more", &more); err != nil {
				more = 1
			}
		}
		if count[n] == 0 {
			order = append(order, n)
		}
		count[n] += more
	}
	for i, n := range order {
		if count[n] > 1 {
			order[i] = fmt.Sprintf("%s ×%d", n, count[n])
		}
	}
	return strings.Join(order, ", ")
}
