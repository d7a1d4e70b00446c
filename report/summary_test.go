package report

import (
	"fmt"
	"testing"
)

// Twelve runs' notes that differ only in the share other processes took
// are one sentence with the range of shares, not twelve sentences.
func TestContentionNotesSummarised(t *testing.T) {
	var notes []string
	for _, p := range []int{37, 43, 25, 52} {
		notes = append(notes, fmt.Sprintf("contended: other processes used %d%% of the CPUs (limit 25%%); compare only runs taken side by side", p))
	}
	notes = append(notes, "steal 12% during the run")
	got := summariseNotes(notes)
	want := "other processes used 25–52% of the CPUs (limit 25%); compare only runs taken side by side; steal 12% during the run"
	if got != want {
		t.Errorf("summariseNotes:\n got %q\nwant %q", got, want)
	}
}
