package flowtest_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flowtest"
)

// desk is a small flow with every kind of callback: GetDigits, GetInput,
// Dial, Record, Conference and MultiPartyCall, plus hours() and now().
const desk = `flow: desk
params:
  room: { default: lobby }
vars:
  tries: 0
  note: ""
nodes:
  menu:
    GetDigits:
      numDigits: 1
      children:
        - Speak: "It is {{ now().Format('Monday') }}. {{ hours('Mon-Fri 09:00-17:00', 'Europe/London') ? 'We are open.' : 'We are closed.' }}"
    on:
      no_input: again
    next: route
  again:
    set: { tries: vars.tries + 1 }
    next: menu
  route:
    branch:
      - when: input.Digits == "1"
        next: agent
      - when: input.Digits == "2"
        next: voice
      - when: input.Digits == "3"
        next: room
      - when: input.Digits == "4"
        next: mpc
    next: memo
  agent:
    Dial:
      children:
        - Number: "+14155550100"
    on:
      busy: memo
    next: bye
  voice:
    GetInput:
      inputType: speech
    next: heard
  heard:
    set: { note: input.Speech }
    next: bye
  memo:
    Record: { maxLength: 30 }
    next: saved
  saved:
    set: { note: input.RecordUrl }
    next: bye
  room:
    Conference: "{{ params.room }}"
    next: bye
  mpc:
    MultiPartyCall: { name: q, role: customer }
    next: bye
  bye:
    Hangup: {}
`

func suite(t *testing.T, tests string) *flowtest.Suite {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "desk.yaml"), []byte(desk), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "desk_test.yaml")
	if err := os.WriteFile(path, []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	s := flowtest.Load(path)
	if !s.OK() {
		t.Fatalf("the suite does not load:\n%v", s.Diags)
	}
	return s
}

func report(r *flowtest.Result) string {
	var b bytes.Buffer
	flowtest.WriteText(&b, []*flowtest.Result{r}, true)
	return b.String()
}

// TestEvents sends every event to the element that takes it, with
// Plivo's parameters, and reads the results back from the trace.
func TestEvents(t *testing.T) {
	s := suite(t, `cases:
  - name: clock and hours
    clock: "2026-11-23T10:00:00Z"
    steps:
      - expect: { node: menu, contains: [It is Monday. We are open.] }
  - name: closed at night
    clock: "2026-11-23T20:00:00Z"
    steps:
      - expect: { contains: [We are closed.] }
  - name: dial busy, then a recording
    steps:
      - press: "1"
        expect: { node: agent, path: [route, agent] }
      - dial: busy
        expect: { node: memo, path: [memo], contains: ['maxLength="30"'] }
      - record: { RecordUrl: "https://r/1.mp3" }
        expect: { ended: true, path: [saved, bye], vars: { note: "https://r/1.mp3" } }
  - name: speech
    steps:
      - press: "2"
        expect: { node: voice }
      - say: hello there
        expect: { ended: true, vars: { note: hello there } }
  - name: conference and params
    params: { room: attic }
    steps:
      - press: "3"
        expect: { node: room, contains: [">attic</Conference>"] }
      - exit: {}
        expect: { ended: true, path: [bye] }
  - name: multiparty call, initial vars, raw params
    vars: { tries: 5 }
    steps:
      - params: { Digits: "4" }
        expect: { node: mpc, contains: ["onExitActionUrl="] }
      - exit: { ExitCause: kicked }
        expect: { ended: true, vars: { tries: 5 } }
  - name: no input, then hangup
    steps:
      - no_input: true
        expect: { node: menu, path: [again, menu], vars: { tries: 1 } }
      - hangup: true
        expect: { ended: true }
`)
	r := s.Run(flowtest.Options{})
	if r.Failed() {
		t.Fatalf("cases fail:\n%s", report(r))
	}
	if len(r.Cases) != 7 {
		t.Fatalf("%d cases ran", len(r.Cases))
	}
	// The runner drove the runtime: the trace holds each webhook with the
	// parameters Plivo sent.
	sess := r.Cases[2].Session
	if sess == nil || len(sess.Trace) != 4 {
		t.Fatalf("trace = %+v", sess)
	}
	dial := sess.Trace[2]
	if dial.Node != "agent" || dial.Outcome != "busy" || dial.Inputs["DialStatus"] != "busy" || dial.Inputs["CallUUID"] != flowtest.CallUUID {
		t.Errorf("dial step = %+v", dial)
	}
	if in := r.Cases[5].Session.Trace[2].Inputs; in["ExitCause"] != "kicked" || in["ParticipantCallUUID"] != flowtest.CallUUID || in["CallUUID"] != "" {
		t.Errorf("exit params = %v", in)
	}
}

// TestFailures: a failure names the file, the case and step lines, what
// was expected and what happened, with the XML.
func TestFailures(t *testing.T) {
	s := suite(t, `cases:
  - name: wrong expectations
    steps:
      - press: "1"
        expect:
          node: memo
          path: [route, memo]
          contains: [<Record]
          not_contains: [<Dial]
          xml: <Response/>
          vars: { tries: "0" }
  - name: not ended
    steps:
      - press: "1"
        expect: { ended: true }
  - name: press during a dial
    steps:
      - press: "1"
      - press: "2"
  - name: say to GetDigits
    steps:
      - say: one
  - name: press to a speech-only GetInput
    steps:
      - press: "2"
      - press: "5"
  - name: after the end
    steps:
      - press: "3"
      - exit: {}
      - no_input: true
  - name: after the hangup
    steps:
      - hangup: true
      - hangup: true
  - name: passes
    steps:
      - expect: { node: menu }
`)
	r := s.Run(flowtest.Options{})
	out := report(r)
	p := s.Path
	for _, want := range []string{
		"--- FAIL: wrong expectations (" + p + ":2)",
		"    " + p + ":4:9: step 1 (press \"1\") failed",
		"        node: want the call waiting at memo, but it waits at agent",
		"        path: want [route, memo], but the step walked [route, agent]",
		`        contains: the XML does not contain "<Record"`,
		`        not_contains: the XML contains "<Dial"`,
		"        xml: the documents differ at /Response: want the element to end, but it goes on with <Dial>\n            want\n            <Response/>\n            but the step answered\n            <Response><Dial action=\"http://127.0.0.1:8080/flows/desk/calls/2/agent/action\">",
		`        vars.tries: want "0" (a string), got 0`,
		"        ended: want the flow ended, but the call waits at agent",
		"        the call waits at: agent",
		"        path walked: route, agent",
		"        xml: <Response><Dial action=",
		"    " + p + ":19:9: step 2 (press \"2\") failed\n        cannot send press \"2\": the call waits at node agent (<Dial>), which takes dial",
		"cannot send say \"one\": the call waits at node menu (<GetDigits>), which takes press or no_input",
		"cannot send press \"5\": the call waits at node voice (<GetInput>), whose inputType \"speech\" does not take digits",
		"cannot send no_input: the flow has ended (the document ends with <Hangup>); only hangup: true can follow",
		"cannot send hangup: the call has hung up",
		"--- PASS: passes (" + p + ":36)",
		"FAIL " + p + " (flow desk): 7 of 8 case(s) failed",
		"1 passed, 7 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks\n%s\nin\n%s", want, out)
		}
	}
}

// TestRunFilter: --run selects cases by name.
func TestRunFilter(t *testing.T) {
	s := suite(t, "cases:\n  - name: alpha one\n    steps: [{expect: {node: menu}}]\n  - name: beta\n    steps: [{expect: {node: agent}}]\n")
	r := s.Run(flowtest.Options{Run: regexp.MustCompile("^alpha")})
	if len(r.Cases) != 1 || r.Failed() {
		t.Fatalf("ran %d cases:\n%s", len(r.Cases), report(r))
	}
}

// TestCoverage counts nodes and edges from the traces and lists what no
// case took, in file order.
func TestCoverage(t *testing.T) {
	s := suite(t, `cases:
  - name: dial completed
    steps:
      - press: "1"
      - dial: completed
  - name: no input
    steps:
      - no_input: true
`)
	cov := flowtest.NewCoverage()
	if r := s.Run(flowtest.Options{Coverage: cov}); r.Failed() {
		t.Fatal(report(r))
	}
	fs := cov.Flows()
	if len(fs) != 1 {
		t.Fatalf("%d flows", len(fs))
	}
	f := fs[0]
	nc, nt := f.Nodes()
	ec, et := f.Edges()
	// Walked: menu, again, route, agent, bye. Taken: menu/no_input,
	// menu/next, again/next, route/case 1, agent/next.
	if nc != 5 || nt != 11 || ec != 5 || et != 16 {
		t.Errorf("nodes %d/%d, edges %d/%d", nc, nt, ec, et)
	}
	var b bytes.Buffer
	cov.Write(&b)
	for _, want := range []string{
		"coverage: flow desk (" + f.Graph.Path + "): 37.0% — nodes 5/11, edges 5/16\n",
		":37:3: node voice never reached\n",
		":19:3: route --case 2 (input.Digits == \"2\")--> voice never taken\n",
		":30:3: agent --busy--> memo never taken\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("coverage report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestJUnit writes a report CI systems read: a testsuite per file, a
// testcase per case, failures with their explanation, errors for files
// that cannot run.
func TestJUnit(t *testing.T) {
	s := suite(t, "cases:\n  - name: ok\n    steps: [{expect: {node: menu}}]\n  - name: bad\n    steps: [{press: \"1\", expect: {node: memo}}]\n")
	broken := flowtest.Load(filepath.Join(t.TempDir(), "gone_test.yaml"))
	results := []*flowtest.Result{s.Run(flowtest.Options{}), broken.Run(flowtest.Options{})}
	var b bytes.Buffer
	if err := flowtest.WriteJUnit(&b, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Line    int    `xml:"line,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Fatalf("counts: %+v\n%s", doc, b.String())
	}
	cs := doc.Suites[0].Cases
	if cs[0].Name != "ok" || cs[0].Failure != nil || cs[1].Line != 4 || cs[1].Failure == nil {
		t.Fatalf("cases: %+v", cs)
	}
	if !strings.Contains(cs[1].Failure.Text, "node: want the call waiting at memo, but it waits at agent") ||
		!strings.Contains(cs[1].Failure.Text, "<Response><Dial") {
		t.Errorf("failure text:\n%s", cs[1].Failure.Text)
	}
	if e := doc.Suites[1].Cases[0].Error; e == nil || !strings.Contains(e.Message, "no such file") {
		t.Errorf("broken file: %+v", doc.Suites[1])
	}
}
