package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
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
	name := chi.URLParam(r, "flow")
	g := s.reg.Current(name)
	if g == nil {
		s.reject(w, r, name, http.StatusNotFound, "unknown flow "+strconv.Quote(name))
		return
	}
	p, id, ok := s.callParams(w, r, name)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := s.pin(ctx, g); err != nil {
		s.storeFailed(w, r, name, id, err)
		return
	}
	now := s.cfg.Now()
	sess := &Session{CallUUID: id, Flow: g.Name, Version: g.Version, Step: 1, Status: StatusLive, Key: answerKey, Call: p, Started: now, Updated: now}
	st := g.NewState(p, s.cfg.Params)
	if raw := r.URL.Query().Get("vars"); raw != "" {
		vars, err := DecodeVars(raw)
		if err != nil {
			s.reject(w, r, name, http.StatusBadRequest, "bad vars in the answer URL: "+err.Error())
			return
		}
		for k, v := range vars {
			st.Vars[k] = v
		}
	}
	sess.Vars, sess.Nodes, sess.Params = st.Vars, st.Nodes, st.Params
	s.answerSession(w, r, g, sess, st)
}

// answerSession walks a new session from start and stores it. The trigger
// API uses it too, with initial vars.
func (s *Server) answerSession(w http.ResponseWriter, r *http.Request, g *flow.Graph, sess *Session, st *flow.State) {
	wk := s.walker(r, g.Name, sess.CallUUID, 1)
	defer s.walkers.Put(wk)
	res := wk.Answer(g, st)
	s.record(sess, res, TraceStep{Webhook: hookAnswer})
	data, err := encodeSession(sess)
	if err != nil {
		s.storeFailed(w, r, g.Name, sess.CallUUID, err)
		return
	}
	err = s.store.Create(r.Context(), sess.CallUUID, Record{Rev: 1, Live: true, Data: data}, s.cfg.SessionTTL)
	if errors.Is(err, ErrExists) {
		// Plivo retried the answer: the first answer stands.
		s.replay(w, r, g.Name, sess.CallUUID, func(old *Session) bool { return old.Flow == g.Name && old.Step == 1 && old.Key == answerKey })
		return
	}
	if err != nil {
		s.storeFailed(w, r, g.Name, sess.CallUUID, err)
		return
	}
	s.indexRooms(r.Context(), sess, res)
	s.logStep(r, sess, res, "")
	s.metrics.webhooks.WithLabelValues(g.Name, hookAnswer, outcomeLabel(res)).Inc()
	writeXML(w, res.XML)
}

// callback resumes a call at the node it waits at. Only a callback for the
// current step, node and an event the node can send advances the call; a
// retry of the previous one gets the same XML again; anything else is
// refused and changes nothing.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "flow")
	node, event := chi.URLParam(r, "node"), chi.URLParam(r, "event")
	step, err := strconv.Atoi(chi.URLParam(r, "step"))
	if err != nil || step < 1 {
		s.reject(w, r, name, http.StatusNotFound, "no such callback")
		return
	}
	p, id, ok := s.callParams(w, r, name)
	if !ok {
		return
	}
	ctx := r.Context()
	key := fmt.Sprintf("%d/%s/%s", step, node, event)
	for attempt := 0; attempt < 5; attempt++ {
		sess, rev, err := s.loadRev(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.reject(w, r, name, http.StatusNotFound, "unknown call "+strconv.Quote(id))
			return
		}
		if err != nil {
			s.storeFailed(w, r, name, id, err)
			return
		}
		if sess.Flow != name {
			s.reject(w, r, name, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s", id, sess.Flow, name))
			return
		}
		if sess.Status == StatusHungUp {
			s.reject(w, r, name, http.StatusConflict, "call "+strconv.Quote(id)+" has hung up")
			return
		}
		if step == sess.Step-1 && sess.Key == key {
			s.metrics.webhooks.WithLabelValues(name, hookCallback, "retry").Inc()
			writeXML(w, sess.LastXML())
			return
		}
		g, err := s.reg.Version(ctx, s.store, sess.Flow, sess.Version)
		if err != nil {
			s.log.Error("flow version unavailable", "call", id, "flow", sess.Flow, "version", sess.Version, "err", err)
			s.metrics.errors.WithLabelValues(name, "store").Inc()
			writeXML(w, apologyXML)
			return
		}
		n := g.Node(node)
		if n == nil {
			s.reject(w, r, name, http.StatusNotFound, fmt.Sprintf("flow %s (version %s) has no node %q", sess.Flow, sess.Version, node))
			return
		}
		if !acceptsEvent(n, event) {
			s.reject(w, r, name, http.StatusBadRequest, fmt.Sprintf("node %q (%s) never reports %q", node, n.Kind.Name, event))
			return
		}
		if step != sess.Step || sess.Wait != node {
			where := fmt.Sprintf("waiting at %q", sess.Wait)
			if sess.Wait == "" {
				where = "at the end of its flow"
			}
			s.reject(w, r, name, http.StatusConflict, fmt.Sprintf("stale callback: call %s is at step %d %s, not step %d at %q (%s)", id, sess.Step, where, step, node, event))
			return
		}
		wk := s.walker(r, g.Name, id, step+1)
		res := wk.Resume(g, sess.state(), n, event, p)
		sess.Step++
		sess.Key = key
		s.record(sess, res, TraceStep{Webhook: hookCallback, Node: node, Event: event, Outcome: flow.OutcomeName(n, event, p), Inputs: p})
		data, err := encodeSession(sess)
		if err == nil {
			err = s.store.Update(ctx, id, rev, Record{Rev: rev + 1, Live: true, Data: data}, s.cfg.SessionTTL)
		}
		if errors.Is(err, ErrConflict) {
			// Another replica or goroutine advanced the call first: if it
			// was this same callback, answer what it answered.
			s.walkers.Put(wk)
			continue
		}
		if err != nil {
			s.walkers.Put(wk)
			s.storeFailed(w, r, name, id, err)
			return
		}
		s.indexRooms(ctx, sess, res)
		s.logStep(r, sess, res, node)
		s.metrics.webhooks.WithLabelValues(name, hookCallback, outcomeLabel(res)).Inc()
		writeXML(w, res.XML)
		s.walkers.Put(wk)
		return
	}
	s.reject(w, r, name, http.StatusConflict, "callback raced with another update; retry")
}

// callParams returns a webhook's parameters and its CallUUID, or refuses
// the request with 400 when it names no call.
func (s *Server) callParams(w http.ResponseWriter, r *http.Request, flowName string) (map[string]string, string, bool) {
	p := params(r)
	id := p["CallUUID"]
	if id == "" {
		s.reject(w, r, flowName, http.StatusBadRequest, "missing CallUUID")
		return nil, "", false
	}
	return p, id, true
}

// acceptsEvent reports whether the node's XML can call back with event.
func acceptsEvent(n *flow.Node, event string) bool {
	if !n.Callback() {
		return false
	}
	switch n.Kind.Walk {
	case flow.WalkInput:
		return event == flow.EventAction || event == flow.EventNoInput
	case flow.WalkJoin:
		return event == flow.EventExit
	}
	return event == flow.EventAction
}

// hangup ends a call's session and records the cause. The session stays
// readable at /v1/calls for TraceTTL.
func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "flow")
	p, id, ok := s.callParams(w, r, name)
	if !ok {
		return
	}
	ctx := r.Context()
	for attempt := 0; attempt < 3; attempt++ {
		rec, err := s.store.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.reject(w, r, name, http.StatusNotFound, "unknown call "+strconv.Quote(id))
			return
		}
		if err != nil {
			s.storeUnavailable(w, r, name, id, err)
			return
		}
		sess, err := decodeSession(rec.Data)
		if err != nil {
			s.storeUnavailable(w, r, name, id, err)
			return
		}
		if sess.Flow != name {
			s.reject(w, r, name, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s", id, sess.Flow, name))
			return
		}
		if sess.Status == StatusHungUp {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		sess.Status = StatusHungUp
		sess.HangupCause = p["HangupCause"]
		sess.Updated = s.cfg.Now()
		// The hangup is a step of its own: a callback that loaded the
		// session before it and stores after it must fail its
		// compare-and-set, or it would bring the hung-up call back to
		// life (Plivo sends a Dial's action and the hangup together).
		sess.Step++
		sess.Key = hookHangup
		sess.Trace = append(sess.Trace, TraceStep{Step: sess.Step, At: sess.Updated, Webhook: hookHangup, Inputs: p})
		data, err := encodeSession(sess)
		if err == nil {
			err = s.store.Update(ctx, id, rec.Rev, Record{Rev: rec.Rev + 1, Live: false, Data: data}, s.cfg.TraceTTL)
		}
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			s.storeUnavailable(w, r, name, id, err)
			return
		}
		s.log.Info("call hung up", "call", id, "flow", sess.Flow, "cause", sess.HangupCause, "steps", sess.Step)
		s.metrics.webhooks.WithLabelValues(sess.Flow, hookHangup, "ok").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.reject(w, r, name, http.StatusConflict, "hangup raced with another update; retry")
}

// record appends the walk's result to the session.
func (s *Server) record(sess *Session, res flow.Result, t TraceStep) {
	now := s.cfg.Now()
	sess.Updated = now
	sess.Wait = ""
	if res.Wait != nil {
		sess.Wait = res.Wait.ID
	} else if sess.Status == StatusLive {
		sess.Status = StatusEnded
	}
	t.Step, t.At = sess.Step, now
	t.Path = append([]string(nil), res.Path...)
	t.Edges = append([]flow.Taken(nil), res.Edges...)
	t.XML = string(res.XML)
	if res.Err != nil {
		t.Error = res.Err.Error()
	}
	sess.Trace = append(sess.Trace, t)
	for _, room := range res.Rooms {
		if sess.Rooms == nil {
			sess.Rooms = map[string]string{}
		}
		sess.Rooms[room.Node] = room.Name
	}
}

func (s *Server) logStep(r *http.Request, sess *Session, res flow.Result, from string) {
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
	s.log.Info("webhook", "call", sess.CallUUID, "flow", sess.Flow, "version", sess.Version, "step", sess.Step,
		"from", from, "node", sess.Wait, "outcome", outcomeLabel(res), "path", res.Path)
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

// walker returns a pooled walker whose callback URLs carry step.
func (s *Server) walker(r *http.Request, flowName, callUUID string, step int) *flow.Walker {
	wk := s.walkers.Get().(*flow.Walker)
	base := s.base(r)
	wk.URL = func(n *flow.Node, event string) string {
		if flow.IsReport(event) {
			return EventURL(base, flowName, callUUID, n.ID, event)
		}
		return CallbackURL(base, flowName, step, n.ID, event)
	}
	wk.Now = s.cfg.Now()
	wk.REST = s.cfg.REST
	wk.Context = r.Context()
	return wk
}

// loadRev reads and decodes a call's session with the record's revision,
// for a compare-and-set write.
func (s *Server) loadRev(ctx context.Context, id string) (*Session, int, error) {
	rec, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	sess, err := decodeSession(rec.Data)
	return sess, rec.Rev, err
}

// load reads and decodes a call's session.
func (s *Server) load(ctx context.Context, id string) (*Session, error) {
	rec, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeSession(rec.Data)
}

// replay answers a retried webhook with the XML of the step it produced.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, name, id string, same func(*Session) bool) {
	old, err := s.load(r.Context(), id)
	if err != nil {
		s.storeFailed(w, r, name, id, err)
		return
	}
	if old.Flow != name {
		s.reject(w, r, name, http.StatusConflict, fmt.Sprintf("call %s runs flow %s, not %s", id, old.Flow, name))
		return
	}
	if !same(old) {
		s.reject(w, r, name, http.StatusConflict, "call "+strconv.Quote(id)+" has already moved on")
		return
	}
	s.metrics.webhooks.WithLabelValues(name, hookAnswer, "retry").Inc()
	writeXML(w, old.LastXML())
}

// reject answers a webhook that must change nothing: unknown flow or
// call, stale or forged callback, bad request.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, flowName string, code int, msg string) {
	kind := "bad_request"
	switch code {
	case http.StatusConflict:
		kind = "stale"
	case http.StatusNotFound:
		kind = "not_found"
	}
	s.metrics.errors.WithLabelValues(s.knownFlow(flowName), kind).Inc()
	s.log.Warn("webhook refused", "path", r.URL.Path, "status", code, "reason", msg)
	http.Error(w, msg, code)
}

// apologyXML is answered to a known call when flowd cannot continue it:
// valid XML, never an empty 5xx.
var apologyXML = []byte(`<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`)

// storeUnavailable answers a webhook that expects no XML (the hangup)
// when the store fails: 503, so Plivo sends it again, rather than an
// apology it would ignore.
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request, flowName, id string, err error) {
	s.metrics.errors.WithLabelValues(s.knownFlow(flowName), "store").Inc()
	s.log.Error("session store failed; asking Plivo to retry", "call", id, "flow", flowName, "path", r.URL.Path, "err", err)
	http.Error(w, "session store unavailable; retry", http.StatusServiceUnavailable)
}

// storeFailed answers a known call whose session could not be read or
// written: the caller hears an apology instead of silence.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, flowName, id string, err error) {
	s.metrics.errors.WithLabelValues(s.knownFlow(flowName), "store").Inc()
	s.log.Error("session store failed", "call", id, "flow", flowName, "path", r.URL.Path, "err", err)
	writeXML(w, apologyXML)
}

func writeXML(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
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

// trace returns a call's session as JSON: flow, version, status and every
// step with its node, outcome, inputs and XML.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "callUUID")
	sess, err := s.load(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown call " + strconv.Quote(id)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, sess)
}
