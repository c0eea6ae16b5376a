package flow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/flowd-dev/flowd/xmlgen"
)

// Checking reads a decoded File and reports every semantic problem:
// references, outcomes, values, nesting, expressions and the shape of the
// graph. It also compiles every expression, so the compiler only wires.

type checker struct {
	f      *File
	d      *diags
	params map[string]bool
	vars   map[string]bool // declared under vars: or assigned by set
}

// Check reports the problems of a decoded file and compiles its
// expressions in place.
func Check(f *File) Diagnostics {
	c := &checker{f: f, d: &diags{}, params: map[string]bool{}, vars: map[string]bool{}}
	c.check()
	return c.d.list
}

func (c *checker) check() {
	f := c.f
	for _, p := range f.Params {
		c.params[p.Name] = true
	}
	for _, v := range f.Vars {
		c.vars[v.Name] = true
	}
	for _, n := range f.Nodes {
		for _, s := range n.Sets {
			c.vars[s.Name] = true
		}
	}
	c.target(f.Start, "start")
	c.target(f.OnError, "on_error")
	for _, n := range f.Nodes {
		c.node(n)
	}
	if len(f.Nodes) > 0 {
		c.graph()
	}
}

func (c *checker) nodeIDs() []string {
	ids := make([]string, len(c.f.Nodes))
	for i, n := range c.f.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// target reports a reference to a node that does not exist.
func (c *checker) target(r *Ref, what string) {
	if r == nil {
		return
	}
	if _, ok := c.f.nodeByID[r.Name]; !ok {
		c.d.errorf(r.Pos, CodeUnknownNode, "%s names node %q, which does not exist%s", what, r.Name, didYouMean(r.Name, c.nodeIDs()))
	}
}

func (c *checker) node(n *NodeDecl) {
	c.target(n.Next, "next")
	if n.Kind == nil {
		return
	}
	if n.Kind.Walk == WalkTerminal {
		if n.Next != nil {
			c.d.errorf(n.Next.Pos, CodeTerminal, "%s ends the flow, so node %s cannot have next; remove it", n.Kind.Name, n.ID)
		}
		if len(n.On) > 0 {
			c.d.errorf(n.On[0].Pos, CodeTerminal, "%s ends the flow, so node %s cannot have on:; remove it", n.Kind.Name, n.ID)
		}
	} else {
		for _, o := range n.On {
			if !n.Kind.HasOutcome(o.Outcome) {
				if len(n.Kind.Outcomes) == 0 {
					c.d.errorf(o.Pos, CodeOutcome, "%s has no outcomes, so on: %s can never be taken; use next", n.Kind.Name, o.Outcome)
				} else {
					c.d.errorf(o.Pos, CodeOutcome, "%q is not an outcome of %s; outcomes are %s%s", o.Outcome, n.Kind.Name, strings.Join(n.Kind.Outcomes, ", "), didYouMean(o.Outcome, n.Kind.Outcomes))
				}
			}
			c.target(&o.Target, "on: "+o.Outcome)
		}
	}
	for _, cs := range n.Cases {
		c.target(cs.Next, "next")
		if cs.When != nil {
			c.expr(cs.When, true)
		}
	}
	for _, s := range n.Sets {
		c.expr(s.Value, false)
	}
	if n.Elem != nil {
		c.element(n.Elem)
	}
}

func (c *checker) element(e *ElemDecl) {
	spec := e.Spec
	for _, a := range e.Attrs {
		c.value(a.Value, func(v string) string { return a.Spec.Validate(v) }, spec.Name+" "+a.Spec.Name)
	}
	if e.Text != nil {
		c.value(e.Text, spec.ValidateText, spec.Name+" "+ContentKey(spec))
	} else if spec.Text == xmlgen.RequiredText && len(e.Children) == 0 {
		c.d.errorf(e.Pos, CodeContent, "%s needs its %s (write %s: <%s> or %s: {%s: ...})", spec.Name, ContentKey(spec), spec.Name, ContentKey(spec), spec.Name, ContentKey(spec))
	}
	for i := range spec.Attrs {
		a := &spec.Attrs[i]
		if !a.Required {
			continue
		}
		found := false
		for _, ad := range e.Attrs {
			found = found || ad.Spec == a
		}
		if !found {
			c.d.errorf(e.Pos, CodeMissingKey, "%s needs %s (%s)", spec.Name, a.Name, a.Doc)
		}
	}
	if len(e.Children) < spec.MinChildren {
		c.d.errorf(e.Pos, CodeNesting, "%s needs at least %d child element (one of %s) under children:", spec.Name, spec.MinChildren, strings.Join(spec.Children, ", "))
	}
	if spec.ChildrenNeed != "" && len(e.Children) > 0 {
		var need *AttrDecl
		for _, a := range e.Attrs {
			if a.Spec.Name == spec.ChildrenNeed {
				need = a
			}
		}
		switch {
		case need == nil:
			c.d.errorf(e.Children[0].Pos, CodeNesting, "%s: %s", spec.Name, spec.ChildrenWhy)
		case need.Value.Const() && !spec.ChildrenWhen(need.Value.Value):
			c.d.errorf(e.Children[0].Pos, CodeNesting, "%s: %s", spec.Name, spec.ChildrenWhy)
		}
	}
	for _, ch := range e.Children {
		c.element(ch)
	}
}

// value checks a constant against Plivo's rules, or compiles a template.
func (c *checker) value(s *Str, validate func(string) string, what string) {
	if s.Const() {
		if msg := validate(s.Value); msg != "" {
			c.d.errorf(s.Pos, CodeValue, "%s must %s, not %q", what, msg, s.Value)
		}
		return
	}
	for _, p := range s.Parts {
		if p.Expr != nil {
			c.expr(p.Expr, false)
		}
	}
}

// expr compiles an expression and checks the names it reads.
func (c *checker) expr(e *Expr, asBool bool) {
	p, err := compileExpr(e.Src, asBool)
	if err != nil {
		c.d.errorf(c.exprPos(e, err.offset), err.code, "%s", err.msg)
		return
	}
	e.prog = p
	for _, r := range refs(p) {
		switch r.root {
		case "params":
			if !c.params[r.name] {
				c.d.errorf(c.exprPos(e, r.offset), CodeUndeclaredParam, "params.%s is not declared under params:%s", r.name, didYouMean(r.name, keys(c.params)))
			}
		case "nodes":
			if _, ok := c.f.nodeByID[r.name]; !ok {
				c.d.errorf(c.exprPos(e, r.offset), CodeUnknownNode, "nodes.%s names a node that does not exist%s", r.name, didYouMean(r.name, c.nodeIDs()))
			}
		case "vars":
			if !c.vars[r.name] {
				c.d.warnf(c.exprPos(e, r.offset), CodeUndeclaredVar, "vars.%s is never declared under vars: nor assigned by set; it reads as nil%s", r.name, didYouMean(r.name, keys(c.vars)))
			}
		case "hours":
			if _, err := ParseSchedule(r.args[0]); err != nil {
				c.d.errorf(c.exprPos(e, r.offset), CodeExpr, "hours(): %v", err)
			}
			if _, err := LoadLocation(r.args[1]); err != nil {
				c.d.errorf(c.exprPos(e, r.offset), CodeExpr, "hours(): %v", err)
			}
		}
	}
}

// exprPos places a rune offset inside an expression on the file.
func (c *checker) exprPos(e *Expr, off int) Pos {
	if e.node == nil {
		return e.Pos
	}
	return scalarPos(c.f.Src, c.f.Path, e.node, e.offset+off)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// edges returns a node's outgoing edges, in file order.
func (n *NodeDecl) edges() []*Ref {
	var out []*Ref
	for _, cs := range n.Cases {
		if cs.Next != nil {
			out = append(out, cs.Next)
		}
	}
	for _, o := range n.On {
		out = append(out, &o.Target)
	}
	if n.Next != nil {
		out = append(out, n.Next)
	}
	return out
}

// graph reports unreachable nodes and cycles that no callback breaks.
func (c *checker) graph() {
	f := c.f
	start := f.Nodes[0]
	if f.Start != nil {
		if n, ok := f.nodeByID[f.Start.Name]; ok {
			start = n
		}
	}
	seen := map[*NodeDecl]bool{}
	var visit func(n *NodeDecl)
	visit = func(n *NodeDecl) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, r := range n.edges() {
			if t, ok := f.nodeByID[r.Name]; ok {
				visit(t)
			}
		}
	}
	visit(start)
	if f.OnError != nil {
		if n, ok := f.nodeByID[f.OnError.Name]; ok {
			visit(n)
		}
	}
	for _, n := range f.Nodes {
		if !seen[n] {
			c.d.warnf(n.Pos, CodeUnreachable, "node %s is never reached from start (%s)", n.ID, start.ID)
		}
	}
	c.loops()
}

// loops finds cycles among nodes the walk passes through without waiting
// for Plivo (Tarjan's strongly connected components over those nodes).
func (c *checker) loops() {
	f := c.f
	index := map[*NodeDecl]int{}
	low := map[*NodeDecl]int{}
	on := map[*NodeDecl]bool{}
	var stack []*NodeDecl
	next := 0
	passes := func(n *NodeDecl) bool { return n.Kind != nil && !n.Kind.Walk.Callback() && n.Kind.Walk != WalkTerminal }
	var strong func(n *NodeDecl)
	strong = func(n *NodeDecl) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		on[n] = true
		for _, r := range n.edges() {
			t, ok := f.nodeByID[r.Name]
			if !ok || !passes(t) {
				continue
			}
			if _, done := index[t]; !done {
				strong(t)
				low[n] = min(low[n], low[t])
			} else if on[t] {
				low[n] = min(low[n], index[t])
			}
		}
		if low[n] != index[n] {
			return
		}
		var comp []*NodeDecl
		for {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			on[t] = false
			comp = append(comp, t)
			if t == n {
				break
			}
		}
		if len(comp) > 1 || selfLoop(n) {
			c.reportLoop(comp)
		}
	}
	for _, n := range f.Nodes {
		if _, done := index[n]; !done && passes(n) {
			strong(n)
		}
	}
}

func selfLoop(n *NodeDecl) bool {
	for _, r := range n.edges() {
		if r.Name == n.ID {
			return true
		}
	}
	return false
}

// reportLoop names the whole cycle, starting at its first node in the file.
func (c *checker) reportLoop(comp []*NodeDecl) {
	in := map[string]bool{}
	for _, n := range comp {
		in[n.ID] = true
	}
	first := comp[0]
	for _, n := range c.f.Nodes {
		if in[n.ID] {
			first = n
			break
		}
	}
	// Follow edges inside the component back to the first node.
	path := []string{first.ID}
	visited := map[string]bool{first.ID: true}
	cur := first
	for {
		var step *NodeDecl
		for _, r := range cur.edges() {
			if r.Name == first.ID && len(path) > 0 {
				step = first
				break
			}
			if in[r.Name] && !visited[r.Name] && step == nil {
				step = c.f.nodeByID[r.Name]
			}
		}
		if step == nil || step == first {
			break
		}
		path = append(path, step.ID)
		visited[step.ID] = true
		cur = step
	}
	path = append(path, first.ID)
	c.d.errorf(first.Pos, CodeLoop, "nodes %s loop without waiting for the caller, so one webhook would never end; put a GetDigits, GetInput, Dial, Record, Conference or MultiPartyCall on the loop", strings.Join(path, " → "))
}

// Pos returns where the expression starts.
func (e *Expr) String() string { return fmt.Sprintf("%s (%s)", e.Src, e.Pos) }
