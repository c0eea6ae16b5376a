package flow

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Diagrams draw a compiled flow for people: every node with its action,
// every edge with the outcome that takes it (the labels Node.Edges and
// coverage use), and the kinds of node told apart by shape and colour —
// verbs that wait for a Plivo callback, logic that runs on the server,
// and verbs that end the flow. Output depends only on the graph, so it is
// stable from run to run and can be committed or diffed.

// Diagram formats.
const (
	DiagramMermaid = "mermaid"
	DiagramDOT     = "dot"
)

// DiagramFormats lists the formats Diagram writes.
var DiagramFormats = []string{DiagramMermaid, DiagramDOT}

// Diagram returns the flow as a diagram in a format of DiagramFormats.
func Diagram(g *Graph, format string) ([]byte, error) {
	switch format {
	case DiagramMermaid:
		return Mermaid(g), nil
	case DiagramDOT:
		return DOT(g), nil
	}
	return nil, fmt.Errorf("unknown diagram format %q (want %s)", format, strings.Join(DiagramFormats, " or "))
}

// nodeStyle is how a diagram draws a kind of node.
type nodeStyle uint8

const (
	styleUnset    nodeStyle = iota // a kind that does not say; TestKinds fails
	styleVerb                      // appended, the walk goes on
	styleCallback                  // waits for Plivo's callback
	styleBranch                    // branch, on the server
	styleSet                       // set, on the server
	styleEnd                       // ends the flow
	styleSubflow                   // runs a subflow
)

// styleOf is how a node is drawn: waiting for Plivo if the walk waits at
// it, else as its kind says.
func styleOf(n *Node) nodeStyle {
	if n.Callback() {
		return styleCallback
	}
	if n.Kind.traits.style == styleEnd && n.goesOn {
		// A Hangup with a schedule: the walk goes on to next.
		return styleVerb
	}
	return n.Kind.traits.style
}

// diagramEdge is one arrow: the edges of a node that lead to the same
// node are drawn as one, with their labels joined.
type diagramEdge struct {
	From, To *Node
	Labels   []string
}

// diagramEdges returns a node's arrows in Node.Edges order.
func diagramEdges(n *Node) []diagramEdge {
	var out []diagramEdge
	for _, e := range n.Edges() {
		label := edgeLabel(n, e)
		merged := false
		for i := range out {
			if out[i].To == e.To {
				out[i].Labels = append(out[i].Labels, label)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, diagramEdge{From: n, To: e.To, Labels: []string{label}})
		}
	}
	return out
}

// maxWhen is how much of a branch condition an edge label shows.
const maxWhen = 48

// edgeLabel names an edge by what takes it: the outcome, the branch case
// and its condition, or next with the outcomes it stands for.
func edgeLabel(n *Node, e Edge) string {
	switch e.Kind {
	case EdgeCase:
		w := strings.Join(strings.Fields(e.When), " ")
		if utf8.RuneCountInString(w) > maxWhen {
			w = string([]rune(w)[:maxWhen-1]) + "…"
		}
		return e.Label + ": " + w
	case EdgeOn:
		return e.Label
	}
	var rest []string
	for _, o := range n.Kind.Outcomes {
		if _, ok := n.On[o]; !ok {
			rest = append(rest, o)
		}
	}
	switch {
	case n.Kind.traits.nextLabel != "":
		return n.Kind.traits.nextLabel
	case len(rest) > 0 && len(n.On) > 0:
		return "next (" + strings.Join(rest, ", ") + ")"
	}
	return "next"
}

// drawn is a node as a diagram draws it: its name through the calling
// nodes (check_pin/ask), and the cluster of the subflow it is in (0 for
// the flow's own nodes).
type drawn struct {
	id      string
	n       *Node
	cluster int
}

// diagramCluster is a subflow drawn inside its caller's diagram.
type diagramCluster struct {
	caller string // the calling node's name
	g      *Graph
	parent int
}

// diagramNodes lists the nodes a diagram of g draws: g's own, then each
// subflow's, in a cluster of its own, linked from its calling node.
func diagramNodes(g *Graph) ([]drawn, []diagramCluster) {
	var nodes []drawn
	clusters := []diagramCluster{{g: g}}
	var add func(g *Graph, prefix string, cluster int)
	add = func(g *Graph, prefix string, cluster int) {
		for _, n := range g.Nodes {
			nodes = append(nodes, drawn{id: prefix + n.ID, n: n, cluster: cluster})
		}
		for _, n := range g.Nodes {
			if sub := g.Subflow(n); sub != nil {
				clusters = append(clusters, diagramCluster{caller: prefix + n.ID, g: sub, parent: cluster})
				add(sub, prefix+n.ID+NodePathSep, len(clusters)-1)
			}
		}
	}
	add(g, "", 0)
	return nodes, clusters
}

// writeNested writes the drawn nodes cluster by cluster, each subflow's
// cluster inside its caller's and indented one more step: node writes a
// node, open and close the start and end of a subflow's cluster.
func writeNested(nodes []drawn, clusters []diagramCluster, node func(indent string, d drawn), open func(indent string, i int, cl diagramCluster), close func(indent string)) {
	var write func(c int, indent string)
	write = func(c int, indent string) {
		for _, d := range nodes {
			if d.cluster == c {
				node(indent, d)
			}
		}
		for i, cl := range clusters {
			if i > 0 && cl.parent == c {
				open(indent, i, cl)
				write(i, indent+"  ")
				close(indent)
			}
		}
	}
	write(0, "  ")
}

// diagramArrows calls edge for every arrow between drawn nodes, by their
// names, and runs for every subflow node's link to its subflow's start.
func diagramArrows(nodes []drawn, clusters []diagramCluster, edge func(from, to string, labels []string), runs func(caller, start string)) {
	for _, d := range nodes {
		prefix := strings.TrimSuffix(d.id, d.n.ID)
		for _, e := range diagramEdges(d.n) {
			edge(d.id, prefix+e.To.ID, e.Labels)
		}
	}
	for _, cl := range clusters[1:] {
		runs(cl.caller, cl.caller+NodePathSep+cl.g.Start.ID)
	}
}

// Mermaid returns the flow as a Mermaid flowchart; each subflow it runs
// is a subgraph, linked from its calling node.
func Mermaid(g *Graph) []byte {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	fmt.Fprintf(&b, "  %%%% flow %s%s\n", g.Name, commentSuffix(g.Description))
	nodes, clusters := diagramNodes(g)
	ids := make(map[string]string, len(nodes))
	for i, d := range nodes {
		ids[d.id] = fmt.Sprintf("n%d", i)
	}
	b.WriteString("  start((\"start\"))\n")
	if g.OnError != nil {
		b.WriteString("  error((\"on_error\"))\n")
	}
	writeNode := func(indent string, d drawn) {
		n := d.n
		label := mermaidText(n.ID) + "<br/>" + mermaidText(n.Kind.Name)
		lb, rb := "[\"", "\"]"
		switch styleOf(n) {
		case styleCallback:
			lb, rb = "[[\"", "\"]]"
		case styleBranch:
			lb, rb = "{\"", "\"}"
		case styleSet:
			lb, rb = "[/\"", "\"/]"
		case styleEnd:
			lb, rb = "([\"", "\"])"
		case styleSubflow:
			lb, rb = "{{\"", "\"}}"
		}
		fmt.Fprintf(&b, "%s%s%s%s%s\n", indent, ids[d.id], lb, label, rb)
	}
	writeNested(nodes, clusters, writeNode, func(indent string, i int, cl diagramCluster) {
		fmt.Fprintf(&b, "%ssubgraph s%d[\"%s\"]\n", indent, i, mermaidText("subflow "+cl.g.Name+" ("+cl.caller+")"))
	}, func(indent string) { fmt.Fprintf(&b, "%send\n", indent) })
	fmt.Fprintf(&b, "  start --> %s\n", ids[g.Start.ID])
	if g.OnError != nil {
		fmt.Fprintf(&b, "  error -.-> %s\n", ids[g.OnError.ID])
	}
	diagramArrows(nodes, clusters, func(from, to string, labels []string) {
		fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", ids[from], mermaidText(strings.Join(labels, ", ")), ids[to])
	}, func(caller, start string) { fmt.Fprintf(&b, "  %s -.->|\"runs\"| %s\n", ids[caller], ids[start]) })
	for i, c := range mermaidClasses {
		if c.def != "" && (nodeStyle(i) != styleSubflow || len(g.calls) > 0) {
			fmt.Fprintf(&b, "  classDef %s %s\n", c.name, c.def)
		}
	}
	b.WriteString("  classDef marker fill:#1e293b,stroke:#1e293b,color:#ffffff\n")
	members := map[string][]string{}
	for _, d := range nodes {
		name := mermaidClasses[styleOf(d.n)].name
		members[name] = append(members[name], ids[d.id])
	}
	for _, c := range mermaidClasses {
		if m := members[c.name]; len(m) > 0 {
			fmt.Fprintf(&b, "  class %s %s\n", strings.Join(m, ","), c.name)
			delete(members, c.name)
		}
	}
	if g.OnError != nil {
		b.WriteString("  class start,error marker\n")
	} else {
		b.WriteString("  class start marker\n")
	}
	return []byte(b.String())
}

// mermaidClasses are the Mermaid classes of the node styles, by style.
var mermaidClasses = [...]struct{ name, def string }{
	styleVerb:     {"verb", "fill:#ffffff,stroke:#475569"},
	styleCallback: {"callback", "fill:#dbeafe,stroke:#1d4ed8,stroke-width:2px"},
	styleBranch:   {"logic", "fill:#fef3c7,stroke:#b45309,stroke-dasharray:4 3"},
	styleSet:      {"logic", ""},
	styleEnd:      {"terminal", "fill:#fee2e2,stroke:#b91c1c"},
	styleSubflow:  {"subflow", "fill:#ede9fe,stroke:#6d28d9,stroke-width:2px"},
}

// mermaidText escapes text for a quoted Mermaid label with entity codes,
// so quotes, brackets and HTML-like text show as written.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#':
			b.WriteString("#35;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '&':
			b.WriteString("#amp;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func commentSuffix(desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	if desc == "" {
		return ""
	}
	return ": " + desc
}

// DOT returns the flow as a Graphviz digraph; each subflow it runs is a
// cluster, linked from its calling node.
func DOT(g *Graph) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(g.Name))
	fmt.Fprintf(&b, "  label=%s;\n", dotQuote("flow "+g.Name+commentSuffix(g.Description)))
	b.WriteString("  labelloc=t;\n  rankdir=TB;\n  fontname=\"Helvetica\";\n")
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#475569\"];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#334155\"];\n")
	b.WriteString("  \"start\" [shape=circle, label=\"start\", style=filled, fillcolor=\"#1e293b\", fontcolor=\"#ffffff\", fontsize=9, width=0.5, fixedsize=true];\n")
	if g.OnError != nil {
		b.WriteString("  \"on_error\" [shape=circle, label=\"on_error\", style=filled, fillcolor=\"#1e293b\", fontcolor=\"#ffffff\", fontsize=8, width=0.6, fixedsize=true];\n")
	}
	nodes, clusters := diagramNodes(g)
	writeNode := func(indent string, d drawn) {
		n := d.n
		attrs := ""
		switch styleOf(n) {
		case styleCallback:
			attrs = `, peripheries=2, fillcolor="#dbeafe", color="#1d4ed8"`
		case styleBranch:
			attrs = `, shape=diamond, style="filled,dashed", fillcolor="#fef3c7", color="#b45309"`
		case styleSet:
			attrs = `, shape=parallelogram, style="filled,dashed", fillcolor="#fef3c7", color="#b45309"`
		case styleEnd:
			attrs = `, shape=octagon, style=filled, fillcolor="#fee2e2", color="#b91c1c"`
		case styleSubflow:
			attrs = `, shape=component, style=filled, fillcolor="#ede9fe", color="#6d28d9"`
		}
		fmt.Fprintf(&b, "%s%s [label=%s%s];\n", indent, dotQuote(dotID(d.id)), dotQuote(n.ID+"\n"+n.Kind.Name), attrs)
	}
	writeNested(nodes, clusters, writeNode, func(indent string, _ int, cl diagramCluster) {
		fmt.Fprintf(&b, "%ssubgraph %s {\n", indent, dotQuote("cluster_"+cl.caller))
		fmt.Fprintf(&b, "%s  label=%s;\n%s  style=\"rounded,dashed\";\n%s  color=\"#6d28d9\";\n", indent, dotQuote("subflow "+cl.g.Name+" ("+cl.caller+")"), indent, indent)
	}, func(indent string) { fmt.Fprintf(&b, "%s}\n", indent) })
	fmt.Fprintf(&b, "  \"start\" -> %s;\n", dotQuote(dotID(g.Start.ID)))
	if g.OnError != nil {
		fmt.Fprintf(&b, "  \"on_error\" -> %s [style=dashed];\n", dotQuote(dotID(g.OnError.ID)))
	}
	diagramArrows(nodes, clusters, func(from, to string, labels []string) {
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", dotQuote(dotID(from)), dotQuote(dotID(to)), dotQuote(strings.Join(labels, "\n")))
	}, func(caller, start string) {
		fmt.Fprintf(&b, "  %s -> %s [style=dashed, label=\"runs\"];\n", dotQuote(dotID(caller)), dotQuote(dotID(start)))
	})
	b.WriteString("}\n")
	return []byte(b.String())
}

// dotID names a node in DOT apart from the start and on_error markers,
// which are not valid node ids.
func dotID(id string) string { return "node:" + id }

// dotQuote writes a DOT quoted string; \n in s becomes a centred line break.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
