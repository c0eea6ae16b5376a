package yamlpos

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError reports a YAML syntax error. yaml.v3 gives only a line, and for
// most parser errors the line before the structure that holds the problem;
// so the problem line is found as the line after the longest prefix of the
// file that still parses, and the column from what the message names.
func (d *Decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2]
	}
	starts := lineStarts(d.Src)
	line := problemLine(d.Src, starts)
	text := ""
	if line-1 < len(starts) {
		end := len(d.Src)
		if line < len(starts) {
			end = starts[line]
		}
		b := d.Src[starts[line-1]:end]
		for i := range b {
			if breakLen(b[i:]) > 0 {
				b = b[:i]
				break
			}
		}
		text = string(b)
	}
	col, hint := yamlColumn(msg, text)
	if hint != "" {
		msg = hint + " (yaml: " + msg + ")"
	}
	d.Errorf(Pos{File: d.Path, Line: line, Col: col}, CodeYAML, "%s", msg)
}

// lineStarts returns the byte offset where each line starts, with lines
// broken as yaml.v3 breaks them.
func lineStarts(src []byte) []int {
	starts := []int{0}
	for i := 0; i < len(src); {
		if n := breakLen(src[i:]); n > 0 {
			i += n
			if i < len(src) {
				starts = append(starts, i)
			}
			continue
		}
		i++
	}
	return starts
}

// parses reports whether src is valid YAML, every document of it.
func parses(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// problemLine returns the 1-based line after the longest prefix of whole
// lines that parses: the line whose addition breaks the file. It looks back
// from the end, which steps over valid multi-line constructs such as a
// flow mapping, then bisects once a parsing budget is spent (a budget of
// bytes and of parses: deeply nested YAML parses in more than linear time).
func problemLine(src []byte, starts []int) int {
	budget, parsesLeft := 2<<20, 24
	j := len(starts) - 1 // the prefix of j lines; the whole file is known to fail
	for ; j > 0; j-- {
		if budget -= starts[j]; budget < 0 || parsesLeft == 0 {
			break
		}
		parsesLeft--
		if parses(src[:starts[j]]) {
			return j + 1
		}
	}
	if j == 0 {
		return 1
	}
	lo, hi := 0, j // the prefix of lo lines parses, of hi lines does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(src[:starts[mid]]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// yamlColumn finds the column, on the problem line, of what a yaml.v3
// message is about, and a hint in flowd's words.
func yamlColumn(msg, text string) (int, string) {
	col := func(i int) int { return utf8.RuneCountInString(text[:i]) + 1 }
	first := len(text) - len(strings.TrimLeft(text, " \t"))
	if first == len(text) {
		first = 0
	}
	switch {
	case strings.Contains(msg, "tab character") || (strings.Contains(msg, "cannot start any token") && strings.Contains(text[:first], "\t")):
		if i := strings.IndexByte(text, '\t'); i >= 0 {
			return col(i), "a tab indents this line; YAML indentation must use spaces"
		}
	case strings.Contains(msg, "cannot start any token"):
		if i := strings.IndexAny(text, "@`"); i >= 0 {
			return col(i), "a value cannot start with " + text[i:i+1] + " unless it is quoted"
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		colons := valueColons(text)
		switch len(colons) {
		case 0:
		case 1:
			return col(colons[0]), "this key is nested under a value; check the indentation of this line and the one above"
		default:
			return col(colons[1]), `a value that contains ": " must be quoted (Speak: "Note: ..."), or this line is indented wrongly`
		}
	case strings.Contains(msg, "expected node content"):
		if i := unclosed(text, '[', ']'); i >= 0 {
			return col(i), "the [ here is never closed with ]"
		}
		if i := unclosed(text, '{', '}'); i >= 0 {
			return col(i), "the { here is never closed with }"
		}
		return col(first), "a value is missing here"
	case strings.Contains(msg, "did not find expected key"):
		return col(first), "this line is not indented like the keys above it"
	case strings.Contains(msg, "expected ',' or '}'"):
		if i := unclosed(text, '{', '}'); i >= 0 {
			return col(i), "the { here is never closed with }"
		}
		return col(first), "a { ... } mapping is not closed with }"
	case strings.Contains(msg, "expected ',' or ']'"):
		if i := unclosed(text, '[', ']'); i >= 0 {
			return col(i), "the [ here is never closed with ]"
		}
		return col(first), "a [ ... ] list is not closed with ]"
	case strings.Contains(msg, "end of stream"):
		if i := unclosedQuote(text); i >= 0 {
			return col(i), "the quote here is never closed"
		}
	case strings.HasPrefix(msg, "unknown anchor"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		if i := strings.Index(text, "*"+name); i >= 0 {
			return col(i), "the alias *" + name + " names no anchor; define &" + name + " before it"
		}
	case strings.Contains(msg, "block sequence entries are not allowed"):
		if i := strings.Index(text, "- "); i >= 0 {
			return col(i), "a list item is not allowed here; check the indentation"
		}
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "Unicode"):
		for i, r := range text {
			if r == utf8.RuneError || (r < ' ' && r != '\t') || r == 0x7f {
				return col(i), "the file has a control character or invalid UTF-8 here"
			}
		}
		return col(first), "the file has a control character or invalid UTF-8 here"
	}
	return col(first), ""
}

// valueColons returns the byte offsets of the ':' that end keys on a line,
// outside quotes.
func valueColons(text string) []int {
	var out []int
	quote := byte(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || text[i-1] == ' ' {
				quote = c
			}
		case c == '#' && (i == 0 || text[i-1] == ' '):
			return out
		case c == ':' && (i+1 == len(text) || text[i+1] == ' '):
			out = append(out, i)
		}
	}
	return out
}

// unclosed returns the byte offset of the outermost open bracket on a line
// that is not closed on it, or -1.
func unclosed(text string, open, close byte) int {
	var stack []int
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case open:
			stack = append(stack, i)
		case close:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[0]
}

// unclosedQuote returns the byte offset of a quote that opens a scalar on
// the line and is not closed on it, or -1.
func unclosedQuote(text string) int {
	quote, at := byte(0), -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote == '\'' && c == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			if i == 0 || strings.IndexByte(" [{,:-", text[i-1]) >= 0 {
				quote, at = c, i
			}
		}
	}
	if quote == 0 {
		return -1
	}
	return at
}
