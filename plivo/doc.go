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
package plivo
