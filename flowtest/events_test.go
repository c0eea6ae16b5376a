package flowtest

import (
	"slices"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestKindEvents fails when a kind's callback names a flow-test event that
// no step can send: a new kind of callback needs its event in stepFields.
func TestKindEvents(t *testing.T) {
	for _, k := range flow.Kinds() {
		for _, c := range k.Callbacks {
			for _, e := range c.Tests {
				if !slices.Contains(eventNames(), e) {
					t.Errorf("%s: callback %s: %q is not a flow-test event (%v)", k.Name, c.Event, e, eventNames())
				}
			}
		}
	}
}
