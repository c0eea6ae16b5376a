// Package hexdigit reads the hexadecimal digits of percent-encoding
// (%XY in a URL or a form) for the code that reads it by hand: the
// webhook form parser, the signature's URL normalisation, and the check
// of which text the session encoder may copy escaped (runtime's
// replaceEscaped).
package hexdigit

// Is reports whether c is a hexadecimal digit, either case.
func Is(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Value is the value of the hexadecimal digit c (Is(c) must hold).
func Value(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
