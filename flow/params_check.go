package flow

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/yamlpos"
)

// paramReads warns of input.X and nodes.<id>.X that no callback sends
// there: input holds the parameters of the callback that resumed the walk,
// so at a node, input.X can be any parameter of the callbacks of the nodes
// the walk waited at before reaching it in the same document; nodes.<id>.X
// any parameter of node id's callbacks. Plivo's standard call parameters
// and X-PH-*/SIP-H-* headers come with every callback.
//
// A node no callback leads to (one the answer reaches) has an empty input;
// reading it there is left alone, as is any read when a kind's callbacks
// are not known (REST actions keep their own results in nodes.<id>).
func (c *checker) paramReads() {
	if len(c.reads) == 0 {
		return
	}
	f := c.f
	// resumers[n] are the nodes whose callbacks can resume a walk that
	// reaches n before it waits again.
	resumers := map[*NodeDecl][]*NodeDecl{}
	// A run-time error anywhere in a walk goes on at the flow's on_error
	// node: every callback's walk can reach it and what it passes to.
	onError := map[*NodeDecl]bool{}
	if f.OnError != nil {
		if n := f.nodeByID[f.OnError.Name]; n != nil {
			onError[n] = true
			if n.passes() {
				maps.Copy(onError, f.reach(n, (*NodeDecl).passes))
			}
		}
	}
	for _, w := range f.Nodes {
		if w.Kind == nil || len(w.Kind.Callbacks) == 0 || w.passes() {
			continue
		}
		reached := f.reach(w, (*NodeDecl).passes)
		maps.Copy(reached, onError)
		for n := range reached {
			resumers[n] = append(resumers[n], w)
		}
	}
	for _, rd := range c.reads {
		if rd.from == "" && !secretsReadable(rd.ctx) {
			c.privateRead(rd, resumers[rd.node], onError[rd.node])
		}
		if rd.param == "" {
			continue // input as a whole: any parameter
		}
		if isStandardParam(rd.param) {
			continue
		}
		if rd.from != "" {
			from := f.nodeByID[rd.from]
			if from == nil || from.Kind == nil {
				continue
			}
			if len(from.Kind.Callbacks) == 0 {
				if keeps := from.Kind.Keeps; len(keeps) > 0 && !slices.Contains(keeps, rd.param) {
					c.d.Warnf(rd.pos, CodeUnknownParam, "nodes.%s.%s is never set: %s keeps %s%s",
						rd.from, rd.param, from.Kind.Name, strings.Join(keeps, ", "), yamlpos.DidYouMean(rd.param, keeps))
				}
				continue
			}
			sent := callbackParams(from)
			if !slices.Contains(sent, rd.param) {
				c.d.Warnf(rd.pos, CodeUnknownParam, "nodes.%s.%s is never set: %s's callback sends %s (and the call's standard parameters)%s",
					rd.from, rd.param, from.Kind.Name, strings.Join(sent, ", "), yamlpos.DidYouMean(rd.param, append(slices.Clone(sent), StandardParams...)))
			}
			continue
		}
		ws := resumers[rd.node]
		if len(ws) == 0 {
			continue
		}
		var sent, kinds []string
		for _, w := range ws {
			for _, p := range callbackParams(w) {
				if !slices.Contains(sent, p) {
					sent = append(sent, p)
				}
			}
			if !slices.Contains(kinds, w.Kind.Name) {
				kinds = append(kinds, w.Kind.Name)
			}
		}
		if slices.Contains(sent, rd.param) {
			continue
		}
		what := "no parameters of its own"
		if len(sent) > 0 {
			what = strings.Join(sent, ", ")
		}
		c.d.Warnf(rd.pos, CodeUnknownParam, "input.%s is never set at node %s: the walk reaches it after %s, whose callback sends %s (and the call's standard parameters)%s",
			rd.param, rd.node.ID, strings.Join(kinds, " or "), what, yamlpos.DidYouMean(rd.param, append(sent, StandardParams...)))
	}
}

// callbackParams lists the parameters the callbacks of node n's kind send
// besides the standard ones.
func callbackParams(n *NodeDecl) []string {
	var out []string
	for _, cb := range n.Kind.Callbacks {
		for _, p := range cb.Params {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// privateRead reports a read of input, in a place where it would be
// written (the XML, vars, a return value), by a walk that a log: false
// input can resume: input is then what the caller entered, which is kept
// nowhere.
func (c *checker) privateRead(rd paramRead, resumers []*NodeDecl, afterError bool) {
	for _, w := range resumers {
		if !w.private() {
			continue
		}
		what := "input"
		if rd.param != "" {
			what += "." + rd.param
		}
		why := ""
		if afterError {
			why = fmt.Sprintf(" (a run-time error in the walk its callback resumes goes on at on_error %s)", c.f.OnError.Name)
		}
		c.d.Errorf(rd.pos, CodeSecret, "%s at node %s is what the caller entered at %s %s, %s%s: it may be read only in a when: condition or an http node's url, headers and body, not in %s, where it would be written to the XML, the call's state or Plivo",
			what, rd.node.ID, w.Kind.Name, w.ID, w.saysPrivate(), why, secretPlace(rd.ctx))
		return
	}
}
