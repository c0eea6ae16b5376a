package flow

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/yamlpos"
)

// branch chooses the next node on the server: the first case whose when
// is true, else the node's next. Each case is an edge of its own ("case
// N"), so coverage and diagrams tell them apart.
type branch struct{}

func (branch) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.Cases = dc.branch(action.Val, "node "+nd.ID)
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
	return yamlpos.FieldSchema(&yamlpos.Field{Type: yamlpos.List, MinItems: 1, Fields: caseFields, Doc: k.Doc})
}

func (branch) traits() traits { return traits{control: goesOn, style: styleBranch} }

func (dc *decoder) branch(n *yaml.Node, what string) []*CaseDecl {
	n = yamlpos.Resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		dc.Errorf(dc.Pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		dc.Errorf(dc.Pos(n), CodeShape, "branch must be a list of cases (- when: ... next: ...), not %s", yamlpos.Describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		dc.Errorf(dc.Pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
	}
	var out []*CaseDecl
	for _, item := range n.Content {
		c := &CaseDecl{Pos: dc.Pos(item)}
		// when: and next: are reported below when they cannot be read,
		// missing or malformed, rather than when Object misses them.
		m := yamlpos.Mapping{What: "a branch case", Fields: caseFields, Missing: func(*yamlpos.Field, bool) {}}
		got, ok := dc.Object(item, m)
		if !ok {
			continue
		}
		if p, ok := got["when"]; ok {
			c.When = dc.expr(p.Val, "when")
		}
		if p, ok := got["next"]; ok {
			c.Next = dc.ref(p.Val, "next")
		}
		if c.When == nil {
			dc.Errorf(c.Pos, CodeMissingKey, "%s", m.Needs(yamlpos.Lookup(caseFields, "when")))
		}
		if c.Next == nil {
			dc.Errorf(c.Pos, CodeMissingKey, "%s", m.Needs(yamlpos.Lookup(caseFields, "next")))
		}
		out = append(out, c)
	}
	return out
}
