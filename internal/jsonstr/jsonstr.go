// Package jsonstr writes JSON strings fast: as encoding/json writes them
// with HTML escaping off (the session and trace encoders), or as
// log/slog's JSON handler does (the log line). The two differ in one
// thing: encoding/json writes \b and \f short, slog as \u0008 and \u000c.
//
// Both skip plain bytes 8 at a time, jump straight to the first one that
// is not, and write each run of plain bytes at once.
package jsonstr

import (
	"math/bits"
	"unicode/utf8"
)

// Append appends s as a JSON string, quoted, as encoding/json writes it
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func Append[S string | []byte](b []byte, s S) []byte {
	b = append(b, '"')
	b = appendChars(b, s, true)
	return append(b, '"')
}

// AppendChars appends s escaped as Append escapes it, without the
// quotes. Text cut at ASCII bytes is escaped piece by piece as it is
// whole.
func AppendChars[S string | []byte](b []byte, s S) []byte {
	return appendChars(b, s, true)
}

// AppendSlog appends s as a JSON string, quoted, as log/slog's JSON
// handler writes a string: as Append does, but for \b and \f.
func AppendSlog(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendChars(b, s, false)
	return append(b, '"')
}

// Plain reports whether c is written as it is: printable ASCII but for
// the quote and the backslash.
func Plain(c byte) bool { return plain[c] }

var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape8 marks the bytes of x that are not plain — below 0x20, at or
// above 0x80, a quote or a backslash — with their high bit; 0 when all 8
// are plain. Only the lowest mark is sure (a borrow can mark a plain byte
// above a marked one), which is the one appendChars wants: the first
// byte to write otherwise. (The bit tricks of "Bit Twiddling Hacks":
// determine if a word has a byte less than n, or equal to n.)
func escape8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (x - ones*0x20) & ^x
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return (below | (quote-ones)&^quote | (backslash-ones)&^backslash | x) & highs
}

// Plain8 reports whether all 8 bytes of x (little-endian) are plain.
func Plain8(x uint64) bool { return escape8(x) == 0 }

// First8 is the index of the first byte of x (little-endian) that is
// not plain, or 8.
func First8(x uint64) int { return bits.TrailingZeros64(escape8(x)) >> 3 }

func appendChars[S string | []byte](b []byte, s S, shortBF bool) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			m := escape8(uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else if plain[s[i]] {
			i++
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b' && shortBF:
				b = append(b, '\\', 'b')
			case c == '\f' && shortBF:
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		// At most a rune's bytes: a copy of so few, for []byte, is made
		// on the stack.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
