// Package plivotest is a fake Plivo REST API for tests: an HTTP server on
// 127.0.0.1 that answers the Voice API endpoints flowd uses the way Plivo
// documents them, records every request, and keeps enough state (calls
// made, MultiPartyCalls and their participants) to answer follow-up
// requests consistently.
//
//	fake := plivotest.New("MAXXXXXXXXXXXXXXXXXX", "token")
//	defer fake.Close()
//	client, _ := plivo.NewClient(plivo.Config{AuthID: fake.AuthID, AuthToken: fake.AuthToken, BaseURL: fake.URL})
//	...
//	fake.Requests()              // every request: method, path, query, JSON body, basic auth
//	fake.Participants("support") // who Add Participant put into MPC "support"
//	fake.Inject(plivotest.Fault{Status: 503, Times: 2})             // the next 2 requests fail
//	fake.Inject(plivotest.Fault{Status: 429, RetryAfter: "1"})      // rate-limit the next one
//
// # What it answers
//
// Every request needs HTTP Basic auth with AuthID and AuthToken and the
// same auth id in the path (else 401), a path under /v1/Account/{auth_id}/
// ending in "/" (else 404), and a POST body of Content-Type
// application/json holding a JSON object (else 400). Known paths answer
// other methods with 405. Errors are {"api_id": ..., "error": "..."}.
//
//   - POST Call/ (make call): 201 {"api_id", "message": "call fired",
//     "request_uuid"} (a list of request UUIDs for a "<" bulk call); 400
//     without from, to or answer_url.
//   - POST Call/{uuid}/ (transfer): 202 {"message": "call transferred"};
//     DELETE Call/{uuid}/ (hang up): 204. GET Call/{uuid}/ answers the
//     calls made through the fake, 404 otherwise.
//   - GET MultiPartyCall/ (list, filters friendly_name, status, limit,
//     offset), GET/POST/DELETE MultiPartyCall/{name_x|uuid_x}/ (get; start
//     with {"status": "active"}, 204, 404 unless initialized; end, 204).
//   - POST .../Participant/ (add participant): 201 with "calls" (one per
//     "to" destination, or the transferred call_uuid). It creates the MPC
//     when none with that name is live, and checks the documented rules
//     (role, from/to versus call_uuid, parallel dial only for agents, the
//     integer ranges, confirm_key, the allowed values of
//     record_file_format, enter_sound, exit_sound, dial_music and
//     status_callback_events, GET or POST for every *_method) with 400.
//     The participant joins at once: the first destination of a parallel
//     dial answers.
//   - GET .../Participant/ and .../Participant/{id}/, POST
//     .../Participant/{ids|all}/ (update: 202 with the per-argument
//     acknowledgements; coach_mode with all or a list is 400), DELETE
//     .../Participant/{ids|all}/ (kick, 204; the MPC ends when nobody is
//     left or an end_mpc_on_exit participant leaves).
//   - POST/DELETE .../Record/, POST .../Record/Pause/ and Resume/ (202 with
//     recording_id and recording_url on start, else 204), the same under
//     .../Participant/{id}/Record/, and POST/DELETE
//     .../Member/{ids|all}/Play/ (202 "play queued into MPC", 204).
//
// Injected faults (Inject) answer before authentication and leave the
// state alone, as a failure in front of Plivo would. Override can answer
// any request in place of the fake.
package plivotest
