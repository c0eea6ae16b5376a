package xmlgen

import (
	"unicode/utf8"
)

// The escaping here writes exactly what etree writes with
// WriteSettings{CanonicalText: true, CanonicalAttrVal: true}, so a value
// filled into a prepared template reads the same as if etree had built
// the whole document. Characters XML 1.0 cannot carry (NUL, most control
// characters, invalid UTF-8) become U+FFFD: a caller's input must never
// make a document unparseable.

// appendEscaped appends s escaped for an attribute value (attr) or for
// text content.
func appendEscaped(dst []byte, s string, attr bool) []byte {
	tbl := &textEscapes
	if attr {
		tbl = &attrEscapes
	}
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			esc := tbl[c]
			if esc == "" {
				i++
				continue
			}
			dst = append(dst, s[last:i]...)
			dst = append(dst, esc...)
			i++
			last = i
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w == 1) || !inCharRange(r) {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "\uFFFD"...)
			i += w
			last = i
			continue
		}
		i += w
	}
	return append(dst, s[last:]...)
}

// attrEscapes and textEscapes give, for each ASCII byte, what it is
// written as, or "" when it is written as is. Control characters XML 1.0
// cannot carry become U+FFFD.
var attrEscapes, textEscapes = escapes(true), escapes(false)

func escapes(attr bool) (t [utf8.RuneSelf]string) {
	for c := range t {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			t[c] = "\uFFFD"
		}
	}
	t['&'] = "&amp;"
	t['<'] = "&lt;"
	t['\r'] = "&#xD;"
	if attr {
		t['"'] = "&quot;"
		t['\t'] = "&#x9;"
		t['\n'] = "&#xA;"
	} else {
		t['>'] = "&gt;"
	}
	return t
}

// inCharRange reports whether r may appear in an XML 1.0 document.
func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

// Sanitize returns s as it reads back from a document flowd wrote: the
// characters XML cannot carry replaced by U+FFFD.
func Sanitize(s string) string {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w == 1) || !inCharRange(r) {
			return sanitizeSlow(s)
		}
		i += w
	}
	return s
}

func sanitizeSlow(s string) string {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w == 1) || !inCharRange(r) {
			r = utf8.RuneError
		}
		out = append(out, r)
		i += w
	}
	return string(out)
}
