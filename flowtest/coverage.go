package flowtest

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/runtime"
)

// Coverage collects, per flow, the nodes and outcome edges that cases
// took, from the calls' traces. The edges are those flow.Node.Edges
// lists — next, each on: outcome, each branch case — named by the same
// labels the walker records.
// It is safe for concurrent use: suites may run in parallel.
type Coverage struct {
	mu    sync.Mutex
	flows map[string]*FlowCoverage
}

// NewCoverage returns an empty Coverage.
func NewCoverage() *Coverage { return &Coverage{flows: map[string]*FlowCoverage{}} }

// FlowCoverage is the coverage of one flow, over every test file that
// tests it.
type FlowCoverage struct {
	Graph *flow.Graph
	// Untested is set for a flow that no test file tests (AddUntested): it
	// is 0% covered. Its Graph may have no nodes when the file does not
	// compile.
	Untested bool
	nodes    map[string]bool
	edges    map[flow.Taken]bool
}

// key identifies a flow across test files that load it separately.
func key(g *flow.Graph) string { return g.Name + "\x00" + absPath(g.Path) }

// Register counts a flow even if no case of it runs: it is then 0% covered.
func (c *Coverage) Register(g *flow.Graph) *FlowCoverage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.register(g)
}

// register counts a flow, and the subflows it runs: a subflow's nodes
// are covered in its own file, by whichever flows walk into it.
func (c *Coverage) register(g *flow.Graph) *FlowCoverage {
	k := key(g)
	fc, ok := c.flows[k]
	if !ok {
		fc = &FlowCoverage{Graph: g, nodes: map[string]bool{}, edges: map[flow.Taken]bool{}}
		c.flows[k] = fc
	}
	for _, sub := range g.Subflows() {
		if _, ok := c.flows[key(sub)]; !ok {
			c.flows[key(sub)] = &FlowCoverage{Graph: sub, nodes: map[string]bool{}, edges: map[flow.Taken]bool{}}
		}
	}
	return fc
}

// AddUntested counts the flow files among flows that no suite of results
// tests, so that a flow without a test file cannot pass a coverage
// minimum: each is 0% covered, and Write names it. A flow file that does
// not compile counts too, under the name its file gives.
func (c *Coverage) AddUntested(flows []string, results []*Result) {
	for _, path := range UntestedFlows(flows, results) {
		g := untestedGraph(path)
		c.mu.Lock()
		if _, walked := c.flows[key(g)]; !walked {
			// Not a subflow of a tested flow either.
			c.register(g).Untested = true
		}
		c.mu.Unlock()
	}
}

// UntestedFlows returns the flow files, among flows, that no suite of
// results tests.
func UntestedFlows(flows []string, results []*Result) []string {
	tested := map[string]bool{}
	for _, r := range results {
		if p := testedFlow(r.Suite); p != "" {
			tested[absPath(p)] = true
		}
	}
	var out []string
	for _, path := range flows {
		if !tested[absPath(path)] {
			out = append(out, path)
		}
	}
	return out
}

// testedFlow returns the path of the flow file a suite tests, "" when its
// test file names none that can be found. A suite that cannot run has no
// Graph: its flow is looked up again, or named by the flow's diagnostics.
func testedFlow(s *Suite) string {
	if s.Graph != nil {
		return s.Graph.Path
	}
	if s.File == nil {
		return ""
	}
	g, ds := s.File.LoadFlow()
	if g != nil {
		return g.Path
	}
	for _, d := range ds {
		if d.Pos.File != "" && absPath(d.Pos.File) != absPath(s.Path) {
			return d.Pos.File
		}
	}
	return ""
}

// untestedGraph compiles a flow file that no test tests, for its nodes and
// edges; when it does not compile, a graph with only its name and path.
func untestedGraph(path string) *flow.Graph {
	path = filepath.Clean(path)
	src, err := flow.ReadFile(path)
	if err == nil {
		if g, _ := flow.CompileInFolder(path, src); g != nil {
			return g
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if err == nil {
		if f, _ := flow.Decode(path, src); f != nil && f.Name != "" {
			name = f.Name
		}
	}
	return &flow.Graph{Name: name, Path: path}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// Add counts the nodes walked and edges taken in a call's trace.
func (c *Coverage) Add(g *flow.Graph, sess *runtime.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.register(g)
	// A node inside a subflow (check_pin/ask) is covered in the
	// subflow's own file.
	of := func(id string) (*FlowCoverage, string) {
		if !strings.Contains(id, flow.NodePathSep) {
			return c.flows[key(g)], id
		}
		sg, n := g.Locate(id)
		if n == nil {
			return c.flows[key(g)], id
		}
		return c.register(sg), n.ID
	}
	for _, t := range sess.Trace {
		for _, id := range t.Path {
			fc, node := of(id)
			fc.nodes[node] = true
		}
		for _, e := range t.Edges {
			fc, node := of(e.From)
			fc.edges[flow.Taken{From: node, Label: e.Label}] = true
		}
	}
}

// Flows returns the coverage of every flow, by file path.
func (c *Coverage) Flows() []*FlowCoverage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*FlowCoverage, 0, len(c.flows))
	for _, fc := range c.flows {
		out = append(out, fc)
	}
	slices.SortFunc(out, func(a, b *FlowCoverage) int {
		if a.Graph.Path != b.Graph.Path {
			if a.Graph.Path < b.Graph.Path {
				return -1
			}
			return 1
		}
		if a.Graph.Name < b.Graph.Name {
			return -1
		}
		if a.Graph.Name > b.Graph.Name {
			return 1
		}
		return 0
	})
	return out
}

// Nodes returns how many of the flow's nodes were walked, of how many.
func (f *FlowCoverage) Nodes() (covered, total int) {
	for _, n := range f.Graph.Nodes {
		if f.nodes[n.ID] {
			covered++
		}
	}
	return covered, len(f.Graph.Nodes)
}

// Edges returns how many of the flow's edges were taken, of how many.
func (f *FlowCoverage) Edges() (covered, total int) {
	for _, n := range f.Graph.Nodes {
		for _, e := range n.Edges() {
			total++
			if f.edges[flow.Taken{From: n.ID, Label: e.Label}] {
				covered++
			}
		}
	}
	return covered, total
}

// Percent is the share of nodes and edges together that were covered: 0
// for a flow that no test file tests.
func (f *FlowCoverage) Percent() float64 {
	if f.Untested {
		return 0
	}
	nc, nt := f.Nodes()
	ec, et := f.Edges()
	return percent(nc+ec, nt+et)
}

func percent(covered, total int) float64 {
	if total == 0 {
		return 100
	}
	return 100 * float64(covered) / float64(total)
}

// MissedNodes returns the nodes no case walked, in file order.
func (f *FlowCoverage) MissedNodes() []*flow.Node {
	var out []*flow.Node
	for _, n := range f.Graph.Nodes {
		if !f.nodes[n.ID] {
			out = append(out, n)
		}
	}
	return out
}

// MissedEdge is an edge no case took.
type MissedEdge struct {
	From *flow.Node
	Edge flow.Edge
}

// MissedEdges returns the edges no case took, in file and edge order.
func (f *FlowCoverage) MissedEdges() []MissedEdge {
	var out []MissedEdge
	for _, n := range f.Graph.Nodes {
		for _, e := range n.Edges() {
			if !f.edges[flow.Taken{From: n.ID, Label: e.Label}] {
				out = append(out, MissedEdge{From: n, Edge: e})
			}
		}
	}
	return out
}

// Percent is the share of nodes and edges of every flow that were covered.
func (c *Coverage) Percent() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var covered, total int
	for _, f := range c.flows {
		nc, nt := f.Nodes()
		ec, et := f.Edges()
		covered += nc + ec
		total += nt + et
	}
	return percent(covered, total)
}

// Write prints the coverage of each flow and what it missed; a flow that
// no test file tests is named as such:
//
//	coverage: flow billing (flows/billing.yaml): 0.0% — no test file tests it
//	coverage: flow ivr (examples/flows/ivr.yaml): 100.0% — nodes 11/11, edges 17/17
//	coverage: flow survey (examples/flows/survey.yaml): 93.1% — nodes 16/17, edges 11/12
//	    examples/flows/survey.yaml:63:3: node q1_unclear never reached
//	    examples/flows/survey.yaml:55:3: q1_answer --next--> q1_unclear never taken
func (c *Coverage) Write(w io.Writer) {
	for _, f := range c.Flows() {
		if f.Untested {
			fmt.Fprintf(w, "coverage: flow %s (%s): %.1f%% — no test file tests it\n", f.Graph.Name, f.Graph.Path, f.Percent())
			continue
		}
		nc, nt := f.Nodes()
		ec, et := f.Edges()
		fmt.Fprintf(w, "coverage: flow %s (%s): %.1f%% — nodes %d/%d, edges %d/%d\n", f.Graph.Name, f.Graph.Path, f.Percent(), nc, nt, ec, et)
		for _, n := range f.MissedNodes() {
			fmt.Fprintf(w, "    %s: node %s never reached\n", n.Pos, n.ID)
		}
		for _, m := range f.MissedEdges() {
			label := m.Edge.Label
			if m.Edge.When != "" {
				label += " (" + m.Edge.When + ")"
			}
			fmt.Fprintf(w, "    %s: %s --%s--> %s never taken\n", m.From.Pos, m.From.ID, label, m.Edge.To.ID)
		}
	}
	if len(c.Flows()) > 1 {
		fmt.Fprintf(w, "coverage: %.1f%% of all nodes and edges\n", c.Percent())
	}
}
