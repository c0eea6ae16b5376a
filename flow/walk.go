package flow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/flowd-dev/flowd/internal/wallclock"
	"github.com/flowd-dev/flowd/xmlgen"
)

// Walking is the whole of flowd's call logic: from where the call stands,
// evaluate logic nodes on the server, append verbs in order, and stop at
// the first verb that calls back. The runtime, `flowd render` and
// `flowd test` all walk through here, so what a test proves is what a
// caller gets.

// The callback events a node's URL reports.
const (
	EventAction  = "action"   // GetDigits/GetInput/Dial/Record action URL
	EventNoInput = "no_input" // flowd's Redirect after GetDigits/GetInput
	EventExit    = "exit"     // Conference action, MultiPartyCall onExitActionUrl
)

// MaxSteps bounds the nodes one webhook may walk. The checker rejects
// loops without a callback; this is the second line of defence.
const MaxSteps = 1000

// State is the part of a call the walker reads and changes. The runtime
// stores it between webhooks.
type State struct {
	Call   map[string]string            // the answer request's parameters
	Vars   map[string]any               // per-call variables
	Nodes  map[string]map[string]string // per node, its last callback's parameters
	Params map[string]any               // the flow's deployment values (ResolveParams); only read
	// Frames are the subflows the call is inside, innermost last; Vars
	// and Nodes above are the call's flow's own.
	Frames []Frame
	// SharedVars says Vars is the flow's own initial vars, which other
	// calls read too (Graph.SharedVars): the walker sets a var in a copy,
	// which then is Vars, with SharedVars false.
	SharedVars bool
}

// ownVars makes st.Vars the call's own before a var is set in it.
func (st *State) ownVars() {
	if st.SharedVars {
		st.Vars, st.SharedVars = maps.Clone(st.Vars), false
	}
}

// NewState returns the state of a new call of g with params from
// ResolveParams; nil means the defaults.
func (g *Graph) NewState(call map[string]string, params map[string]any) *State {
	if params == nil {
		params, _ = g.ResolveParams(nil)
	}
	return &State{Call: call, Vars: g.InitialVars(), Nodes: map[string]map[string]string{}, Params: params}
}

// Result is what one webhook's walk produced.
type Result struct {
	XML  []byte   // the Plivo XML to answer with; valid until the Walker is reused
	Path []string // the nodes walked, in order
	// Edges are the edges taken, in order, including the outcome edge a
	// callback resumed from: coverage reads them.
	Edges []Taken
	// Wait is the node whose callback the document ends at; nil when the
	// flow ended (the document ends with Hangup, Redirect or nothing more).
	// WaitAt names it as Path does (check_pin/ask inside a subflow), and
	// Frames are the subflows it is inside: the call's state keeps both.
	Wait   *Node
	WaitAt string
	Frames []Frame
	// Rooms are the MultiPartyCalls the document joins, by node: the
	// trigger API adds participants to them.
	Rooms []Room
	// RESTErr is the last REST action of the walk that failed; the flow
	// took its error outcome. The runtime logs it.
	RESTErr error
	// Err is a run-time error that was handled: the call went to on_error
	// or to the built-in apology. The runtime logs it.
	Err error
	// Aborted is the error of Walker.Effect that stopped the walk before a
	// side effect: the result is void (no XML) and nothing was done.
	Aborted error
	// Requests are the requests the walk's http nodes made, as the trace
	// keeps them.
	Requests []Request
}

// Taken is an edge the walk took: from a node, by a label that names the
// edge as Node.Edges does ("next", an outcome, or "case N").
type Taken struct {
	From  string `json:"from"`
	Label string `json:"label"`
}

// Edge labels for branch cases.
func caseLabel(i int) string { return "case " + strconv.Itoa(i+1) }

// Room is a MultiPartyCall a node joined, with its name as rendered.
type Room struct {
	Node string `json:"node"`
	Name string `json:"name"`
}

// Ended reports whether the call has nowhere more to go in the flow.
func (r *Result) Ended() bool { return r.Wait == nil }

// RunError is a run-time failure at a node: an expression that failed or a
// value Plivo would refuse.
type RunError struct {
	Flow, Node string
	Pos        Pos
	Err        error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("flow %s, node %s (%s): %v", e.Flow, e.Node, e.Pos, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// Walker walks graphs. It keeps buffers between walks, so reuse one per
// goroutine (a sync.Pool in the runtime); it is not safe for concurrent use.
type Walker struct {
	// URL returns flowd's callback URL for a node, named as Result.Path
	// names it, and an event. It must be absolute: Plivo follows it.
	URL func(node, event string) string
	// Now is the flow's clock for hours() and now(); zero means wallclock.Now.
	Now time.Time
	// REST performs REST actions (add_participant, ...); nil makes them
	// take their error outcome. Context bounds their requests.
	REST    REST
	Context context.Context
	// HTTP makes the requests of http nodes; nil makes them take their
	// error outcome.
	HTTP HTTP
	// RESTTimeout bounds the REST actions of one walk together, from the
	// first one on: Plivo is waiting for the walk's XML, and a request
	// that runs out takes the action's error outcome. Zero: only Context
	// bounds them.
	RESTTimeout time.Duration
	// Effect, when set, is called before each side effect of the walk (a
	// REST request): the runtime claims the step there, so copies of one
	// webhook make a request once. An error stops the walk at once with
	// Result.Aborted set, before the side effect.
	Effect func() error
	// Params returns the params of a subflow the walk enters (the call's
	// flow's are State.Params); nil: its defaults.
	Params func(*Graph) map[string]any

	vm    vm.VM
	doc   xmlgen.Document
	vals  []string
	path  []string
	edges []Taken
	env   map[string]any
	g     *Graph // the flow of the innermost frame
	state *State // the innermost frame's state
	// top is the call's state; gs the graphs of its frames, the call's
	// flow first; prefix qualifies the innermost frame's node ids.
	top    *State
	gs     []*Graph
	prefix string
	// private is set when a log: false input resumed the walk: input holds
	// what the caller entered, and entered its non-empty values.
	private bool
	entered []string
	// last is the node the walk reached last, which a document's error
	// (too large for Plivo) is reported at.
	last *Node
	// restErr is the last REST failure of the walk, reported in Result.
	restErr error
	// requests are the http nodes' requests of the walk (Result.Requests).
	requests []Request
	// nodesView is what expressions see as nodes when the flow has nodes
	// of a viewer kind (http: its answer parsed); nil otherwise, and nodes
	// is the call's state itself.
	nodesView map[string]any
	// restDeadline ends the walk's REST actions (RESTTimeout after the
	// first); zero until one runs.
	restDeadline time.Time
	rooms        []Room
	now          time.Time // the clock of the current walk
	buf          []byte    // a template's text being built
}

// apology is answered when a run-time error has no on_error node to go to.
var apology = mustPrepare(&xmlgen.El{Name: "Speak", Text: ptr(xmlgen.Const("We are sorry, something went wrong. Goodbye."))})
var hangup = mustPrepare(&xmlgen.El{Name: "Hangup"})

// ApologyXML is the apology as a whole document: what the runtime answers
// a call it cannot go on with at all (its session store failed).
var ApologyXML = func() []byte {
	var d xmlgen.Document
	_ = d.Add(apology, nil)
	_ = d.Add(hangup, nil)
	b, _ := d.Bytes()
	return b
}()

func ptr[T any](v T) *T { return &v }

func mustPrepare(e *xmlgen.El) *xmlgen.Template {
	t, err := xmlgen.Prepare(e)
	if err != nil {
		panic(err)
	}
	return t
}

// Answer walks a new call from the flow's start.
func (w *Walker) Answer(g *Graph, st *State) Result {
	w.begin(g, st, nil)
	return w.walk(g.Start)
}

// Resume walks on from node at, which the call was waiting at, after
// Plivo called back with event and params. The outcome comes from the
// callback of at's kind that event stands for, and for Dial from its
// DialStatus ("Edges and outcomes" in the package documentation).
func (w *Walker) Resume(g *Graph, st *State, at *Node, event string, params map[string]string) Result {
	w.begin(g, st, params)
	w.private = at.Private
	w.entered = w.entered[:0]
	if at.Private {
		for _, p := range enteredParams {
			if v := params[p]; v != "" {
				w.entered = append(w.entered, v)
			}
		}
	} else {
		// log: false — what the caller entered is read by this walk's
		// input.* and kept nowhere.
		w.state.Nodes[at.ID] = params
		w.setNodeView(at.ID, params)
	}
	next := Outcome(at, event, params)
	if next != nil {
		label := "next"
		if o := OutcomeName(at, event, params); at.On[o] == next && at.On[o] != nil {
			label = o
		}
		w.edges = append(w.edges, Taken{From: w.qualify(at.ID), Label: label})
	}
	return w.walk(next)
}

// Render walks from a given node, as if the call had just arrived there.
func (w *Walker) Render(g *Graph, st *State, from *Node) Result {
	st.Frames = nil
	w.begin(g, st, nil)
	return w.walk(from)
}

// Outcome returns the node a callback leads to, or nil when the flow ends.
func Outcome(at *Node, event string, params map[string]string) *Node {
	outcome := ""
	if c, ok := at.Kind.callback(event); ok {
		outcome = c.outcome(params)
	}
	if t, ok := at.On[outcome]; ok && outcome != "" {
		return t
	}
	return at.Next
}

// OutcomeName returns the outcome a callback reports, for traces: "next"
// when the callback stands for no outcome of its kind — Plivo's
// DialStatus "completed" is one, a missing or undocumented value
// ("cancel", "Completed") is not, and the walk takes next for it.
func OutcomeName(at *Node, event string, params map[string]string) string {
	c, ok := at.Kind.callback(event)
	if !ok {
		return "next"
	}
	o := c.outcome(params)
	if o == "" || (!at.Kind.traits.openOutcomes && !at.Kind.HasOutcome(o)) {
		return "next"
	}
	return o
}

func (w *Walker) begin(g *Graph, st *State, input map[string]string) {
	w.top = st
	w.private, w.last = false, nil
	w.doc.Reset()
	w.path = w.path[:0]
	w.edges = w.edges[:0]
	w.restErr, w.restDeadline = nil, time.Time{}
	w.requests = w.requests[:0]
	w.rooms = w.rooms[:0]
	if input == nil {
		input = emptyInput
	}
	w.now = w.Now
	if w.now.IsZero() {
		w.now = wallclock.Now()
	}
	// The environment map and its functions are made once per Walker and
	// refilled on each webhook: building them was a third of a walk.
	if w.env == nil {
		w.env = map[string]any{
			"hours": func(spec, tz string) bool {
				ok, err := hoursAt(spec, tz, w.now)
				if err != nil {
					panic(err) // expr turns a panic in a function into a run error
				}
				return ok
			},
			"now":      func() time.Time { return w.now },
			"urlquery": urlQuery,
		}
	}
	w.env["call"], w.env["input"] = st.Call, input
	// The subflows the call is inside, from its flow down: each frame's
	// calling node names the next graph.
	w.gs = append(w.gs[:0], g)
	for i, fr := range st.Frames {
		sub := (*Graph)(nil)
		if n := w.gs[i].byID[fr.Node]; n != nil {
			sub = w.gs[i].Subflow(n)
		}
		if sub == nil {
			// Not a state of this version (it is pinned, so never seen):
			// walk on from the frames that are.
			st.Frames = st.Frames[:i]
			break
		}
		w.gs = append(w.gs, sub)
	}
	w.enter()
}

// emptyInput is the input of a walk that no callback resumed;
// expressions only read it.
var emptyInput = map[string]string{}

// errAborted wraps the error of Effect that stops a walk.
type errAborted struct{ err error }

func (e errAborted) Error() string { return "walk stopped before a side effect: " + e.err.Error() }

// effect asks Walker.Effect whether the walk may make a side effect.
func (w *Walker) effect() error {
	if w.Effect == nil {
		return nil
	}
	if err := w.Effect(); err != nil {
		return errAborted{err}
	}
	return nil
}

func (w *Walker) walk(n *Node) Result {
	res, err := w.steps(n)
	if err == nil {
		return res
	}
	err = w.hideSecrets(err)
	if ab, ok := err.(errAborted); ok {
		return Result{Path: w.path, Aborted: ab.err}
	}
	// A run-time error: start the document again at on_error, once: the
	// innermost subflow's that has one, else the call's flow's.
	for w.g.OnError == nil && len(w.top.Frames) > 0 {
		w.leave()
	}
	if on := w.g.OnError; on != nil {
		w.doc.Reset()
		res, err2 := w.steps(on)
		if err2 == nil {
			res.Err = err
			return res
		}
		err2 = w.hideSecrets(err2)
		if ab, ok := err2.(errAborted); ok {
			return Result{Path: w.path, Aborted: ab.err}
		}
		err = errors.Join(err, err2)
	}
	w.doc.Reset()
	_ = w.doc.Add(apology, nil)
	_ = w.doc.Add(hangup, nil)
	xml, _ := w.doc.Bytes()
	return Result{XML: xml, Path: w.path, Edges: w.edges, Err: err}
}

func (w *Walker) steps(n *Node) (Result, error) {
	for steps := 0; ; steps++ {
		if n == nil {
			if len(w.top.Frames) == 0 {
				break
			}
			// A node with no edge inside a subflow: it returns ok.
			n = w.pop(OutcomeOK, nil).to
			continue
		}
		if steps == MaxSteps {
			return Result{}, &RunError{Flow: w.g.Name, Node: w.qualify(n.ID), Pos: n.Pos, Err: fmt.Errorf("walked %d nodes in one webhook without waiting for Plivo: the flow loops, or its chain is longer than that", MaxSteps)}
		}
		w.path = append(w.path, w.qualify(n.ID))
		w.last = n
		st, err := n.Kind.behavior.step(w, n)
		if err != nil {
			return Result{}, err
		}
		if st.wait {
			return w.finish(n)
		}
		if st.end {
			break
		}
		if st.to != nil && st.label != "" {
			w.edges = append(w.edges, Taken{From: w.qualify(n.ID), Label: st.label})
		}
		n = st.to
	}
	return w.finish(nil)
}

// enteredParams are the callback parameters that carry what a caller
// entered at GetDigits or GetInput.
var enteredParams = []string{"Digits", "Speech"}

// hideSecrets returns a run-time error that quotes no secret: when its
// message holds the value of a secret param, or what the caller entered at
// a log: false input in this walk (expr quotes the values it fails on:
// int("12*4")), the message is withheld — the error keeps its flow, node
// and position. Replacing the value alone would not do: what is left
// around it can give it away ("<secret>-02-30" for February 30), and a
// short value would garble the rest.
func (w *Walker) hideSecrets(err error) error {
	quoted := func(msg string) bool {
		for _, v := range w.entered {
			if strings.Contains(msg, v) {
				return true
			}
		}
		for i, g := range w.gs {
			var values map[string]any
			for j := range g.Params {
				p := &g.Params[j]
				if !p.Secret {
					continue
				}
				if values == nil {
					values = w.top.Params
					if i > 0 || values == nil {
						values = w.paramsOf(g)
					}
				}
				if v := Format(values[p.Name]); v != "" && strings.Contains(msg, v) {
					return true
				}
			}
		}
		return false
	}
	const withheld = "its message is withheld: it quotes a secret param or what the caller entered at a log: false input"
	if re, ok := err.(*RunError); ok {
		if quoted(re.Err.Error()) {
			return &RunError{Flow: re.Flow, Node: re.Node, Pos: re.Pos, Err: errors.New(withheld)}
		}
		return err
	}
	if quoted(err.Error()) {
		return errors.New("a run-time error: " + withheld)
	}
	return err
}

func (w *Walker) finish(wait *Node) (Result, error) {
	xml, err := w.doc.Bytes()
	if err != nil {
		re := &RunError{Flow: w.g.Name, Node: w.path[len(w.path)-1], Err: err}
		if w.last != nil {
			re.Pos = w.last.Pos
		}
		return Result{}, re
	}
	res := Result{XML: xml, Path: w.path, Edges: w.edges, Wait: wait, RESTErr: w.restErr, Rooms: w.rooms, Requests: w.requests}
	if wait != nil {
		res.WaitAt, res.Frames = w.qualify(wait.ID), w.top.Frames
	}
	return res, nil
}

func (w *Walker) fail(n *Node, err error) error {
	return &RunError{Flow: w.g.Name, Node: w.qualify(n.ID), Pos: n.Pos, Err: err}
}

func (w *Walker) template(parts []TmplPart) (string, error) {
	if len(parts) == 1 && parts[0].Expr != nil {
		v, err := w.vm.Run(parts[0].Expr.prog, w.env)
		if err != nil {
			return "", fmt.Errorf("{{ %s }}: %w", parts[0].Expr.Src, err)
		}
		return Format(v), nil
	}
	w.buf = w.buf[:0]
	for _, p := range parts {
		if p.Expr == nil {
			w.buf = append(w.buf, p.Lit...)
			continue
		}
		v, err := w.vm.Run(p.Expr.prog, w.env)
		if err != nil {
			return "", fmt.Errorf("{{ %s }}: %w", p.Expr.Src, err)
		}
		w.buf = appendFormat(w.buf, v)
	}
	return string(w.buf), nil
}

// setNodeView shows a node's kept parameters to expressions, an http
// node's answer parsed.
func (w *Walker) setNodeView(id string, res map[string]string) {
	if w.nodesView == nil {
		return
	}
	if n := w.g.byID[id]; n != nil {
		if v, ok := n.Kind.behavior.(viewer); ok {
			w.nodesView[id] = v.view(res)
			return
		}
	}
	w.nodesView[id] = res
}
