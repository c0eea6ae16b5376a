package flowtest_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// crm looks the caller up in a CRM as the call is answered, then opens a
// ticket for the key pressed. Its http nodes write their outcomes two
// ways: lookup with next: and on: error, ticket with on: ok and error.
const crm = `flow: crm
params:
  crm_url: { default: "https://crm.example.com" }
nodes:
  lookup:
    http:
      url: "{{ params.crm_url }}/customers?phone={{ urlquery(call.From) }}"
      timeout: 200ms
    on:
      error: lookup_failed
    next: route
  route:
    branch:
      - when: nodes.lookup.body.vip == true
        next: vip
    next: menu
  vip:
    Speak: "Welcome back, {{ nodes.lookup.body.name }}."
    next: menu
  lookup_failed:
    Speak: "Lookup failed: {{ nodes.lookup.error }}."
    next: menu
  menu:
    GetDigits: { numDigits: 1 }
    next: ticket
  ticket:
    http:
      url: "https://tickets.example.com/tickets?digits={{ input.Digits }}"
      method: POST
      body: { from: "{{ call.From }}", digits: "{{ input.Digits }}" }
    on:
      ok: done
      error: no_ticket
  done:
    Speak: "Ticket {{ nodes.ticket.body.id }} opened ({{ nodes.ticket.status }})."
    next: bye
  no_ticket:
    Speak: "No ticket: {{ nodes.ticket.error }}."
    next: bye
  bye:
    Hangup: {}
`

// crmSuite writes crm and its tests into a folder and loads them.
func crmSuite(t *testing.T, tests string) *flowtest.Suite {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "crm.yaml"), crm)
	path := filepath.Join(dir, "crm_test.yaml")
	writeFile(t, path, tests)
	s := flowtest.Load(path)
	if !s.OK() {
		t.Fatalf("the suite does not load:\n%v", s.Diags)
	}
	return s
}

// TestHTTPMocks: http nodes are answered by the case's and the steps'
// http: answers — a JSON answer, a status with a body, errors — and
// requests: finds the requests made, query included.
func TestHTTPMocks(t *testing.T) {
	s := crmSuite(t, httpCases)
	r := s.Run(flowtest.Options{})
	if r.Failed() {
		t.Fatalf("cases fail:\n%s", report(r))
	}
	// The trace keeps the requests, without their query.
	sess := r.Cases[0].Session
	if got := sess.Trace[0].Requests; len(got) != 1 || got[0].URL != "https://crm.example.com/customers" || got[0].Status != 200 {
		t.Errorf("answer's requests = %+v", got)
	}
	if got := r.Cases[2].Session.Trace[0].Requests; len(got) != 1 || got[0].Error != "timeout" || got[0].Status != 0 {
		t.Errorf("timeout's requests = %+v", got)
	}
}

const httpCases = `cases:
  - name: a VIP opens a ticket
    call: { From: "+14155550100" }
    http:
      lookup: { json: { vip: true, name: Ada } }
      ticket: { status: 201, json: { id: T-1 } }
    steps:
      - expect:
          node: menu
          path: [lookup, route, vip, menu]
          contains: ["Welcome back, Ada."]
          requests: [{ node: lookup, method: GET, url_contains: "phone=%2B14155550100", status: 200 }]
      - press: "7"
        expect:
          ended: true
          contains: [Ticket T-1 opened (201).]
          requests: [{ node: ticket, method: POST, url_contains: "digits=7", status: 201 }]
  - name: the CRM is down
    http:
      lookup: { status: 503, body: down for maintenance }
      ticket: { error: connection refused }
    steps:
      - expect: { node: menu, contains: ["Lookup failed: status 503."], requests: [{ node: lookup, status: 503 }] }
      - press: "1"
        expect: { ended: true, contains: ["No ticket: connection refused."], requests: [{ node: ticket, status: 0 }] }
  - name: the CRM times out
    http:
      lookup: { error: timeout }
    steps:
      - expect: { node: menu, contains: ["Lookup failed: timeout."] }
      - press: "1"
        http: { ticket: { error: unknown host } }
        expect: { contains: ["No ticket: unknown host."] }
  - name: a step overrides the case
    http:
      lookup: { json: { vip: false } }
      ticket: { json: { id: T-2 } }
    steps:
      - http: { lookup: { error: request failed } }
        expect: { node: menu, contains: ["Lookup failed: request failed."] }
      - press: "2"
        http: { ticket: { status: 500, body: '{"error": "full"}' } }
        expect: { contains: ["No ticket: status 500."], requests: [{ node: ticket, status: 500 }] }
  - name: the case's answers hold in the steps without their own
    http:
      lookup: { json: { vip: false } }
      ticket: { json: { id: T-3 } }
    steps:
      - press: "2"
        expect: { contains: [Ticket T-3 opened (200).], requests: [{ node: ticket }] }
  - name: no requests
    http:
      lookup: { json: {} }
    steps:
      - expect: { node: menu, requests: [{ node: lookup }] }
      - hangup: true
        expect: { requests: [] }
`

// TestHTTPSchema: the schema accepts what the decoder accepts.
func TestHTTPSchema(t *testing.T) {
	s := compiledTestSchema(t)
	src := testenv.ReadFile(t, crmSuite(t, httpCases).Path)
	if err := s.Validate(testInstance(t, src)); err != nil {
		t.Errorf("the schema rejects the http cases:\n%v", err)
	}
}

// TestHTTPFailures: a request that nothing answers fails the case naming
// the node and the step; requests: that do not hold show the requests
// made, without their query.
func TestHTTPFailures(t *testing.T) {
	s := crmSuite(t, `cases:
  - name: the ticket is not answered
    http:
      lookup: { json: { vip: false } }
    steps:
      - expect: { node: menu }
      - press: "1"
        expect: { contains: [Ticket] }
  - name: the lookup is not answered
    steps:
      - press: "1"
  - name: a step's answers hold in that step only
    http:
      lookup: { json: {} }
    steps:
      - http: { ticket: { json: { id: T-9 } } }
        expect: { node: menu }
      - press: "1"
  - name: wrong requests
    call: { From: "+14155550100" }
    http:
      lookup: { json: {} }
      ticket: { status: 201, json: { id: T-1 } }
    steps:
      - expect: { requests: [{ node: lookup, url_contains: "phone=%2B1999" }] }
  - name: requests out of order
    http:
      lookup: { json: {} }
      ticket: { json: { id: T-1 } }
    steps:
      - press: "1"
        expect: { requests: [{ node: ticket }, { node: lookup }] }
  - name: no requests wanted
    http:
      lookup: { json: {} }
    steps:
      - expect: { requests: [] }
`)
	got := report(s.Run(flowtest.Options{}))
	p := s.Path
	want := `--- FAIL: the ticket is not answered ($F:2)
    $F:7:9: step 2 (press "1") failed
        http node ticket made a request that the case does not answer: add http: {ticket: {status: 200, json: ...}} to the case or the step (a flow test never reaches the network)
        the call waits at: nothing (the flow has ended)
        path walked: ticket, no_ticket, bye
        xml: <Response><Speak>No ticket: request failed.</Speak><Hangup/></Response>
--- FAIL: the lookup is not answered ($F:9)
    $F:9:5: the answer (before step 1) failed
        http node lookup made a request that the case does not answer: add http: {lookup: {status: 200, json: ...}} to the case or the step (a flow test never reaches the network)
--- FAIL: a step's answers hold in that step only ($F:12)
    $F:18:9: step 2 (press "1") failed
        http node ticket made a request that the case does not answer: add http: {ticket: {status: 200, json: ...}} to the case or the step (a flow test never reaches the network)
        the call waits at: nothing (the flow has ended)
        path walked: ticket, no_ticket, bye
        xml: <Response><Speak>No ticket: request failed.</Speak><Hangup/></Response>
--- FAIL: wrong requests ($F:19)
    $F:25:9: step 1 (answer) failed
        requests: want a request from http node lookup, a URL containing "phone=%2B1999", but the step made 1 request (URLs shown without their query):
            lookup: GET https://crm.example.com/customers → 200
        the call waits at: menu
        path walked: lookup, route, menu
        xml: <Response><GetDigits action="http://127.0.0.1:8080/flows/crm/calls/1/menu/action" numDigits="1"/><Redirect>http://127.0.0.1:8080/flows/crm/calls/1/menu/no_input</Redirect></Response>
--- FAIL: requests out of order ($F:26)
    $F:31:9: step 1 (press "1") failed
        requests: want a request from http node lookup after the one that matches item 1, but the step made 1 request (URLs shown without their query):
            ticket: POST https://tickets.example.com/tickets → 200
        the call waits at: nothing (the flow has ended)
        path walked: ticket, done, bye
        xml: <Response><Speak>Ticket T-1 opened (200).</Speak><Hangup/></Response>
--- FAIL: no requests wanted ($F:33)
    $F:37:9: step 1 (answer) failed
        requests: want none, but the step made 1 request (URLs shown without their query):
            lookup: GET https://crm.example.com/customers → 200
        the call waits at: menu
        path walked: lookup, route, menu
        xml: <Response><GetDigits action="http://127.0.0.1:8080/flows/crm/calls/1/menu/action" numDigits="1"/><Redirect>http://127.0.0.1:8080/flows/crm/calls/1/menu/no_input</Redirect></Response>
FAIL $F (flow crm): 6 of 6 case(s) failed
0 passed, 6 failed
`
	want = strings.ReplaceAll(want, "$F", p)
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestHTTPCoverage: the ok and error edges of http nodes count like any
// outcome's; cases for each reach 100%.
func TestHTTPCoverage(t *testing.T) {
	s := crmSuite(t, `cases:
  - name: a VIP opens a ticket
    http:
      lookup: { json: { vip: true, name: Ada } }
      ticket: { json: { id: T-1 } }
    steps:
      - press: "1"
        expect: { ended: true }
  - name: not a VIP
    http:
      lookup: { json: { vip: false } }
      ticket: { json: { id: T-2 } }
    steps:
      - press: "2"
        expect: { path: [ticket, done, bye] }
  - name: both fail
    http:
      lookup: { status: 404, body: "" }
      ticket: { status: 503, body: "" }
    steps:
      - press: "1"
        expect: { contains: ["No ticket: status 503."] }
`)
	cov := flowtest.NewCoverage()
	r := s.Run(flowtest.Options{Coverage: cov})
	if r.Failed() {
		t.Fatalf("cases fail:\n%s", report(r))
	}
	var b bytes.Buffer
	cov.Write(&b)
	if cov.Percent() != 100 {
		t.Errorf("coverage %.1f%%:\n%s", cov.Percent(), b.String())
	}
	// Without the failing case, lookup's and ticket's error edges are
	// missed.
	cov = flowtest.NewCoverage()
	s.File.Cases = s.File.Cases[:2]
	s.Run(flowtest.Options{Coverage: cov})
	b.Reset()
	cov.Write(&b)
	for _, want := range []string{"lookup --error--> lookup_failed never taken", "ticket --error--> no_ticket never taken"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("coverage does not say %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "--ok-->") || strings.Contains(b.String(), "lookup --next-->") {
		t.Errorf("coverage misses an edge that was taken:\n%s", b.String())
	}
}

// TestHTTPDecode: answers and requests: are decoded with positions, and
// their mistakes reported where they are.
func TestHTTPDecode(t *testing.T) {
	tf, ds := decodeTest(t, `cases:
  - name: a
    http:
      lookup: { status: 201, json: { vip: true, tags: [a, 1] } }
      down: { status: 503, body: down }
      slow: { error: timeout }
    steps:
      - http: { lookup: { body: "{\"x\": 1}" } }
        expect:
          requests:
            - { node: lookup, method: POST, url_contains: "a=b", status: 0 }
            - node: down
`)
	if len(ds) > 0 {
		t.Fatal(diagText(ds))
	}
	c := tf.Cases[0]
	if a := c.HTTP["lookup"]; a == nil || a.Status != 201 || !a.JSON || a.Body != `{"tags":["a",1],"vip":true}` || a.Pos.Line != 4 || a.Pos.Col != 7 {
		t.Errorf("lookup = %+v", a)
	}
	if a := c.HTTP["down"]; a == nil || a.Status != 503 || a.JSON || a.Body != "down" {
		t.Errorf("down = %+v", a)
	}
	if a := c.HTTP["slow"]; a == nil || a.Status != 0 || a.Error != "timeout" {
		t.Errorf("slow = %+v", a)
	}
	if a := c.Steps[0].HTTP["lookup"]; a == nil || a.Status != 200 || a.Body != `{"x": 1}` {
		t.Errorf("step lookup = %+v", a)
	}
	rs := c.Steps[0].Expect.Requests
	if len(rs) != 2 || rs[0].Method != "POST" || rs[0].URLContains != "a=b" || !rs[0].HasStatus || rs[0].Status != 0 || rs[1].Node != "down" || rs[1].HasStatus || rs[1].NodePos.Line != 12 {
		t.Errorf("requests = %+v %+v", rs[0], rs[1])
	}

	_, ds = decodeTest(t, `cases:
  - name: a
    http:
      a: { status: 200, json: {}, body: x }
      b: { status: 700 }
      c: { error: timeot }
      d: { status: 200, error: timeout }
      e: { stats: 200 }
      f: { status: "200" }
      1x: {}
      g: [200]
    steps:
      - expect:
          requests:
            - { method: get }
            - { node: a, status: ok }
            - a
`)
	want := `t_test.yaml:4:35: error: http.a of case "a" has json (at 4:25) and body; an answer has one of json, body and error [bad-shape]
t_test.yaml:5:20: error: status 700 must be from 100 to 599 [bad-value]
t_test.yaml:6:19: error: error "timeot" is not one of timeout, connection refused, unknown host, body too large, canceled, request failed (did you mean "timeout"?) [bad-value]
t_test.yaml:7:12: error: http.d of case "a" has status and error timeout; a request that fails so gets no answer, so no status: remove status (of the errors, only body too large takes one) [bad-shape]
t_test.yaml:8:12: error: unknown key "stats" in http.e of case "a" (did you mean "status"?) [unknown-key]
t_test.yaml:9:20: error: status must be an integer, not the text "200": remove the quotes [bad-type]
t_test.yaml:10:7: error: http node "1x" must be a node id (letters, digits, '-' and '_', starting with a letter), or ids joined by / for a node inside a subflow (check_pin/lookup) [bad-shape]
t_test.yaml:11:10: error: http.g of case "a" must be a mapping (key: value lines), not a list [bad-shape]
t_test.yaml:15:15: error: requests item 1 of expect of step 1 of case "a" needs node: (the http node that made the request) [missing-key]
t_test.yaml:15:25: error: method "get" is not one of GET, POST, PUT, PATCH, DELETE (did you mean "GET"?) [bad-value]
t_test.yaml:16:34: error: status must be an integer, not "ok" [bad-type]
t_test.yaml:17:15: error: requests item 3 of expect of step 1 of case "a" must be a mapping (key: value lines), not "a" [bad-shape]
`
	if got := diagText(ds); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestHTTPCheck: http: answers and requests: name http nodes of the flow.
func TestHTTPCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "crm.yaml"), crm)
	path := filepath.Join(dir, "crm_test.yaml")
	writeFile(t, path, `cases:
  - name: a
    http:
      lookp: { json: {} }
      menu: { json: {} }
    steps:
      - http: { tickets: { json: {} } }
        expect: { requests: [{ node: lookup }, { node: bye }] }
`)
	tf, ds := flowtest.Decode(path, testenv.ReadFile(t, path))
	if len(ds) > 0 {
		t.Fatal(diagText(ds))
	}
	_, ds = tf.LoadFlow()
	want := strings.ReplaceAll(`F:4:7: error: http: names node "lookp", which flow crm does not have (did you mean "lookup"?) (its http nodes: lookup, ticket) [unknown-node]
F:5:7: error: http: names node "menu", a GetDigits node of flow crm, which makes no requests; its http nodes: lookup, ticket [unknown-node]
F:7:17: error: http: names node "tickets", which flow crm does not have (did you mean "ticket"?) (its http nodes: lookup, ticket) [unknown-node]
F:8:56: error: expect requests names node "bye", a Hangup node of flow crm, which makes no requests; its http nodes: lookup, ticket [unknown-node]
`, "F", path)
	if got := diagText(ds); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// A flow without http nodes says so.
	writeFile(t, filepath.Join(dir, "plain.yaml"), "nodes:\n  bye: {Hangup: {}}\n")
	path = filepath.Join(dir, "plain_test.yaml")
	writeFile(t, path, "cases:\n  - name: a\n    http: { bye: { json: {} } }\n    steps: [{expect: {ended: true}}]\n")
	tf, _ = flowtest.Decode(path, testenv.ReadFile(t, path))
	_, ds = tf.LoadFlow()
	if got := diagText(ds); got != path+":3:13: error: http: names node \"bye\", but flow plain has no http nodes [unknown-node]\n" {
		t.Errorf("got %s", got)
	}
}

// TestDecodeAnswer reads render's --http files.
func TestDecodeAnswer(t *testing.T) {
	a, ds := flowtest.DecodeAnswer("lookup", "a.json", []byte(`{"status": 200, "json": {"vip": true}}`))
	if len(ds) > 0 || a.Node != "lookup" || a.Status != 200 || a.Body != `{"vip":true}` {
		t.Errorf("%+v %v", a, ds)
	}
	a, ds = flowtest.DecodeAnswer("lookup", "a.json", []byte(`{"error": "timeout"}`))
	if len(ds) > 0 || a.Error != "timeout" {
		t.Errorf("%+v %v", a, ds)
	}
	_, ds = flowtest.DecodeAnswer("lookup", "a.json", []byte(`{"status": 200, "jsn": {}}`))
	if got := diagText(ds); got != "a.json:1:17: error: unknown key \"jsn\" in the answer for http node lookup (did you mean \"json\"?) [unknown-key]\n" {
		t.Errorf("got %s", got)
	}
	_, ds = flowtest.DecodeAnswer("lookup", "a.json", []byte(`{"status": 503, "body": "down"`))
	if len(ds) != 1 || ds[0].Code != flow.CodeYAML {
		t.Errorf("got %v", ds)
	}
}

// TestHTTPMocksInSubflow: an http node inside a subflow is answered, and
// expected, by its name through the calling node (go/lookup); one left
// without an answer fails the case naming it so.
func TestHTTPMocksInSubflow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "crm.yaml"), crm)
	writeFile(t, filepath.Join(dir, "front.yaml"), "flow: front\nnodes:\n  hi:\n    Speak: Hello.\n    next: go\n  go:\n    subflow: crm\n")
	path := filepath.Join(dir, "front_test.yaml")
	writeFile(t, path, `flow: front
cases:
  - name: answered through the calling node
    call: { From: "+14155550100" }
    http:
      go/lookup: { json: { vip: true, name: Ada } }
      go/ticket: { status: 201, json: { id: T-9 } }
    steps:
      - expect:
          node: go/menu
          path: [hi, go, go/lookup, go/route, go/vip, go/menu]
          contains: ["Welcome back, Ada."]
          requests: [{ node: go/lookup, method: GET, url_contains: "phone=%2B14155550100", status: 200 }]
      - press: "3"
        expect: { ended: true, contains: [Ticket T-9 opened (201).], requests: [{ node: go/ticket, status: 201 }] }
  - name: a request left unanswered
    http:
      go/lookup: { json: { vip: false } }
    steps:
      - expect: { node: go/menu }
      - press: "3"
        expect: { ended: true }
`)
	s := flowtest.Load(path)
	if !s.OK() {
		t.Fatalf("the suite does not load:\n%v", s.Diags)
	}
	r := s.Run(flowtest.Options{})
	if r.Cases[0].Failed() {
		t.Errorf("the answered case fails:\n%s", report(r))
	}
	if !r.Cases[1].Failed() || !strings.Contains(report(r), flowtest.Unanswered("go/ticket")) {
		t.Errorf("the unanswered request is not reported by its name:\n%s", report(r))
	}
}
