package flow

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// set assigns per-call variables on the server (set: {name: expression})
// and goes on to next. The checker counts what it assigns as declared.
type set struct{}

func (set) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.Sets = dc.set(action.val, "node "+nd.ID)
}

func (set) check(c *checker, nd *NodeDecl) {
	for _, s := range nd.Sets {
		if c.bare(s.Value, "set") {
			c.exprIn(s.Value, false, "set")
		}
	}
}

func (set) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	for _, s := range nd.Sets {
		n.Sets = append(n.Sets, Assign{Name: s.Name, Value: s.Value.prog})
	}
	return nil
}

func (set) step(w *Walker, n *Node) (step, error) {
	for _, a := range n.Sets {
		v, err := w.vm.Run(a.Value, w.env)
		if err != nil {
			return step{}, w.fail(n, fmt.Errorf("set %s: %w", a.Name, err))
		}
		w.state.Vars[a.Name] = v
	}
	return nextStep(n), nil
}

func (set) schema(k *Kind) obj {
	return obj{
		"type": "object", "minProperties": 1,
		"propertyNames":        obj{"pattern": identRE.String()},
		"additionalProperties": scalar,
		"description":          k.Doc,
	}
}

func (set) traits() traits { return traits{control: goesOn, style: styleSet} }

func (dc *decoder) set(n *yaml.Node, what string) []*SetDecl {
	pairs, _ := dc.mapping(n, "set of "+what)
	if len(pairs) == 0 {
		dc.d.errorf(dc.pos(n), CodeMissingKey, "set of %s assigns nothing; write set: {name: expression}", what)
	}
	var out []*SetDecl
	for _, p := range pairs {
		s := &SetDecl{Name: p.key.Value, Pos: dc.pos(p.key)}
		if !identRE.MatchString(s.Name) {
			dc.d.errorf(s.Pos, CodeShape, "variable name %q must be letters, digits and '_', starting with a letter", s.Name)
		}
		s.Value = dc.expr(p.val, "set "+s.Name)
		if s.Value != nil {
			out = append(out, s)
		}
	}
	return out
}
