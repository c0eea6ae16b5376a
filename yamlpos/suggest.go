package yamlpos

import (
	"fmt"
	"strconv"
	"strings"
)

// DidYouMean returns ` (did you mean "x"?)` for the candidate Closest
// finds, or "".
func DidYouMean(got string, candidates []string) string {
	if best := Closest(got, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// DidYouMeanPrefix suggests the names that start like k, when Closest
// finds none (transcribe for transcriptionType and transcriptionUrl), or
// returns "".
func DidYouMeanPrefix(k string, known []string) string {
	const n = 6
	if len(k) < n {
		return ""
	}
	var out []string
	for _, c := range known {
		if len(c) >= n && strings.EqualFold(c[:n], k[:n]) {
			out = append(out, strconv.Quote(c))
		}
	}
	switch len(out) {
	case 0:
		return ""
	case 1:
		return " (did you mean " + out[0] + "?)"
	}
	return " (did you mean one of " + strings.Join(out, ", ") + "?)"
}

// Closest returns the candidate nearest to got within a small edit
// distance, ignoring case, or "". A candidate that shares no letter with a
// short word (m for n) is not near it.
func Closest(got string, candidates []string) string {
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
