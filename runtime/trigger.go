package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
)

// The trigger API lets an agent desktop or a CRM drive calls: start an
// outbound call that runs a flow, and — compatible with PHLO's runner —
// add people to the MultiPartyCall a live call is in, transfer, and hold,
// mute or hang up its members. JSON in, JSON out, under /v1 and its
// authentication.

// Finding a live call from an address. A MultiPartyCall a call's walk
// joined is found from either address of the call (its From and To,
// SPEC §8) and from the parties the trigger API added to it. Two kinds of
// reference hold them, keyed by the address as normAddress writes it, so
// that +14155550100, 14155550100 and SIP:Alice@… find what Plivo sent
// as 14155550100 or sip:alice@…:
//
//   - party: the call's other party (the caller of an inbound call, the
//     callee of an outbound one) and the members the trigger API added
//     or found. It names one call: the latest written wins.
//   - number: the call's Plivo number (its To when inbound, its From when
//     outbound), shared by every call on that number. It lists the calls,
//     and a lookup that finds more than one of them in a MultiPartyCall of
//     the node is ambiguous (409) rather than a guess: picking the newest
//     would put an agent, or a transfer, into a stranger's call.
//
// A party's own address wins over a Plivo number: it names one call.
//
// Each reference keeps the step at which the call's XML joined the
// MultiPartyCall (always the XML's last element: the walk waits there,
// or ends). The call is in the room while that step is its latest:
// the MPC's exit callback, or the hangup, is a later step, after which no
// trigger acts on the room (404) though the reference stays until it
// expires (the store cannot delete).

// partyKey names the reference from a party's address to its live call.
func partyKey(flowName, address string) string {
	return "party:" + flowName + ":" + normAddress(address)
}

// numberKey names the list of the calls that joined a MultiPartyCall
// with a Plivo number.
func numberKey(flowName, number string) string {
	return "party-number:" + flowName + ":" + normAddress(number)
}

// PartyAddress returns the other party of a call: the caller of an
// inbound call, the callee of an outbound one.
func PartyAddress(call map[string]string) string {
	if call["Direction"] == "outbound" {
		return call["To"]
	}
	return call["From"]
}

// roomRef is what a reference holds: the call, and the step at which its
// XML joined the MultiPartyCalls of nodes.
type roomRef struct {
	Call  string   `json:"call"`
	Step  int      `json:"step"`
	Nodes []string `json:"nodes"`
}

func (ref roomRef) encode() string {
	b, _ := json.Marshal(ref)
	return string(b)
}

// inRoom reports whether the call, as sess stands now, is still in the
// MultiPartyCall of node that ref records it joining: no webhook has
// moved it on since.
func (ref roomRef) inRoom(sess *CallState, node string) bool {
	return sess.Status != StatusHungUp && sess.Step == ref.Step && slices.Contains(ref.Nodes, node) && sess.Rooms[node] != ""
}

// indexRooms lets the trigger API find a call that joined a
// MultiPartyCall from either of its addresses.
func (s *Server) indexRooms(ctx context.Context, sess *CallState, res flow.Result) {
	if len(res.Rooms) == 0 {
		return
	}
	ref := roomRef{Call: sess.CallUUID, Step: sess.Step}
	for _, r := range res.Rooms {
		ref.Nodes = append(ref.Nodes, r.Node)
	}
	party := PartyAddress(sess.Call)
	if party != "" {
		if err := s.store.PutRef(ctx, partyKey(sess.Flow, party), ref.encode(), s.cfg.SessionTTL); err != nil {
			s.log.Warn("cannot index the call for the trigger API", "call", sess.CallUUID, "err", err)
		}
	}
	if number := flow.PlivoNumber(sess.Call); number != "" && normAddress(number) != normAddress(party) {
		if err := s.indexNumber(ctx, sess.Flow, number, ref); err != nil {
			s.log.Warn("cannot index the call's Plivo number for the trigger API", "call", sess.CallUUID, "err", err)
		}
	}
}

// numberCalls is what a number reference holds: the calls that joined a
// MultiPartyCall with the number, oldest first. Overflow says calls still
// in a room were left out to keep the list at maxNumberCalls: the list
// can no longer tell one call from several.
type numberCalls struct {
	Calls    []roomRef `json:"calls"`
	Overflow bool      `json:"overflow,omitempty"`
}

// maxNumberCalls bounds a number's list: a lookup loads each call in it.
const maxNumberCalls = 64

// indexNumber adds ref to the list of number's calls.
//
// Choice: the store has no atomic append, so the list is read, changed
// and written: under a lock in this process, and read back after the
// write, written again when a flowd sharing the store overwrote it in
// between. Two processes that index calls on the same number within the
// same few milliseconds can still lose one; the list is then short of a
// call, which a lookup cannot see.
func (s *Server) indexNumber(ctx context.Context, flowName, number string, ref roomRef) error {
	key := numberKey(flowName, number)
	mu := &s.numberLocks[maphash.String(numberSeed, key)%uint64(len(s.numberLocks))]
	mu.Lock()
	defer mu.Unlock()
	for range 3 {
		list, err := s.numberList(ctx, key)
		if err != nil {
			return err
		}
		list.Calls = slices.DeleteFunc(list.Calls, func(r roomRef) bool { return r.Call == ref.Call })
		list.Calls = append(list.Calls, ref)
		if len(list.Calls) > maxNumberCalls {
			// Full: leave out the calls that have left their rooms.
			list.Calls = slices.DeleteFunc(list.Calls, func(r roomRef) bool {
				sess, err := s.load(ctx, r.Call)
				if err != nil {
					return errors.Is(err, ErrNotFound)
				}
				return sess.Status == StatusHungUp || sess.Step != r.Step
			})
		}
		if n := len(list.Calls) - maxNumberCalls; n > 0 {
			list.Calls, list.Overflow = slices.Delete(list.Calls, 0, n), true
		}
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		if err := s.store.PutRef(ctx, key, string(b), s.cfg.SessionTTL); err != nil {
			return err
		}
		back, err := s.numberList(ctx, key)
		if err != nil || slices.ContainsFunc(back.Calls, func(r roomRef) bool { return r.Call == ref.Call && r.Step == ref.Step }) {
			return err
		}
	}
	return fmt.Errorf("the list of the calls of %s kept changing under other writers", number)
}

var numberSeed = maphash.MakeSeed()

// numberList reads a number's list of calls (none when there is none).
func (s *Server) numberList(ctx context.Context, key string) (numberCalls, error) {
	var list numberCalls
	v, err := s.store.GetRef(ctx, key)
	if errors.Is(err, ErrNotFound) || err == nil && v == "" {
		return list, nil
	}
	if err != nil {
		return list, err
	}
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return numberCalls{}, nil // not a list: start one
	}
	return list, nil
}

type apiError struct {
	APIID string `json:"api_id"`
	Error string `json:"error"`
}

func (s *Server) apiFail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: clip(fmt.Sprintf(format, args...))})
}

// maxMessage bounds an error message's length: one that quotes what a
// client sent (a 50 KB member address) says what was wrong in its first
// few hundred bytes.
const maxMessage = 512

// clip cuts msg to maxMessage bytes, on a rune boundary, marking the cut.
func clip(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "… (cut)"
}

// apiFailPlivo answers a failed Plivo request (see plivoFailure).
func (s *Server) apiFailPlivo(w http.ResponseWriter, err error) {
	code, body := s.plivoFailure(err)
	writeJSON(w, code, body)
}

// plivoFailure is the answer to a failed Plivo request: Plivo's own 4xx
// passes through with its message; anything else is a 502.
func (s *Server) plivoFailure(err error) (int, apiError) {
	var ae *plivo.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return ae.Status, apiError{APIID: ae.APIID, Error: ae.Message}
	}
	if errors.Is(err, plivo.ErrInvalidArgument) {
		return http.StatusBadRequest, apiError{Error: err.Error()}
	}
	s.log.Error("Plivo request failed", "err", err)
	return http.StatusBadGateway, apiError{Error: "Plivo request failed: " + err.Error()}
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("bad JSON body: more after the object")
	}
	return nil
}

type startCallRequest struct {
	From       string            `json:"from"`
	To         string            `json:"to"`
	CallerName string            `json:"caller_name,omitempty"`
	Vars       map[string]any    `json:"vars,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
}

// startCall asks Plivo to make a call whose answer_url and hangup_url are
// flowd's own, so the call runs the flow, with the given initial vars.
func (s *Server) startCall(w http.ResponseWriter, r *http.Request) {
	fr := routeFlow(r)
	name := fr.Name
	if fr.Current == nil {
		s.apiFail(w, http.StatusNotFound, "unknown flow %q", name)
		return
	}
	if s.cfg.REST == nil {
		s.apiFail(w, http.StatusServiceUnavailable, "flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
		return
	}
	var req startCallRequest
	if err := decodeBody(r, &req); err != nil {
		s.apiFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if req.From == "" || req.To == "" {
		s.apiFail(w, http.StatusBadRequest, "from and to are required")
		return
	}
	if len(req.Params) > 0 {
		s.apiFail(w, http.StatusBadRequest, "params are set per deployment (--param), not per call; use vars")
		return
	}
	if err := fr.Current.CheckVars(req.Vars); err != nil {
		s.apiFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	for _, a := range []string{req.From, req.To, req.CallerName} {
		if strings.ContainsFunc(a, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }) {
			s.apiFail(w, http.StatusBadRequest, "from, to and caller_name must be printable text, not %q", a)
			return
		}
	}
	base := s.base(r)
	answer, err := AnswerURL(base, name, req.Vars)
	if err != nil {
		s.apiFail(w, http.StatusBadRequest, "vars: %v", err)
		return
	}
	resp, err := s.cfg.REST.MakeCall(r.Context(), &plivo.MakeCallParams{
		From: req.From, To: req.To, CallerName: req.CallerName,
		AnswerURL: answer, AnswerMethod: http.MethodPost,
		HangupURL: strings.TrimSuffix(base, "/") + "/flows/" + name + "/hangup", HangupMethod: http.MethodPost,
	})
	if err != nil {
		s.apiFailPlivo(w, err)
		return
	}
	uuid := ""
	if len(resp.RequestUUID) > 0 {
		uuid = resp.RequestUUID[0]
	}
	s.metrics.events.WithLabelValues(name, "api_call").Inc()
	writeJSON(w, http.StatusCreated, map[string]string{"api_id": resp.APIID, "request_uuid": uuid, "message": resp.Message})
}
