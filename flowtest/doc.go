// Package flowtest runs flow tests (*_test.yaml; the README's "Testing
// flows" and schema/flowtest.schema.json describe them): the engine behind
// `flowd test`.
//
// Each case is one call through the real thing. The runner builds a
// runtime.Server — the http.Handler `flowd serve` runs — with a memory
// store, the case's clock (Config.Now) and params (Config.Params), and
// drives it in this process through plivosim, which plays Plivo: it posts
// the answer webhook (initial vars ride in the answer URL, as the trigger
// API sends them), reads each XML document, finds where it waits, and
// sends each step's event to that callback with Plivo's parameters — the
// action of a GetDigits, GetInput, Dial, Record or Conference, flowd's
// Redirect for no input, a MultiPartyCall's onExitActionUrl, the hangup
// URL. Nothing listens on a socket and nothing interprets the flow a
// second time: the walker and XML generator that answer are the ones
// production runs.
//
// A press: gives the keys the caller presses, and the action gets the
// Digits Plivo would collect from them (plivosim.Collect): the element's
// finishOnKey ends them and is left out ("1234#" posts 1234), keys past
// numDigits are dropped, and a key outside a GetDigits' validDigits posts
// nothing: the call goes on as for no_input. With params:, the Digits
// follow the same rules unless params: gives Digits itself.
//
// A test file finds its flow with LoadFlow: flow: is a path relative to
// it, or a flow name looked up among the flow files beside it (FindFlow,
// which flowd render and graph use for a FLOW given by name). Without
// flow:, x_test.yaml tests the flow in x.yaml beside it, whatever that
// flow's name, so renaming a flow does not orphan its tests.
//
// Nothing reaches the network either: the server's Config.HTTP is a Mock
// that answers the http nodes' requests from the case's http: answers and
// the current step's, which override them node by node. An error answer
// fails the request as the network would (a refused dial, a DNS miss, an
// answer over flow.HTTPMaxBody), so the http node names it and keeps its
// status as it does in production. A request that no answer covers takes
// the node's error outcome and fails the step, naming the node. The mock
// keeps each request's whole URL, so requests: expectations match
// url_contains against the query too, while the trace (and every failure
// message) shows URLs without it.
//
// After each step the runner reads the call's trace from /v1/calls/{id},
// as an operator would, and checks the step's expectations against it:
// where the call waits, the nodes walked, the XML answered, the vars,
// whether the flow ended. An xml: expectation is compared as XML, not as
// text (xmlcmp.go): the declaration, comments, indentation, attribute
// order and <X></X> for <X/> do not matter, text is compared trimmed, and
// a failure names the first difference by its path. The traces' edges are
// also what coverage counts: each node and each outcome edge of a flow
// (next, each on: outcome, each branch case, labelled as flow.Node.Edges
// labels them) that some case took.
package flowtest
