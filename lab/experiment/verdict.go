package experiment

// Outcome is an experiment's verdict against the seed's finding.
type Outcome string

// The three outcomes a verdict can have.
const (
	// Reproduced: our data support the seed's claim, interval included.
	Reproduced Outcome = "reproduced"
	// NotReproduced: our data contradict the claim beyond the interval.
	NotReproduced Outcome = "not reproduced"
	// Inconclusive: the interval is too wide to say either way.
	Inconclusive Outcome = "inconclusive (CI too wide)"
)

// Verdict compares one experiment's figures with the seed's finding. It is
// computed from the data, never set by hand.
type Verdict struct {
	// Experiment is the experiment's name (paths, rsh, …); Claim names the
	// sub-claim when an experiment tests several (e.g. "null vs disk").
	Experiment, Claim string
	// Seed states the seed's finding as a testable comparison, with the
	// seed's figure (e.g. "NAT > DR: +30 µs per round trip").
	Seed string
	// Ours is our figure with its 95% interval, in the same terms.
	Ours string
	// Outcome is the verdict; Why says in a few words what decided it.
	Outcome Outcome
	Why     string
}
