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
