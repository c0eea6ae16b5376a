// Package runtime serves compiled flows to Plivo: it is the answer_url,
// the hangup_url and every callback URL flowd writes into its XML. Each
// webhook loads the call's session, walks the flow's graph from where the
// call stands, stores the session and answers with Plivo XML. Server is a
// plain http.Handler.
//
// This comment is the contract between flowd and Plivo's webhooks: what
// each URL means and how flowd answers it. The README's "Running in
// production" section says the same to an operator.
//
// # URLs
//
// Every webhook URL lives under /flows/{flow}/, where {flow} is the
// flow's name, and accepts GET or POST: a POST's parameters are its form
// body (its query carries none of Plivo's), a GET's are its query.
//
//	/flows/{flow}/answer                          a call starts (Plivo application's Answer URL)
//	/flows/{flow}/hangup                          a call ended (its Hangup URL)
//	/flows/{flow}/calls/{step}/{node}/{event}     a node the call waits at reports an event
//	/flows/{flow}/events/{CallUUID}/{node}/{kind} a MultiPartyCall's status or recording event
//
// When Config.PublicURL has a path (https://example.com/plivo), every
// URL is served under it as well as bare, so a proxy may strip the prefix
// or not (Server.stripPrefix).
//
// Only the first two are configured in Plivo; flowd writes the others,
// absolute, into its own XML (CallbackURL, EventURL), and their shape is
// internal. A callback URL names the step of the call it was issued at
// (the answer is step 1, each callback that advances the call one more),
// the node the call waits at and the event the URL reports (action,
// no_input, exit: flow.EventAction and the rest). An event URL names the
// call itself, because a MultiPartyCall's status and recording callbacks
// describe the MultiPartyCall, not the call that joined it; kind is
// status or recording, for a node that lists it under events:. The answer
// URL may carry initial vars (AnswerURL, DecodeVars): the trigger API and
// flow tests start calls with them, and Plivo signs them with the rest of
// the URL.
//
// Before a handler runs, the middlewares under /flows/{flow} resolve the
// flow once for the request (flowCtx: its name, its metrics label, its
// current version if flowd serves it), cap the body (64 KiB by default;
// 413 past it), parse the parameters (400 when they cannot be read) and,
// with auth tokens configured, check Plivo's signature over the public
// URL (403 when it does not match).
//
// # Answers
//
// The answer webhook starts a session pinned to the flow's current
// version and answers the walk from start. A flow flowd does not serve is
// 404. Every other webhook finds the call's session by its CallUUID, and
// a callback walks the version the call is pinned to, whether or not that
// version is still current: a flow changed or removed from the folder
// does not change a call in progress (the version's source is kept in the
// store, so another replica or a restarted flowd can serve it too).
//
// A callback advances the call only when it is for the current step, the
// node the call waits at and an event that node reports; the walk goes on
// from the node's outcome and the answer is the next document. The
// hangup marks the session hung up (204) and keeps its cause. An event is
// kept in the call's trace and never moves the call (204).
//
// # Retries
//
// Plivo sends a webhook again when it gets no answer in time, and a load
// balancer may send one copy to each of two replicas. A copy gets what the
// first got: a retried answer gets the first answer's XML; a retried
// callback (the previous step's, with the same node and event) gets the
// same XML again and advances nothing; a retried hangup is 204 again; an
// event sent twice is kept twice.
// Each session keeps its last XML for this (CallState.XML). A hangup that
// arrives before its call's answer is stored is kept, and the answer then
// finds the call over and answers <Hangup/>.
//
// # Refusals
//
// A webhook that must change nothing is refused with a status and a
// message, and counted in flowd_errors_total{flow,kind} with kind stale
// (409), not_found (404), forged (403) or bad_request (the rest); flow is
// "unknown" for a flow flowd does not serve:
//
//   - 404: an answer for a flow flowd does not serve; a callback or event
//     for an unknown call, a node the call's version lacks, a step that is
//     not a number, an event kind flowd does not know or a node that did
//     not ask for it.
//   - 409: a stale callback — another step, or a node the call is not
//     waiting at; a webhook for a call of another flow; a callback after
//     the hangup; a second answer for a call that has moved on; a change
//     that kept racing other writes ("retry").
//   - 403: a forged webhook, whose signature does not match.
//   - 400: no CallUUID, or one longer than 256 bytes; bad vars in an
//     answer URL; a callback event the node's kind never reports; an
//     event whose parameters cannot be kept.
//
// # Apologies
//
// The answer and callbacks of a known call never get an empty 5xx: Plivo
// would drop the caller in silence. A run-time error of the walk goes to
// the flow's on_error node, else the walk answers an apology and a Hangup
// (flow/doc.go, "Run-time errors"). When flowd cannot go on at all — the
// session store fails, or the call's flow version can no longer be read —
// it answers flow.ApologyXML, and the caller hears the same apology. The
// webhooks whose answer Plivo ignores ask for a retry instead: a hangup or
// an event that cannot be stored gets 503, and Plivo sends it again.
//
// # Side effects
//
// Every change to a session is one read-modify-write, written with a
// compare-and-set on the record's revision and started again from a fresh
// read when another write came first (change.go). A walk that makes a
// side effect — a REST action such as add_participant — first claims the
// step: the state as read, plus a claim with a 20 s lease, written with
// the same compare-and-set, before the first request (Walker.Effect). A
// copy of the webhook that finds the claim waits for the claimer's answer
// and answers it; Plivo receives the request once. Only when the claimer
// dies and its lease runs out does a copy walk the step again — the one
// case in which a side effect can repeat.
//
// # Call state and trace
//
// A session is two things (session.go). The call state (CallState) is
// what a webhook needs: flow, version, step, the node the call waits at,
// vars, the nodes' last callback parameters and the last XML. It is read
// and written by every webhook, so it stays small and bounded: the same
// size at step 1,000 as at step 2. The trace people read — each step's
// node, outcome, inputs, path and XML, and each event — is appended beside
// it as entries (Store.Trace), in the same atomic write, keeping the
// first Config.TraceFirst and the latest Config.TraceLast entries of a
// long call. GET /v1/calls/{CallUUID} answers both as a Session. A
// session lives Config.SessionTTL after its last webhook and
// Config.TraceTTL after its hangup.
//
// # The API
//
// /v1 is flowd's own JSON API, behind a bearer token or HTTP Basic
// (Config.APIToken, Config.APIBasicID and Config.APIKey) whatever address
// a request comes from (the scheme's name in any case); with neither configured it answers only when
// Config.Local, and only to loopback (apiauth.go). It serves a call's
// trace, the flows served and the files rejected (GET /v1/flows), and the
// trigger API, which starts calls that run a flow and drives the
// MultiPartyCall a live call is in (trigger.go, phlo.go). /healthz answers
// 503 while the store does not answer (health.go); /metrics serves
// Prometheus metrics, per-node counts included, behind the API's
// credentials with Config.MetricsAuth. With Config.Tracer each webhook is
// an OpenTelemetry span (telemetry.go).
package runtime
