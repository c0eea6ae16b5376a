package flow

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/yamlpos"
)

// set assigns per-call variables on the server (set: {name: expression})
// and goes on to next. The checker counts what it assigns as declared.
type set struct{}

func (set) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.Sets = dc.set(action.Val, "node "+nd.ID)
}

func (set) check(c *checker, nd *NodeDecl) { c.assignments(nd.Sets, "set") }

func (set) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	n.Sets = compileAssignments(nd.Sets)
	return nil
}

// assignments checks name: expression pairs (set:, a subflow's with:, a
// return's values:): each a bare expression, read in context ctx.
func (c *checker) assignments(sets []*SetDecl, ctx string) {
	for _, s := range sets {
		if c.bare(s.Value, ctx) {
			c.exprIn(s.Value, false, ctx)
		}
		if ctx == "set" {
			c.keepsType(s)
		}
	}
}

// keepsType warns of a set: that gives a declared var a value of another
// type than its initial value's (text for a number): an expression that
// reads the var as its initial value's type fails on the call (vars.n > 5
// on "7"). A warning, not an error: one that reads it as the new type
// (vars.n == "7") works. A value whose type is known only when the call
// runs (a var set elsewhere, a JSON answer) is let through.
func (c *checker) keepsType(s *SetDecl) {
	if s.Value == nil || s.Value.prog == nil {
		return
	}
	for _, v := range c.f.Vars {
		if v.Name != s.Name {
			continue
		}
		want := typeOf(v.Value)
		if got := s.Value.prog.Node().Type(); want != nil && got != nil && !fits(got, want) {
			fix := "convert it"
			switch want.Kind() {
			case reflect.Int:
				fix = "convert it with int(...)"
			case reflect.Float64:
				fix = "convert it with float(...)"
			case reflect.String:
				fix = "convert it with string(...)"
			}
			c.d.Warnf(s.Value.Pos, CodeExpr, "set %s: the value is %s, but var %s holds %s (its initial value is %s): an expression that reads it as %s fails on the call; %s, or give the var an initial value of that type",
				s.Name, got, s.Name, want, Format(v.Value), want, fix)
		}
		return
	}
}

// compileAssignments returns checked name: expression pairs compiled.
func compileAssignments(sets []*SetDecl) []Assign {
	var out []Assign
	for _, s := range sets {
		out = append(out, Assign{Name: s.Name, Value: s.Value.prog})
	}
	return out
}

func (set) step(w *Walker, n *Node) (step, error) {
	if w.state.SharedVars {
		w.state.ownVars()
		w.env["vars"] = w.state.Vars
	}
	for _, a := range n.Sets {
		v, err := w.vm.Run(a.Value, w.env)
		if err != nil {
			return step{}, w.fail(n, fmt.Errorf("set %s: %w", a.Name, err))
		}
		if v, err = keepable(v); err != nil {
			return step{}, w.fail(n, fmt.Errorf("set %s: %w", a.Name, err))
		}
		w.state.Vars[a.Name] = v
	}
	return nextStep(n), nil
}

// keepable returns a value set: gives a var as the call's state keeps it
// between webhooks, so that the var reads the same in the step that set
// it and in the next: a time becomes its RFC 3339 text, which date()
// reads back (date(vars.t).Year()). A value the state cannot
// keep — a function (set: {t: now} for now()), a channel — is an error
// here rather than a state that cannot be stored.
func keepable(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int, int64, float64:
		return v, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case []any:
		for i, e := range x {
			k, err := keepable(e)
			if err != nil {
				return nil, err
			}
			x[i] = k
		}
		return x, nil
	case map[string]any:
		for key, e := range x {
			k, err := keepable(e)
			if err != nil {
				return nil, err
			}
			x[key] = k
		}
		return x, nil
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Func:
		return nil, errors.New("a function cannot be kept in a var; call it (now(), not now)")
	case reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil, fmt.Errorf("a %T cannot be kept in a var", v)
	}
	return v, nil
}

func (set) schema(k *Kind) obj {
	f := setField
	f.Doc = k.Doc
	return yamlpos.FieldSchema(&f)
}

// setField is set's value: variables to expressions.
var setField = yamlpos.Field{Type: yamlpos.Map, MinItems: 1, Keys: VarName, KeyName: "variable name", KeyForm: VarNameForm, Value: &yamlpos.Field{Type: yamlpos.String}}

func (set) traits() traits { return traits{control: goesOn, style: styleSet} }

func (dc *decoder) set(n *yaml.Node, what string) []*SetDecl {
	entries, _ := dc.Entries(&setField, n, "set of "+what)
	if len(entries) == 0 {
		dc.Errorf(dc.Pos(n), CodeMissingKey, "set of %s assigns nothing; write set: {name: expression}", what)
	}
	var out []*SetDecl
	for _, p := range entries {
		s := &SetDecl{Name: p.Key.Value, Pos: dc.Pos(p.Key)}
		s.Value = dc.expr(p.Val, "set "+s.Name)
		if s.Value != nil {
			out = append(out, s)
		}
	}
	return out
}
