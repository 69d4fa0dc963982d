package bench

import (
	"fmt"
	"io"
	"strings"
)

// Table is one Markdown table of RESULTS.md.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string // paragraphs after the table
}

// AddRow appends a row of cells, formatted with fmt.Sprint.
func (t *Table) AddRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// WriteMarkdown renders t; cells are escaped for pipes.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", t.Title)
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	b.WriteString("|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		line(r)
	}
	for _, n := range t.Notes {
		b.WriteString("\n" + n + "\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Ratio formats a/b as "1.23x", or "n/a" when b is zero.
func Ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// Micros formats nanoseconds as microseconds.
func Micros(ns int64) string {
	switch {
	case ns >= 10_000_000:
		return fmt.Sprintf("%.1f ms", float64(ns)/1e6)
	case ns >= 10_000:
		return fmt.Sprintf("%.0f µs", float64(ns)/1e3)
	default:
		return fmt.Sprintf("%.1f µs", float64(ns)/1e3)
	}
}
