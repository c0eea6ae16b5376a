package flow_test

import (
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestCheckVars: vars a call is started with must be of the kind of the
// declared var's initial value; whole numbers become ints; vars the flow
// does not declare may hold anything.
func TestCheckVars(t *testing.T) {
	g, ds := flow.Compile("v.yaml", []byte("vars: {n: 0, f: 1.5, s: a, b: false, l: [1], m: {k: v}}\nnodes:\n  a: {Speak: \"{{ vars.n }}\"}\n"))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	ok := map[string]any{"n": 42.0, "f": 2.0, "s": "x", "b": true, "l": []any{}, "m": map[string]any{}, "other": map[string]any{"any": 1.0}}
	if err := g.CheckVars(ok); err != nil {
		t.Fatal(err)
	}
	if _, isInt := ok["n"].(int); !isInt {
		t.Errorf("n = %#v, want an int", ok["n"])
	}
	// A scalar that says the same in another kind is converted.
	same := map[string]any{"n": "42", "f": "2.5", "s": 42.0, "b": "true"}
	if err := g.CheckVars(same); err != nil || same["n"] != 42 || same["f"] != 2.5 || same["s"] != "42" || same["b"] != true {
		t.Errorf("converted: %#v (%v)", same, err)
	}
	for _, c := range []struct {
		vars map[string]any
		msg  string
	}{
		{map[string]any{"n": "forty-two"}, `vars.n: want a whole number, as its initial value 0 is, not text "forty-two"`},
		{map[string]any{"n": "4.5"}, "vars.n: want a whole number"},
		{map[string]any{"n": 1.5}, "vars.n: want a whole number"},
		{map[string]any{"n": 1e300}, "vars.n: want a whole number"},
		{map[string]any{"f": "one"}, "vars.f: want a number"},
		{map[string]any{"s": []any{}}, "vars.s: want text"},
		{map[string]any{"b": "yes"}, "vars.b: want true or false"},
		{map[string]any{"l": map[string]any{}}, "vars.l: want a list"},
		{map[string]any{"m": nil}, "vars.m: want a mapping, as its initial value map[k:v] is, not null"},
	} {
		if err := g.CheckVars(c.vars); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want %q", c.vars, err, c.msg)
		}
	}
}
