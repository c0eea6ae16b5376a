package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
)

// The trigger API lets an agent desktop or a CRM drive calls: start an
// outbound call that runs a flow, and — compatible with PHLO's runner —
// add people to the MultiPartyCall a live call is in, transfer, and hold,
// mute or hang up its members. JSON in, JSON out, under /v1 and its
// authentication.

// partyKey names the reference from a party's address to its live call.
func partyKey(flowName, address string) string { return "party:" + flowName + ":" + address }

// PartyAddress returns the other party of a call: the caller of an
// inbound call, the callee of an outbound one.
func PartyAddress(call map[string]string) string {
	if call["Direction"] == "outbound" {
		return call["To"]
	}
	return call["From"]
}

// indexRooms lets the trigger API find a call that joined a
// MultiPartyCall from its party's address.
func (s *Server) indexRooms(ctx context.Context, sess *CallState, res flow.Result) {
	if len(res.Rooms) == 0 {
		return
	}
	if party := PartyAddress(sess.Call); party != "" {
		if err := s.store.PutRef(ctx, partyKey(sess.Flow, party), sess.CallUUID, s.cfg.SessionTTL); err != nil {
			s.log.Warn("cannot index the call for the trigger API", "call", sess.CallUUID, "err", err)
		}
	}
}

type apiError struct {
	APIID string `json:"api_id"`
	Error string `json:"error"`
}

func (s *Server) apiFail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

// apiFailPlivo answers a failed Plivo request: Plivo's own 4xx passes
// through with its message; anything else is a 502.
func (s *Server) apiFailPlivo(w http.ResponseWriter, err error) {
	var ae *plivo.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		writeJSON(w, ae.Status, apiError{APIID: ae.APIID, Error: ae.Message})
		return
	}
	if errors.Is(err, plivo.ErrInvalidArgument) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	s.log.Error("Plivo request failed", "err", err)
	writeJSON(w, http.StatusBadGateway, apiError{Error: "Plivo request failed: " + err.Error()})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
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

type phloRequest struct {
	Action        string `json:"action"`
	To            string `json:"to"`
	Role          string `json:"role"`
	TriggerSource string `json:"trigger_source"`
}

// liveRoom finds the MultiPartyCall that node started for the live call
// whose party is address.
func (s *Server) liveRoom(ctx context.Context, flowName, node, address string) (*CallState, string, error) {
	id, err := s.store.GetRef(ctx, partyKey(flowName, address))
	if err != nil {
		return nil, "", err
	}
	sess, err := s.load(ctx, id)
	if err != nil {
		return nil, "", err
	}
	room, ok := sess.Rooms[node]
	if !ok || sess.Status == StatusHungUp {
		return nil, "", ErrNotFound
	}
	return sess, room, nil
}

// phloCall is PHLO's "add user to a Multi-Party Call" on flowd: call,
// warm_transfer and cold_transfer add `to` to the MultiPartyCall that node
// started for trigger_source's call, through Plivo's Add Participant API.
// cold_transfer then removes trigger_source from it.
func (s *Server) phloCall(w http.ResponseWriter, r *http.Request) {
	name, node := routeFlow(r).Name, pathParam(r, "node")
	var req phloRequest
	if err := decodeBody(r, &req); err != nil {
		s.apiFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	switch req.Action {
	case "call", "warm_transfer", "cold_transfer":
	default:
		s.apiFail(w, http.StatusBadRequest, "action must be call, warm_transfer or cold_transfer, not %q", req.Action)
		return
	}
	if req.Role == "" {
		req.Role = "agent"
	}
	role := strings.ToLower(req.Role)
	if role != "agent" && role != "customer" && role != "supervisor" {
		s.apiFail(w, http.StatusBadRequest, "role must be agent, customer or supervisor, not %q", req.Role)
		return
	}
	if req.To == "" || req.TriggerSource == "" {
		s.apiFail(w, http.StatusBadRequest, "to and trigger_source are required")
		return
	}
	if s.cfg.REST == nil {
		s.apiFail(w, http.StatusServiceUnavailable, "flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
		return
	}
	ctx := r.Context()
	sess, room, err := s.liveRoom(ctx, name, node, req.TriggerSource)
	if err != nil {
		s.apiFail(w, http.StatusNotFound, "no live multi-party call of node %q in flow %q for %q", node, name, req.TriggerSource)
		return
	}
	resp, err := s.cfg.REST.AddParticipant(ctx, plivo.MPCByName(room), &plivo.AddParticipantParams{
		Role: role, From: flow.PlivoNumber(sess.Call), To: req.To,
	})
	if err != nil {
		s.apiFailPlivo(w, err)
		return
	}
	// The added party can now be named in member actions.
	_ = s.store.PutRef(ctx, partyKey(name, req.To), sess.CallUUID, s.cfg.SessionTTL)
	if req.Action == "cold_transfer" {
		if err := s.memberDo(ctx, room, req.TriggerSource, "hangup"); err != nil {
			s.apiFailPlivo(w, err)
			return
		}
	}
	s.metrics.events.WithLabelValues(name, "api_"+req.Action).Inc()
	writeJSON(w, http.StatusCreated, apiError{APIID: resp.APIID})
}

// phloMember is PHLO's member actions on the MultiPartyCall node started
// for the live call that member_address is part of.
func (s *Server) phloMember(w http.ResponseWriter, r *http.Request) {
	name, node, address := routeFlow(r).Name, pathParam(r, "node"), pathParam(r, "member")
	var req struct {
		Action string `json:"action"`
	}
	if err := decodeBody(r, &req); err != nil {
		s.apiFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if _, ok := memberActions[req.Action]; !ok {
		s.apiFail(w, http.StatusBadRequest, "action must be one of hold, unhold, mute, unmute, hangup, resume_call, abort_transfer, not %q", req.Action)
		return
	}
	if s.cfg.REST == nil {
		s.apiFail(w, http.StatusServiceUnavailable, "flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
		return
	}
	ctx := r.Context()
	_, room, err := s.liveRoom(ctx, name, node, address)
	if err != nil {
		s.apiFail(w, http.StatusNotFound, "no live multi-party call of node %q in flow %q with member %q", node, name, address)
		return
	}
	if err := s.memberDo(ctx, room, address, req.Action); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.apiFail(w, http.StatusNotFound, "%q is not a member of multi-party call %q", address, room)
			return
		}
		s.apiFailPlivo(w, err)
		return
	}
	s.metrics.events.WithLabelValues(name, "api_member_"+req.Action).Inc()
	writeJSON(w, http.StatusCreated, apiError{})
}

// memberActions maps PHLO's member actions onto Update/Kick Participant.
var memberActions = map[string]*plivo.UpdateParticipantParams{
	"hold":           {Hold: ptr(true)},
	"unhold":         {Hold: ptr(false)},
	"resume_call":    {Hold: ptr(false)},
	"mute":           {Mute: ptr(true)},
	"unmute":         {Mute: ptr(false)},
	"hangup":         nil, // kick
	"abort_transfer": nil, // kick the transfer's target
}

func ptr[T any](v T) *T { return &v }

// memberDo applies a member action to the participant of room whose
// address is address.
func (s *Server) memberDo(ctx context.Context, room, address, action string) error {
	list, err := s.cfg.REST.ListParticipants(ctx, plivo.MPCByName(room))
	if err != nil {
		return err
	}
	var ids []string
	for _, p := range list.Objects {
		if p.MemberAddress == address && p.ExitTime == nil {
			ids = append(ids, p.MemberID)
		}
	}
	if len(ids) == 0 {
		return ErrNotFound
	}
	member := strings.Join(ids, ",")
	if upd := memberActions[action]; upd != nil {
		_, err = s.cfg.REST.UpdateParticipant(ctx, plivo.MPCByName(room), member, upd)
		return err
	}
	_, err = s.cfg.REST.KickParticipant(ctx, plivo.MPCByName(room), member)
	return err
}
