package flow_test

import (
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// TestReferenceCommitted fails when docs/reference.md no longer matches
// the tables it is generated from.
func TestReferenceCommitted(t *testing.T) {
	testenv.CheckCommitted(t, "../docs/reference.md", func() ([]byte, error) { return flow.Reference(), nil },
		"go test ./flow -run Reference -update")
}
