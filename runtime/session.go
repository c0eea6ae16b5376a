package runtime

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/hexdigit"
	"github.com/flowd-dev/flowd/internal/jsonstr"
)

// CallState is what a webhook needs of a call: where it stands, the
// values its expressions read, and the last answer, for retries. It is
// small and bounded — the same size at step 1,000 as at step 2 — because
// every webhook reads and writes it; the trace people read is kept apart
// as entries appended beside it (Store.Trace).
type CallState struct {
	CallUUID string `json:"call_uuid"`
	Flow     string `json:"flow"`
	Version  string `json:"version"` // the flow version the call is pinned to
	// Answered names the flow whose answer URL the call came to, once a
	// Redirect handed it over to another (Flow): Plivo's hangup still
	// goes to that flow's hangup URL.
	Answered string `json:"answered,omitempty"`
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
	Key string `json:"key"`
	// XML is what the last step answered: a retry gets it again. The
	// start of its callback URLs (the public URL, flow and step) is
	// written "<@", which no XML contains (Server.lastXML puts it back).
	XML   string                       `json:"xml,omitempty"`
	Call  map[string]string            `json:"call"`
	Vars  map[string]any               `json:"vars"`
	Nodes map[string]map[string]string `json:"nodes,omitempty"`
	// Frames are the subflows the call waits inside, innermost last, each
	// with its own vars and nodes; none when it waits in its own flow.
	Frames      []flow.Frame `json:"frames,omitempty"`
	HangupCause string       `json:"hangup_cause,omitempty"`
	// Rooms are the MultiPartyCalls the call joined, by node id.
	Rooms   map[string]string `json:"rooms,omitempty"`
	Started time.Time         `json:"started"` // to the millisecond, UTC
	// Claim is set while one copy of a webhook runs the step's side
	// effects (REST actions): the other copies wait for its answer.
	Claim *Claim `json:"claim,omitempty"`
	// Entries counts the steps' trace entries written for the call, kept
	// or not; EventEntries its events'. Events are kept apart from the
	// steps (the latest Config.TraceEvents of them), so that a room's
	// events, which come as long as it lasts, never push the call's
	// steps out of its trace.
	Entries      int `json:"entries"`
	EventEntries int `json:"event_entries,omitempty"`
	// EventKeys identify the latest events kept (eventKey), so that a
	// copy of one Plivo sends again is not kept twice.
	EventKeys []uint32 `json:"event_keys,omitempty"`

	// xmlFrom, when not nil, stands for XML in a state a walk just
	// changed (Server.record): XML is xmlFrom with xmlOld written "<@",
	// made only as encodeState writes it. xmlFrom is the walker's XML,
	// valid until the walker is reused, which is after the step's write.
	xmlFrom []byte
	xmlOld  string
}

// Claim marks a step whose side effects are being made. Until the lease
// runs out, copies of the webhook (Plivo's retries, a replica's failover)
// wait and answer what the claimer answers; after it — the claimer died —
// another copy runs the step again: the one case in which a side effect
// can repeat.
type Claim struct {
	Key   string    `json:"key"`   // the webhook that claimed the step (as CallState.Key)
	Owner string    `json:"owner"` // the Server instance running it
	Until time.Time `json:"until"` // the lease
}

// Session is a call as GET /v1/calls/{id} answers it: its state and its
// trace. The trace keeps the first and the latest steps and events of a
// long call; Omitted counts the entries left out between them.
type Session struct {
	CallState
	Updated time.Time   `json:"updated"` // the time of the latest entry of the trace
	Trace   []TraceStep `json:"trace"`
	Events  []Event     `json:"events,omitempty"`
	Omitted int         `json:"trace_omitted,omitempty"`
	// EventsOmitted counts the events left out: the earliest.
	EventsOmitted int `json:"events_omitted,omitempty"`
}

// The session statuses.
const (
	StatusLive   = "live"
	StatusEnded  = "ended"   // the flow ended; Plivo's hangup may still come
	StatusHungUp = "hung-up" // the hangup webhook arrived
)

// TraceStep records one webhook of the call.
type TraceStep struct {
	Step    int       `json:"step"`
	At      time.Time `json:"at"`
	Webhook string    `json:"webhook"` // answer, callback, hangup
	// Flow names the flow an answer after the first started: Plivo
	// followed a Redirect to its answer URL (a hand-over).
	Flow    string            `json:"flow,omitempty"`
	Node    string            `json:"node,omitempty"`    // the node that called back
	Event   string            `json:"event,omitempty"`   // action, no_input, exit
	Outcome string            `json:"outcome,omitempty"` // input, no_input, a DialStatus, next
	Inputs  map[string]string `json:"inputs,omitempty"`
	Path    []string          `json:"path,omitempty"`  // the nodes walked
	Edges   []flow.Taken      `json:"edges,omitempty"` // the edges taken
	// Requests are the http nodes' requests: method, URL without query,
	// status, duration; never headers or bodies.
	Requests []flow.Request `json:"requests,omitempty"`
	Error    string         `json:"error,omitempty"`
	XML      string         `json:"xml,omitempty"`
}

// Event is a status or recording callback received for the call.
type Event struct {
	At     time.Time         `json:"at"`
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
}

// state returns the walker's view of the call, with the flow's params
// (never kept in the call's state: they are the deployment's, and some
// are secret).
func (s *CallState) state(params map[string]any) *flow.State {
	if s.Nodes == nil {
		s.Nodes = map[string]map[string]string{}
	}
	if s.Vars == nil {
		s.Vars = map[string]any{}
	}
	return &flow.State{Call: s.Call, Vars: s.Vars, Nodes: s.Nodes, Params: params, Frames: s.Frames}
}

// encodeSession serialises a session for a store, as JSON. It writes what
// json.Marshal writes, field for field, except that <, > and & in strings
// are kept as they are instead of \u003c, \u003e and \u0026 (the trace's
// XML is full of them): every JSON decoder reads both the same, and the
// record is smaller. It is written by hand because it runs on every
// webhook and encoding/json's reflection was most of the answer
// webhook's cost; TestEncodeSessionMatchesJSON keeps the two in step and
// fails when a field is added to Session, TraceStep, Event or flow.Taken
// without being added here.
func encodeState(s *CallState) ([]byte, error) {
	return pooled(func(b []byte) ([]byte, error) { return appendState(b, s) })
}

var sessionBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// pooled runs an append-style encoder in a pooled buffer and copies what
// it wrote out once, at its size: growing a buffer from nothing to a
// state or a step (which holds the step's XML) was most of a webhook's
// garbage.
func pooled(enc func([]byte) ([]byte, error)) ([]byte, error) {
	bp := sessionBufs.Get().(*[]byte)
	b, err := enc((*bp)[:0])
	var out []byte
	if err == nil {
		out = append([]byte(nil), b...)
	}
	*bp = b
	putSessionBuf(bp)
	return out, err
}

// putSessionBuf gives a buffer back to the pool, unless it grew large.
func putSessionBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		sessionBufs.Put(bp)
	}
}

func appendState(b []byte, s *CallState) ([]byte, error) { return appendStateEscaped(b, s, nil) }

// appendStateEscaped is appendState given, when not nil, s.xmlFrom as
// jsonstr.AppendChars escapes it (the step's trace entry holds it so): the
// state's XML is cut from that rather than escaped a second time, when
// that writes the same bytes (replaceEscaped).
func appendStateEscaped(b []byte, s *CallState, xmlEscaped []byte) ([]byte, error) {
	var err error
	b = append(b, `{"call_uuid":`...)
	b = jsonstr.Append(b, s.CallUUID)
	b = append(b, `,"flow":`...)
	b = jsonstr.Append(b, s.Flow)
	b = append(b, `,"version":`...)
	b = jsonstr.Append(b, s.Version)
	if s.Answered != "" {
		b = append(b, `,"answered":`...)
		b = jsonstr.Append(b, s.Answered)
	}
	b = append(b, `,"step":`...)
	b = strconv.AppendInt(b, int64(s.Step), 10)
	if s.Wait != "" {
		b = append(b, `,"wait":`...)
		b = jsonstr.Append(b, s.Wait)
	}
	b = append(b, `,"status":`...)
	b = jsonstr.Append(b, s.Status)
	b = append(b, `,"key":`...)
	b = jsonstr.Append(b, s.Key)
	if s.xmlFrom != nil {
		if len(s.xmlFrom) > 0 {
			b = append(b, `,"xml":`...)
			if xmlEscaped != nil && replaceEscaped(s.xmlOld, xmlMark) {
				b = replaceEach(append(b, '"'), xmlEscaped, s.xmlOld, xmlMark, appendBytes)
				b = append(b, '"')
			} else {
				b = appendReplacedJSON(b, s.xmlFrom, s.xmlOld, xmlMark)
			}
		}
	} else if s.XML != "" {
		b = append(b, `,"xml":`...)
		b = jsonstr.Append(b, s.XML)
	}
	// Every webhook carries the CallUUID, so the call's parameters and
	// each node's hold it too: it is written once, as call_uuid, and put
	// back by decodeState.
	b = append(b, `,"call":`...)
	b = appendParams(b, s.Call, true, s.CallUUID)
	b = append(b, `,"vars":`...)
	if b, err = appendAnyMap(b, s.Vars); err != nil {
		return nil, err
	}
	if len(s.Nodes) > 0 {
		b = append(b, `,"nodes":`...)
		b = appendNodes(b, s.Nodes, true, s.CallUUID)
	}
	if len(s.Frames) > 0 {
		b = append(b, `,"frames":[`...)
		for i := range s.Frames {
			fr := &s.Frames[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"node":`...)
			b = jsonstr.Append(b, fr.Node)
			b = append(b, `,"flow":`...)
			b = jsonstr.Append(b, fr.Flow)
			b = append(b, `,"vars":`...)
			if b, err = appendAnyMap(b, fr.Vars); err != nil {
				return nil, err
			}
			if len(fr.Nodes) > 0 {
				b = append(b, `,"nodes":`...)
				b = appendNodes(b, fr.Nodes, false, "")
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.HangupCause != "" {
		b = append(b, `,"hangup_cause":`...)
		b = jsonstr.Append(b, s.HangupCause)
	}
	if len(s.Rooms) > 0 {
		b = append(b, `,"rooms":`...)
		b = appendStringMap(b, s.Rooms)
	}
	b = append(b, `,"started":`...)
	if b, err = appendJSONTime(b, s.Started); err != nil {
		return nil, err
	}
	if s.Claim != nil {
		b = append(b, `,"claim":{"key":`...)
		b = jsonstr.Append(b, s.Claim.Key)
		b = append(b, `,"owner":`...)
		b = jsonstr.Append(b, s.Claim.Owner)
		b = append(b, `,"until":`...)
		if b, err = appendJSONTime(b, s.Claim.Until); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	b = append(b, `,"entries":`...)
	b = strconv.AppendInt(b, int64(s.Entries), 10)
	if s.EventEntries > 0 {
		b = append(b, `,"event_entries":`...)
		b = strconv.AppendInt(b, int64(s.EventEntries), 10)
	}
	if len(s.EventKeys) > 0 {
		b = append(b, `,"event_keys":[`...)
		for i, k := range s.EventKeys {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(k), 10)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendNodes writes nodes' kept parameters, by node, each without its
// CallUUID when omitID and it is id.
func appendNodes(b []byte, nodes map[string]map[string]string, omitID bool, id string) []byte {
	b = append(b, '{')
	for i, k := range sortedKeys(nodes) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = appendParams(b, nodes[k], omitID, id)
	}
	return append(b, '}')
}

// A trace entry is a step (txn.stepXML encodes it, with appendTraceStep)
// or an event (encodeEvent), told apart by "kind", which only events
// have.

func encodeEvent(e *Event) ([]byte, error) {
	b, err := appendJSONTime(append(make([]byte, 0, 256), `{"at":`...), e.At)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"kind":`...)
	b = jsonstr.Append(b, e.Kind)
	b = append(b, `,"params":`...)
	b = appendStringMap(b, e.Params)
	return append(b, '}'), nil
}

// entry is a decoded trace entry.
type entry struct {
	TraceStep
	Kind   string            `json:"kind"`
	Params map[string]string `json:"params"`
}

// addEntries fills a session's trace from its stored entries.
func (s *Session) addEntries(entries [][]byte) error {
	s.Trace = []TraceStep{}
	steps := 0
	for _, raw := range entries {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		if e.At.After(s.Updated) {
			s.Updated = e.At
		}
		if e.Kind != "" {
			s.Events = append(s.Events, Event{At: e.At, Kind: e.Kind, Params: e.Params})
			continue
		}
		steps++
		if e.Webhook == hookAnswer && e.Inputs == nil && e.Outcome != "" {
			// An answer step's inputs are the call's parameters (answerStep).
			e.Inputs = s.Call
		}
		s.Trace = append(s.Trace, e.TraceStep)
	}
	// By step: a step written after a later one (an answer whose write
	// the hangup overtook) reads in its place.
	slices.SortStableFunc(s.Trace, func(a, b TraceStep) int { return a.Step - b.Step })
	s.Omitted = s.Entries - steps
	s.EventsOmitted = s.EventEntries - len(s.Events)
	return nil
}

func appendTraceStep(b []byte, t *TraceStep, xml []byte) ([]byte, error) {
	b, _, err := appendTraceStepAt(b, t, xml)
	return b, err
}

// appendTraceStepAt is appendTraceStep, which also returns where in b
// the escaped xml starts when it wrote xml (it ends 2 bytes before b
// does, before the `"}`); 0 when it did not.
func appendTraceStepAt(b []byte, t *TraceStep, xml []byte) (_ []byte, xmlAt int, err error) {
	b = append(b, `{"step":`...)
	b = strconv.AppendInt(b, int64(t.Step), 10)
	b = append(b, `,"at":`...)
	if b, err = appendJSONTime(b, t.At); err != nil {
		return nil, 0, err
	}
	b = append(b, `,"webhook":`...)
	b = jsonstr.Append(b, t.Webhook)
	if t.Flow != "" {
		b = append(b, `,"flow":`...)
		b = jsonstr.Append(b, t.Flow)
	}
	if t.Node != "" {
		b = append(b, `,"node":`...)
		b = jsonstr.Append(b, t.Node)
	}
	if t.Event != "" {
		b = append(b, `,"event":`...)
		b = jsonstr.Append(b, t.Event)
	}
	if t.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = jsonstr.Append(b, t.Outcome)
	}
	if len(t.Inputs) > 0 {
		b = append(b, `,"inputs":`...)
		b = appendStringMap(b, t.Inputs)
	}
	if len(t.Path) > 0 {
		b = append(b, `,"path":[`...)
		for i, p := range t.Path {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, p)
		}
		b = append(b, ']')
	}
	if len(t.Edges) > 0 {
		b = append(b, `,"edges":[`...)
		for i, e := range t.Edges {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"from":`...)
			b = jsonstr.Append(b, e.From)
			b = append(b, `,"label":`...)
			b = jsonstr.Append(b, e.Label)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(t.Requests) > 0 {
		b = append(b, `,"requests":[`...)
		for i, r := range t.Requests {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"node":`...)
			b = jsonstr.Append(b, r.Node)
			b = append(b, `,"method":`...)
			b = jsonstr.Append(b, r.Method)
			b = append(b, `,"url":`...)
			b = jsonstr.Append(b, r.URL)
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(r.Status), 10)
			b = append(b, `,"ms":`...)
			b = strconv.AppendInt(b, r.Ms, 10)
			if r.Error != "" {
				b = append(b, `,"error":`...)
				b = jsonstr.Append(b, r.Error)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if t.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonstr.Append(b, t.Error)
	}
	if t.XML != "" {
		b = append(b, `,"xml":`...)
		b = jsonstr.Append(b, t.XML)
	} else if len(xml) > 0 {
		b = append(b, `,"xml":"`...)
		xmlAt = len(b)
		b = append(jsonstr.AppendChars(b, xml), '"')
	}
	return append(b, '}'), xmlAt, nil
}

// appendJSONTime writes t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendStringMap writes m as encoding/json does: keys sorted, nil as null.
func appendStringMap(b []byte, m map[string]string) []byte { return appendParams(b, m, false, "") }

// appendParams writes webhook parameters as appendStringMap does, without
// the CallUUID when omitID and it is id.
func appendParams(b []byte, m map[string]string, omitID bool, id string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	if len(m) > smallMap {
		return appendLargeStringMap(b, m, omitID, id)
	}
	// A webhook's dozen or two parameters: sorted by insertion, moving
	// byte indexes rather than strings (no write barriers while the GC
	// runs), and comparing the keys' first 8 bytes as a number before
	// the keys (which rarely share as many).
	var keys, vals [smallMap]string
	var heads [smallMap]uint64
	var order [smallMap]uint8
	n := 0
	for k, v := range m {
		if omitID && k == "CallUUID" && v == id {
			continue
		}
		h := keyHead(k)
		keys[n], vals[n], heads[n] = k, v, h
		j := n
		for ; j > 0; j-- {
			o := order[j-1]
			if h > heads[o] || h == heads[o] && k >= keys[o] {
				break
			}
			order[j] = o
		}
		order[j] = uint8(n)
		n++
	}
	b = append(b, '{')
	for i, o := range order[:n] {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, keys[o])
		b = append(b, ':')
		b = jsonstr.Append(b, vals[o])
	}
	return append(b, '}')
}

// keyHead returns the first 8 bytes of k as a big-endian number, zeros
// past its end: keys whose heads differ sort as their heads do.
func keyHead(k string) uint64 {
	if len(k) >= 8 {
		return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7])
	}
	var h uint64
	for i := range 8 {
		h <<= 8
		if i < len(k) {
			h |= uint64(k[i])
		}
	}
	return h
}

const smallMap = 32

func appendLargeStringMap(b []byte, m map[string]string, omitID bool, id string) []byte {
	keys := sortedKeys(m)
	b = append(b, '{')
	first := true
	for _, k := range keys {
		v := m[k]
		if omitID && k == "CallUUID" && v == id {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = jsonstr.Append(b, v)
	}
	return append(b, '}')
}

// appendAnyMap writes the call's vars; values of other types than those
// flows set most (strings, ints, bools) go through encoding/json.
func appendAnyMap(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return jsonstr.Append(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// appendReplacedJSON appends, as jsonstr.Append does, xml with each
// old in it written mark (all of xml when old is ""), without making
// that string first.
func appendReplacedJSON(b, xml []byte, old, mark string) []byte {
	b = append(b, '"')
	b = replaceEach(b, xml, old, mark, jsonstr.AppendChars[[]byte])
	return append(b, '"')
}

// replaceEach appends s with each old in it written mark (all of s when
// old is ""), every piece through write.
func replaceEach(b, s []byte, old, mark string, write func(b, s []byte) []byte) []byte {
	if old != "" {
		o := unsafe.Slice(unsafe.StringData(old), len(old))   // only read
		m := unsafe.Slice(unsafe.StringData(mark), len(mark)) // only read
		for {
			i := bytes.Index(s, o)
			if i < 0 {
				break
			}
			b = write(write(b, s[:i]), m)
			s = s[i+len(old):]
		}
	}
	return write(b, s)
}

// replaceEscaped reports whether replaceEach with appendBytes, run on xml as
// jsonstr.AppendChars escapes it, writes what appendReplacedJSON writes from
// xml itself. It does when old and mark need no escaping and old cannot
// start inside an escape, after its backslash (\n, \u001f, \ufffd: an
// escape goes on with a quote, a backslash, one of bfnrtu or hex
// digits): then old, which holds no backslash, matches the escaped text
// only where that is the text as it was, and there where it matches the
// text. The start of callback URLs, http..., is such an old.
func replaceEscaped(old, mark string) bool {
	if old != "" && (hexdigit.Is(old[0]) || strings.IndexByte(`"\bfnrtu`, old[0]) >= 0) {
		return false
	}
	for _, s := range [2]string{old, mark} {
		for i := 0; i < len(s); i++ {
			if !jsonstr.Plain(s[i]) {
				return false
			}
		}
	}
	return true
}

// DecodeSession reads a session as /v1/calls returns it. Numbers in vars
// come back as int when integral, as they were when the flow set them.
func DecodeSession(b []byte) (*Session, error) {
	var s Session
	if err := decodeInto(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeState reads a stored call state, putting back the CallUUIDs
// encodeState leaves out.
func decodeState(b []byte) (*CallState, error) {
	var s CallState
	if err := decodeInto(b, &s); err != nil {
		return nil, err
	}
	if s.Call != nil {
		if _, ok := s.Call["CallUUID"]; !ok {
			s.Call["CallUUID"] = s.CallUUID
		}
	}
	for _, p := range s.Nodes {
		if _, ok := p["CallUUID"]; !ok && p != nil {
			p["CallUUID"] = s.CallUUID
		}
	}
	return &s, nil
}

// decodeInto decodes b into *s, its vars' numbers as decodeExact reads
// them. It reads with json.Unmarshal, which reads b in place, where a
// json.Decoder (which decodeExact needs for UseNumber) copies it into
// buffers it grows: 2–4 KB of garbage on every callback. Unmarshal's
// numbers are float64s; a whole one becomes an int, as decodeExact makes
// it, unless it is too large for a float64 to hold exactly (2^53 or
// more), and b is read again with decodeExact; so is b if Unmarshal
// refuses it (decodeExact reads its first value only).
func decodeInto[T Session | CallState](b []byte, s *T) error {
	if err := json.Unmarshal(b, s); err == nil {
		st := stateOf(s)
		if wholeNumbers(st.Vars) && framesWholeNumbers(st.Frames) {
			return nil
		}
	}
	var zero T
	*s = zero
	return decodeExact(b, s)
}

// stateOf returns the call state of a Session or a CallState.
func stateOf[T Session | CallState](s *T) *CallState {
	switch x := any(s).(type) {
	case *Session:
		return &x.CallState
	case *CallState:
		return x
	}
	panic("unreachable")
}

// framesWholeNumbers is wholeNumbers for each frame's vars.
func framesWholeNumbers(frames []flow.Frame) bool {
	for _, fr := range frames {
		if !wholeNumbers(fr.Vars) {
			return false
		}
	}
	return true
}

// wholeNumbers makes each float64 in vars, at any depth, that is a whole
// number an int, in place; false when one is too large to be read
// exactly as a float64.
func wholeNumbers(vars map[string]any) bool {
	for k, v := range vars {
		w, ok := wholeNumber(v)
		if !ok {
			return false
		}
		vars[k] = w
	}
	return true
}

func wholeNumber(v any) (any, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return x, true
		}
		if math.Abs(x) >= 1<<53 {
			return x, false
		}
		return int(x), true
	case map[string]any:
		return x, wholeNumbers(x)
	case []any:
		for i, e := range x {
			w, ok := wholeNumber(e)
			if !ok {
				return x, false
			}
			x[i] = w
		}
	}
	return v, true
}

// decodeExact decodes b into *s with its vars' numbers read exactly: an
// integral one as an int (as the flow set it), any other as a float64
// (flow.JSONNumbers).
func decodeExact[T Session | CallState](b []byte, s *T) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(s); err != nil {
		return err
	}
	st := stateOf(s)
	for k, v := range st.Vars {
		st.Vars[k] = flow.JSONNumbers(v)
	}
	for _, fr := range st.Frames {
		for k, v := range fr.Vars {
			fr.Vars[k] = flow.JSONNumbers(v)
		}
	}
	return nil
}

// appendBytes is append, as replaceEach's write.
func appendBytes(b, s []byte) []byte { return append(b, s...) }
