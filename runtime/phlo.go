package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
)

type phloRequest struct {
	Action        string `json:"action"`
	To            string `json:"to"`
	Role          string `json:"role"`
	TriggerSource string `json:"trigger_source"`
}

// phloReply is what the PHLO-compatible endpoints answer: PHLO's api_id
// and error, and a warning when the request did its main part (the new
// participant was dialled, the member was kicked) but a later step
// failed.
type phloReply struct {
	APIID   string `json:"api_id"`
	Error   string `json:"error"`
	Warning string `json:"warning,omitempty"`
}

// answer is a trigger's HTTP answer before it is written.
type answer struct {
	code int
	body phloReply
	// dialled: the Add Participant request was sent and Plivo did not
	// refuse it, so someone may have been dialled. Only such answers are
	// kept for identical requests (phloOnce).
	dialled bool
	// replayed: the answer is an identical request's, kept or waited
	// for (phloOnce).
	replayed bool
	// retryAfter: the request may be sent again in a second (an
	// identical one did not answer in time, phloOnce).
	retryAfter bool
}

func failure(code int, format string, args ...any) answer {
	return answer{code: code, body: phloReply{Error: fmt.Sprintf(format, args...)}}
}

// plivoAnswer is the answer to a failed Plivo request (see plivoFailure).
func (s *Server) plivoAnswer(err error) answer {
	code, e := s.plivoFailure(err)
	return answer{code: code, body: phloReply{APIID: e.APIID, Error: e.Error}}
}

// refused reports whether Plivo (or the client's own argument checks)
// refused a request outright: a 4xx, after which nothing was done. Any
// other failure — a 5xx, a timeout — may come after Plivo acted.
func refused(err error) bool {
	var ae *plivo.APIError
	return errors.Is(err, plivo.ErrInvalidArgument) || (errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500)
}

func (s *Server) writeAnswer(w http.ResponseWriter, a answer) {
	if a.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if a.retryAfter {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, a.code, a.body)
}

// foundRoom is a MultiPartyCall a live call is in, as liveRoom finds it.
type foundRoom struct {
	sess *CallState
	name string
	ref  roomRef // the reference it was found by
}

// ambiguousError says an address is the Plivo number of several live
// calls in a MultiPartyCall of the node (see numberKey).
type ambiguousError struct{ address string }

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("%q is the Plivo number of more than one live call", e.address)
}

// liveRoom finds the MultiPartyCall that node started for the live call
// whose party is address — the call's other party, or someone the
// trigger API added to it — and, when byNumber, whose Plivo number it is
// (trigger_source may name either address of the call). The call must
// still be in the room: ErrNotFound once it has left it or hung up; an
// *ambiguousError when address is the Plivo number of several such calls.
func (s *Server) liveRoom(ctx context.Context, flowName, node, address string, byNumber bool) (*foundRoom, error) {
	v, err := s.store.GetRef(ctx, partyKey(flowName, address))
	switch {
	case err == nil && v != "":
		if fr := s.refRoom(ctx, parseRef(v), node); fr != nil {
			return fr, nil
		}
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}
	if !byNumber {
		return nil, ErrNotFound
	}
	list, err := s.numberList(ctx, numberKey(flowName, address))
	if err != nil {
		return nil, err
	}
	var found []*foundRoom
	for i := len(list.Calls) - 1; i >= 0 && len(found) < 2; i-- {
		if fr := s.refRoom(ctx, list.Calls[i], node); fr != nil {
			found = append(found, fr)
		}
	}
	switch {
	case len(found) > 1 || len(found) == 1 && list.Overflow:
		return nil, &ambiguousError{address: address}
	case len(found) == 1:
		return found[0], nil
	}
	return nil, ErrNotFound
}

// parseRef reads a party reference.
func parseRef(v string) roomRef {
	var ref roomRef
	if json.Unmarshal([]byte(v), &ref) != nil {
		ref = roomRef{Call: v} // an earlier flowd's reference: the CallUUID alone
	}
	return ref
}

// refRoom returns the MultiPartyCall of node that ref leads to, when its
// call is still in it; else nil.
func (s *Server) refRoom(ctx context.Context, ref roomRef, node string) *foundRoom {
	sess, err := s.load(ctx, ref.Call)
	if err != nil {
		return nil
	}
	if ref.Step == 0 && sess.Wait == node {
		// No step kept: the call is in the room while it waits at node.
		ref.Step, ref.Nodes = sess.Step, []string{node}
	}
	if !ref.inRoom(sess, node) {
		return nil
	}
	return &foundRoom{sess: sess, name: sess.Rooms[node], ref: ref}
}

// phloCall is PHLO's Multi-Party Call node API on flowd (PHLO's runner
// documents it as "POST /v1/phlo/{phlo_id}/multi_party_call/{node_id}").
// In PHLO's words, trigger_source is the user (agent) initiating the
// trigger and to the user to add:
//
//   - call dials to into the MultiPartyCall (Add Participant).
//   - warm_transfer: the initiating agent (U1) transfers the call with the
//     other members (U2, the customer) to another user (U3, to); U1 and U3
//     speak privately before U2 is added to the call. flowd puts the other
//     members on hold (Update Participant hold), then dials to; the
//     member action resume_call (or hangup) of U1 takes them off hold,
//     abort_transfer of U1 kicks U3 and takes them off hold.
//   - cold_transfer: U2 is connected directly to U3 and U1 is
//     disconnected: flowd dials to, then kicks trigger_source — never the
//     customer, which it refuses before dialling anyone.
//
// Everything that can be checked is checked before the Add Participant
// request, so a refused request dialled nobody; an identical request
// retried gets the first one's answer and dials nobody (phloOnce).
func (s *Server) phloCall(w http.ResponseWriter, r *http.Request) {
	name, node := routeFlow(r).Name, nodeParam(r)
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
	req.Role = strings.ToLower(req.Role)
	if req.Role != "agent" && req.Role != "customer" && req.Role != "supervisor" {
		s.apiFail(w, http.StatusBadRequest, "role must be agent, customer or supervisor, not %q", req.Role)
		return
	}
	if req.To == "" || req.TriggerSource == "" {
		s.apiFail(w, http.StatusBadRequest, "to and trigger_source are required")
		return
	}
	if req.Action != "call" && sameAddress(req.To, req.TriggerSource) {
		s.apiFail(w, http.StatusBadRequest, "%s: to and trigger_source are both %q; trigger_source is the agent handing the call over, to the one taking it", req.Action, req.To)
		return
	}
	if s.cfg.REST == nil {
		s.apiFail(w, http.StatusServiceUnavailable, "flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
		return
	}
	ctx := r.Context()
	once, kept := s.phloOnce(ctx, r, name, node, req)
	if kept != nil {
		s.writeAnswer(w, *kept)
		return
	}
	defer once.release()
	a := s.phloAct(ctx, name, node, req)
	once.done(ctx, a)
	if a.code < 300 {
		s.metrics.events.WithLabelValues(name, "api_"+req.Action).Inc()
	}
	s.writeAnswer(w, a)
}

// phloAct does a checked, first-seen phloCall request.
func (s *Server) phloAct(ctx context.Context, flowName, node string, req phloRequest) answer {
	rm, fail := s.triggerRoom(ctx, flowName, node, req)
	if fail != nil {
		return *fail
	}
	add := &plivo.AddParticipantParams{Role: req.Role, From: flow.PlivoNumber(rm.sess.Call), To: req.To}
	if err := add.Validate(); err != nil {
		return failure(http.StatusBadRequest, "%v", err)
	}
	var held []string
	if req.Action == "warm_transfer" {
		if x := s.pendingTransfer(ctx, flowName, node, req.TriggerSource); x != nil && x.Room == rm.name {
			return failure(http.StatusConflict, "%q already has a warm transfer to %q in progress in multi-party call %q: end it with the member action resume_call or abort_transfer first", req.TriggerSource, x.Target, rm.name)
		}
		// Choice: the transfer holds every member but the initiating
		// agent and supervisors (flowd's own role: they keep listening
		// to the agents); members already on hold stay so, and are not
		// taken off hold when the transfer ends.
		for _, p := range rm.list {
			if sameAddress(p.MemberAddress, req.TriggerSource) || strings.EqualFold(p.Role, plivo.RoleSupervisor) || (p.Hold != nil && bool(*p.Hold)) {
				continue
			}
			held = append(held, p.MemberID)
		}
		if len(held) > 0 {
			if _, err := s.cfg.REST.UpdateParticipant(ctx, plivo.MPCByName(rm.name), strings.Join(held, ","), &plivo.UpdateParticipantParams{Hold: ptr(true)}); err != nil {
				return s.plivoAnswer(err)
			}
		}
	}
	resp, err := s.cfg.REST.AddParticipant(ctx, plivo.MPCByName(rm.name), add)
	if err != nil {
		if len(held) > 0 {
			if uerr := s.setHold(ctx, rm.name, held, false); uerr != nil {
				s.log.Warn("warm transfer failed and the members it held are still on hold", "mpc", rm.name, "members", held, "err", uerr)
			}
		}
		a := s.plivoAnswer(err)
		a.dialled = !refused(err)
		return a
	}
	a := answer{code: http.StatusCreated, body: phloReply{APIID: resp.APIID}, dialled: true}
	// The added party can now be named in member actions and as a
	// trigger_source.
	for to := range strings.SplitSeq(req.To, "<") {
		_ = s.store.PutRef(ctx, partyKey(flowName, to), rm.ref.encode(), s.cfg.SessionTTL)
	}
	switch req.Action {
	case "warm_transfer":
		x := &transferRecord{Room: rm.name, Call: rm.sess.CallUUID, Step: rm.ref.Step, Target: req.To, Held: held}
		for _, c := range resp.Calls {
			x.TargetCalls = append(x.TargetCalls, c.CallUUID)
		}
		if err := s.putTransfer(ctx, flowName, node, req.TriggerSource, x); err != nil {
			a.body.Warning = fmt.Sprintf("%s was dialled, but flowd could not keep the transfer (%v): resume_call and abort_transfer of %s will not find it; take the held members off hold with unhold", req.To, err, req.TriggerSource)
		}
	case "cold_transfer":
		// Choice: the agent is kicked as soon as Plivo accepts the Add
		// Participant request, not when the new agent answers: flowd
		// does not follow the MultiPartyCall's events. When the kick
		// fails, the answer is still a 201 — the new agent was dialled,
		// and a 5xx would invite a retry that dials again — with a
		// warning saying what to do.
		warning, err := s.kickMember(ctx, flowName, node, rm.name, req.TriggerSource, memberIDs(rm.source))
		switch {
		case err != nil:
			a.body.Warning = fmt.Sprintf("%s was dialled, but %s could not be removed from multi-party call %q (%v): hang up on them with the member action hangup", req.To, req.TriggerSource, rm.name, err)
		case warning != "":
			a.body.Warning = warning
		}
	}
	if a.body.Warning != "" {
		s.log.Warn("trigger API: "+req.Action+" done in part", "flow", flowName, "mpc", rm.name, "warning", a.body.Warning)
	}
	return a
}

// trigRoom is the MultiPartyCall a trigger acts on.
type trigRoom struct {
	sess *CallState
	name string
	ref  roomRef // leads to the room: the parties the trigger names get it too
	// list holds the active participants, source those of trigger_source
	// (both nil when trigger_source is the room's own call and the action
	// needs no listing).
	list, source []plivo.Participant
}

// triggerRoom finds the MultiPartyCall of node a trigger acts on, from
// trigger_source (either address of its call, or a member flowd knows),
// else from to (someone added before, dialled again), and checks
// trigger_source may act in it: it is a member (the call the room
// belongs to, for call, needs no listing), and, for a transfer, not the
// customer.
//
// Choice: PHLO keeps its own state of who is in which MPC; flowd knows a
// party's MPC from references: the From and To of the call whose walk
// joined it, and whoever the trigger API added or found a member there.
// An agent that only the flow's own add_participant dialled is found
// through to only (or once it is named here after being found through to).
func (s *Server) triggerRoom(ctx context.Context, flowName, node string, req phloRequest) (*trigRoom, *answer) {
	transfer := req.Action != "call"
	var outside string // the room trigger_source's own reference leads to, which it is not in
	seen := map[string]bool{}
	for i, addr := range []string{req.TriggerSource, req.To} {
		fr, err := s.liveRoom(ctx, flowName, node, addr, i == 0)
		var amb *ambiguousError
		switch {
		case errors.As(err, &amb):
			a := failure(http.StatusConflict, "trigger_source %q is the Plivo number of more than one live call in a multi-party call of node %q in flow %q, so it does not say which: name the call's other party (the caller of an inbound call, the callee of an outbound one) or an agent in it", req.TriggerSource, node, flowName)
			return nil, &a
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			a := failure(http.StatusServiceUnavailable, "store unavailable: %v", err)
			return nil, &a
		}
		if seen[fr.name] {
			continue
		}
		seen[fr.name] = true
		rm := &trigRoom{sess: fr.sess, name: fr.name, ref: fr.ref}
		owner := sameAddress(fr.sess.Call["From"], req.TriggerSource) || sameAddress(fr.sess.Call["To"], req.TriggerSource)
		if owner && !transfer {
			return rm, nil
		}
		// Choice: PHLO documents trigger_source as the agent initiating
		// the transfer. The customer's call as trigger_source (its From
		// or To) would have flowd kick the customer (cold) or hold the
		// agents (warm): both are refused before anything is asked of
		// Plivo.
		if owner {
			a := failure(http.StatusConflict, "%s: trigger_source %q names the customer's call (its From or To), whose multi-party call %q is; trigger_source is the agent handing the call over (and, for a cold transfer, leaving it)", req.Action, req.TriggerSource, fr.name)
			return nil, &a
		}
		list, err := s.activeParticipants(ctx, fr.name)
		if err != nil {
			a := s.plivoAnswer(err)
			return nil, &a
		}
		rm.list = list
		for _, p := range list {
			if sameAddress(p.MemberAddress, req.TriggerSource) {
				rm.source = append(rm.source, p)
			}
		}
		if len(rm.source) == 0 {
			if i == 0 {
				outside = fr.name
			}
			continue
		}
		for _, p := range rm.source {
			if transfer && (p.CallUUID == fr.sess.CallUUID || strings.EqualFold(p.Role, plivo.RoleCustomer)) {
				a := failure(http.StatusConflict, "%s: trigger_source %q is a customer of multi-party call %q; trigger_source is the agent handing the call over", req.Action, req.TriggerSource, fr.name)
				return nil, &a
			}
		}
		// trigger_source is a member: index it, so member actions find
		// it too.
		_ = s.store.PutRef(ctx, partyKey(flowName, req.TriggerSource), fr.ref.encode(), s.cfg.SessionTTL)
		return rm, nil
	}
	// A room found through to alone is not named: it may be another
	// call's, which trigger_source has nothing to do with.
	if outside != "" {
		a := failure(http.StatusNotFound, "trigger_source %q is not a member of multi-party call %q of node %q", req.TriggerSource, outside, node)
		return nil, &a
	}
	a := failure(http.StatusNotFound, "no live multi-party call of node %q in flow %q has %q as a party (the From or To of its call, or a member added through the trigger API)", node, flowName, req.TriggerSource)
	return nil, &a
}

// phloMember is PHLO's member actions on the MultiPartyCall node started
// for the live call that member_address is part of:
//
//   - hold, unhold, mute, unmute: Update Participant on the member.
//   - hangup: Kick Participant; when the member had started a warm
//     transfer, the members it held are taken off hold: the customer now
//     talks with the transfer's target (the transfer is complete).
//   - resume_call: after a warm transfer the member started, takes the
//     members it held off hold (U2 is added to the call with U1 and U3);
//     otherwise takes the member off hold.
//   - abort_transfer: member_address is the member who started the warm
//     transfer (PHLO's documentation says so); kicks the transfer's target
//     and takes the members it held off hold. Choice: naming the target
//     instead is refused (409) rather than guessed at; there is nothing
//     to abort after a cold transfer, which is complete at once.
func (s *Server) phloMember(w http.ResponseWriter, r *http.Request) {
	name, node, address := routeFlow(r).Name, nodeParam(r), pathParam(r, "member")
	var req struct {
		Action string `json:"action"`
	}
	if err := decodeBody(r, &req); err != nil {
		s.apiFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if req.Action == "voicemail_drop" {
		// PHLO's voicemail drop plays audio set up in its canvas; a
		// MultiPartyCall node of a flow has no such audio, and Plivo's
		// MultiPartyCall API no voicemail drop to ask for.
		s.apiFail(w, http.StatusBadRequest, "voicemail_drop is not supported: a MultiPartyCall has no voicemail drop in Plivo's API, and the flow's node no audio to leave; leave a message with a flow that plays it (Play, then Hangup)")
		return
	}
	if _, ok := memberActions[req.Action]; !ok {
		s.apiFail(w, http.StatusBadRequest, "action must be one of hold, unhold, mute, unmute, hangup, resume_call, abort_transfer (voicemail_drop is not supported), not %q", req.Action)
		return
	}
	if s.cfg.REST == nil {
		s.apiFail(w, http.StatusServiceUnavailable, "flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
		return
	}
	ctx := r.Context()
	room := ""
	x := s.pendingTransfer(ctx, name, node, address)
	if x != nil {
		if sess, err := s.load(ctx, x.Call); err == nil && sess.Status != StatusHungUp && sess.Rooms[node] == x.Room && (x.Step == 0 || x.Step == sess.Step) {
			room = x.Room
		} else {
			x = nil
		}
	}
	if room == "" {
		fr, err := s.liveRoom(ctx, name, node, address, false)
		if err != nil {
			s.apiFail(w, http.StatusNotFound, "no live multi-party call of node %q in flow %q with member %q", node, name, address)
			return
		}
		room = fr.name
	}
	a := s.memberAct(ctx, name, node, room, address, req.Action, x)
	if a.code < 300 {
		s.metrics.events.WithLabelValues(name, "api_member_"+req.Action).Inc()
	}
	if a.body.Warning != "" {
		s.log.Warn("trigger API: member "+req.Action+" done in part", "flow", name, "mpc", room, "warning", a.body.Warning)
	}
	s.writeAnswer(w, a)
}

// memberActions maps PHLO's member actions onto Update Participant; nil
// for those memberAct does otherwise.
//
// Choice: PHLO's hold is documented as "the member will be muted and the
// other members will hear the hold music"; flowd's is Plivo's Update
// Participant hold on the member named: it hears the hold music and is
// not heard. voicemail_drop has no MultiPartyCall API and is refused.
var memberActions = map[string]*plivo.UpdateParticipantParams{
	"hold":           {Hold: ptr(true)},
	"unhold":         {Hold: ptr(false)},
	"resume_call":    {Hold: ptr(false)}, // without a warm transfer
	"mute":           {Mute: ptr(true)},
	"unmute":         {Mute: ptr(false)},
	"hangup":         nil,
	"abort_transfer": nil,
}

func ptr[T any](v T) *T { return &v }

// memberAct applies a member action to the participant of room whose
// address is address; x is the warm transfer address started there, or
// nil.
func (s *Server) memberAct(ctx context.Context, flowName, node, room, address, action string, x *transferRecord) answer {
	ok := answer{code: http.StatusCreated}
	switch {
	case action == "abort_transfer" && x == nil:
		return failure(http.StatusConflict, "no warm transfer started by %q is in progress in multi-party call %q (abort_transfer names the member who started it: the warm_transfer's trigger_source)", address, room)
	case action == "abort_transfer":
		list, err := s.activeParticipants(ctx, room)
		if err != nil {
			return s.plivoAnswer(err)
		}
		var target []string
		for _, p := range list {
			if !sameAddress(p.MemberAddress, address) && x.isTarget(p) {
				target = append(target, p.MemberID)
			}
		}
		if len(target) > 0 {
			if _, err := s.cfg.REST.KickParticipant(ctx, plivo.MPCByName(room), strings.Join(target, ",")); err != nil {
				return s.plivoAnswer(err)
			}
		}
		// A target still ringing is no member yet: kicking cannot reach
		// it, and it would join when it answers. Its call is hung up
		// (Plivo cancels a call not yet answered); one that ended
		// already is gone.
		for _, c := range x.TargetCalls {
			if slices.ContainsFunc(list, func(p plivo.Participant) bool { return p.CallUUID == c }) {
				continue
			}
			if _, err := s.cfg.REST.HangupCall(ctx, c); err != nil && !errors.Is(err, plivo.ErrNotFound) {
				return s.plivoAnswer(err)
			}
		}
		// Kept until the held members are off hold: sent again, the
		// action finishes.
		if err := s.endTransfer(ctx, flowName, node, address, x); err != nil {
			return s.plivoAnswer(err)
		}
		return ok
	case action == "resume_call" && x != nil:
		if err := s.endTransfer(ctx, flowName, node, address, x); err != nil {
			return s.plivoAnswer(err)
		}
		return ok
	}
	list, err := s.activeParticipants(ctx, room)
	if err != nil {
		return s.plivoAnswer(err)
	}
	ids := memberIDs(matching(list, address))
	if len(ids) == 0 {
		return failure(http.StatusNotFound, "%q is not a member of multi-party call %q", address, room)
	}
	if action == "hangup" {
		warning, err := s.kickMember(ctx, flowName, node, room, address, ids)
		if err != nil {
			return s.plivoAnswer(err)
		}
		ok.body.Warning = warning
		return ok
	}
	resp, err := s.cfg.REST.UpdateParticipant(ctx, plivo.MPCByName(room), strings.Join(ids, ","), memberActions[action])
	if err != nil {
		return s.plivoAnswer(err)
	}
	ok.body.APIID = resp.APIID
	return ok
}

// kickMember removes address's participants ids from room. When address
// had started a warm transfer there, the members it held are taken off
// hold — they now talk with its target — and a failure to do so is the
// warning returned: the kick happened.
func (s *Server) kickMember(ctx context.Context, flowName, node, room, address string, ids []string) (warning string, err error) {
	if _, err := s.cfg.REST.KickParticipant(ctx, plivo.MPCByName(room), strings.Join(ids, ",")); err != nil {
		return "", err
	}
	if x := s.pendingTransfer(ctx, flowName, node, address); x != nil && x.Room == room {
		if err := s.endTransfer(ctx, flowName, node, address, x); err != nil {
			return fmt.Sprintf("%s left, but the members its warm transfer held could not be taken off hold (%v): unhold them", address, err), nil
		}
	}
	return "", nil
}

// A warm transfer in progress, kept under its initiator's address until
// resume_call, abort_transfer or hangup of the initiator ends it.
//
// Choice: flowd acts on the trigger API's requests only, not on the
// MultiPartyCall's events: an initiator who hangs up their phone rather
// than through the API leaves the held members on hold (unhold them).
type transferRecord struct {
	Room        string   `json:"room"`
	Call        string   `json:"call"`           // the call the room belongs to
	Step        int      `json:"step,omitempty"` // the call's step while it is in the room (roomRef)
	Target      string   `json:"target"`
	TargetCalls []string `json:"target_calls,omitempty"`
	Held        []string `json:"held,omitempty"` // member ids the transfer put on hold
}

// isTarget reports whether p is the transfer's target.
func (x *transferRecord) isTarget(p plivo.Participant) bool {
	if slices.Contains(x.TargetCalls, p.CallUUID) {
		return true
	}
	for to := range strings.SplitSeq(x.Target, "<") {
		if sameAddress(p.MemberAddress, to) {
			return true
		}
	}
	return false
}

func transferKey(flowName, node, address string) string {
	return "phlo-transfer:" + flowName + ":" + node + ":" + normAddress(address)
}

// pendingTransfer returns the warm transfer address started in the
// MultiPartyCall of node, or nil.
func (s *Server) pendingTransfer(ctx context.Context, flowName, node, address string) *transferRecord {
	v, err := s.store.GetRef(ctx, transferKey(flowName, node, address))
	if err != nil || v == "" {
		return nil
	}
	var x transferRecord
	if json.Unmarshal([]byte(v), &x) != nil || x.Room == "" {
		return nil
	}
	return &x
}

// putTransfer keeps x as address's transfer; nil forgets it ("" is no
// transfer: the store has no delete).
func (s *Server) putTransfer(ctx context.Context, flowName, node, address string, x *transferRecord) error {
	v := ""
	if x != nil {
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		v = string(b)
	}
	return s.store.PutRef(ctx, transferKey(flowName, node, address), v, s.cfg.SessionTTL)
}

// endTransfer takes the members x held that are still in its room off
// hold and forgets x.
func (s *Server) endTransfer(ctx context.Context, flowName, node, address string, x *transferRecord) error {
	if len(x.Held) > 0 {
		list, err := s.activeParticipants(ctx, x.Room)
		if err != nil {
			return err
		}
		var ids []string
		for _, p := range list {
			if slices.Contains(x.Held, p.MemberID) {
				ids = append(ids, p.MemberID)
			}
		}
		if err := s.setHold(ctx, x.Room, ids, false); err != nil {
			return err
		}
	}
	return s.putTransfer(ctx, flowName, node, address, nil)
}

// setHold puts members of room on hold or takes them off.
func (s *Server) setHold(ctx context.Context, room string, ids []string, hold bool) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.cfg.REST.UpdateParticipant(ctx, plivo.MPCByName(room), strings.Join(ids, ","), &plivo.UpdateParticipantParams{Hold: ptr(hold)})
	return err
}

// activeParticipants lists the participants of room that have not left.
func (s *Server) activeParticipants(ctx context.Context, room string) ([]plivo.Participant, error) {
	list, err := s.cfg.REST.ListParticipants(ctx, plivo.MPCByName(room))
	if err != nil {
		return nil, err
	}
	var out []plivo.Participant
	for _, p := range list.Objects {
		if p.ExitTime == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// matching returns the participants whose address is address.
func matching(list []plivo.Participant, address string) []plivo.Participant {
	var out []plivo.Participant
	for _, p := range list {
		if sameAddress(p.MemberAddress, address) {
			out = append(out, p)
		}
	}
	return out
}

func memberIDs(list []plivo.Participant) []string {
	ids := make([]string, 0, len(list))
	for _, p := range list {
		ids = append(ids, p.MemberID)
	}
	return ids
}

// normAddress is the form addresses are compared in: Plivo reports a
// number with or without its +, a SIP address with or without sip:.
func normAddress(a string) string {
	a = strings.ToLower(strings.TrimSpace(a))
	a = strings.TrimPrefix(a, "sip:")
	return strings.TrimPrefix(a, "+")
}

// sameAddress reports whether two addresses name the same party. An
// endpoint's username ("alice") names its SIP address
// ("sip:alice@phone.plivo.com"): Plivo reports either as a member's
// address.
func sameAddress(a, b string) bool {
	a, b = normAddress(a), normAddress(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	au, _, aAt := strings.Cut(a, "@")
	bu, _, bAt := strings.Cut(b, "@")
	return aAt != bAt && au == bu
}
