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
// A YAML alias repeats the nodes of its anchor, so one mistake written once
// could be found once per use: identical diagnostics are kept once.
type diags struct {
	list Diagnostics
	seen map[Diagnostic]bool
}

func (d *diags) add(diag Diagnostic) {
	if d.seen == nil {
		d.seen = map[Diagnostic]bool{}
	}
	if d.seen[diag] {
		return
	}
	d.seen[diag] = true
	d.list = append(d.list, diag)
}

func (d *diags) errorf(p Pos, code Code, format string, args ...any) {
	d.add(Diagnostic{Pos: p, Severity: Error, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (d *diags) warnf(p Pos, code Code, format string, args ...any) {
	d.add(Diagnostic{Pos: p, Severity: Warning, Code: code, Message: fmt.Sprintf(format, args...)})
}

// didYouMean returns ` (did you mean "x"?)` for the closest candidate
// within a small edit distance, or "".
func didYouMean(got string, candidates []string) string {
	if best := closest(got, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// closest returns the candidate nearest to got within a small edit
// distance, ignoring case, or "". A candidate that shares no letter with a
// short word (m for n) is not near it.
func closest(got string, candidates []string) string {
	best, bestDist := "", 0
	lg := []rune(strings.ToLower(got))
	n := len([]rune(got))
	limit := max(2, n/3)
	if n <= 4 {
		limit = 1
	}
	var buf [3][]int
	for _, c := range candidates {
		if c == got {
			continue
		}
		lc := []rune(strings.ToLower(c))
		if abs(len(lc)-len(lg)) > limit {
			continue // the distance is at least the difference in length
		}
		d := editDistanceWithin(lg, lc, limit, &buf)
		if d <= limit && d < n && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	// A word that extends a candidate (start_node for start) or shortens
	// one (desc for description).
	sg := string(lg)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if (len(lc) >= 4 && strings.HasPrefix(sg, lc)) || (len(sg) >= 4 && strings.HasPrefix(lc, sg)) {
			if best == "" || len(c) > len(best) {
				best = c
			}
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistanceWithin is the optimal string alignment distance between ra
// and rb (insertions, deletions, substitutions and swaps of two
// neighbours, mnue for menu, each count one), stopping early with a result
// above limit once no alignment can stay within it. buf holds reusable
// rows.
func editDistanceWithin(ra, rb []rune, limit int, buf *[3][]int) int {
	for i := range buf {
		if cap(buf[i]) < len(rb)+1 {
			buf[i] = make([]int, len(rb)+1)
		}
		buf[i] = buf[i][:len(rb)+1]
	}
	prev2, prev, cur := buf[0], buf[1], buf[2]
	for j := range prev {
		prev[j] = j
	}
	prevMin := 0
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		// Every alignment passes through this row or, by a swap, the one
		// before it.
		if rowMin > limit && prevMin > limit {
			return limit + 1
		}
		prevMin = rowMin
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
