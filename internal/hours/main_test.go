package hours

import (
	"testing"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// TestMain runs the package's tests at the test clock and reports the
// checks that were skipped for a missing program (internal/testenv).
func TestMain(m *testing.M) { testenv.Main(m) }
