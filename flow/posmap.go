package flow

import (
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// scalarPos returns the file position of the rune at offset off of a
// scalar's decoded value. YAML quoting, escapes, block indicators and line
// folding make the decoded value differ from the bytes in the file, so the
// two are aligned rune by rune: a decoded rune matches the next raw rune
// that equals it, with escapes and doubled quotes counted as one. It runs
// only when a diagnostic is reported.
func scalarPos(src []byte, file string, n *yaml.Node, off int) Pos {
	start := lineColOffset(src, n.Line, n.Column)
	if start < 0 {
		return Pos{File: file, Line: n.Line, Col: n.Column}
	}
	raw := src[start:]
	j := 0
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		j = 1 // past the opening quote
	case yaml.LiteralStyle, yaml.FoldedStyle:
		for j < len(raw) && raw[j] != '\n' {
			j++
		}
	}
	k := 0
	for _, v := range n.Value {
		at := j
		for j < len(raw) {
			r, w := utf8.DecodeRune(raw[j:])
			if n.Style == yaml.DoubleQuotedStyle && r == '\\' {
				at = j
				j += escapeLen(raw[j:])
				break
			}
			if n.Style == yaml.SingleQuotedStyle && r == '\'' && j+1 < len(raw) && raw[j+1] == '\'' {
				at = j
				j += 2
				break
			}
			if r == v {
				at = j
				j += w
				break
			}
			if (v == ' ' || v == '\n') && r != ' ' && r != '\n' && r != '\t' && r != '\r' {
				// A folded line break: the decoded space has no raw rune.
				at = j
				break
			}
			j += w
			at = j
		}
		if k == off {
			return offsetPos(src, file, start+at)
		}
		k++
	}
	return offsetPos(src, file, start+j)
}

// escapeLen is the length of the escape sequence at the start of b.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return len(b)
	}
	switch b[1] {
	case 'x':
		return min(len(b), 4)
	case 'u':
		return min(len(b), 6)
	case 'U':
		return min(len(b), 10)
	case '\n':
		return 2
	}
	return 2
}

// lineColOffset returns the byte offset of a 1-based line and rune column.
func lineColOffset(src []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := indexByte(src[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(src); c++ {
		_, w := utf8.DecodeRune(src[off:])
		off += w
	}
	return off
}

// offsetPos turns a byte offset into a position.
func offsetPos(src []byte, file string, off int) Pos {
	line, col := 1, 1
	for i := 0; i < off && i < len(src); {
		r, w := utf8.DecodeRune(src[i:])
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += w
	}
	return Pos{File: file, Line: line, Col: col}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
