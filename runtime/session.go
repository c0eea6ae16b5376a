package runtime

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// Session is one call's place in its flow, kept between webhooks. It is
// stored encoded, so a store holds bytes and every webhook works on its own
// copy.
type Session struct {
	CallUUID string `json:"call_uuid"`
	Flow     string `json:"flow"`
	Version  string `json:"version"` // the flow version the call is pinned to
	// Step counts the webhooks that advanced the call. Callback URLs carry
	// the step they were issued at; only a callback for the current step
	// advances the call.
	Step int `json:"step"`
	// Wait is the node whose callback the call waits for; "" once the flow
	// has nowhere more to go.
	Wait   string `json:"wait,omitempty"`
	Status string `json:"status"` // live, ended (the flow ended) or hung-up
	// Key identifies the request that produced the last step's XML, so a
	// retry of it gets the same answer.
	Key         string                       `json:"key"`
	Call        map[string]string            `json:"call"`
	Vars        map[string]any               `json:"vars"`
	Nodes       map[string]map[string]string `json:"nodes,omitempty"`
	Params      map[string]string            `json:"params,omitempty"`
	HangupCause string                       `json:"hangup_cause,omitempty"`
	Started     time.Time                    `json:"started"`
	Updated     time.Time                    `json:"updated"`
	Trace       []TraceStep                  `json:"trace"`
	Events      []Event                      `json:"events,omitempty"`
}

// The session statuses.
const (
	StatusLive   = "live"
	StatusEnded  = "ended"   // the flow ended; Plivo's hangup may still come
	StatusHungUp = "hung-up" // the hangup webhook arrived
)

// TraceStep records one webhook of the call.
type TraceStep struct {
	Step    int               `json:"step"`
	At      time.Time         `json:"at"`
	Webhook string            `json:"webhook"`           // answer, callback, hangup
	Node    string            `json:"node,omitempty"`    // the node that called back
	Event   string            `json:"event,omitempty"`   // action, no_input, exit
	Outcome string            `json:"outcome,omitempty"` // input, no_input, a DialStatus, next
	Inputs  map[string]string `json:"inputs,omitempty"`
	Path    []string          `json:"path,omitempty"`  // the nodes walked
	Edges   []flow.Taken      `json:"edges,omitempty"` // the edges taken
	Error   string            `json:"error,omitempty"`
	XML     string            `json:"xml,omitempty"`
}

// Event is a status or recording callback received for the call.
type Event struct {
	At     time.Time         `json:"at"`
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
}

// LastXML returns the XML answered at the current step.
func (s *Session) LastXML() []byte {
	for i := len(s.Trace) - 1; i >= 0; i-- {
		if s.Trace[i].XML != "" || s.Trace[i].Webhook != "hangup" {
			return []byte(s.Trace[i].XML)
		}
	}
	return nil
}

// state returns the walker's view of the session.
func (s *Session) state() *flow.State {
	if s.Nodes == nil {
		s.Nodes = map[string]map[string]string{}
	}
	if s.Vars == nil {
		s.Vars = map[string]any{}
	}
	return &flow.State{Call: s.Call, Vars: s.Vars, Nodes: s.Nodes, Params: s.Params}
}

// encodeSession serialises a session for a store.
func encodeSession(s *Session) ([]byte, error) {
	return json.Marshal(s)
}

// decodeSession reads a stored session. Numbers in vars come back as int
// when integral, as they were when the flow set them.
func decodeSession(b []byte) (*Session, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var s Session
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	for k, v := range s.Vars {
		s.Vars[k] = numbers(v)
	}
	return &s, nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
