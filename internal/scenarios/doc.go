// Package scenarios walks simulated calls through flowd's example flows
// (examples/flows) and checks each finished call's trace. It is shared by
// the multi-replica end-to-end tests (package e2e) and the soak program
// (scripts/soak), which drive the same calls against a cluster of
// replicas; it works against any flowd reachable over HTTP, a
// runtime.Server in this process included (plivosim.HandlerClient).
//
// A Scenario is one call through a flow, from the answer to the end: a
// list of Steps, each a webhook (the answer, a key press, speech, no
// input, a Dial's end, a recording, leaving a conference, the hangup),
// the nodes the step must walk and the node the call then waits at.
// Catalog returns scenarios for every example flow.
//
// A Caller plays Plivo and the caller with internal/plivosim:
//
//	cl := &scenarios.Caller{Sim: sim, API: client, Base: "http://127.0.0.1:18200", All: scenarios.Catalog()}
//	res, err := cl.Run(ctx, cl.All[0], 0)
//
// Run answers a call, sends the events of the scenario's steps, checks
// after each one where the call waits (from the callback URL of the XML
// answered), hangs up, and reads the call's trace back from
// /v1/calls/{id} (Verify): one trace step per webhook, each with the
// expected path, event and the XML the simulator received, and the call
// hung up. A failed trace check wraps ErrTrace.
//
// crm-routing looks each caller up in a CRM with an http node: its
// scenarios need the fake CRM of crm.go, which answers by the caller's
// number. A server in this process gets it as runtime.Config.HTTP (with
// the param crm_url CRMURL: no request reaches the network); flowd
// processes get --param crm_url=http://127.0.0.1:PORT/api of a CRM served
// by the test or program that drives them (e2e, scripts/soak).
//
// Flows that read the clock (business-hours, contact-center) take their
// open or closed branch: when the answer waits at another node than the
// scenario says, Run walks an alternative scenario of the same flow whose
// answer waits there (Alternatives).
package scenarios
