package flow_test

import (
	"reflect"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestLayOut places every example flow (and the diagram test flows): each
// node once, boxes apart, inside the drawing, layered by distance from
// start; every arrow runs from its tail's box to its head's; and the same
// graph is placed the same way twice.
func TestLayOut(t *testing.T) {
	for name, g := range diagramFlows(t) {
		l := flow.LayOut(g)
		if again := flow.LayOut(g); !reflect.DeepEqual(l, again) {
			t.Errorf("%s: two layouts of the same graph differ", name)
		}
		if len(l.Nodes) != len(g.Nodes) {
			t.Errorf("%s: %d boxes for %d nodes", name, len(l.Nodes), len(g.Nodes))
		}
		boxes := map[string]flow.LayoutNode{}
		for _, n := range l.Nodes {
			if _, dup := boxes[n.ID]; dup {
				t.Errorf("%s: node %s placed twice", name, n.ID)
			}
			boxes[n.ID] = n
			if n.X < 0 || n.Y < 0 || n.X+n.W > l.Width || n.Y+n.H > l.Height {
				t.Errorf("%s: node %s at %d,%d (%dx%d) outside %dx%d", name, n.ID, n.X, n.Y, n.W, n.H, l.Width, l.Height)
			}
			if n.Style == "" || n.Kind == "" {
				t.Errorf("%s: node %s has no style or kind", name, n.ID)
			}
		}
		for i, a := range l.Nodes {
			for _, b := range l.Nodes[i+1:] {
				if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
					t.Errorf("%s: boxes %s and %s overlap", name, a.ID, b.ID)
				}
			}
		}
		if start := boxes[g.Start.ID]; start.Layer != 0 {
			t.Errorf("%s: start node %s in layer %d", name, g.Start.ID, start.Layer)
		}
		for _, n := range g.Nodes {
			for _, e := range n.Edges() {
				from, to := boxes[n.ID], boxes[e.To.ID]
				if to.Layer > from.Layer+1 && to.Layer <= len(g.Nodes) && reachesFromStart(g, n) {
					t.Errorf("%s: edge %s → %s skips from layer %d to %d: not breadth first", name, n.ID, e.To.ID, from.Layer, to.Layer)
				}
			}
		}
		markers := map[string]bool{}
		for _, m := range l.Markers {
			markers[m.Name] = true
		}
		if !markers["start"] || markers["on_error"] != (g.OnError != nil) {
			t.Errorf("%s: markers %v", name, l.Markers)
		}
		for _, e := range l.Edges {
			if len(e.Points) < 2 {
				t.Errorf("%s: edge %s → %s has %d points", name, e.From, e.To, len(e.Points))
				continue
			}
			head := e.Points[len(e.Points)-1]
			if !onBox(boxes[e.To], head) {
				t.Errorf("%s: edge %s → %s ends at %v, off %s's box %+v", name, e.From, e.To, head, e.To, boxes[e.To])
			}
			if tail := e.Points[0]; e.From != "start" && e.From != "on_error" && !onBox(boxes[e.From], tail) {
				t.Errorf("%s: edge %s → %s starts at %v, off %s's box", name, e.From, e.To, tail, e.From)
			}
			for _, p := range e.Points {
				if p[0] < 0 || p[1] < 0 || p[0] > l.Width || p[1] > l.Height {
					t.Errorf("%s: edge %s → %s leaves the drawing at %v", name, e.From, e.To, p)
				}
			}
			if e.From != "start" && e.From != "on_error" && (e.Label == "" || e.LabelAnchor == "") {
				t.Errorf("%s: edge %s → %s has no label", name, e.From, e.To)
			}
		}
	}
}

// onBox reports whether p is on the edge of the box.
func onBox(b flow.LayoutNode, p [2]int) bool {
	x, y := p[0], p[1]
	inX, inY := x >= b.X && x <= b.X+b.W, y >= b.Y && y <= b.Y+b.H
	return (inX && (y == b.Y || y == b.Y+b.H)) || (inY && (x == b.X || x == b.X+b.W))
}

func reachesFromStart(g *flow.Graph, n *flow.Node) bool {
	seen := map[*flow.Node]bool{g.Start: true}
	queue := []*flow.Node{g.Start}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		if m == n {
			return true
		}
		for _, e := range m.Edges() {
			if !seen[e.To] {
				seen[e.To] = true
				queue = append(queue, e.To)
			}
		}
	}
	return false
}
