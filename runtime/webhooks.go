package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/jsonlog"
)

// The webhook kinds, for traces, logs and metrics.
const (
	hookAnswer   = "answer"
	hookCallback = "callback"
	hookHangup   = "hangup"
)

// answerKey marks a session whose last step was the answer webhook.
const answerKey = "answer"

// answer starts a call: a new session pinned to the flow's current
// version, walked from start.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	fr := routeFlow(r)
	g := fr.Current
	if g == nil {
		s.reject(w, r, http.StatusNotFound, "unknown flow "+strconv.Quote(fr.Name))
		return
	}
	p, id, ok := s.callParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	now := s.cfg.Now() // the call's start, for the pin, the state and the walk
	if err := s.pin(ctx, g, now); err != nil {
		s.storeFailed(w, r, id, err)
		return
	}
	wk := s.walker(r, g.Name, id, 1, now)
	defer s.putWalker(wk)
	// The new call's structures are the walker's own (putWalker clears
	// them), and so is what they are made from: a claim makes the state
	// again, as it was before the walk changed it (newCallArgs.encode).
	wk.newCall = newCallArgs{s: s, r: r, g: g, p: p, id: id, started: now.UTC().Truncate(time.Millisecond)}
	wk.state.Nodes = wk.nodes
	if err := wk.newCall.fill(&wk.sess, &wk.state); err != nil {
		s.reject(w, r, http.StatusBadRequest, "bad vars in the answer URL: "+err.Error())
		return
	}
	s.answerSession(w, r, wk, g)
}

// newCallArgs are what an answer makes its new call's state from, kept in
// its walker for a claim to make that state again (txn.pre): a closure
// over them was an allocation on every answer, and a claim on few.
type newCallArgs struct {
	s       *Server
	r       *http.Request
	g       *flow.Graph
	p       map[string]string
	id      string
	started time.Time
}

// fill makes *sess and *st the new call's state (Server.fillCall).
func (a *newCallArgs) fill(sess *CallState, st *flow.State) error {
	return a.s.fillCall(sess, st, a.r, a.g, a.p, a.id, a.started)
}

// encode encodes the new call's state as it was before the walk.
func (a *newCallArgs) encode() ([]byte, error) {
	var sess CallState
	if err := a.fill(&sess, new(flow.State)); err != nil {
		return nil, err
	}
	return encodeState(&sess)
}

// newCall makes a new call's state: its parameters p, the flow's initial
// vars and those the answer URL sets.
func (s *Server) newCall(r *http.Request, g *flow.Graph, p map[string]string, id string, started time.Time) (*CallState, *flow.State, error) {
	sess, st := new(CallState), new(flow.State)
	if err := s.fillCall(sess, st, r, g, p, id, started); err != nil {
		return nil, nil, err
	}
	return sess, st, nil
}

// fillCall makes *sess and *st a new call's state, as newCall returns
// it: for structures allocated or pooled already (an answer's walker's).
// st.Nodes, when not nil, is the empty map the state is to use.
func (s *Server) fillCall(sess *CallState, st *flow.State, r *http.Request, g *flow.Graph, p map[string]string, id string, started time.Time) error {
	nodes := st.Nodes
	if nodes == nil {
		nodes = map[string]map[string]string{}
	}
	*st = flow.State{Call: p, Nodes: nodes, Params: s.params(g)}
	var vars map[string]any
	if r.URL.RawQuery != "" { // else no vars: no query to parse for them
		if raw := r.URL.Query().Get("vars"); raw != "" {
			var err error
			if vars, err = DecodeVars(raw); err != nil {
				return err
			}
		}
	}
	// The flow's vars, shared until the walk sets one, when nothing in
	// them can change in place and the URL sets none; else a copy.
	if shared, ok := g.SharedVars(); ok && len(vars) == 0 {
		st.Vars, st.SharedVars = shared, true
	} else {
		st.Vars = g.InitialVars()
		for k, v := range vars {
			st.Vars[k] = v
		}
	}
	*sess = CallState{CallUUID: id, Flow: g.Name, Version: g.Version, Step: 1, Status: StatusLive, Key: answerKey,
		Call: p, Vars: st.Vars, Nodes: st.Nodes, Started: started}
	return nil
}

// answerSession walks a new call, wk.sess and wk.state (made from
// wk.newCall), from start with wk, a walker of its first step, and stores
// it; a claim stores the call's state as it was before the walk
// (wk.encodeNew).
func (s *Server) answerSession(w http.ResponseWriter, r *http.Request, wk *webhookWalker, g *flow.Graph) {
	sess, st := &wk.sess, &wk.state
	ctx, id := r.Context(), sess.CallUUID
	t := &wk.txn // putWalker releases it
	s.initTxn(t, ctx, id, 0, nil, true)
	t.pre = wk.encodeNew
	res := s.walkStep(wk, t, answerKey, func() flow.Result { return wk.Answer(g, st) })
	sess.Vars = st.Vars // a copy when the walk set a var in shared ones
	if res.Aborted == nil {
		at := s.record(sess, res)
		ts := answerStep(g, at, res)
		err := t.stepXML(&ts, res.XML)
		if err == nil {
			err = t.write(sess)
		}
		if err == nil {
			s.stepWritten(w, r, g, sess, res, hookAnswer, "", answerOutcome, false)
			return
		}
		if !errors.Is(err, ErrExists) && !errors.Is(err, ErrConflict) {
			s.storeFailed(w, r, id, err)
			return
		}
	} else if !errors.Is(res.Aborted, ErrExists) && !errors.Is(res.Aborted, ErrConflict) {
		s.storeFailed(w, r, id, res.Aborted)
		return
	}
	// Another copy of the answer stored the call first, or claimed it:
	// answer what it answers. Or this walk claimed the call and made side
	// effects, and an event or the hangup wrote since: answerAgain writes
	// the same walk on the call as it now is.
	var own ownWalk
	if res.Aborted == nil {
		own.keep(wk, res, g, st.Vars, st.Nodes)
	}
	s.answerAgain(w, r, id, &own)
}

// answerOutcome is the outcome of every answer step in a trace: the call
// was answered and its walk began.
const answerOutcome = "answer"

// answerStep is the trace's record of an answer: the node its walk
// started at (the flow's start) and the outcome answer. Its inputs, the
// answer's parameters, are the call's, which the state keeps already.
func answerStep(g *flow.Graph, at time.Time, res flow.Result) TraceStep {
	ts := TraceStep{Step: 1, At: at, Webhook: hookAnswer, Outcome: answerOutcome,
		Path: res.Path, Edges: res.Edges, Requests: res.Requests, Error: errText(res.Err)}
	if g.Start != nil {
		ts.Node = g.Start.ID
	}
	// Its inputs are the call's parameters, which the state keeps: the
	// trace shows them (Session.addEntries) without storing them twice.
	return ts
}

// tracedXML returns the XML a call's trace kept for the step a webhook
// answered — the step's number, its webhook, and for a callback its node
// and event — or nil when the trace no longer holds it. A copy of a
// webhook that arrives after the call moved on is answered with it.
func (s *Server) tracedXML(ctx context.Context, id string, step int, webhook, node, event string) []byte {
	entries, err := s.store.Trace(ctx, id)
	if err != nil {
		return nil
	}
	for _, raw := range entries {
		var e entry
		if json.Unmarshal(raw, &e) != nil || e.Kind != "" || e.Step != step || e.Webhook != webhook {
			continue
		}
		if webhook == hookCallback && (e.Node != node || e.Event != event) {
			continue
		}
		return []byte(e.XML)
	}
	return nil
}

// startNode names the node a call's answer walked from, for a retry's
// span; "" when its flow version cannot be had.
func (s *Server) startNode(ctx context.Context, st *CallState) string {
	g, err := s.reg.Version(ctx, s.store, st.Flow, st.Version)
	if err != nil || g.Start == nil {
		return ""
	}
	return g.Start.ID
}

// answerAgain answers an answer webhook whose call is stored: a copy gets
// the first answer's XML once it is there; a hung-up call (its hangup
// overtook the answer) gets a Hangup; a Redirect Plivo followed hands the
// call over (handOver). When the copy that claimed the answer died, this
// one runs it; own is this request's walk, when it claimed the call and
// its write lost to an event or the hangup (ownAnswer writes it).
func (s *Server) answerAgain(w http.ResponseWriter, r *http.Request, id string, own *ownWalk) {
	ctx, name := r.Context(), routeFlow(r).Name
	var reply func()
	redirected := strings.EqualFold(params(r)["Event"], "Redirect")
	// traced answers a copy from the call's trace: the answer step of
	// this flow (its hand-over's, or the call's first), else 409.
	traced := func(st *CallState, handover bool) {
		reply = func() {
			if xml := s.tracedAnswer(ctx, id, name, handover); xml != nil {
				s.metrics.webhooks.WithLabelValues(name, hookAnswer, "retry").Inc()
				writeXML(w, xml)
				return
			}
			s.reject(w, r, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s, and has already moved on", id, st.Flow, name))
		}
	}
	err := s.change(ctx, id, func(t *txn, st *CallState) (verdict, error) {
		if own.of(st) && own.wk.claimed.Key == answerKey {
			return s.ownAnswer(w, r, t, st, own, &reply)
		}
		switch {
		case redirected && st.Status == StatusHungUp && !own.of(st):
			reply = func() { writeXML(w, hangupXML) }
			return done, nil
		case redirected && (st.Key == handoverKey(name) || own.of(st) || st.Status == StatusEnded && redirectsTo(s.lastXML(st), name)):
			return s.handOver(w, r, t, st, own, &reply)
		case redirected:
			// A copy of a hand-over, after the call moved on.
			traced(st, true)
			return done, nil
		}
		switch {
		case st.Flow != name && st.Answered == name:
			// A copy of the call's first answer, after a hand-over.
			traced(st, false)
			return done, nil
		case st.Flow != name:
			reply = func() {
				s.reject(w, r, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s", id, st.Flow, name))
			}
			return done, nil
		case st.Status == StatusHungUp:
			reply = func() { writeXML(w, hangupXML) }
			return done, nil
		case s.claimed(st):
			return waitFor, nil
		case st.Step != 1 || st.Key != answerKey:
			// The call moved on: the answer's XML, as the trace kept it.
			reply = func() {
				if xml := s.tracedXML(ctx, id, 1, hookAnswer, "", ""); xml != nil {
					if s.tracer != nil { // startNode reads the flow version
						s.traceOther(ctx, st, s.startNode(ctx, st), "retry", "flowd.wait", st.Wait)
					}
					s.metrics.webhooks.WithLabelValues(name, hookAnswer, "retry").Inc()
					writeXML(w, xml)
					return
				}
				s.reject(w, r, http.StatusConflict, "call "+strconv.Quote(id)+" has already moved on")
			}
			return done, nil
		case st.Claim == nil:
			xml := s.lastXML(st)
			reply = func() {
				if s.tracer != nil { // startNode reads the flow version
					s.traceOther(ctx, st, s.startNode(ctx, st), "retry", "flowd.wait", st.Wait)
				}
				s.metrics.webhooks.WithLabelValues(name, hookAnswer, "retry").Inc()
				writeXML(w, xml)
			}
			return done, nil
		}
		// The claim ran out: its holder died. Walk the answer again.
		g, err := s.reg.Version(ctx, s.store, st.Flow, st.Version)
		if err != nil {
			return done, err
		}
		st.Claim = nil
		wk := s.walker(r, g.Name, id, 1, s.cfg.Now())
		res := s.walkStep(wk, t, answerKey, func() flow.Result { return wk.Answer(g, st.state(s.params(g))) })
		if res.Aborted != nil {
			s.putWalker(wk)
			return waitFor, nil
		}
		own.keep(wk, res, g, st.Vars, st.Nodes)
		at := s.record(st, res)
		ts := answerStep(g, at, res)
		if err := t.stepXML(&ts, res.XML); err != nil {
			return done, err
		}
		reply = func() {
			s.stepWritten(w, r, g, st, res, hookAnswer, "", answerOutcome, false)
			s.putWalker(wk)
		}
		return write, nil
	})
	if err != nil {
		s.storeFailed(w, r, id, err)
		return
	}
	reply()
}

// ownAnswer writes an answer walk that claimed the call and made side
// effects, whose write lost to one that left the claim: a status event,
// or the hangup — then the call stays hung up and the answer's step is
// kept in its trace.
func (s *Server) ownAnswer(w http.ResponseWriter, r *http.Request, t *txn, st *CallState, own *ownWalk, reply *func()) (verdict, error) {
	g, res := own.g, own.res
	st.Vars, st.Nodes, st.Claim = own.vars, own.nodes, nil
	hungUp := st.Status == StatusHungUp
	at := s.cfg.Now()
	if !hungUp {
		at = s.record(st, res)
	}
	ts := answerStep(g, at, res)
	if err := t.stepXML(&ts, res.XML); err != nil {
		return done, err
	}
	*reply = func() { s.stepWritten(w, r, g, st, res, hookAnswer, "", answerOutcome, hungUp) }
	return write, nil
}

// tracedAnswer returns the XML of an answer step the call's trace kept:
// the latest hand-over to flow name, or the first answer; nil when the
// trace no longer holds it.
func (s *Server) tracedAnswer(ctx context.Context, id, name string, handover bool) []byte {
	if !handover {
		return s.tracedXML(ctx, id, 1, hookAnswer, "", "")
	}
	entries, err := s.store.Trace(ctx, id)
	if err != nil {
		return nil
	}
	var xml []byte
	for _, raw := range entries {
		var e entry
		if json.Unmarshal(raw, &e) == nil && e.Kind == "" && e.Webhook == hookAnswer && e.Flow == name {
			xml = []byte(e.XML)
		}
	}
	return xml
}

// stepWritten answers a webhook whose walked step the store took: the
// MultiPartyCalls it joined are indexed for the trigger API (not for a
// call that hung up meanwhile), the step is logged and counted — its end
// not again for a hung-up call, whose hangup counted it — and its XML
// answered.
func (s *Server) stepWritten(w http.ResponseWriter, r *http.Request, g *flow.Graph, st *CallState, res flow.Result, webhook, from, outcome string, hungUp bool) {
	if !hungUp {
		s.indexRooms(r.Context(), st, res)
	}
	s.logStep(r, st, res, from, outcome)
	s.metrics.webhooks.WithLabelValues(g.Name, webhook, outcomeLabel(res)).Inc()
	s.metrics.walked(g, res, hungUp)
	writeXML(w, res.XML)
}

// redirectsTo reports whether an XML document ends with a Redirect to
// flow name's answer URL: the call's last step handed it over there, and a
// Redirect Plivo follows to that URL is a hand-over — not a copy of one
// that arrives after the call moved on, which would start the flow again.
func redirectsTo(xml []byte, name string) bool {
	i := bytes.LastIndex(xml, []byte("<Redirect"))
	if i < 0 {
		return false
	}
	rest := xml[i:]
	start, end := bytes.IndexByte(rest, '>'), bytes.Index(rest, []byte("</Redirect>"))
	if start < 0 || end < start {
		return false
	}
	u, err := url.Parse(html.UnescapeString(strings.TrimSpace(string(rest[start+1 : end]))))
	return err == nil && strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/flows/"+name+"/answer")
}

// handoverKey marks a session whose last step was a hand-over to flow
// name's answer URL: a copy of that Redirect gets the same XML.
func handoverKey(name string) string { return "handover/" + name }

// handOver starts flow name's current version from its start for a call
// that is stored already: Plivo followed a Redirect (Event=Redirect) to
// the flow's answer URL — a flow handing the call to another flow, or to
// itself again. The call keeps its id, parameters and trace; its vars,
// nodes and subflow frames are the new flow's, and its step goes on. A
// copy of the Redirect (same flow, no step since) gets the same XML.
func (s *Server) handOver(w http.ResponseWriter, r *http.Request, t *txn, st *CallState, own *ownWalk, reply *func()) (verdict, error) {
	ctx, g, id := r.Context(), routeFlow(r).Current, st.CallUUID
	key := handoverKey(g.Name)
	mine := own.of(st)
	switch {
	case st.Key == key && st.Claim == nil:
		xml := s.lastXML(st)
		*reply = func() {
			s.metrics.webhooks.WithLabelValues(g.Name, hookAnswer, "retry").Inc()
			writeXML(w, xml)
		}
		return done, nil
	case s.claimed(st) && !mine:
		return waitFor, nil
	}
	if mine {
		g = own.g // the version this walk started
	}
	now := s.cfg.Now()
	if err := s.pin(ctx, g, now); err != nil {
		return done, err
	}
	sess, fst, err := s.newCall(r, g, st.Call, id, st.Started)
	if err != nil {
		*reply = func() { s.reject(w, r, http.StatusBadRequest, "bad vars in the answer URL: "+err.Error()) }
		return done, nil
	}
	sess.Step, sess.Key = st.Step+1, key
	sess.Entries, sess.EventEntries, sess.EventKeys = st.Entries, st.EventEntries, st.EventKeys
	// Plivo's hangup goes to the hangup URL of the flow the call came to.
	sess.Answered = st.Answered
	if sess.Answered == "" && st.Flow != g.Name {
		sess.Answered = st.Flow
	}
	var wk *webhookWalker
	var res flow.Result
	if mine {
		// This walk made the hand-over's side effects, and its write lost
		// to one that left the claim (a status event): the same walk.
		wk, res = own.wk, own.res
		fst.Vars, fst.Nodes = own.vars, own.nodes
	} else {
		wk = s.walker(r, g.Name, id, sess.Step, now)
		res = s.walkStep(wk, t, key, func() flow.Result { return wk.Answer(g, fst) })
		if res.Aborted != nil {
			s.putWalker(wk)
			if errors.Is(res.Aborted, ErrConflict) {
				return waitFor, nil // another copy claimed or answered: read again
			}
			return done, res.Aborted
		}
		own.keep(wk, res, g, fst.Vars, fst.Nodes)
	}
	sess.Vars, sess.Nodes = fst.Vars, fst.Nodes
	// The hangup overtook this hand-over while it made its side effects
	// (mine): the step is kept, and the call stays hung up.
	hungUp, cause := st.Status == StatusHungUp, st.HangupCause
	*st = *sess
	at := s.record(st, res)
	if hungUp {
		st.Status, st.HangupCause, st.Wait, st.Frames = StatusHungUp, cause, "", nil
	}
	ts := answerStep(g, at, res)
	ts.Step, ts.Flow, ts.Inputs = st.Step, g.Name, params(r)
	if err := t.stepXML(&ts, res.XML); err != nil {
		return done, err
	}
	*reply = func() {
		s.stepWritten(w, r, g, st, res, hookAnswer, "", answerOutcome, hungUp)
		s.putWalker(wk)
	}
	return write, nil
}

// callback resumes a call at the node it waits at. Only a callback for the
// current step, node and an event the node can send advances the call; a
// retry of the previous one gets the same XML again; anything else is
// refused and changes nothing. While another copy of the callback makes
// the step's side effects, this one waits for its answer.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	name := routeFlow(r).Name
	node, event := nodeParam(r), pathParam(r, "event")
	raw := chi.URLParam(r, "step")
	step, err := strconv.Atoi(raw)
	if err != nil || step < 1 || raw[0] < '1' || raw[0] > '9' {
		// Only the step as flowd writes it: not +1, 01.
		s.reject(w, r, http.StatusNotFound, "no such callback")
		return
	}
	p, id, ok := s.callParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	key := fmt.Sprintf("%d/%s/%s", step, node, event)
	var reply func()
	refuse := func(code int, msg string) (verdict, error) {
		reply = func() { s.reject(w, r, code, msg) }
		return done, nil
	}
	var own ownWalk
	err = s.change(ctx, id, func(t *txn, st *CallState) (verdict, error) {
		if st.Flow != name {
			msg := fmt.Sprintf("call %s runs flow %s, not %s", id, st.Flow, name)
			if st.Answered == "" || step >= st.Step {
				return refuse(http.StatusConflict, msg)
			}
			// A copy of a callback of the flow the call was in before a
			// hand-over: the XML its step answered, as the trace kept it.
			reply = func() {
				if xml := s.tracedXML(ctx, id, step+1, hookCallback, node, event); xml != nil {
					s.metrics.webhooks.WithLabelValues(name, hookCallback, "retry").Inc()
					writeXML(w, xml)
					return
				}
				s.reject(w, r, http.StatusConflict, msg)
			}
			return done, nil
		}
		// late: the callback the call waited at when the hangup overtook
		// it. Plivo sends a Record's action (the voicemail's RecordUrl) or
		// a Dial's and the hangup in no set order; what it reports is kept
		// and the walk after it runs (its http nodes save the voicemail),
		// though nobody hears the XML. The call stays hung up.
		late := false
		if st.Status == StatusHungUp {
			switch {
			case st.Key == key && st.Claim == nil:
				// A copy of such a callback, walked already.
			case st.Key == hookHangup && step == st.Step-1 && st.Wait == node:
				late = true
			default:
				return refuse(http.StatusConflict, "call "+strconv.Quote(id)+" has hung up")
			}
		}
		if !late && st.Key == key && st.Claim == nil && (step == st.Step-1 || st.Status == StatusHungUp) {
			xml := s.lastXML(st)
			reply = func() {
				s.traceOther(ctx, st, node, "retry", "flowd.wait", st.Wait)
				s.metrics.webhooks.WithLabelValues(name, hookCallback, "retry").Inc()
				writeXML(w, xml)
			}
			return done, nil
		}
		mine := own.of(st)
		if s.claimed(st) && !mine {
			return waitFor, nil
		}
		g, err := s.reg.Version(ctx, s.store, st.Flow, st.Version)
		if err != nil {
			reply = func() {
				s.log.Error("flow version unavailable", "call", id, "flow", st.Flow, "version", st.Version, "err", err)
				s.metrics.errors.WithLabelValues(name, "store").Inc()
				writeXML(w, flow.ApologyXML)
			}
			return done, nil
		}
		n := g.Lookup(node)
		if n == nil {
			return refuse(http.StatusNotFound, fmt.Sprintf("flow %s (version %s) has no node %q", st.Flow, st.Version, node))
		}
		if !acceptsEvent(n, event) {
			return refuse(http.StatusBadRequest, fmt.Sprintf("node %q (%s) never reports %q", node, n.Kind.Name, event))
		}
		if step < st.Step && !late {
			// A copy that arrives after the call moved on: the XML its
			// step answered, as the trace kept it.
			stale := fmt.Sprintf("stale callback: call %s is at step %d, not step %d at %q (%s)", id, st.Step, step, node, event)
			reply = func() {
				if xml := s.tracedXML(ctx, id, step+1, hookCallback, node, event); xml != nil {
					s.traceOther(ctx, st, node, "retry", "flowd.wait", st.Wait)
					s.metrics.webhooks.WithLabelValues(name, hookCallback, "retry").Inc()
					writeXML(w, xml)
					return
				}
				s.reject(w, r, http.StatusConflict, stale)
			}
			return done, nil
		}
		if !late && (step != st.Step || st.Wait != node) {
			where := fmt.Sprintf("waiting at %q", st.Wait)
			if st.Wait == "" {
				where = "at the end of its flow"
			}
			return refuse(http.StatusConflict, fmt.Sprintf("stale callback: call %s is at step %d %s, not step %d at %q (%s)", id, st.Step, where, step, node, event))
		}
		st.Claim = nil
		var wk *webhookWalker
		var res flow.Result
		if mine {
			// This walk made the step's side effects, and its write lost
			// to one that left the claim (an event, the hangup): the
			// same walk, on the state as it now is.
			wk, res = own.wk, own.res
			st.Vars, st.Nodes = own.vars, own.nodes
		} else {
			wk = s.walker(r, g.Name, id, step+1, s.cfg.Now())
			res = s.walkStep(wk, t, key, func() flow.Result { return wk.Resume(g, st.state(s.params(g)), n, event, p) })
			if res.Aborted != nil {
				s.putWalker(wk)
				if errors.Is(res.Aborted, ErrConflict) {
					return waitFor, nil // another copy claimed or answered: read again
				}
				return done, res.Aborted
			}
			own.keep(wk, res, g, st.Vars, st.Nodes)
		}
		inputs := traceInputs(n, p)
		st.Step++
		st.Key = key
		at := s.record(st, res)
		if late {
			st.Wait, st.Frames = "", nil // nothing calls back a hung-up call
		}
		outcome := flow.OutcomeName(n, event, p)
		err = t.stepXML(&TraceStep{Step: st.Step, At: at, Webhook: hookCallback, Node: node, Event: event,
			Outcome: outcome, Inputs: inputs, Path: res.Path, Edges: res.Edges, Requests: res.Requests, Error: errText(res.Err)}, res.XML)
		if err != nil {
			return done, err
		}
		reply = func() {
			s.stepWritten(w, r, g, st, res, hookCallback, node, outcome, late)
			s.putWalker(wk)
		}
		return write, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		s.reject(w, r, http.StatusNotFound, "unknown call "+strconv.Quote(id))
	case errors.Is(err, errBusy):
		s.reject(w, r, http.StatusConflict, "callback raced with other updates; retry")
	case err != nil:
		s.storeFailed(w, r, id, err)
	default:
		reply()
	}
}

// traceInputs are a webhook's parameters p as the trace keeps them for a
// step at node n: all of them, but what the caller entered at a log:
// false node (the walker keeps it out of nodes.<id> too).
func traceInputs(n *flow.Node, p map[string]string) map[string]string {
	if n != nil && n.Private {
		return redact(p)
	}
	return p
}

// redact hides what the caller entered at a log: false input node (its
// digits and speech) and keeps the rest of the callback.
func redact(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		switch k {
		case "Digits", "Speech", "UnstableSpeech":
			v = "<redacted>"
		}
		out[k] = v
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// maxCallUUID bounds a webhook's CallUUID: Plivo's are 36 characters.
const maxCallUUID = 256

// callParams returns a webhook's parameters and its CallUUID, or refuses
// the request with 400 when it names no call. A MultiPartyCall's
// onExitActionUrl names the call by ParticipantCallUUID alone (Plivo's
// MultiPartyCall document lists no CallUUID among its parameters).
func (s *Server) callParams(w http.ResponseWriter, r *http.Request) (map[string]string, string, bool) {
	p := params(r)
	id := p["CallUUID"]
	if id == "" {
		id = p["ParticipantCallUUID"]
	}
	if id == "" {
		s.reject(w, r, http.StatusBadRequest, "missing CallUUID")
		return nil, "", false
	}
	if len(id) > maxCallUUID {
		s.reject(w, r, http.StatusBadRequest, fmt.Sprintf("CallUUID of %d bytes: Plivo's are 36", len(id)))
		return nil, "", false
	}
	return p, id, true
}

// acceptsEvent reports whether the node's XML can call back with event.
func acceptsEvent(n *flow.Node, event string) bool {
	return n.Accepts(event)
}

// hangup ends a call's session and records the cause. The session stays
// readable at /v1/calls for TraceTTL. A hangup that overtakes its call's
// answer is kept as a hung-up call, so the answer, when it commits,
// finds the call over.
func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	fr := routeFlow(r)
	name := fr.Name
	p, id, ok := s.callParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var reply func()
	// label is the hangup's metrics label: the flow of a call flowd
	// answered, else the route's, since the flow of a call flowd never
	// saw is only what its URL says.
	var label string
	hangUp := func(t *txn, st *CallState) (verdict, error) {
		if st.Flow != name && st.Answered != name {
			reply = func() {
				s.reject(w, r, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s", id, st.Flow, name))
			}
			return done, nil
		}
		if st.Status == StatusHungUp {
			reply = func() { w.WriteHeader(http.StatusNoContent) }
			return done, nil
		}
		waitedAt := st.Wait // the node the caller hung up waiting at; "" once the flow ended
		st.Status = StatusHungUp
		st.HangupCause = p["HangupCause"]
		now := s.cfg.Now()
		// The hangup is a step of its own: a callback that read the state
		// before it and writes after it must fail its compare-and-set, or
		// it would bring the hung-up call back to life (Plivo sends a
		// Dial's action and the hangup together).
		st.Step++
		st.Key = hookHangup
		if !s.claimed(st) {
			// A claim that holds stays: the copy making the step's side
			// effects writes its step after the hangup (a late
			// callback), rather than a copy making them again.
			st.Claim = nil
		}
		t.end()
		if err := t.step(&TraceStep{Step: st.Step, At: now, Webhook: hookHangup, Inputs: p}); err != nil {
			return done, err
		}
		reply = func() {
			s.traceOther(ctx, st, waitedAt, hookHangup, "flowd.hangup_cause", st.HangupCause)
			s.log.Info("call hung up", "call", id, "flow", st.Flow, "cause", st.HangupCause, "steps", st.Step)
			s.metrics.webhooks.WithLabelValues(label, hookHangup, "ok").Inc()
			if waitedAt != "" {
				flowName, node := st.Flow, waitedAt
				if strings.Contains(node, flow.NodePathSep) {
					if g, err := s.reg.Version(ctx, s.store, st.Flow, st.Version); err == nil {
						flowName, node = nodeLabels(g, node)
					}
				}
				s.metrics.exited(flowName, node)
			}
			w.WriteHeader(http.StatusNoContent)
		}
		return write, nil
	}
	for range 3 {
		label = name
		err := s.change(ctx, id, hangUp)
		if errors.Is(err, ErrNotFound) && fr.Current == nil {
			// Not a call of a flow flowd serves: nothing to keep.
			s.reject(w, r, http.StatusNotFound, "unknown call "+strconv.Quote(id))
			return
		}
		if errors.Is(err, ErrNotFound) {
			// No answer stored yet: keep the call as hung up.
			label = fr.Label
			now := s.cfg.Now()
			st := &CallState{CallUUID: id, Flow: name, Status: StatusLive, Call: p, Started: now.UTC().Truncate(time.Millisecond)}
			t := s.newTxn(ctx, id, 0, nil, true)
			if _, err = hangUp(t, st); err == nil {
				st.Step = 0 // no callback of the call's can be current
				err = t.write(st)
			}
			t.release()
			if errors.Is(err, ErrExists) {
				continue // the answer just committed: hang that up
			}
		}
		if err != nil {
			s.storeUnavailable(w, r, id, err)
			return
		}
		reply()
		return
	}
	s.reject(w, r, http.StatusConflict, "hangup raced with another update; retry")
}

// record sets the walk's result in the call's state and returns its time.
func (s *Server) record(st *CallState, res flow.Result) time.Time {
	st.Wait, st.Frames = "", nil
	if res.Wait != nil {
		st.Wait, st.Frames = res.WaitAt, res.Frames
	} else if st.Status == StatusLive {
		st.Status = StatusEnded
	}
	// The XML kept is made as the write encodes the state, from the
	// walker's, which is not reused before.
	st.XML, st.xmlFrom, st.xmlOld = "", res.XML, s.xmlPrefix(st)
	if st.xmlFrom == nil {
		st.xmlFrom = []byte{}
	}
	for _, room := range res.Rooms {
		if st.Rooms == nil {
			st.Rooms = map[string]string{}
		}
		st.Rooms[room.Node] = room.Name
	}
	return s.cfg.Now()
}

// xmlMark stands for the start of the callback URLs in a stored XML:
// "<@" is no tag, and xmlgen escapes a < in text, so no XML holds it.
const xmlMark = "<@"

// xmlPrefix is the start of the callback URLs of the call's current step
// ("" when flowd has no fixed public URL: each request's Host makes it).
func (s *Server) xmlPrefix(st *CallState) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	// Every answer of a flow has the same (step 1): it is made once.
	if st.Step == 1 {
		if p, ok := s.answerPrefixes.Load(st.Flow); ok {
			return p.(string)
		}
	}
	p := strings.TrimSuffix(CallbackURL(s.cfg.PublicURL, st.Flow, st.Step, "", ""), "/")
	if st.Step == 1 {
		s.answerPrefixes.Store(st.Flow, p)
	}
	return p
}

// lastXML returns the XML the call's last step answered.
func (s *Server) lastXML(st *CallState) []byte {
	if p := s.xmlPrefix(st); p != "" {
		return []byte(strings.ReplaceAll(st.XML, xmlMark, p))
	}
	return []byte(st.XML)
}

func (s *Server) logStep(r *http.Request, sess *CallState, res flow.Result, from, outcome string) {
	traceStep(r.Context(), sess, res, from, outcome)
	if res.RESTErr != nil {
		s.metrics.errors.WithLabelValues(sess.Flow, "rest").Inc()
		s.log.Warn("Plivo REST action failed; the flow took its error outcome", "call", sess.CallUUID, "flow", sess.Flow, "err", res.RESTErr)
	}
	if res.Err != nil {
		s.metrics.errors.WithLabelValues(sess.Flow, "runtime").Inc()
		var re *flow.RunError
		node := ""
		if errors.As(res.Err, &re) {
			node = re.Node
		}
		s.log.Error("run-time error", "call", sess.CallUUID, "flow", sess.Flow, "node", node, "err", res.Err)
	}
	// The webhook's line, as s.log.Info would write it with these
	// attributes, for less: nothing when the handler leaves Info out,
	// typed attributes rather than boxed arguments, and the program
	// counter of this line found once rather than on each webhook.
	ctx := context.Background()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	pc := s.webhookPC.Load()
	if pc == 0 {
		var pcs [1]uintptr
		runtime.Callers(1, pcs[:])
		pc = pcs[0]
		s.webhookPC.Store(pc)
	}
	attrs := [...]slog.Attr{slog.String("call", sess.CallUUID), slog.String("flow", sess.Flow), slog.String("version", sess.Version),
		slog.Int("step", sess.Step), slog.String("from", from), slog.String("node", sess.Wait),
		slog.String("outcome", outcomeLabel(res)), slog.Any("path", res.Path)}
	if jh, ok := h.(*jsonlog.Handler); ok {
		// flowd serve's handler, which writes them without a record:
		// one holds five attributes and allocates for the rest.
		_ = jh.HandleAttrs(ctx, time.Now(), slog.LevelInfo, "webhook", pc, attrs[:])
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "webhook", pc)
	rec.AddAttrs(attrs[:]...)
	_ = h.Handle(ctx, rec)
}

func outcomeLabel(res flow.Result) string {
	switch {
	case res.Err != nil:
		return "error"
	case res.Wait == nil:
		return "ended"
	}
	return "waiting"
}

// webhookWalker is a pooled walker with the step claim of its walks
// (walkStep), bound to its Effect once rather than on each walk.
type webhookWalker struct {
	flow.Walker
	claim stepClaim
	// claimed is the claim the last walk made (walkStep), nil when it
	// made no side effect.
	claimed *Claim
	effect  func() error
	// urls are the URLs of the webhook's step; URL, made once, builds
	// them.
	urls callURLs
	// detached is the walk's Context: the request's, without its end.
	detached detachedCtx
	// txn, sess and state are an answer's (answer, answerSession): three
	// allocations fewer on the busiest webhook. Nothing may keep them past
	// the answer; putWalker clears them.
	txn   txn
	sess  CallState
	state flow.State
	// newCall is an answer's, for encodeNew (newCall.encode, bound once);
	// putWalker clears it.
	newCall   newCallArgs
	encodeNew func() ([]byte, error)
	// nodes is an answer's state.Nodes, kept empty between answers: the
	// map was an allocation on each.
	nodes map[string]map[string]string
}

// putWalker gives a walker back to its pool, with what an answer kept in
// it released and cleared: the next webhook's walk finds none of it, and
// the pool holds no call's maps.
func (s *Server) putWalker(wk *webhookWalker) {
	wk.txn.release()
	wk.txn, wk.sess, wk.state, wk.newCall = txn{}, CallState{}, flow.State{}, newCallArgs{}
	clear(wk.nodes)
	s.walkers.Put(wk)
}

func newWebhookWalker(params func(*flow.Graph) map[string]any) *webhookWalker {
	wk := &webhookWalker{Walker: flow.Walker{Params: params}, nodes: map[string]map[string]string{}}
	wk.effect = wk.claim.claim
	wk.encodeNew = wk.newCall.encode
	wk.URL = wk.urls.url
	return wk
}

// walker returns a pooled walker whose callback URLs carry step, with the
// flows' clock at now.
func (s *Server) walker(r *http.Request, flowName, callUUID string, step int, now time.Time) *webhookWalker {
	wk := s.walkers.Get().(*webhookWalker)
	wk.urls.set(s.base(r), flowName, callUUID, step)
	wk.Now = now
	wk.REST, wk.RESTTimeout, wk.HTTP = s.cfg.REST, s.cfg.RESTTimeout, s.cfg.HTTP
	// Not the request's context: a webhook whose client went away (Plivo
	// gave up waiting) or that a shutdown cut off still finishes its
	// http requests and REST actions, each bounded by its own timeout, so
	// the step stored — and answered to Plivo's retry — is what they
	// answered, not a "canceled" error outcome.
	wk.detached.parent = r.Context()
	wk.Context = &wk.detached
	return wk
}

// load reads and decodes a call's state.
func (s *Server) load(ctx context.Context, id string) (*CallState, error) {
	rec, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeState(rec.Data)
}

// reject answers a webhook that must change nothing: unknown flow or
// call, stale or forged callback, bad request.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, code int, msg string) {
	kind := "bad_request"
	switch code {
	case http.StatusConflict:
		kind = "stale"
	case http.StatusNotFound:
		kind = "not_found"
	case http.StatusServiceUnavailable:
		kind = "claim_wait"
	}
	msg = clip(msg)
	s.metrics.errors.WithLabelValues(routeFlow(r).Label, kind).Inc()
	s.log.Warn("webhook refused", "path", clip(r.URL.Path), "status", code, "reason", msg)
	http.Error(w, msg, code)
}

// hangupXML answers an answer webhook whose call has already hung up.
var hangupXML = []byte(`<Response><Hangup/></Response>`)

// storeUnavailable answers a webhook that expects no XML (the hangup)
// when the store fails: 503, so Plivo sends it again, rather than an
// apology it would ignore.
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request, id string, err error) {
	fr := routeFlow(r)
	s.metrics.errors.WithLabelValues(fr.Label, "store").Inc()
	s.log.Error("session store failed; asking Plivo to retry", "call", id, "flow", fr.Name, "path", r.URL.Path, "err", err)
	http.Error(w, "session store unavailable; retry", http.StatusServiceUnavailable)
}

// storeFailed answers a known call whose session could not be read or
// written: the caller hears the apology (flow.ApologyXML), valid XML,
// instead of silence or an empty 5xx.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, errClaimWait) {
		w.Header().Set("Retry-After", "1")
		s.reject(w, r, http.StatusServiceUnavailable, fmt.Sprintf("call %s: %v for over %v; send it again", id, err, s.cfg.ClaimWait))
		return
	}
	fr := routeFlow(r)
	s.metrics.errors.WithLabelValues(fr.Label, "store").Inc()
	s.log.Error("session store failed", "call", id, "flow", fr.Name, "path", r.URL.Path, "err", err)
	writeXML(w, flow.ApologyXML)
}

func writeXML(w http.ResponseWriter, b []byte) {
	// What h.Set sets for each, with values no response changes, shared
	// (an append to one makes a slice of its own: their capacity is
	// their length): where each Set made a slice, and Itoa a string, on
	// every webhook. The keys are canonical already.
	h := w.Header()
	h["Content-Type"] = xmlContentType
	h["Content-Length"] = contentLength(len(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// xmlContentType is an XML answer's Content-Type, shared by all.
var xmlContentType = []string{"application/xml"}

// contentLengths are the Content-Length values of the lengths under
// their count, each made when first answered and shared after.
var contentLengths [8 << 10]atomic.Pointer[[]string]

// contentLength returns a header value of n, shared with every other
// answer of that length when it is under 8 KiB.
func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

// writeJSON answers the /v1 API. <, > and & are written as they are, not
// as \u003c, \u003e and \u0026, so a trace's XML reads as XML.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// trace returns a call as JSON: flow, version, status and its trace —
// each step with its node, outcome, inputs and XML, and its events.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "callUUID")
	ctx := r.Context()
	st, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown call " + strconv.Quote(id)})
		return
	}
	sess := &Session{}
	if err == nil {
		sess.CallState = *st
		sess.XML = string(s.lastXML(st))
		// An http node's answer body is the remote's: the trace shows
		// only its size.
		if g, gerr := s.reg.Version(ctx, s.store, st.Flow, st.Version); gerr == nil {
			sess.Nodes = g.ForTrace(st.Nodes)
			sess.Frames = g.FramesForTrace(st.Frames)
		} else {
			sess.Nodes, sess.Frames = nil, nil // shown only as the flow would redact them
		}
		var entries [][]byte
		if entries, err = s.store.Trace(ctx, id); err == nil {
			err = sess.addEntries(entries)
		}
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, sess)
}
