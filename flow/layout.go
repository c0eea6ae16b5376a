package flow

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// A Layout is a diagram already placed: boxes and arrows with their
// coordinates, for a program that draws them itself (flowd serve's
// console draws it as SVG in the browser, with each node's counts on its
// box). It draws what Mermaid and DOT draw — the same nodes, styles and
// edge labels (diagramEdges, styleOf) — but where those leave placing to
// their renderers, Layout places: nodes in layers by their distance from
// start (breadth first, so the way most calls go reads from top to
// bottom), each layer ordered to follow its parents. Arrows that go down
// run from the bottom of one box to the top of the other; arrows that go
// back up or sideways (a retry loop) run around the right of the drawing,
// each in a lane of its own. Coordinates are in CSS pixels and depend only
// on the graph.
type Layout struct {
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Nodes  []LayoutNode `json:"nodes"`
	Edges  []LayoutEdge `json:"edges"`
	// Markers are the start and on_error circles.
	Markers []LayoutMarker `json:"markers"`
}

// LayoutNode is a node's box: X and Y are its top left corner.
type LayoutNode struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Style string `json:"style"` // verb, callback, branch, set or end, as the other diagrams tell them apart
	Layer int    `json:"layer"`
	X     int    `json:"x"`
	Y     int    `json:"y"`
	W     int    `json:"w"`
	H     int    `json:"h"`
}

// LayoutEdge is an arrow: the edges of a node that lead to the same node,
// as one, labelled with their outcomes. Points run from its tail to its
// head; the label goes at LabelX, LabelY.
type LayoutEdge struct {
	From   string   `json:"from"` // a node id, or "start" / "on_error" for a marker's arrow
	To     string   `json:"to"`
	Label  string   `json:"label"`
	Back   bool     `json:"back"` // it goes back up or sideways: drawn around the right
	Points [][2]int `json:"points"`
	LabelX int      `json:"label_x"`
	LabelY int      `json:"label_y"`
	// LabelAnchor is the SVG text-anchor of the label (start, middle or
	// end): labels of arrows that lean left end where those leaning right
	// begin, so the labels of a node's arrows do not run into each other.
	LabelAnchor string `json:"label_anchor"`
	Dashed      bool   `json:"dashed"` // the on_error arrow
}

// LayoutMarker is the start or on_error circle, centred at X, Y.
type LayoutMarker struct {
	Name string `json:"name"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
	R    int    `json:"r"`
}

// The measures of a layout. A box holds four lines: the node id, its
// kind, and two lines the drawing program fills (the console's counts).
const (
	layoutMargin  = 40
	layoutBoxH    = 76
	layoutMinBoxW = 176
	layoutCharW   = 8 // of the id, in the console's font, generously
	layoutGapX    = 40
	layoutGapY    = 84
	layoutLane    = 18
	layoutMarkerR = 14
	layoutMaxID   = 40 // runes of an id or kind a box shows whole
)

var styleNames = [...]string{
	styleUnset:    "verb",
	styleVerb:     "verb",
	styleCallback: "callback",
	styleBranch:   "branch",
	styleSet:      "set",
	styleEnd:      "end",
	styleSubflow:  "subflow",
}

// LayOut places the flow's diagram.
func LayOut(g *Graph) *Layout {
	layer := layers(g)
	// Nodes of each layer in the order breadth first search met them,
	// then reordered to follow their parents (one barycentre pass).
	var rows [][]*Node
	for _, n := range bfsOrder(g) {
		l := layer[n]
		for len(rows) <= l {
			rows = append(rows, nil)
		}
		rows[l] = append(rows[l], n)
	}
	boxes := map[*Node]*LayoutNode{}
	out := &Layout{Nodes: []LayoutNode{}, Edges: []LayoutEdge{}, Markers: []LayoutMarker{}}
	top := layoutMargin + 2*layoutMarkerR + layoutGapY/2
	width := 0
	for _, row := range rows {
		w := -layoutGapX
		for _, n := range row {
			w += boxWidth(n) + layoutGapX
		}
		width = max(width, w)
	}
	for l, row := range rows {
		if l > 0 {
			order := map[*Node]int{}
			for i, n := range row {
				order[n] = i
			}
			key := func(n *Node) float64 {
				var sum, k float64
				for _, p := range rows[l-1] {
					for _, e := range diagramEdges(p) {
						if e.To == n {
							b := boxes[p]
							sum += float64(b.X + b.W/2)
							k++
						}
					}
				}
				if k == 0 {
					return float64(1 << 30) // no parent above: keep at the end, in order
				}
				return sum / k
			}
			slices.SortStableFunc(row, func(a, b *Node) int {
				ka, kb := key(a), key(b)
				switch {
				case ka < kb:
					return -1
				case ka > kb:
					return 1
				}
				return order[a] - order[b]
			})
		}
		w := -layoutGapX
		for _, n := range row {
			w += boxWidth(n) + layoutGapX
		}
		x := layoutMargin + (width-w)/2
		y := top + l*(layoutBoxH+layoutGapY)
		for _, n := range row {
			b := &LayoutNode{ID: n.ID, Kind: n.Kind.Name, Style: styleNames[styleOf(n)], Layer: l, X: x, Y: y, W: boxWidth(n), H: layoutBoxH}
			boxes[n] = b
			x += b.W + layoutGapX
		}
	}
	for _, n := range g.Nodes {
		if b := boxes[n]; b != nil {
			out.Nodes = append(out.Nodes, *b)
		}
	}
	right := layoutMargin + width
	bottom := top + len(rows)*(layoutBoxH+layoutGapY) - layoutGapY

	// The markers: start above its node; on_error to the left of its.
	sb := boxes[g.Start]
	out.Markers = append(out.Markers, LayoutMarker{Name: "start", X: sb.X + sb.W/2, Y: layoutMargin + layoutMarkerR, R: layoutMarkerR})
	out.Edges = append(out.Edges, LayoutEdge{From: "start", To: g.Start.ID,
		Points: [][2]int{{sb.X + sb.W/2, layoutMargin + 2*layoutMarkerR}, {sb.X + sb.W/2, sb.Y}}})
	if g.OnError != nil {
		eb := boxes[g.OnError]
		// In the gap left of its box, by the box's top.
		mx, my := eb.X-layoutGapX/2, eb.Y+layoutMarkerR+2
		out.Markers = append(out.Markers, LayoutMarker{Name: "on_error", X: mx, Y: my, R: layoutMarkerR})
		out.Edges = append(out.Edges, LayoutEdge{From: "on_error", To: g.OnError.ID, Dashed: true,
			Points: [][2]int{{mx + layoutMarkerR, my}, {eb.X, my}}})
	}

	// The arrows. Each box hands out its bottom to its downward arrows
	// and its top to the arrows that come in from above, spread evenly.
	type arrow struct {
		e    diagramEdge
		back bool
	}
	var arrows []arrow
	outs, ins := map[*Node]int{}, map[*Node]int{}
	for _, n := range g.Nodes {
		for _, e := range diagramEdges(n) {
			if boxes[e.From] == nil || boxes[e.To] == nil {
				continue
			}
			a := arrow{e: e, back: layer[e.To] <= layer[e.From]}
			arrows = append(arrows, a)
			if !a.back {
				outs[e.From]++
				ins[e.To]++
			}
		}
	}
	if g.Start != nil {
		ins[g.Start]++ // the start marker's arrow
	}
	usedOut, usedIn := map[*Node]int{}, map[*Node]int{}
	if g.Start != nil {
		usedIn[g.Start]++
		// The start arrow takes the middle: move it there.
		if k := ins[g.Start]; k > 1 {
			out.Edges[0].Points[1][0] = slot(sb.X, sb.W, 1, k)
			out.Edges[0].Points[0][0] = out.Edges[0].Points[1][0]
			out.Markers[0].X = out.Edges[0].Points[1][0]
		}
	}
	lane := 0
	gapLabels := map[int]int{}
	for _, a := range arrows {
		from, to := boxes[a.e.From], boxes[a.e.To]
		le := LayoutEdge{From: a.e.From.ID, To: a.e.To.ID, Label: strings.Join(a.e.Labels, ", "), Back: a.back}
		if !a.back {
			usedOut[a.e.From]++
			usedIn[a.e.To]++
			x0 := slot(from.X, from.W, usedOut[a.e.From], outs[a.e.From])
			x1 := slot(to.X, to.W, usedIn[a.e.To], ins[a.e.To])
			y0, y1 := from.Y+from.H, to.Y
			if layer[a.e.To]-layer[a.e.From] == 1 {
				le.Points = [][2]int{{x0, y0}, {x0, y0 + layoutGapY/3}, {x1, y1 - layoutGapY/3}, {x1, y1}}
				// The labels of a gap take turns at three heights.
				k := gapLabels[layer[a.e.From]]
				gapLabels[layer[a.e.From]]++
				le.LabelX, le.LabelY = (x0+x1)/2, (y0+y1)/2+4+(k%3-1)*12
			} else {
				// Across layers: down to the gap under the tail, across to the
				// head's column, down the side of the layers between.
				le.Points = [][2]int{{x0, y0}, {x0, y0 + layoutGapY/3}, {x1, y0 + layoutGapY/3}, {x1, y1}}
				le.LabelX, le.LabelY = x0, y0+layoutGapY/3-4
			}
			switch {
			case x1 < x0:
				le.LabelX, le.LabelAnchor = le.LabelX-6, "end"
			case x1 > x0:
				le.LabelX, le.LabelAnchor = le.LabelX+6, "start"
			default:
				le.LabelX, le.LabelAnchor = le.LabelX+4, "start"
			}
		} else if side := beside(rows[layer[a.e.From]], a.e.From, a.e.To); side != 0 {
			// To a neighbour in the same layer: straight across.
			y := from.Y + from.H/2 + 10
			x0, x1 := from.X, to.X+to.W
			if side > 0 {
				x0, x1 = from.X+from.W, to.X
			}
			le.Points = [][2]int{{x0, y}, {x1, y}}
			le.LabelX, le.LabelY, le.LabelAnchor = (x0+x1)/2, y-5, "middle"
		} else {
			lane++
			lx := right + lane*layoutLane
			y0 := from.Y + from.H/2 + 8
			y1 := to.Y + to.H/2 - 8
			le.Points = [][2]int{{from.X + from.W, y0}, {lx, y0}, {lx, y1}, {to.X + to.W, y1}}
			le.LabelX, le.LabelY, le.LabelAnchor = from.X+from.W+4, y0-4, "start"
		}
		out.Edges = append(out.Edges, le)
	}
	out.Width = right + lane*layoutLane + layoutMargin + labelRoom(out.Edges, right)
	out.Height = bottom + layoutMargin
	return out
}

// beside says where to stands in the row next to from: -1 just left of
// it, 1 just right of it, 0 elsewhere.
func beside(row []*Node, from, to *Node) int {
	i, j := slices.Index(row, from), slices.Index(row, to)
	switch {
	case i < 0 || j < 0:
		return 0
	case j == i-1:
		return -1
	case j == i+1:
		return 1
	}
	return 0
}

// slot is the x of the i-th (1-based) of k arrows on a box's edge.
func slot(x, w, i, k int) int { return x + w*i/(k+1) }

// labelRoom is how far the labels of arrows drawn right of the boxes
// reach past them.
func labelRoom(edges []LayoutEdge, right int) int {
	room := 0
	for _, e := range edges {
		if end := e.LabelX + utf8.RuneCountInString(e.Label)*6 - right; end > room {
			room = end
		}
	}
	return room
}

// boxWidth fits a node's id and kind.
func boxWidth(n *Node) int {
	runes := max(min(utf8.RuneCountInString(n.ID), layoutMaxID), min(utf8.RuneCountInString(n.Kind.Name), layoutMaxID))
	return max(layoutMinBoxW, runes*layoutCharW+24)
}

// bfsOrder lists the nodes breadth first from start, then from on_error,
// then those neither reaches (unreachable nodes, which the checker warns
// of), in file order.
func bfsOrder(g *Graph) []*Node {
	seen := map[*Node]bool{}
	var order []*Node
	visit := func(root *Node) {
		if root == nil || seen[root] {
			return
		}
		seen[root] = true
		queue := []*Node{root}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			order = append(order, n)
			for _, e := range diagramEdges(n) {
				if !seen[e.To] {
					seen[e.To] = true
					queue = append(queue, e.To)
				}
			}
		}
	}
	visit(g.Start)
	visit(g.OnError)
	for _, n := range g.Nodes {
		visit(n)
	}
	return order
}

// layers gives each node its distance from start. Nodes start does not
// reach are layered below the deepest, from their own roots (on_error
// first).
func layers(g *Graph) map[*Node]int {
	layer := map[*Node]int{}
	base := 0
	from := func(root *Node) {
		if root == nil {
			return
		}
		if _, ok := layer[root]; ok {
			return
		}
		layer[root] = base
		queue := []*Node{root}
		deepest := base
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			deepest = max(deepest, layer[n])
			for _, e := range diagramEdges(n) {
				if _, ok := layer[e.To]; !ok {
					layer[e.To] = layer[n] + 1
					queue = append(queue, e.To)
				}
			}
		}
		base = deepest + 1
	}
	from(g.Start)
	from(g.OnError)
	for _, n := range g.Nodes {
		from(n)
	}
	return layer
}
