package flow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/yamlpos"
)

// Link resolves the subflow nodes of a set of flows, compiled each on its
// own, by name. It returns the flows that can run, linked, and the
// problems that need more than one file to see; a flow whose subflows
// cannot be linked is left out. report says whether to report a flow's
// problems: flows loaded only to be found as subflows (the other flows of
// a folder, when one file is validated) are checked when they are
// validated themselves, but their calls still count. So do the calls of
// callers: versions still serving while their files are being fixed.
func Link(units map[string]*Graph, report func(*Graph) bool, callers ...*Graph) (map[string]*Graph, Diagnostics) {
	return link(units, report, nil, callers...)
}

// link is Link, told which flows of the folder have errors (broken, by
// name): a call of one of those is reported as such, and a flow that one
// of them runs, or may run, is not said to be run by none.
func link(units map[string]*Graph, report func(*Graph) bool, broken map[string]*brokenFile, callers ...*Graph) (map[string]*Graph, Diagnostics) {
	if report == nil {
		report = func(*Graph) bool { return true }
	}
	// Linking a linked flow again links the flow of its file.
	units = maps.Clone(units)
	for name, g := range units {
		if g.unit != nil {
			units[name] = g.unit
		}
	}
	var ds Diagnostics
	names := slices.Sorted(maps.Keys(units))
	// folder is every flow name of the folder, with errors or not: what
	// a subflow's name is checked against for "did you mean".
	folder := slices.Sorted(slices.Values(slices.Concat(names, slices.Collect(maps.Keys(broken)))))
	bad := map[string]bool{}
	called := map[string]bool{}
	for _, g := range callers {
		for _, n := range g.calls {
			called[n.action.(*subflowCall).name] = true
		}
	}
	unknownCalls := false // a broken file may run any flow
	for _, b := range broken {
		for _, c := range b.calls {
			called[c.flow] = true
		}
		unknownCalls = unknownCalls || b.unknown
	}
	for _, name := range names {
		g := units[name]
		for _, n := range g.calls {
			sc := n.action.(*subflowCall)
			called[sc.name] = true
			sub := units[sc.name]
			if sub == nil {
				bad[name] = true
				if !report(g) {
					continue
				}
				if b, ok := broken[sc.name]; ok {
					ds = append(ds, Diagnostic{Pos: sc.namePos, Severity: Error, Code: CodeUnknownSubflow,
						Message: fmt.Sprintf("node %s runs subflow %s, whose file %s has errors: validate it to see them", n.ID, sc.name, b.path)})
					continue
				}
				ds = append(ds, unknownSubflow(sc.namePos, n.ID, sc.name, folder))
				continue
			}
			if !report(g) {
				continue
			}
			for _, a := range sc.with {
				init, ok := sub.vars[a.Name]
				if !ok {
					bad[name] = true
					ds = append(ds, Diagnostic{Pos: sc.withPos[a.Name], Severity: Error, Code: CodeUndeclaredVar,
						Message: fmt.Sprintf("with: %s is not a var of subflow %s; it declares %s%s", a.Name, sc.name, listOr(sub.VarNames(), "no vars"), nameHint(a.Name, sub.VarNames()))})
					continue
				}
				// The subflow's expressions read a var no set: assigns with
				// its initial value's type (varsType): a value of another
				// type would fail them when the call runs.
				if got, want := a.Value.Node().Type(), typeOf(init); want != nil && got != nil && !sub.assigns(a.Name) && !fits(got, want) {
					bad[name] = true
					ds = append(ds, Diagnostic{Pos: sc.withPos[a.Name], Severity: Error, Code: CodeExpr,
						Message: fmt.Sprintf("with: %s gives %s, but subflow %s's var %s holds %s (its initial value is %s)", a.Name, got, sc.name, a.Name, want, Format(init))})
				}
			}
			returns := sub.Returns()
			for _, o := range slices.Sorted(maps.Keys(sc.onPos)) {
				if o == OutcomeOK && !sub.mayReturnOK(subReturns(units)) {
					bad[name] = true
					ds = append(ds, Diagnostic{Pos: sc.onPos[o], Severity: Error, Code: CodeOutcome,
						Message: fmt.Sprintf("subflow %s never returns ok: each of its paths ends in a return of another outcome or ends the call, so on: ok can never be taken; its outcomes are %s", sc.name, listOr(sub.outcomes, "none"))})
					continue
				}
				if !slices.Contains(returns, o) {
					bad[name] = true
					ds = append(ds, Diagnostic{Pos: sc.onPos[o], Severity: Error, Code: CodeOutcome,
						Message: fmt.Sprintf("subflow %s never returns %q, so on: %s can never be taken; its outcomes are %s%s", sc.name, o, o, strings.Join(returns, ", "), nameHint(o, returns))})
				}
			}
		}
	}
	// A flow that runs itself through any chain would never end.
	for _, name := range names {
		g := units[name]
		for _, n := range g.calls {
			sc := n.action.(*subflowCall)
			if units[sc.name] == nil {
				continue
			}
			cycle := callPath(units, sc.name, name)
			if cycle == nil {
				continue
			}
			bad[name] = true
			if report(g) {
				chain := append([]string{name}, cycle...)
				if len(chain) > 12 {
					// Each flow of a long cycle reports it: the ends say where.
					chain = slices.Concat(chain[:6], []string{fmt.Sprintf("… (%d more)", len(chain)-12)}, chain[len(chain)-6:])
				}
				ds = append(ds, Diagnostic{Pos: sc.namePos, Severity: Error, Code: CodeSubflowCycle,
					Message: fmt.Sprintf("subflow cycle: %s; a flow may not run itself through any chain of subflows (loop with next or on: instead)", strings.Join(chain, " → "))})
			}
		}
	}
	for _, name := range names {
		g := units[name]
		if len(g.returns) > 0 && !called[name] && !unknownCalls && report(g) {
			n := g.returns[0]
			ds = append(ds, returnOutside(n.Pos, n.ID, name))
			bad[name] = true
		}
	}
	// A file with errors of its own has no graph to link, but what its
	// folder says of its subflow and return nodes is reported with its own
	// errors, in the same run, rather than after they are fixed.
	for _, name := range slices.Sorted(maps.Keys(broken)) {
		b := broken[name]
		if !b.given {
			continue
		}
		for _, c := range b.calls {
			if units[c.flow] == nil && broken[c.flow] == nil {
				ds = append(ds, unknownSubflow(c.pos, c.node, c.flow, folder))
			}
		}
		if len(b.returns) > 0 && !called[name] && !unknownCalls {
			r := b.returns[0]
			ds = append(ds, returnOutside(r.pos, r.node, name))
		}
	}
	// The values of params come by name, for every flow of the folder
	// (--param, FLOWD_PARAM_<NAME>, --params): a param that one flow keeps
	// secret must be secret in every flow that declares it, or that flow
	// would write the secret.
	secretIn := map[string]string{}
	for _, name := range names {
		for _, p := range units[name].Params {
			if _, seen := secretIn[paramEnv(p.Name)]; p.Secret && !seen {
				secretIn[paramEnv(p.Name)] = name
			}
		}
	}
	for _, name := range names {
		g := units[name]
		for _, p := range g.Params {
			other, ok := secretIn[paramEnv(p.Name)]
			if p.Secret || !ok {
				continue
			}
			bad[name] = true
			if report(g) {
				ds = append(ds, Diagnostic{Pos: p.Pos, Severity: Error, Code: CodeSecret,
					Message: fmt.Sprintf("param %s is secret in flow %s, and both take their value from FLOWD_PARAM_%s, --param and --params by that name: mark it secret: true here too, or name it differently", p.Name, other, paramEnv(p.Name))})
			}
		}
	}
	// Whether a walk comes back out of each flow run as a subflow without
	// waiting for Plivo, asked of the flows below.
	passes := passesThrough(units)
	// What a caller enters at a log: false input must not be written
	// through a subflow either: by the subflow a walk it resumed runs, or
	// by the caller after such a subflow returns.
	for _, name := range names {
		g := units[name]
		if bad[name] || len(g.calls) == 0 || !report(g) {
			continue
		}
		if d, ok := privateThroughSubflows(g, units, passes); ok {
			ds = append(ds, d)
			bad[name] = true
		}
	}
	// A flow whose subflows unfold into too many nodes: each subflow node
	// names its subflow's nodes anew (check/ask), so subflows that each
	// run the next twice unfold into 2^depth nodes, which flow tests,
	// render and graph walk.
	unfolded := map[string]int{}
	var unfold func(name string) int
	unfold = func(name string) int {
		if n, ok := unfolded[name]; ok {
			return n
		}
		unfolded[name] = 0 // a cycle, reported above
		g := units[name]
		if g == nil {
			return 0
		}
		n := len(g.Nodes)
		for _, c := range g.calls {
			n = min(n+unfold(c.action.(*subflowCall).name), maxUnfolded+1)
		}
		unfolded[name] = n
		return n
	}
	for _, name := range names {
		g := units[name]
		if bad[name] || len(g.calls) == 0 || unfold(name) <= maxUnfolded {
			continue
		}
		bad[name] = true
		if report(g) {
			sc := g.calls[0].action.(*subflowCall)
			ds = append(ds, Diagnostic{Pos: sc.namePos, Severity: Error, Code: CodeUnfolds,
				Message: fmt.Sprintf("flow %s unfolds into more than %d nodes through its subflows (each subflow node runs its subflow's nodes anew); run fewer subflows from subflows", name, maxUnfolded)})
		}
	}
	// A loop through subflows that return without waiting.
	for _, name := range names {
		g := units[name]
		if len(g.calls) == 0 || bad[name] || !report(g) {
			continue
		}
		if d, ok := subflowLoops(g, passes); ok {
			ds = append(ds, d)
			bad[name] = true
		}
	}
	// A flow whose subflow cannot run cannot either.
	for changed := true; changed; {
		changed = false
		for _, name := range names {
			if bad[name] {
				continue
			}
			for _, n := range units[name].calls {
				if sc := n.action.(*subflowCall); bad[sc.name] {
					bad[name], changed = true, true
					if report(units[name]) && !report(units[sc.name]) {
						ds = append(ds, Diagnostic{Pos: sc.namePos, Severity: Error, Code: CodeUnknownSubflow,
							Message: fmt.Sprintf("subflow %s (%s) does not link; validate it to see why", sc.name, units[sc.name].Path)})
					}
					break
				}
			}
		}
	}
	linked := map[string]*Graph{}
	var link func(name string) *Graph
	link = func(name string) *Graph {
		if l, ok := linked[name]; ok {
			return l
		}
		u := units[name]
		if len(u.calls) == 0 {
			linked[name] = u
			return u
		}
		l := *u
		l.unit = u
		l.subflows = map[string]*Graph{}
		h := sha256.New()
		h.Write([]byte(u.Version))
		for _, n := range u.calls {
			sc := n.action.(*subflowCall)
			l.subflows[sc.name] = link(sc.name)
		}
		for _, sub := range slices.Sorted(maps.Keys(l.subflows)) {
			fmt.Fprintf(h, "\n%s@%s", sub, l.subflows[sub].Version)
		}
		l.Version = hex.EncodeToString(h.Sum(nil)[:8])
		l.Source = bundle(&l)
		linked[name] = &l
		return &l
	}
	out := map[string]*Graph{}
	for _, name := range names {
		if !bad[name] {
			out[name] = link(name)
		}
	}
	return out, ds
}

// subReturns gives the outcomes of a subflow node among units: its
// subflow's, or every outcome under its on: when that is not known.
func subReturns(units map[string]*Graph) func(*Node) []string {
	return func(n *Node) []string {
		if sub := units[n.action.(*subflowCall).name]; sub != nil {
			return sub.Returns()
		}
		return slices.Collect(maps.Keys(n.On))
	}
}

// typeOf is the type of a var's initial value that its expressions are
// checked with (varsType), or nil.
func typeOf(v any) reflect.Type {
	switch v.(type) {
	case bool, string, int, float64:
		return reflect.TypeOf(v)
	}
	return nil
}

// fits reports whether a value of static type got may be given to a var
// of type want: the same kind, a number for a float, or a type only known
// when the call runs (interface).
func fits(got, want reflect.Type) bool {
	switch {
	case got.Kind() == reflect.Interface, got.Kind() == want.Kind():
		return true
	case want.Kind() == reflect.Float64:
		return got.Kind() >= reflect.Int && got.Kind() <= reflect.Float64
	case want.Kind() == reflect.Int:
		return got.Kind() >= reflect.Int && got.Kind() <= reflect.Uint64
	}
	return false
}

// assigns reports whether a node of g sets the var.
func (g *Graph) assigns(name string) bool {
	for _, n := range g.Nodes {
		for _, a := range n.Sets {
			if a.Name == name {
				return true
			}
		}
	}
	return false
}

// walkOn returns the nodes a walk reaches from starts within one webhook:
// the starts, and on through the nodes that do not wait for Plivo.
func walkOn(starts []*Node, passes func(string) bool) map[*Node]bool {
	return reachFrom(starts, func(n *Node) bool { return nodePasses(n, passes) })
}

// targets returns where a node's edges lead.
func targets(n *Node) []*Node {
	var out []*Node
	for _, e := range n.Edges() {
		out = append(out, e.To)
	}
	return out
}

// privateThroughSubflows finds input written, after a log: false input,
// across a subflow of g: a subflow that g runs in a walk such an input of
// g resumed, whose first nodes write input; or a subflow whose own such
// input resumes a walk that returns to g, after which g writes input.
// Within one file the checker finds it (privateRead).
func privateThroughSubflows(g *Graph, units map[string]*Graph, passes func(string) bool) (Diagnostic, bool) {
	sub := func(n *Node) *Graph {
		if sc, ok := n.action.(*subflowCall); ok {
			return units[sc.name]
		}
		return nil
	}
	for _, p := range g.Nodes {
		if !p.Private {
			continue
		}
		// A run-time error in that walk goes on at g's on_error node.
		reached := walkOn(append(targets(p), g.OnError), passes)
		for _, n := range g.Nodes { // in file order, for one stable report
			s := sub(n)
			if !reached[n] || s == nil {
				continue
			}
			first := walkOn([]*Node{s.Start, s.OnError}, passes)
			for _, m := range s.Nodes {
				if first[m] && m.writesInput {
					return Diagnostic{Pos: n.Pos, Severity: Error, Code: CodeSecret,
						Message: fmt.Sprintf("node %s runs subflow %s in the walk that %s %s resumed, which says log: false, and %s's node %s writes input (a template, set: or a return value): what the caller entered would be kept; read it only in when: or an http node's url, headers and body there", n.ID, s.Name, p.Kind.Name, p.ID, s.Name, m.ID)}, true
				}
			}
		}
	}
	for _, n := range g.calls {
		s := sub(n)
		if s == nil {
			continue
		}
		var via, private *Node
		for _, p := range s.Nodes {
			if !p.Private {
				continue
			}
			if private == nil {
				private = p
			}
			for m := range walkOn(targets(p), passes) {
				if _, ret := m.action.(*returnDecl); via == nil && (ret || (nodePasses(m, passes) && len(m.Edges()) == 0)) {
					via = p
				}
			}
		}
		const rest = "what the caller entered would be kept; read it only in when: or an http node's url, headers and body"
		if via != nil {
			after := walkOn(targets(n), passes)
			for _, m := range g.Nodes {
				if after[m] && m.writesInput {
					return Diagnostic{Pos: m.Pos, Severity: Error, Code: CodeSecret,
						Message: fmt.Sprintf("node %s writes input (a template, set: or a return value) after subflow %s returns from the walk that its %s %s resumed, which says log: false: %s", m.ID, s.Name, via.Kind.Name, via.ID, rest)}, true
				}
			}
		}
		// A run-time error in such a walk, in a subflow without on_error of
		// its own, goes on at the caller's.
		if private == nil || s.OnError != nil || g.OnError == nil {
			continue
		}
		after := walkOn([]*Node{g.OnError}, passes)
		for _, m := range g.Nodes {
			if after[m] && m.writesInput {
				return Diagnostic{Pos: m.Pos, Severity: Error, Code: CodeSecret,
					Message: fmt.Sprintf("node %s writes input (a template, set: or a return value), and a run-time error in subflow %s, in the walk that its %s %s resumed (which says log: false), goes on at on_error %s: %s", m.ID, s.Name, private.Kind.Name, private.ID, g.OnError.ID, rest)}, true
			}
		}
	}
	return Diagnostic{}, false
}

// maxUnfolded bounds the nodes a flow unfolds into through its subflows.
const maxUnfolded = 100_000

// callPath returns the flows from `from` that lead, through subflow nodes,
// to `to` (ending with it), or nil when none does: the shortest.
func callPath(units map[string]*Graph, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for x := cur; x != ""; x = prev[x] {
				path = append(path, x)
			}
			slices.Reverse(path)
			return path
		}
		g := units[cur]
		if g == nil {
			continue
		}
		for _, n := range g.calls {
			next := n.action.(*subflowCall).name
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}

func nameHint(name string, candidates []string) string {
	return yamlpos.DidYouMean(name, candidates)
}

func listOr(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

// A linked flow's Source is a bundle of the sources of every flow it can
// reach, so any process can rebuild the same graph, with the same
// subflows, for a call pinned to it (Rebuild). A flow without subflows
// keeps its file's source.
type bundleJSON struct {
	Bundle int          `json:"flowd_bundle"`
	Flows  []bundleFlow `json:"flows"`
}

type bundleFlow struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Source string `json:"source"`
}

var bundlePrefix = []byte(`{"flowd_bundle":`)

func bundle(g *Graph) []byte {
	b := bundleJSON{Bundle: 1, Flows: []bundleFlow{{Name: g.Name, Path: g.Path, Source: string(unitSource(g))}}}
	for _, sub := range g.Subflows() {
		b.Flows = append(b.Flows, bundleFlow{Name: sub.Name, Path: sub.Path, Source: string(unitSource(sub))})
	}
	out, _ := json.Marshal(b)
	return out
}

// unitSource returns the source of a flow's own file.
func unitSource(g *Graph) []byte {
	if g.unit != nil {
		return g.unit.Source
	}
	return g.Source
}

// Rebuild compiles a flow version from its Source: a file's source, or
// the bundle of a linked flow. name is the flow's name.
func Rebuild(name string, src []byte) (*Graph, Diagnostics) {
	if !bytes.HasPrefix(src, bundlePrefix) {
		g, ds := Compile(name+".yaml", src)
		if g != nil {
			g.Name = name
		}
		return g, ds
	}
	var b bundleJSON
	if err := json.Unmarshal(src, &b); err != nil || len(b.Flows) == 0 {
		return nil, Diagnostics{{Pos: Pos{File: name}, Severity: Error, Code: CodeShape, Message: fmt.Sprintf("flow %s: a bundle that cannot be read: %v", name, err)}}
	}
	units := map[string]*Graph{}
	var all Diagnostics
	for _, f := range b.Flows {
		g, ds := Compile(f.Path, []byte(f.Source))
		all = append(all, ds...)
		if g == nil {
			return nil, all
		}
		g.Name = f.Name
		units[f.Name] = g
	}
	linked, ds := Link(units, nil)
	all = append(all, ds...)
	g := linked[b.Flows[0].Name]
	if g == nil {
		return nil, all
	}
	return g, all
}

// unknownSubflow is the error of node, at pos, running a subflow that no
// flow of the folder (flows, by name) declares.
func unknownSubflow(pos Pos, node, sub string, flows []string) Diagnostic {
	return Diagnostic{Pos: pos, Severity: Error, Code: CodeUnknownSubflow,
		Message: fmt.Sprintf("node %s runs subflow %s, which is no flow of this folder%s", node, sub, nameHint(sub, flows))}
}

// returnOutside is the error of flow's return node, at pos, when no flow
// runs it as a subflow.
func returnOutside(pos Pos, node, flow string) Diagnostic {
	return Diagnostic{Pos: pos, Severity: Error, Code: CodeReturnOutside,
		Message: fmt.Sprintf("node %s returns, but no flow of this folder runs %s as a subflow; end the call with Hangup, or run this flow from another with subflow: %s", node, flow, flow)}
}

// linkFolder links the flows loaded from files with the other flows of
// their folders, which are compiled to be found as subflows but reported
// only when validated themselves.
func linkFolder(s *Set) {
	units := maps.Clone(s.Graphs)
	given := map[*Graph]bool{}
	needs := false
	var paths []string // of the files given, with errors or not
	for _, g := range units {
		given[g] = true
		needs = needs || len(g.calls) > 0 || len(g.returns) > 0
		paths = append(paths, g.Path)
	}
	for _, b := range s.broken {
		needs = needs || len(b.calls) > 0 || len(b.returns) > 0
		paths = append(paths, b.path)
	}
	if needs {
		dirs := map[string]bool{}
		loaded := map[string]bool{}
		for _, path := range paths {
			dirs[filepath.Dir(path)] = true
			loaded[filepath.Clean(path)] = true
		}
		for _, dir := range slices.Sorted(maps.Keys(dirs)) {
			files, err := FindFiles([]string{dir}, IsFlowFile)
			if err != nil {
				continue
			}
			for _, path := range files {
				if loaded[filepath.Clean(path)] {
					continue
				}
				loaded[filepath.Clean(path)] = true
				src, err := ReadFile(path)
				if err != nil {
					continue
				}
				g, name, _, broken, _ := compileFile(path, src)
				if _, taken := units[name]; taken {
					continue
				}
				if _, taken := s.broken[name]; taken {
					continue
				}
				if g == nil {
					s.broken[name] = broken
					continue
				}
				units[name] = g
			}
		}
	}
	linked, ds := link(units, func(g *Graph) bool { return given[g] }, s.broken)
	s.Diags = append(s.Diags, ds...)
	for name := range s.Graphs {
		if l := linked[name]; l != nil {
			s.Graphs[name] = l
		} else {
			delete(s.Graphs, name)
		}
	}
	s.Diags.Sort()
}

// CompileInFolder compiles one flow file and links it with the other
// flows of its folder, as flowd render, graph and test load a flow: the
// subflows it runs are found there, and so are the flows that run it.
func CompileInFolder(path string, src []byte) (*Graph, Diagnostics) {
	g, ds := Compile(path, src)
	if g == nil || len(g.calls) == 0 && len(g.returns) == 0 {
		return g, ds
	}
	s := &Set{Graphs: map[string]*Graph{g.Name: g}, Diags: ds, broken: map[string]*brokenFile{}}
	linkFolder(s)
	return s.Graphs[g.Name], s.Diags
}

// passesThrough reports, for each flow, whether a walk can come back out
// of it as a subflow without waiting for Plivo: from its start to a return
// or a node with no edge, through no node the walk waits at. A subflow
// node inside passes when its subflow does. Flows in a subflow cycle are
// reported elsewhere and not asked about.
func passesThrough(units map[string]*Graph) func(name string) bool {
	memo := map[string]bool{}
	var passes func(name string) bool
	passes = func(name string) bool {
		if v, ok := memo[name]; ok {
			return v
		}
		memo[name] = false // a cycle, reported by Link, does not pass
		g := units[name]
		if g == nil {
			return false
		}
		seen := map[*Node]bool{}
		var visit func(n *Node) bool
		visit = func(n *Node) bool {
			if seen[n] {
				return false
			}
			seen[n] = true
			if !nodePasses(n, passes) {
				// A return passes out; a node that waits or ends does not.
				_, isReturn := n.action.(*returnDecl)
				return isReturn
			}
			edges := n.Edges()
			if len(edges) == 0 {
				return true // no edge: the subflow returns ok
			}
			for _, e := range edges {
				if visit(e.To) {
					return true
				}
			}
			return false
		}
		memo[name] = visit(g.Start)
		return memo[name]
	}
	return passes
}

// nodePasses reports whether the walk goes on from n within the document.
func nodePasses(n *Node, passes func(string) bool) bool {
	switch n.Kind.traits.control {
	case goesOn:
		return true
	case ends:
		return n.goesOn
	case callsFlow:
		return passes(n.action.(*subflowCall).name)
	}
	return false
}

// subflowLoops reports cycles of a flow that pass through subflow nodes
// whose subflows can return without waiting, and through no node that
// waits: one webhook would walk them forever. Cycles without subflow
// nodes are the checker's (loop).
func subflowLoops(g *Graph, passes func(string) bool) (Diagnostic, bool) {
	state := map[*Node]int{} // 1 on the stack, 2 done
	var stack []*Node
	var found []*Node
	var visit func(n *Node) bool
	visit = func(n *Node) bool {
		state[n] = 1
		stack = append(stack, n)
		for _, e := range n.Edges() {
			t := e.To
			if !nodePasses(t, passes) {
				continue
			}
			switch state[t] {
			case 1:
				i := slices.Index(stack, t)
				found = append(slices.Clone(stack[i:]), t)
				return true
			case 0:
				if visit(t) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		return false
	}
	for _, n := range g.Nodes {
		if state[n] == 0 && nodePasses(n, passes) && visit(n) {
			break
		}
	}
	if found == nil || !slices.ContainsFunc(found, func(n *Node) bool { return n.Kind.traits.control == callsFlow }) {
		return Diagnostic{}, false
	}
	ids := make([]string, len(found))
	var sub *Node
	for i, n := range found {
		ids[i] = n.ID
		if sub == nil && n.Kind.traits.control == callsFlow {
			sub = n
		}
	}
	return Diagnostic{Pos: found[0].Pos, Severity: Error, Code: CodeLoop,
		Message: fmt.Sprintf("nodes %s loop without waiting for the caller, since subflow %s can return without waiting, so one webhook would never end; put a GetDigits, GetInput, Dial, Record, Conference or MultiPartyCall on the loop", strings.Join(ids, " → "), sub.action.(*subflowCall).name)}, true
}
