//go:build unix && !linux

package runtime

import (
	"os"
	"testing"
)

// residentPages is Linux's (mincore, as the test reads it): elsewhere
// the reserve's pages are taken as in memory.
func residentPages(_ *testing.T, b []byte) int { return len(b) / os.Getpagesize() }
