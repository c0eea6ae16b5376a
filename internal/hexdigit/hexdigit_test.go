package hexdigit

import (
	"strconv"
	"testing"
)

// TestAgainstStrconv: every byte, against strconv's reading of it.
func TestAgainstStrconv(t *testing.T) {
	for c := 0; c < 256; c++ {
		v, err := strconv.ParseUint(string(rune(c)), 16, 8)
		if got := Is(byte(c)); got != (err == nil) {
			t.Fatalf("Is(%q) = %v", rune(c), got)
		}
		if err == nil && Value(byte(c)) != byte(v) {
			t.Fatalf("Value(%q) = %d, want %d", rune(c), Value(byte(c)), v)
		}
	}
}
