package flow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// TestSetKeepsWhatTheStateKeeps checks that a var reads in the step that
// set it as it will after the call's state is stored: a time as its RFC
// 3339 text, which date() reads back; and that a function, which the state
// cannot keep, is a run-time error at the set node, not a state that
// cannot be stored.
func TestSetKeepsWhatTheStateKeeps(t *testing.T) {
	const src = `on_error: oops
nodes:
  a: { set: { t: now(), l: "[now(), 1]" }, next: s }
  s: { Speak: "{{ vars.t }} {{ date(vars.t).Year() }} {{ vars.l[0] }}" }
  f: { set: { f: now }, next: s }
  oops: { Speak: "oops" }
`
	g, ds := flow.Compile("t.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("EST", -5*3600))
	w := flow.Walker{Now: clock}
	st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r := w.Render(g, st, g.Node("a"))
	if want := "<Response><Speak>2026-11-23T10:00:00-05:00 2026 2026-11-23T10:00:00-05:00</Speak></Response>"; r.Err != nil || string(r.XML) != want {
		t.Errorf("XML %s (err %v), want %s", r.XML, r.Err, want)
	}
	if got := st.Vars["t"]; got != "2026-11-23T10:00:00-05:00" {
		t.Errorf("vars.t = %#v, want its RFC 3339 text", got)
	}
	if l, ok := st.Vars["l"].([]any); !ok || l[0] != "2026-11-23T10:00:00-05:00" {
		t.Errorf("vars.l = %#v", st.Vars["l"])
	}
	r = w.Render(g, st, g.Node("f"))
	if r.Err == nil || !strings.Contains(r.Err.Error(), "set f: a function cannot be kept in a var; call it (now(), not now)") ||
		string(r.XML) != "<Response><Speak>oops</Speak></Response>" {
		t.Errorf("set of a function: %s, err %v", r.XML, r.Err)
	}
}
