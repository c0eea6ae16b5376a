package flow

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/yamlpos"
)

// A subflow node walks another flow of the same folder in place, as a step
// of the flow that calls it, and comes back by the outcome of the
// subflow's return node (ok when the subflow reaches a node with no edge).
// The subflow has vars of its own, which with: fills, and params of its
// own; the call is shared. What the subflow returns is kept under
// nodes.<id> of the calling node: its outcome and its values.
//
// A flow file compiles on its own; which flow a subflow node names is
// known only with the other flows of its folder, so Link resolves the
// names of a set of flows, checks what needs both files (the subflow
// exists, with: names its vars, on: names outcomes it returns, no flow
// runs itself through any chain, return only in flows run as subflows),
// and makes each flow a linked graph whose Version covers the versions of
// every flow it can reach: a call pinned to it keeps those versions
// whatever is reloaded after it starts.

// subflowKind is the behavior of the subflow kind.
type subflowKind struct{}

// subflowDecl is a subflow node as decoded: the flow it runs and its
// with: assignments.
type subflowDecl struct {
	name    string
	namePos Pos
	with    []*SetDecl
}

// subflowCall is a compiled subflow node.
type subflowCall struct {
	name    string
	namePos Pos
	with    []Assign
	withPos map[string]Pos
	onPos   map[string]Pos
}

func (subflowKind) decode(dc *decoder, nd *NodeDecl, action pair) {
	v := yamlpos.Resolve(action.Val)
	name, ok := dc.Scalar(v, "subflow of node "+nd.ID)
	if !ok {
		return
	}
	if name == "" {
		dc.Errorf(dc.Pos(v), CodeMissingKey, "subflow of node %s names no flow; write subflow: NAME, the flow: name of another flow of this folder", nd.ID)
		return
	}
	sd := &subflowDecl{name: name, namePos: dc.Pos(v)}
	if !flowNameRE.MatchString(name) {
		dc.Errorf(sd.namePos, CodeFlowName, "subflow %q is not a flow name: flow names are lowercase letters, digits, '-' and '_'", name)
	}
	if nd.with != nil {
		sd.with = dc.set(nd.with.Val, "with: of node "+nd.ID)
	}
	nd.action = sd
}

// strayWith reports with: on a node that is not a subflow node.
func (dc *decoder) strayWith(nd *NodeDecl) {
	if nd.with != nil && nd.Kind != nil && nd.Kind.traits.control != callsFlow {
		dc.Errorf(dc.Pos(nd.with.Key), CodeUnknownKey, "with: belongs to subflow nodes (the initial vars of the flow they run); node %s is %s", nd.ID, nd.Kind.Name)
	}
}

func (subflowKind) check(c *checker, nd *NodeDecl) {
	if sd, _ := nd.action.(*subflowDecl); sd != nil {
		for _, s := range sd.with {
			c.withText(s)
		}
		c.assignments(sd.with, "with")
	}
}

// withText takes a with: value written as text that is no expression
// (with: {greeting: Welcome}, {who: Acme Corp}) as that text, with a
// warning: with: gives the subflow's vars their first values, which vars:
// writes as YAML literals, so a reader expects text to be text. A value
// that compiles is an expression (tries: vars.tries + 1), as in set:.
func (c *checker) withText(s *SetDecl) {
	e := s.Value
	if e == nil || e.node == nil || e.node.Tag != "!!str" || strings.Contains(e.Src, "{{") {
		return
	}
	if c.env == nil {
		c.env = flowEnv(c.f)
	}
	_, err := compileExpr(c.env, e.Src, false)
	if err == nil || err.code != CodeExpr {
		return
	}
	c.d.Warnf(e.Pos, CodeExpr, "with: %s: %s is not an expression (%s), so it is taken as the text %q; write it as a string expression to say so: %s: \"'%s'\"",
		s.Name, e.Src, err.msg, e.Src, s.Name, e.Src)
	e.Src = strconv.Quote(e.Src)
}

func (subflowKind) compile(n *Node, nd *NodeDecl, g *Graph) error {
	sd, _ := nd.action.(*subflowDecl)
	if sd == nil {
		return fmt.Errorf("subflow node without a flow")
	}
	sc := &subflowCall{name: sd.name, namePos: sd.namePos, with: compileAssignments(sd.with), withPos: map[string]Pos{}, onPos: map[string]Pos{}}
	for _, s := range sd.with {
		sc.withPos[s.Name] = s.Pos
	}
	for _, o := range nd.On {
		sc.onPos[o.Outcome] = o.Pos
	}
	n.action = sc
	g.calls = append(g.calls, n)
	return nil
}

func (subflowKind) step(w *Walker, n *Node) (step, error) {
	sc := n.action.(*subflowCall)
	sub := w.g.subflows[sc.name]
	if sub == nil {
		return step{}, w.fail(n, fmt.Errorf("subflow %s is not loaded: run the flow with the other flows of its folder", sc.name))
	}
	vars := sub.InitialVars()
	for _, a := range sc.with {
		v, err := w.vm.Run(a.Value, w.env)
		if err != nil {
			return step{}, w.fail(n, fmt.Errorf("with %s: %w", a.Name, err))
		}
		if v, err = keepable(v); err != nil {
			return step{}, w.fail(n, fmt.Errorf("with %s: %w", a.Name, err))
		}
		vars[a.Name] = v
	}
	w.push(n, sub, vars)
	return step{to: sub.Start}, nil
}

// view shows what the subflow returned: its outcome, and its values as
// the expressions of its return node made them.
func (subflowKind) view(kept map[string]string) any {
	out := make(map[string]any, len(kept))
	for k, v := range kept {
		if k == "outcome" {
			out[k] = v
			continue
		}
		out[k] = decodeReturned(v)
	}
	return out
}

func (subflowKind) schema(k *Kind) obj {
	return obj{"type": "string", "pattern": flowNameRE.String(), "description": k.Doc}
}

func (subflowKind) traits() traits {
	return traits{control: callsFlow, style: styleSubflow, openOutcomes: true, nextLabel: "",
		walkDoc: "The subflow is walked in place, its XML joining this document; a callback inside it resumes there. The walk goes on by the outcome its return node gives (ok when it reaches a node with no edge)."}
}

// withField is with:'s value: the subflow's vars to expressions.
var withField = yamlpos.Field{Name: "with", Type: yamlpos.Map, Keys: VarName, KeyName: "variable name", KeyForm: VarNameForm,
	Value: &yamlpos.Field{Schema: obj{"type": []string{"string", "number", "boolean"}}},
	Doc:   "On a subflow node: initial values of the subflow's vars (names it declares), as expressions read in this flow."}

// returnKind is the behavior of the return kind: it ends a subflow with
// an outcome, and values the calling node keeps.
type returnKind struct{}

// returnDecl is a return node as decoded, and compiled.
type returnDecl struct {
	outcome    string
	outcomePos Pos
	values     []*SetDecl
	compiled   []Assign
}

// returnFields are the keys of return's mapping form.
var returnFields = []yamlpos.Field{
	{Name: "outcome", Type: yamlpos.Text, Required: true, Need: "(the outcome the subflow returns)",
		Doc: "The outcome the calling node goes on by: on: <outcome>, else its next."},
	{Name: "values", Type: yamlpos.Map, Keys: VarName, KeyName: "value name", KeyForm: VarNameForm,
		Value: &yamlpos.Field{Schema: obj{"type": []string{"string", "number", "boolean"}}},
		Doc:   "Values the calling node keeps, nodes.<id>.<name>, as expressions read in the subflow."},
}

// outcomeRE is the form of an outcome a return gives.
var outcomeRE = nodeIDRE

func (returnKind) decode(dc *decoder, nd *NodeDecl, action pair) {
	v := yamlpos.Resolve(action.Val)
	rd := &returnDecl{}
	switch v.Kind {
	case yaml.ScalarNode:
		rd.outcome, rd.outcomePos = v.Value, dc.Pos(v)
		if v.Value == "" {
			dc.Errorf(dc.Pos(action.Key), CodeMissingKey, "return of node %s needs its outcome: return: ok, or return: {outcome: failed, values: {name: expression}}", nd.ID)
			return
		}
	case yaml.MappingNode:
		got, ok := dc.Object(v, yamlpos.Mapping{What: "return", Fields: returnFields})
		if !ok {
			return
		}
		if p, ok := got["outcome"]; ok {
			rd.outcome, rd.outcomePos = yamlpos.Resolve(p.Val).Value, dc.Pos(p.Val)
		}
		if p, ok := got["values"]; ok {
			entries, _ := dc.Entries(&returnFields[1], p.Val, "return values of node "+nd.ID)
			for _, e := range entries {
				s := &SetDecl{Name: e.Key.Value, Pos: dc.Pos(e.Key)}
				if s.Value = dc.expr(e.Val, "return value "+s.Name); s.Value != nil {
					rd.values = append(rd.values, s)
				}
			}
		}
	default:
		dc.Errorf(dc.Pos(v), CodeShape, "return of node %s must be an outcome (return: failed) or {outcome: failed, values: {name: expression}}, not %s", nd.ID, yamlpos.Describe(v))
		return
	}
	if rd.outcome == "" {
		return
	}
	if !outcomeRE.MatchString(rd.outcome) {
		dc.Errorf(rd.outcomePos, CodeValue, "return outcome %q must be letters, digits, '-' and '_', starting with a letter", rd.outcome)
		return
	}
	nd.action = rd
}

func (returnKind) check(c *checker, nd *NodeDecl) {
	if rd, _ := nd.action.(*returnDecl); rd != nil {
		c.assignments(rd.values, "return")
	}
}

func (returnKind) compile(n *Node, nd *NodeDecl, g *Graph) error {
	rd, _ := nd.action.(*returnDecl)
	if rd == nil {
		return fmt.Errorf("return without an outcome")
	}
	rd.compiled = compileAssignments(rd.values)
	n.action = rd
	g.returns = append(g.returns, n)
	if !slices.Contains(g.outcomes, rd.outcome) {
		g.outcomes = append(g.outcomes, rd.outcome)
	}
	return nil
}

func (returnKind) step(w *Walker, n *Node) (step, error) {
	rd := n.action.(*returnDecl)
	var values map[string]string
	for _, a := range rd.compiled {
		v, err := w.vm.Run(a.Value, w.env)
		if err != nil {
			return step{}, w.fail(n, fmt.Errorf("return value %s: %w", a.Name, err))
		}
		if values == nil {
			values = make(map[string]string, len(rd.compiled))
		}
		if values[a.Name], err = encodeReturned(v); err != nil {
			return step{}, w.fail(n, fmt.Errorf("return value %s: %w", a.Name, err))
		}
	}
	if len(w.top.Frames) == 0 {
		// A flow walked on its own (served, or tested by itself): its
		// return ends it.
		return step{end: true}, nil
	}
	return w.pop(rd.outcome, values), nil
}

func (returnKind) schema(k *Kind) obj {
	return obj{"description": k.Doc, "anyOf": []any{
		obj{"type": "string", "pattern": outcomeRE.String()},
		yamlpos.FieldSchema(&yamlpos.Field{Type: yamlpos.Object, Fields: returnFields}),
	}}
}

func (returnKind) traits() traits {
	return traits{control: ends, style: styleEnd,
		walkDoc: "Ends the subflow: the calling node goes on by the outcome (on: <outcome>, else next) and keeps the values under nodes.<id>. A return is an error in a flow no flow runs as a subflow."}
}

// push enters a subflow from its calling node n, with its initial vars.
func (w *Walker) push(n *Node, sub *Graph, vars map[string]any) {
	w.top.Frames = append(w.top.Frames, Frame{Node: n.ID, Flow: sub.Name, Vars: vars, Nodes: map[string]map[string]string{}})
	w.gs = append(w.gs, sub)
	w.enter()
}

// pop leaves the innermost subflow with an outcome and values: the calling
// node keeps them and the walk goes on by the outcome from it.
func (w *Walker) pop(outcome string, values map[string]string) step {
	last := len(w.top.Frames) - 1
	fr := w.top.Frames[last]
	w.top.Frames = w.top.Frames[:last]
	w.gs = w.gs[:len(w.gs)-1]
	w.enter()
	caller := w.g.byID[fr.Node]
	kept := make(map[string]string, len(values)+1)
	maps.Copy(kept, values)
	kept["outcome"] = outcome
	w.state.Nodes[caller.ID] = kept
	w.setNodeView(caller.ID, kept)
	to, label := caller.Next, "next"
	if t, ok := caller.On[outcome]; ok && t != nil {
		to, label = t, outcome
	}
	if to != nil {
		w.edges = append(w.edges, Taken{From: w.qualify(caller.ID), Label: label})
	}
	return step{to: to}
}

// leave drops the innermost subflow without returning: a run-time error
// inside it that it has no on_error for goes to its caller's.
func (w *Walker) leave() {
	w.top.Frames = w.top.Frames[:len(w.top.Frames)-1]
	w.gs = w.gs[:len(w.gs)-1]
	w.enter()
}

// enter makes the innermost frame the one the walk reads and changes.
func (w *Walker) enter() {
	w.g = w.gs[len(w.gs)-1]
	if len(w.top.Frames) == 0 {
		w.state, w.prefix = w.top, ""
	} else {
		fr := &w.top.Frames[len(w.top.Frames)-1]
		if fr.Nodes == nil {
			fr.Nodes = map[string]map[string]string{}
		}
		if fr.Vars == nil {
			fr.Vars = map[string]any{}
		}
		w.state = &State{Call: w.top.Call, Vars: fr.Vars, Nodes: fr.Nodes, Params: w.paramsOf(w.g)}
		var b strings.Builder
		for _, f := range w.top.Frames {
			b.WriteString(f.Node)
			b.WriteByte('/')
		}
		w.prefix = b.String()
	}
	w.env["vars"], w.env["params"], w.env["nodes"] = w.state.Vars, w.state.Params, w.state.Nodes
	w.nodesView = nil
	if w.g.hasViews {
		w.nodesView = make(map[string]any, len(w.state.Nodes)+1)
		for id, res := range w.state.Nodes {
			w.setNodeView(id, res)
		}
		w.env["nodes"] = w.nodesView
	}
}

// paramsOf returns a subflow's params: Walker.Params's, else its defaults.
func (w *Walker) paramsOf(g *Graph) map[string]any {
	if w.Params != nil {
		return w.Params(g)
	}
	p, _ := g.ResolveParams(nil)
	return p
}

// qualify names a node of the current frame as paths, waits and traces
// name it: inside a subflow, by the calling nodes and its id, joined by
// "/" (check_pin/ask), which no node id contains.
func (w *Walker) qualify(id string) string {
	if w.prefix == "" {
		return id
	}
	return w.prefix + id
}

// Frame is a subflow being walked: the calling node (in the flow of the
// frame before it, or the call's flow), the subflow's name, its vars and
// its nodes' kept parameters. A call waiting inside a subflow keeps its
// frames in its state, innermost last.
type Frame struct {
	Node  string                       `json:"node"`
	Flow  string                       `json:"flow"`
	Vars  map[string]any               `json:"vars"`
	Nodes map[string]map[string]string `json:"nodes,omitempty"`
}

// NodePathSep joins the ids of a qualified node name (check_pin/ask).
const NodePathSep = "/"

// NodeName is the form of a node's name as paths, waits, traces and flow
// tests write it: a node id, or ids joined by NodePathSep for a node
// inside a subflow; NodeNameForm says it in words.
var NodeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(/[A-Za-z][A-Za-z0-9_-]*)*$`)

// NodeNameForm is NodeName in words, for messages.
const NodeNameForm = "a node id (letters, digits, '-' and '_', starting with a letter), or ids joined by / for a node inside a subflow (check_pin/lookup)"

// Locate returns the node a qualified name names, and the graph it is a
// node of: g itself for a plain id, the linked subflow for check_pin/ask.
func (g *Graph) Locate(qualified string) (*Graph, *Node) {
	for {
		id, rest, nested := strings.Cut(qualified, NodePathSep)
		n := g.byID[id]
		if !nested || n == nil {
			return g, n
		}
		sc, ok := n.action.(*subflowCall)
		if !ok || g.subflows[sc.name] == nil {
			return g, nil
		}
		g, qualified = g.subflows[sc.name], rest
	}
}

// Lookup returns the node a qualified name names, or nil.
func (g *Graph) Lookup(qualified string) *Node {
	_, n := g.Locate(qualified)
	return n
}

// Subflow returns the linked flow a subflow node of g runs, or nil.
func (g *Graph) Subflow(n *Node) *Graph {
	if sc, ok := n.action.(*subflowCall); ok {
		return g.subflows[sc.name]
	}
	return nil
}

// Subflows returns the flows g runs as subflows, directly or not, each
// once, by name.
func (g *Graph) Subflows() []*Graph {
	seen := map[string]*Graph{}
	var visit func(*Graph)
	visit = func(x *Graph) {
		for _, name := range slices.Sorted(maps.Keys(x.subflows)) {
			if sub := x.subflows[name]; seen[name] == nil {
				seen[name] = sub
				visit(sub)
			}
		}
	}
	visit(g)
	out := make([]*Graph, 0, len(seen))
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, seen[name])
	}
	return out
}

// mayReturnOK reports whether a walk of g as a subflow can come out with
// ok: reach a node after which it takes no edge (a node without next whose
// outcome, or one of them, is not under on:), other than a return or a
// node that ends the call. returns gives the outcomes of a subflow node.
// It errs towards yes: a branch without next may find no case true.
func (g *Graph) mayReturnOK(returns func(*Node) []string) bool {
	// A return node ends the walk there; every other node goes on.
	for n := range reachFrom([]*Node{g.Start, g.OnError}, func(n *Node) bool {
		_, ret := n.action.(*returnDecl)
		return !ret
	}) {
		if rd, ok := n.action.(*returnDecl); ok {
			if rd.outcome == OutcomeOK {
				return true // return: ok
			}
			continue
		}
		if n.Next != nil {
			continue
		}
		outcomes := n.Kind.Outcomes
		switch n.Kind.traits.control {
		case ends:
			if !n.goesOn {
				continue // Hangup, Redirect: the call ends
			}
		case callsFlow:
			outcomes = returns(n)
		}
		if len(outcomes) == 0 {
			return true
		}
		for _, o := range outcomes {
			if n.On[o] == nil {
				return true
			}
		}
	}
	return false
}

// reachFrom returns the nodes reached from starts (nil ones skipped) by
// following the edges of the nodes that through lets the walk go on
// from; the starts included.
func reachFrom(starts []*Node, through func(*Node) bool) map[*Node]bool {
	seen := map[*Node]bool{}
	stack := slices.Clone(starts)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || seen[n] {
			continue
		}
		seen[n] = true
		if through(n) {
			for _, e := range n.Edges() {
				stack = append(stack, e.To)
			}
		}
	}
	return seen
}

// Returns lists the outcomes a flow's return nodes give, and ok.
func (g *Graph) Returns() []string {
	out := []string{OutcomeOK}
	for _, o := range g.outcomes {
		if o != OutcomeOK {
			out = append(out, o)
		}
	}
	return out
}

// encodeReturned keeps a value a return gives as JSON text: the call's
// state keeps nodes.<id> as text, and the calling flow reads the value
// back with its type (decodeReturned).
func encodeReturned(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func decodeReturned(s string) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return s
	}
	return JSONNumbers(v)
}

// FramesForTrace returns a call's frames as its trace may show them: each
// subflow's kept node parameters as ForTrace shows them. frames is not
// changed.
func (g *Graph) FramesForTrace(frames []Frame) []Frame {
	if len(frames) == 0 {
		return frames
	}
	out := slices.Clone(frames)
	cur := g
	for i := range out {
		n := cur.byID[out[i].Node]
		if n == nil || cur.Subflow(n) == nil {
			return out[:i]
		}
		cur = cur.Subflow(n)
		out[i].Nodes = cur.ForTrace(out[i].Nodes)
	}
	return out
}

// Walk calls fn for every node a call of g can reach: g's own, then, for
// each subflow node, the subflow's, named as Result.Path names them
// (check_pin/ask), in file order.
func (g *Graph) Walk(fn func(qualified string, n *Node)) {
	g.walkPrefixed("", fn)
}

func (g *Graph) walkPrefixed(prefix string, fn func(string, *Node)) {
	for _, n := range g.Nodes {
		fn(prefix+n.ID, n)
	}
	for _, n := range g.Nodes {
		if sub := g.Subflow(n); sub != nil {
			sub.walkPrefixed(prefix+n.ID+NodePathSep, fn)
		}
	}
}

// SubflowNames returns the names of the flows that any of gs runs as a
// subflow, directly or not.
func SubflowNames(gs ...*Graph) map[string]bool {
	out := map[string]bool{}
	for _, g := range gs {
		for _, sub := range g.Subflows() {
			out[sub.Name] = true
		}
	}
	return out
}
