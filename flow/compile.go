package flow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flowd-dev/flowd/xmlgen"
)

// Graph is a compiled flow: immutable, safe to share between goroutines,
// and walked without parsing anything.
type Graph struct {
	Name        string
	NamePos     Pos // where the name is given (flow:), or the file's start
	Path        string
	Description string
	// Version identifies the source: calls are pinned to it, and Source
	// lets any process rebuild the same graph later.
	Version string
	Source  []byte
	Start   *Node
	OnError *Node
	Nodes   []*Node
	Params  []ParamDecl
	vars    map[string]any
	// scalarVars: vars holds no map or list, so a call may share it
	// until it sets a var (SharedVars).
	scalarVars bool
	byID       map[string]*Node
	// hasViews: the flow has nodes of a kind that shows its kept
	// parameters to expressions its own way (a viewer: http's parsed
	// answer), so walks build a view of nodes (Walker.setNodeView).
	hasViews bool
	// calls are the subflow nodes, returns the return nodes, and outcomes
	// the outcomes those give (Link reads them).
	calls, returns []*Node
	outcomes       []string
	// subflows are the linked flows the subflow nodes run, by name (Link);
	// unit is the graph of the flow's own file that this linked one
	// copies, nil when the graph is that.
	subflows map[string]*Graph
	unit     *Graph
}

// Node is one compiled node.
type Node struct {
	ID          string
	Pos         Pos
	Kind        *Kind
	Description string
	Next        *Node
	On          map[string]*Node // outcome → node
	Cases       []Case           // branch
	Sets        []Assign         // set
	// Events are the reports (status, recording) the node asked flowd to
	// receive; the runtime accepts no others for it.
	Events []string
	// Private is set on an input node written with log: false: what the
	// caller enters there (a PIN) is never kept — not in the call's
	// state, its trace or a log line.
	Private bool
	// writesInput: an expression of the node writes input somewhere
	// (NodeDecl.writesInput).
	writesInput bool
	// goesOn: a node of a kind that ends the flow goes on to next instead
	// (a Hangup with schedule).
	goesOn bool
	room   *Str // a MultiPartyCall's name
	// action is what a kind compiled that only its behavior reads (a REST
	// action's call).
	action any
	// The element's XML, prepared when the flow compiled; fills say what
	// goes in each hole on a webhook.
	tmpl  *xmlgen.Template
	fills []fillFunc
	// subTmpl is, for a Conference or MultiPartyCall without next, the
	// element with its callback URL after fills' holes: inside a subflow
	// such a node has somewhere to go, back to the caller, when the caller
	// leaves the room.
	subTmpl *xmlgen.Template
	// el is the element description the template was prepared from; tests
	// and benchmarks build it with etree to compare.
	el *xmlgen.El
}

// Case is one compiled branch case.
type Case struct {
	When  program
	Src   string
	Label string // "case N", as edges and traces name it
	Next  *Node
}

// Assign is one compiled assignment of a set node.
type Assign struct {
	Name  string
	Value program
}

// fillFunc computes one hole of a node's XML on a webhook: a template
// rendered against the environment, or flowd's callback URL.
type fillFunc struct {
	parts []TmplPart // nil for the callback URL
	event string     // the callback event the URL reports
}

// Node returns the node with the given id, or nil.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// InitialVars returns a fresh copy of the flow's vars: for a new call.
func (g *Graph) InitialVars() map[string]any {
	return deepCopy(g.vars).(map[string]any)
}

// SharedVars returns the flow's vars themselves, for a new call's State
// with SharedVars set, when the flow's vars hold no map or list (nothing
// in them can be changed in place); else nil, false. The map is shared
// by every call given it: it must not be changed. The walker copies it
// before it sets a var.
func (g *Graph) SharedVars() (map[string]any, bool) {
	if !g.scalarVars || g.vars == nil {
		return nil, false
	}
	return g.vars, true
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// CheckVars checks the vars a call is started with (the trigger API's)
// against the flow's: one the flow declares must be of its initial value's
// kind — text, a number (a whole one for an integer), true or false, a
// list, a mapping — so that a call placed is not bound to fail at its
// first expression. A scalar that says the same in another kind ("42"
// for a number, 42 for text, "true") is converted, in place, as whole
// numbers for integer vars become ints. A var the flow does not declare may be given (a flow may read
// vars.x without declaring it), with any value.
func (g *Graph) CheckVars(vars map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		init, declared := g.vars[name]
		if !declared {
			continue
		}
		v := vars[name]
		// A scalar written as another scalar that says the same (a number
		// as text, as JSON clients often send it) is taken as the var's kind.
		text, isText := v.(string)
		num, isNum := v.(float64)
		if i, ok := v.(int); ok { // a YAML integer (flowd render --var)
			num, isNum = float64(i), true
			v = num
		}
		want := ""
		switch init.(type) {
		case string:
			switch x := v.(type) {
			case string:
			case float64:
				vars[name] = strconv.FormatFloat(x, 'f', -1, 64)
			case bool:
				vars[name] = strconv.FormatBool(x)
			default:
				want = "text"
			}
		case bool:
			switch {
			case isText && (text == "true" || text == "false"):
				vars[name] = text == "true"
			default:
				if _, ok := v.(bool); !ok {
					want = "true or false"
				}
			}
		case int:
			if isText {
				if f, err := strconv.ParseFloat(strings.TrimSpace(text), 64); err == nil {
					num, isNum = f, true
				}
			}
			if !isNum || num != math.Trunc(num) || math.Abs(num) > 1<<53 {
				want = "a whole number"
				break
			}
			vars[name] = int(num)
		case float64:
			if isText {
				if f, err := strconv.ParseFloat(strings.TrimSpace(text), 64); err == nil {
					num, isNum = f, true
				}
			}
			if !isNum {
				want = "a number"
				break
			}
			vars[name] = num
		case []any:
			if _, ok := v.([]any); !ok {
				want = "a list"
			}
		case map[string]any:
			if _, ok := v.(map[string]any); !ok {
				want = "a mapping"
			}
		}
		if want != "" {
			return fmt.Errorf("vars.%s: want %s, as its initial value %s is, not %s", name, want, Format(init), describeJSON(v))
		}
	}
	return nil
}

// describeJSON names a decoded JSON value's kind for a message.
func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "text " + strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return "the number " + strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// VarNames returns the per-call variables of the flow, declared under
// vars: or assigned by set, sorted.
func (g *Graph) VarNames() []string {
	seen := map[string]bool{}
	for k := range g.vars {
		seen[k] = true
	}
	for _, n := range g.Nodes {
		for _, a := range n.Sets {
			seen[a.Name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Callback reports whether the walk waits for Plivo at this node, and so
// whether its XML carries a callback URL.
func (n *Node) Callback() bool {
	switch n.Kind.traits.control {
	case waits:
		return true
	case waitsIfNext:
		return n.Next != nil
	}
	return false
}

// EndsCall reports whether the walk ends the call at the node (Hangup,
// Redirect), rather than going on — or, inside a subflow, returning to
// the calling node — when it has no edge to take.
func (n *Node) EndsCall() bool {
	return n.Kind.traits.control == ends && !n.goesOn
}

// Accepts reports whether the node's XML can call back with event: the
// walk waits at the node and its kind has a callback that reports event.
func (n *Node) Accepts(event string) bool {
	return (n.Callback() || n.subTmpl != nil) && n.Kind.Accepts(event)
}

// Edges returns the node's outgoing edges with their labels, in a stable
// order: branch cases, then on: outcomes in outcome order, then next.
func (n *Node) Edges() []Edge {
	var out []Edge
	for i, c := range n.Cases {
		out = append(out, Edge{Label: caseLabel(i), When: c.Src, Kind: EdgeCase, Index: i, To: c.Next})
	}
	outcomes := n.Kind.Outcomes
	if n.Kind.traits.openOutcomes {
		// A subflow's outcomes are its return's: those written, by name.
		outcomes = slices.Sorted(maps.Keys(n.On))
	}
	for _, o := range outcomes {
		if t, ok := n.On[o]; ok {
			out = append(out, Edge{Label: o, Kind: EdgeOn, To: t})
		}
	}
	if n.Next != nil {
		out = append(out, Edge{Label: "next", Kind: EdgeNext, To: n.Next})
	}
	return out
}

// Edge is one outgoing edge of a node.
type Edge struct {
	Label string // "next", an outcome, or "case N" (1-based), as Taken names it
	When  string // a branch case's condition
	Kind  EdgeKind
	Index int // the case number for EdgeCase
	To    *Node
}

// EdgeKind tells how an edge was written.
type EdgeKind uint8

// The edge kinds.
const (
	EdgeNext EdgeKind = iota
	EdgeOn
	EdgeCase
)

// compile wires a checked file into a Graph. It assumes Check reported no
// errors.
func compile(f *File) (*Graph, error) {
	sum := sha256.Sum256(f.Src)
	g := &Graph{
		Name: f.Name, NamePos: f.NamePos, Path: f.Path, Description: f.Description,
		Version: hex.EncodeToString(sum[:8]),
		Source:  f.Src,
		vars:    map[string]any{},
		byID:    make(map[string]*Node, len(f.Nodes)),
	}
	for _, p := range f.Params {
		g.Params = append(g.Params, *p)
	}
	g.scalarVars = true
	for _, v := range f.Vars {
		g.vars[v.Name] = v.Value
		switch v.Value.(type) {
		case map[string]any, []any:
			g.scalarVars = false
		}
	}
	for _, nd := range f.Nodes {
		n := &Node{ID: nd.ID, Pos: nd.Pos, Kind: nd.Kind, Description: nd.Description}
		g.Nodes = append(g.Nodes, n)
		g.byID[n.ID] = n
	}
	for i, nd := range f.Nodes {
		n := g.Nodes[i]
		if nd.Next != nil {
			n.Next = g.byID[nd.Next.Name]
		}
		if len(nd.On) > 0 {
			n.On = make(map[string]*Node, len(nd.On))
			for _, o := range nd.On {
				n.On[o.Outcome] = g.byID[o.Target.Name]
			}
		}
		n.Events = nd.Events
		n.writesInput = nd.writesInput
		_, views := nd.Kind.behavior.(viewer)
		g.hasViews = g.hasViews || views
		if err := nd.Kind.behavior.compile(n, nd, g); err != nil {
			return nil, fmt.Errorf("%s: node %s: %w", nd.Pos, nd.ID, err)
		}
	}
	g.Start = g.Nodes[0]
	if f.Start != nil {
		g.Start = g.byID[f.Start.Name]
	}
	if f.OnError != nil {
		g.OnError = g.byID[f.OnError.Name]
	}
	return g, nil
}
