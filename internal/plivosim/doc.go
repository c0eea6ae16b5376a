// Package plivosim plays Plivo's part in a call, over real HTTP: it posts
// the answer webhook to an answer_url, reads the XML document the
// application answers with, and sends the callbacks Plivo would send while
// executing it (the caller pressing keys or speaking, a Dial ending, a
// recording finishing, the caller leaving a conference or a
// MultiPartyCall, the call hanging up).
//
// It is for tests, load scripts and multi-replica checks of an XML
// application such as flowd; it knows nothing about flowd itself and works
// with any base URL, or with an http.Handler in this process (Transport).
//
//	sim := &plivosim.Sim{HangupURL: base + "/flows/ivr/hangup"}
//	call, err := sim.Call(ctx, base+"/flows/ivr/answer", map[string]string{"From": "+14155550100"})
//	if err != nil { ... }
//	call.Wait().Kind           // "GetDigits": the document waits for keys
//	err = call.Press("1")      // POST to the GetDigits action with Digits=1
//	call.Wait().Kind           // "Dial"
//	err = call.Dial("completed")
//	call.Ended()               // the document ends with <Hangup/>
//	err = call.Hangup()        // POST to HangupURL with HangupCause, Duration, ...
//
// # The document model
//
// After every answered request the call holds the returned document and
// the element it is at: the first element, from the top, that makes Plivo
// call back and wait for its answer (Wait). Those are GetDigits and
// GetInput with an action, Dial, Record and Conference with an action,
// MultiPartyCall with an onExitActionUrl, and Redirect. Hangup ends the
// call; so does the end of the document. Elements that only play or send
// something (Speak, Play, Wait, DTMF, PreAnswer, Stream, Message) are
// passed over, as are callback elements without a callback URL: the
// simulator cannot know what would happen inside them.
//
// Each event method checks that the element the call is at can send that
// event, as Plivo would: Press and Say need GetDigits or GetInput (Say
// only GetInput that listens for speech, Press only one that takes DTMF),
// NoInput needs GetDigits or GetInput, Dial a Dial, Record a Record, Exit
// a Conference or a MultiPartyCall. Otherwise it returns an *EventError
// (errors.Is(err, ErrWrongEvent)) and sends nothing. NoInput does what
// Plivo does when the caller gives no input: it goes on with the elements
// after GetDigits/GetInput, and follows the Redirect found there.
//
// Press takes the keys the caller presses and posts the Digits Plivo
// would collect from them (Collect), by the element's finishOnKey,
// numDigits and validDigits as written, else Plivo's defaults: "1234#"
// posts Digits=1234, keys after the finishOnKey or past numDigits are
// dropped, and a key outside a GetDigits' validDigits posts nothing and
// goes on as NoInput does.
//
// Notify posts a status or recording callback (statusCallbackUrl,
// recordingCallbackUrl, ...) of the element the call is at without moving
// the call, and Callback posts raw parameters to where the call waits.
//
// When an element says redirect="false", Plivo only notifies its action
// URL and goes on with the next element of the same document; the
// simulator does the same.
//
// An answer other than 200 with a valid <Response> document returns a
// *StatusError (or an XML error) and leaves the call where it was, so the
// same event can be sent again; Last always holds the latest exchange.
//
// # Requests
//
// Every request carries the call's standard parameters (CallUUID, From,
// To, Direction, CallerName, CallStatus, ...), form-encoded in a POST body
// or in the query of a GET, as the element's method attribute says
// (POST by default). With Sim.AuthToken set, each request is signed with
// X-Plivo-Signature-V3 and X-Plivo-Signature-V3-Nonce over the URL exactly
// as requested (and with X-Plivo-Signature-Ma-V3 for Sim.MainAuthToken),
// as package plivo computes them.
//
// A Sim is safe for concurrent use; a Call is not (one goroutine drives a
// call, as one caller does).
package plivosim
