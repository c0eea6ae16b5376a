// Package plivo talks to Plivo. It verifies webhook signatures (the
// X-Plivo-Signature-V3 and X-Plivo-Signature-V2 headers Plivo sends with
// every callback) so the engine serves call flows only to requests that
// really come from Plivo.
//
// The signature algorithms follow Plivo's official Node SDK (plivo@4.79.0,
// dist/utils/v3Security.js and dist/utils/security.js), which reproduces
// the signatures captured from Plivo's servers. Where that SDK mis-parses a
// URL (a raw "@" after the host, a "__proto__" query key, more than 1000
// query pairs) this package signs what the URL says instead; see the
// comments in signature.go. The tests cross-check this package against
// that SDK.
//
// Client is a hand-written client of Plivo's Voice REST API — calls and
// MultiPartyCall (participants, recording, audio) — with client-side
// checks of every documented argument rule, typed errors, retries with
// backoff on 429 and 5xx, and a calls-per-second limiter for outbound
// calls. The subpackage plivotest is a fake Plivo API server for tests.
// The ranges and allowed values of Add Participant are those of xmlgen's
// <MultiPartyCall> element and of the fake, but for Plivo's own
// differences between its XML and its REST API, which mpc_parity_test.go
// names and checks.
//
// flowd itself calls MakeCall and ListParticipants (the trigger API) and
// AddParticipant, UpdateParticipant, KickParticipant, StartMPCRecording
// and StopMPCRecording (flows' REST actions, flow.REST). The other
// methods — TransferCall, HangupCall, GetMPC, ListMPCs, StartMPC, EndMPC,
// GetParticipant, the MPC recording's pause and resume, participant
// recording and play audio — stay on purpose: a new REST action is then
// one value in flow/rest.go over a method and a params struct that are
// already checked against Plivo's documents and the fake; the tests read
// the fake's state back through GetMPC, ListMPCs and GetParticipant and
// drive the client's retries through these methods; and the package is
// importable on its own, as a client of Plivo's Voice API.
package plivo
