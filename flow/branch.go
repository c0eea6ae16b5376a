package flow

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// branch chooses the next node on the server: the first case whose when
// is true, else the node's next. Each case is an edge of its own ("case
// N"), so coverage and diagrams tell them apart.
type branch struct{}

func (branch) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.Cases = dc.branch(action.val, "node "+nd.ID)
}

func (branch) check(c *checker, nd *NodeDecl) {
	for _, cs := range nd.Cases {
		c.target(cs.Next, "next")
		if cs.When != nil && c.bare(cs.When, "when") {
			c.exprIn(cs.When, true, "when")
		}
	}
}

func (branch) compile(n *Node, nd *NodeDecl, g *Graph) error {
	for _, c := range nd.Cases {
		n.Cases = append(n.Cases, Case{When: c.When.prog, Src: c.When.Src, Label: caseLabel(len(n.Cases)), Next: g.byID[c.Next.Name]})
	}
	return nil
}

func (branch) step(w *Walker, n *Node) (step, error) {
	for _, c := range n.Cases {
		v, err := w.vm.Run(c.When, w.env)
		if err != nil {
			return step{}, w.fail(n, fmt.Errorf("when %s: %w", c.Src, err))
		}
		if b, _ := v.(bool); b {
			return step{to: c.Next, label: c.Label}, nil
		}
	}
	return nextStep(n), nil
}

func (branch) schema(k *Kind) obj {
	return obj{
		"type": "array", "minItems": 1,
		"items": obj{
			"type": "object", "additionalProperties": false, "required": []string{"when", "next"},
			"properties": obj{"when": scalar, "next": nodeRef},
		},
		"description": k.Doc,
	}
}

func (branch) traits() traits { return traits{control: goesOn, style: styleBranch} }

func (dc *decoder) branch(n *yaml.Node, what string) []*CaseDecl {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		dc.d.errorf(dc.pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		dc.d.errorf(dc.pos(n), CodeShape, "branch must be a list of cases (- when: ... next: ...), not %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		dc.d.errorf(dc.pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
	}
	var out []*CaseDecl
	for _, item := range n.Content {
		c := &CaseDecl{Pos: dc.pos(item)}
		pairs, ok := dc.mapping(item, "a branch case")
		if !ok {
			continue
		}
		for _, p := range pairs {
			switch p.key.Value {
			case "when":
				c.When = dc.expr(p.val, "when")
			case "next":
				c.Next = dc.ref(p.val, "next")
			default:
				dc.unknownKey(p.key, "a branch case", []string{"when", "next"})
			}
		}
		if c.When == nil {
			dc.d.errorf(c.Pos, CodeMissingKey, "a branch case needs when: (a boolean expression)")
		}
		if c.Next == nil {
			dc.d.errorf(c.Pos, CodeMissingKey, "a branch case needs next: (the node to go to)")
		}
		out = append(out, c)
	}
	return out
}
