package yamlpos

import (
	"sort"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SrcIndex places offsets inside YAML scalars on a file. It is built
// lazily, only when a diagnostic is reported, and keeps what it computed:
// the start of every line, and for each scalar asked about the byte offset
// of every rune of its decoded value. A file with thousands of diagnostics
// is placed in time linear in its size.
type SrcIndex struct {
	src    []byte
	starts []int                  // byte offset of each line; nil until needed
	align  map[*yaml.Node][]int32 // per scalar: rune offset in the value → byte offset in src
	// The last offset placed and its position, to resume from.
	last    Pos
	lastOff int
}

// NewSrcIndex returns the index of a file's source.
func NewSrcIndex(src []byte) *SrcIndex { return &SrcIndex{src: src} }

// ScalarPos returns the file position of the rune at offset off of a
// scalar's decoded value. YAML quoting, escapes, block indicators and line
// folding make the decoded value differ from the bytes in the file, so the
// two are aligned rune by rune: a decoded rune matches the next raw rune
// that equals it, with escapes and doubled quotes counted as one. An offset
// past the value is placed after its last rune.
func (x *SrcIndex) ScalarPos(file string, n *yaml.Node, off int) Pos {
	al, ok := x.align[n]
	if !ok {
		al = x.alignScalar(n)
		if x.align == nil {
			x.align = map[*yaml.Node][]int32{}
		}
		x.align[n] = al
	}
	if al == nil {
		return Pos{File: file, Line: max(n.Line, 1), Col: max(n.Column, 1)}
	}
	return x.offsetPos(file, int(al[min(max(off, 0), len(al)-1)]))
}

// alignScalar returns the byte offset in src of each rune of n's value,
// and one more for the end; nil when n's place is not in the file.
func (x *SrcIndex) alignScalar(n *yaml.Node) []int32 {
	start := x.lineColOffset(n.Line, n.Column)
	if start < 0 {
		return nil
	}
	raw := x.src[start:]
	j := 0
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		j = 1 // past the opening quote
	case yaml.LiteralStyle, yaml.FoldedStyle:
		for j < len(raw) && breakLen(raw[j:]) == 0 {
			j++ // past the header (| or >, indicators, a comment)
		}
	}
	al := make([]int32, 0, len(n.Value)+1)
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
		al = append(al, int32(start+at))
	}
	return append(al, int32(start+j))
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

// breakLen returns the length of the line break at the start of b, or 0.
// Line breaks are what yaml.v3 counts lines by: LF, CR LF, a lone CR, and
// the Unicode breaks NEL, LS and PS.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\n':
		return 1
	case b[0] == '\r':
		if len(b) > 1 && b[1] == '\n' {
			return 2
		}
		return 1
	case len(b) > 1 && b[0] == 0xC2 && b[1] == 0x85:
		return 2
	case len(b) > 2 && b[0] == 0xE2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9):
		return 3
	}
	return 0
}

// lines returns the byte offset where each line starts.
func (x *SrcIndex) lines() []int {
	if x.starts == nil {
		x.starts = lineStarts(x.src)
	}
	return x.starts
}

// lineColOffset returns the byte offset of a 1-based line and rune column,
// or -1 when the file has fewer lines.
func (x *SrcIndex) lineColOffset(line, col int) int {
	starts := x.lines()
	if line < 1 || line > len(starts) {
		return -1
	}
	off := starts[line-1]
	for c := 1; c < col && off < len(x.src) && breakLen(x.src[off:]) == 0; c++ {
		_, w := utf8.DecodeRune(x.src[off:])
		off += w
	}
	return off
}

// offsetPos turns a byte offset into a position. Counting the column
// resumes from the last offset placed when it is earlier on the same line:
// the errors of one long line come in order.
func (x *SrcIndex) offsetPos(file string, off int) Pos {
	starts := x.lines()
	off = min(max(off, 0), len(x.src))
	line := sort.SearchInts(starts, off+1) // the first line starting after off
	col, i := 1, starts[line-1]
	if x.last.Line == line && x.lastOff >= i && x.lastOff <= off {
		col, i = x.last.Col, x.lastOff
	}
	defer func() { x.last, x.lastOff = Pos{Line: line, Col: col}, off }()
	for i < off {
		if n := breakLen(x.src[i:]); n > 0 {
			// Only past the last line break of the file.
			line, col = line+1, 1
			i += n
			continue
		}
		_, w := utf8.DecodeRune(x.src[i:])
		col++
		i += w
	}
	return Pos{File: file, Line: line, Col: col}
}
