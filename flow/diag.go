package flow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a flow file. Line and Col are 1-based; Col counts
// characters, as YAML does.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity tells whether a diagnostic fails validation.
type Severity uint8

// The severities. Warnings fail validation only with --strict.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a flow file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Code     Code
	Message  string
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", d.Pos, d.Severity, d.Message, d.Code)
}

// Diagnostics is every problem found in one run, sorted by place.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error, or with strict
// any diagnostic at all.
func (ds Diagnostics) HasErrors(strict bool) bool {
	for _, d := range ds {
		if d.Severity == Error || strict {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, line, column, then code.
func (ds Diagnostics) Sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Code, b.Code),
		)
	})
}

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// diags collects diagnostics while a file is decoded and checked.
type diags struct {
	list Diagnostics
}

func (d *diags) errorf(p Pos, code Code, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: p, Severity: Error, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (d *diags) warnf(p Pos, code Code, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: p, Severity: Warning, Code: code, Message: fmt.Sprintf(format, args...)})
}

// didYouMean returns ` (did you mean "x"?)` for the closest candidate
// within a small edit distance, or "".
func didYouMean(got string, candidates []string) string {
	best, bestDist := "", 0
	limit := max(2, len(got)/3)
	for _, c := range candidates {
		d := editDistance(strings.ToLower(got), strings.ToLower(c))
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
