package texttable

import (
	"bytes"
	"strings"
	"testing"
)

func TestCompactWrapsToFit(t *testing.T) {
	tab := &Table{Header: []string{"name", "value", "note"}, Left: []int{0, 2}, Wrap: []int{2, 0}, Width: 40}
	tab.Append("a rather long series name", "1.23", "several words that cannot fit in one line")
	tab.Append("short", "45.6", "ok")
	var b bytes.Buffer
	if err := tab.Write(&b, false); err != nil {
		t.Fatal(err)
	}
	// The note narrows to its longest word (with at least 8 columns),
	// then the name to what is left.
	want := `name                  value  note
─────────────────────────────────────
a rather long series   1.23  several
name                         words
                             that
                             cannot
                             fit in
                             one line
short                  45.6  ok
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := tab.Write(&b, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "│ a rather long series name │") || !strings.Contains(b.String(), "several words that cannot fit in one line") {
		t.Errorf("wide table:\n%s", b.String())
	}
}

func TestFold(t *testing.T) {
	got := Fold("one two three four five six", 10, "  ")
	if got != "one two\n  three\n  four\n  five six" {
		t.Errorf("Fold = %q", got)
	}
	if Fold("short", 10, "  ") != "short" {
		t.Error("a short line was folded")
	}
}

func TestWrapWordsBreaksLongWords(t *testing.T) {
	got := WrapWords("abcdefghij xy", 4)
	if strings.Join(got, "|") != "abcd|efgh|ij|xy" {
		t.Errorf("WrapWords = %q", got)
	}
}
