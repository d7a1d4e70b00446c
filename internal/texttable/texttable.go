package texttable

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// Columns is the width every table and line the CLI prints fits by default.
const Columns = 100

// gap separates the columns of a compact table.
const gap = "  "

// minWrap is the narrowest a wrappable column is made.
const minWrap = 8

// Table is a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
	// Left lists the columns aligned left; the others are aligned right.
	Left []int
	// Wrap lists the columns whose cells may be word wrapped to fit, the
	// first to be narrowed first.
	Wrap []int
	// Width is the compact table's budget; 0 means Columns.
	Width int
}

// Append adds a row.
func (t *Table) Append(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write prints the table: boxed and unwrapped when wide, else compact and
// wrapped to fit Width.
func (t *Table) Write(w io.Writer, wide bool) error {
	if wide {
		return t.boxed(w)
	}
	return t.compact(w)
}

func (t *Table) boxed(w io.Writer) error {
	tab := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAlignment(tw.AlignRight))
	tab.Header(anySlice(t.Header)...)
	for _, r := range t.Rows {
		if err := tab.Append(anySlice(r)...); err != nil {
			return fmt.Errorf("table: %w", err)
		}
	}
	if err := tab.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (t *Table) compact(w io.Writer) error {
	n := len(t.Header)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	widths := make([]int, n)
	measure := func(cells []string) {
		for i, c := range cells {
			for _, l := range strings.Split(c, "\n") {
				widths[i] = max(widths[i], Width(l))
			}
		}
	}
	measure(t.Header)
	for _, r := range t.Rows {
		measure(r)
	}
	budget := t.Width
	if budget == 0 {
		budget = Columns
	}
	// Narrow the wrappable columns in their order of priority, each down
	// to its longest word before the next is touched, then all of them
	// down to minWrap.
	for _, floor := range []func(c int) int{func(c int) int { return t.longestWord(c) }, func(int) int { return minWrap }} {
		for _, c := range t.Wrap {
			for c < n && total(widths) > budget && widths[c] > max(floor(c), minWrap) {
				widths[c]--
			}
		}
	}
	wrapAt := make([]int, n)
	for _, c := range t.Wrap {
		if c < n && widths[c] > 0 {
			// A wrapped column is as wide as its widest wrapped line.
			wrapAt[c] = widths[c]
			widths[c] = 0
			for _, cells := range append([][]string{t.Header}, t.Rows...) {
				if c < len(cells) {
					for _, l := range WrapWords(cells[c], wrapAt[c]) {
						widths[c] = max(widths[c], Width(l))
					}
				}
			}
		}
	}
	left := make([]bool, n)
	for _, c := range t.Left {
		if c < n {
			left[c] = true
		}
	}
	var b strings.Builder
	row := func(cells []string) {
		lines := make([][]string, n)
		height := 1
		for i := range n {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if wrapAt[i] > 0 {
				lines[i] = WrapWords(c, wrapAt[i])
			} else {
				lines[i] = strings.Split(c, "\n")
			}
			height = max(height, len(lines[i]))
		}
		for h := range height {
			var line strings.Builder
			for i := range n {
				c := ""
				if h < len(lines[i]) {
					c = lines[i][h]
				}
				pad := strings.Repeat(" ", max(0, widths[i]-Width(c)))
				if i > 0 {
					line.WriteString(gap)
				}
				if left[i] {
					line.WriteString(c + pad)
				} else {
					line.WriteString(pad + c)
				}
			}
			b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		}
	}
	row(t.Header)
	b.WriteString(strings.Repeat("─", total(widths)) + "\n")
	for _, r := range t.Rows {
		row(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// longestWord is the widest word in column c's cells.
func (t *Table) longestWord(c int) int {
	w := 0
	for _, r := range t.Rows {
		if c < len(r) {
			for _, f := range strings.Fields(r[c]) {
				w = max(w, Width(f))
			}
		}
	}
	return w
}

func total(widths []int) int {
	s := len(gap) * max(0, len(widths)-1)
	for _, w := range widths {
		s += w
	}
	return s
}

// Width is the number of columns s takes on a terminal (one per rune: the
// tables print no double-width characters).
func Width(s string) int { return utf8.RuneCountInString(s) }

// WrapWords breaks s into lines of at most width runes, at spaces where it
// can and inside a word longer than width; newlines in s are kept.
func WrapWords(s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		cur := ""
		for _, word := range strings.Fields(para) {
			for Width(word) > width {
				if cur != "" {
					lines, cur = append(lines, cur), ""
				}
				r := []rune(word)
				lines, word = append(lines, string(r[:width])), string(r[width:])
			}
			switch {
			case cur == "":
				cur = word
			case Width(cur)+1+Width(word) <= width:
				cur += " " + word
			default:
				lines, cur = append(lines, cur), word
			}
		}
		lines = append(lines, cur)
	}
	return lines
}

// Fold wraps a line of text to width columns, at spaces; the lines after
// the first are indented by indent. A width of 0 or less leaves s as it is.
func Fold(s string, width int, indent string) string {
	if width <= 0 || Width(s) <= width {
		return s
	}
	var out []string
	first := WrapWords(s, width)
	out = append(out, first[0])
	rest := strings.Join(first[1:], " ")
	if rest != "" {
		out = append(out, prefix(WrapWords(rest, width-Width(indent)), indent)...)
	}
	return strings.Join(out, "\n")
}

func prefix(lines []string, p string) []string {
	for i := range lines {
		lines[i] = p + lines[i]
	}
	return lines
}
