package flow_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// linkFlows compiles flow sources, named by their flow: key, and links
// them as one folder.
func linkFlows(t *testing.T, srcs ...string) map[string]*flow.Graph {
	t.Helper()
	units := map[string]*flow.Graph{}
	for i, src := range srcs {
		g, ds := flow.Compile("f"+string(rune('0'+i))+".yaml", []byte(src))
		if g == nil || ds.HasErrors(false) {
			t.Fatalf("flow %d refused: %v", i, ds)
		}
		units[g.Name] = g
	}
	linked, ds := flow.Link(units, nil)
	if len(ds) > 0 {
		t.Fatalf("link: %v", ds)
	}
	return linked
}

const pinCheckSrc = `flow: pin-check
params:
  pin: { default: "1234", secret: true }
  prompt: { default: "Enter your PIN." }
vars:
  tries: 1
  left: 0
on_error: broken
nodes:
  ask:
    GetDigits:
      numDigits: 4
      log: false
      children:
        - Speak: "{{ params.prompt }}"
    on:
      no_input: silent
    next: verify
  verify:
    branch:
      - when: input.Digits == params.pin
        next: passed
    next: count
  count:
    set: { left: vars.tries - 1 }
    next: failed
  passed:
    Speak: Thank you.
  failed:
    return: { outcome: failed, values: { left: vars.left, said: "'no'" } }
  silent:
    Hangup: {}
  broken:
    Speak: The PIN check is out of order.
    next: give_up
  give_up:
    return: { outcome: failed, values: { left: 0 } }
`

const bridgeSrc = `flow: bridge
params:
  prompt: { default: "Welcome." }
vars:
  tries: 7
nodes:
  hello:
    Speak: "{{ params.prompt }}"
    next: check
  check:
    subflow: pin-check
    with: { tries: vars.tries - 4 }
    on:
      failed: sorry
    next: join
  join:
    Conference: "room-{{ vars.tries }}"
  sorry:
    Speak: "Wrong PIN, {{ nodes.check.left }} tries left ({{ nodes.check.outcome }}, {{ nodes.check.left + 1 }})."
`

var subflowClock = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func walker() *flow.Walker {
	return &flow.Walker{Now: subflowClock, URL: func(node, ev string) string { return "https://flowd.test/" + node + "/" + ev }}
}

// TestSubflowWalksInPlace: a subflow's XML joins the calling document, its
// nodes are named through the calling node, a callback inside it resumes
// there with its own vars and params, and its return routes the caller
// by outcome with its values typed under nodes.<id>.
func TestSubflowWalksInPlace(t *testing.T) {
	gs := linkFlows(t, pinCheckSrc, bridgeSrc)
	g := gs["bridge"]
	if g.Version == gs["pin-check"].Version || len(g.Subflows()) != 1 {
		t.Fatalf("bridge is not linked to pin-check: %v", g.Subflows())
	}
	st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
	w := walker()
	r := w.Answer(g, st)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := `<Response><Speak>Welcome.</Speak><GetDigits action="https://flowd.test/check/ask/action" numDigits="4" log="false"><Speak>Enter your PIN.</Speak></GetDigits><Redirect>https://flowd.test/check/ask/no_input</Redirect></Response>`
	if string(r.XML) != want {
		t.Errorf("answer XML\n got %s\nwant %s", r.XML, want)
	}
	if got := strings.Join(r.Path, " "); got != "hello check check/ask" {
		t.Errorf("path = %s", got)
	}
	if r.WaitAt != "check/ask" || len(r.Frames) != 1 || r.Frames[0].Flow != "pin-check" || r.Frames[0].Vars["tries"] != 3 {
		t.Fatalf("waits at %q in frames %+v", r.WaitAt, r.Frames)
	}
	if st.Vars["tries"] != 7 {
		t.Errorf("the caller's vars changed: %v", st.Vars)
	}

	// A wrong PIN: the subflow counts down and returns failed.
	st.Frames = r.Frames
	at := g.Lookup(r.WaitAt)
	if at == nil || at.ID != "ask" {
		t.Fatalf("Lookup(%q) = %v", r.WaitAt, at)
	}
	r = walker().Resume(g, st, at, flow.EventAction, map[string]string{"Digits": "9999"})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, want := string(r.XML), `<Response><Speak>Wrong PIN, 2 tries left (failed, 3).</Speak></Response>`; got != want {
		t.Errorf("failed XML\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(r.Path, " "); got != "check/verify check/count check/failed sorry" {
		t.Errorf("path = %s", got)
	}
	wantEdges := []flow.Taken{{From: "check/ask", Label: "next"}, {From: "check/verify", Label: "next"}, {From: "check/count", Label: "next"}, {From: "check", Label: "failed"}}
	if !reflect.DeepEqual(r.Edges, wantEdges) {
		t.Errorf("edges = %v", r.Edges)
	}
	if len(r.Frames) != 0 || r.Wait != nil {
		t.Errorf("still inside the subflow: %+v", r.Frames)
	}
	if got := st.Nodes["check"]; got["outcome"] != "failed" || got["left"] != "2" || got["said"] != `"no"` {
		t.Errorf("nodes.check = %v", got)
	}
	if _, kept := st.Nodes["ask"]; kept {
		t.Error("the subflow's node is kept in the caller's nodes")
	}

	// The right PIN: the subflow reaches a node with no edge, which
	// returns ok; the caller takes next.
	st = g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r = walker().Answer(g, st)
	st.Frames = r.Frames
	r = walker().Resume(g, st, g.Lookup("check/ask"), flow.EventAction, map[string]string{"Digits": "1234"})
	if got, want := string(r.XML), `<Response><Speak>Thank you.</Speak><Conference>room-7</Conference></Response>`; got != want {
		t.Errorf("ok XML\n got %s\nwant %s", got, want)
	}
	if st.Nodes["check"]["outcome"] != "ok" {
		t.Errorf("nodes.check = %v", st.Nodes["check"])
	}
}

// TestSubflowHangupEndsTheCall: a Hangup inside a subflow ends the call;
// the subflow does not return.
func TestSubflowHangupEndsTheCall(t *testing.T) {
	g := linkFlows(t, pinCheckSrc, bridgeSrc)["bridge"]
	st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r := walker().Answer(g, st)
	st.Frames = r.Frames
	r = walker().Resume(g, st, g.Lookup("check/ask"), flow.EventNoInput, nil)
	if got, want := string(r.XML), `<Response><Hangup/></Response>`; got != want || !r.Ended() {
		t.Errorf("no input: %s (ended %v)", got, r.Ended())
	}
	if strings.Join(r.Path, " ") != "check/silent" {
		t.Errorf("path = %v", r.Path)
	}
}

// TestSubflowErrorGoesToItsOnError: a run-time error inside a subflow goes
// to the subflow's on_error; without one, to the caller's.
func TestSubflowErrorGoesToItsOnError(t *testing.T) {
	broken := strings.Replace(pinCheckSrc, "left: vars.tries - 1", `left: int("x")`, 1)
	g := linkFlows(t, broken, bridgeSrc)["bridge"]
	st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r := walker().Answer(g, st)
	st.Frames = r.Frames
	r = walker().Resume(g, st, g.Lookup("check/ask"), flow.EventAction, map[string]string{"Digits": "1"})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "node check/count") {
		t.Fatalf("error = %v", r.Err)
	}
	if got, want := string(r.XML), `<Response><Speak>The PIN check is out of order.</Speak><Speak>Wrong PIN, 0 tries left (failed, 1).</Speak></Response>`; got != want {
		t.Errorf("subflow on_error\n got %s\nwant %s", got, want)
	}

	noOnError := strings.Replace(broken, "on_error: broken\n", "", 1)
	noOnError = strings.Replace(noOnError, "  broken:\n    Speak: The PIN check is out of order.\n    next: give_up\n  give_up:\n    return: { outcome: failed, values: { left: 0 } }\n", "", 1)
	caller := strings.Replace(bridgeSrc, "nodes:\n", "on_error: oops\nnodes:\n  oops:\n    Speak: Sorry.\n", 1)
	caller = strings.Replace(caller, "start: hello\n", "", 1)
	caller = strings.Replace(caller, "nodes:\n  oops:", "start: hello\nnodes:\n  oops:", 1)
	g = linkFlows(t, noOnError, caller)["bridge"]
	st = g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r = walker().Answer(g, st)
	st.Frames = r.Frames
	r = walker().Resume(g, st, g.Lookup("check/ask"), flow.EventAction, map[string]string{"Digits": "1"})
	if got, want := string(r.XML), `<Response><Speak>Sorry.</Speak></Response>`; got != want || len(r.Frames) != 0 {
		t.Errorf("caller's on_error\n got %s\nwant %s (frames %v)", got, want, r.Frames)
	}
}

// TestLinkVersions: a linked flow's version covers its subflows', and its
// source rebuilds the same graph, subflows and all.
func TestLinkVersions(t *testing.T) {
	gs := linkFlows(t, pinCheckSrc, bridgeSrc)
	changed := linkFlows(t, strings.Replace(pinCheckSrc, "Thank you.", "Thanks.", 1), bridgeSrc)
	if gs["bridge"].Version == changed["bridge"].Version {
		t.Error("a change of the subflow kept the caller's version")
	}
	again, _ := flow.Link(gs, nil)
	if again["bridge"].Version != gs["bridge"].Version {
		t.Error("linking a linked set changed the version")
	}
	g, ds := flow.Rebuild("bridge", gs["bridge"].Source)
	if g == nil {
		t.Fatal(ds)
	}
	if g.Version != gs["bridge"].Version || g.Lookup("check/passed") == nil {
		t.Errorf("rebuilt version %s, want %s", g.Version, gs["bridge"].Version)
	}
}

// TestFramesForTrace: an http answer kept inside a subflow's frame shows
// in a trace only by its size, as one in the call's own flow does.
func TestFramesForTrace(t *testing.T) {
	sub := "flow: lookup\nnodes:\n  crm:\n    http: { url: \"https://crm.example.com/c\" }\n    next: ask\n  ask:\n    GetDigits: { numDigits: 1 }\n"
	g := linkFlows(t, sub, "flow: front\nnodes:\n  go:\n    subflow: lookup\n")["front"]
	frames := []flow.Frame{{Node: "go", Flow: "lookup", Vars: map[string]any{},
		Nodes: map[string]map[string]string{"crm": {"status": "200", "body": `{"name":"Ada"}`}}}}
	got := g.FramesForTrace(frames)
	if b := got[0].Nodes["crm"]["body"]; b != "<14 bytes>" {
		t.Errorf("the trace shows the subflow's http body as %q", b)
	}
	if frames[0].Nodes["crm"]["body"] != `{"name":"Ada"}` {
		t.Error("FramesForTrace changed the call's state")
	}
	if got := g.FramesForTrace([]flow.Frame{{Node: "nowhere", Flow: "x"}}); len(got) != 0 {
		t.Errorf("a frame of no subflow node is shown: %+v", got)
	}
}

// TestWithTakesText checks that a with: value written as text that is no
// expression is that text, with a warning, while one that compiles stays
// an expression.
func TestWithTakesText(t *testing.T) {
	const top = `flow: top
vars: {n: 2}
nodes:
  s:
    subflow: greet
    with: { greeting: Welcome, who: "Acme Corp", n: vars.n + 1, q: "'quoted'" }
`
	const greet = `flow: greet
vars: {greeting: "", who: "", n: 0, q: ""}
nodes:
  a: { Speak: "{{ vars.greeting }} to {{ vars.who }}, {{ vars.n }} {{ vars.q }}" }
`
	_, ds := flow.Compile("top.yaml", []byte(top))
	var warned []string
	for _, d := range ds {
		if d.Severity == flow.Error {
			t.Fatalf("refused: %v", ds)
		}
		warned = append(warned, d.Message)
	}
	if len(warned) != 2 || !strings.Contains(warned[0], `taken as the text "Welcome"`) || !strings.Contains(warned[1], `taken as the text "Acme Corp"`) {
		t.Errorf("warnings: %q", warned)
	}
	gs := linkFlows(t, top, greet)
	g := gs["top"]
	w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, nil))
	if want := "<Speak>Welcome to Acme Corp, 3 quoted</Speak>"; r.Err != nil || !strings.Contains(string(r.XML), want) {
		t.Errorf("XML %s (err %v), want %s", r.XML, r.Err, want)
	}
}

// TestRoomWithoutNextInSubflow checks that a MultiPartyCall (or
// Conference) with no next inside a subflow calls back when the caller
// leaves, and that the subflow then returns ok to its caller; at the top
// of a call the same node has no callback and ends the document.
func TestRoomWithoutNextInSubflow(t *testing.T) {
	const top = `flow: top
nodes:
  s: { subflow: queue, next: survey }
  survey: { Speak: "How did we do?" }
`
	const queue = `flow: queue
nodes:
  hello: { Speak: Hold on., next: m }
  m: { MultiPartyCall: { name: q, role: customer } }
`
	gs := linkFlows(t, top, queue)
	g := gs["top"]
	st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
	r := walker().Answer(g, st)
	want := `<Response><Speak>Hold on.</Speak><MultiPartyCall role="customer" onExitActionUrl="https://flowd.test/s/m/exit">q</MultiPartyCall></Response>`
	if r.Err != nil || string(r.XML) != want || r.WaitAt != "s/m" {
		t.Fatalf("answer: %s (waits at %q, err %v)\nwant %s", r.XML, r.WaitAt, r.Err, want)
	}
	at := g.Lookup(r.WaitAt)
	if at == nil || !at.Accepts(flow.EventExit) {
		t.Fatalf("node %q does not take the exit callback", r.WaitAt)
	}
	st.Frames = r.Frames
	r = walker().Resume(g, st, at, flow.EventExit, map[string]string{})
	if got, want := string(r.XML), `<Response><Speak>How did we do?</Speak></Response>`; r.Err != nil || got != want {
		t.Errorf("after the room: %s (err %v), want %s", got, r.Err, want)
	}
	if st.Nodes["s"]["outcome"] != "ok" {
		t.Errorf("nodes.s = %v", st.Nodes["s"])
	}

	// The subflow run as a flow of its own: the room ends the document.
	q := gs["queue"]
	r = walker().Answer(q, q.NewState(map[string]string{"CallUUID": "d"}, nil))
	want = `<Response><Speak>Hold on.</Speak><MultiPartyCall role="customer">q</MultiPartyCall></Response>`
	if string(r.XML) != want || r.Wait != nil {
		t.Errorf("top-level: %s (waits %v), want %s", r.XML, r.Wait, want)
	}
}

// TestSubflowsUnfoldBounded: subflows that each run the next twice unfold
// into 2^depth nodes, which flow tests, render and graph would walk; past
// 100,000 that is a load error, reported at the flows that unfold so far.
func TestSubflowsUnfoldBounded(t *testing.T) {
	const depth = 18
	units := map[string]*flow.Graph{}
	for k := range depth {
		src := fmt.Sprintf("flow: d%d\nnodes:\n  a: { subflow: d%d, next: b }\n  b: { subflow: d%d, next: r }\n  r: { return: done }\n", k, k+1, k+1)
		if k == 0 {
			src = "flow: d0\nnodes:\n  a: { subflow: d1, next: b }\n  b: { subflow: d1 }\n"
		}
		if k == depth-1 {
			src = fmt.Sprintf("flow: d%d\nnodes:\n  g: { GetDigits: { numDigits: 1 }, next: r }\n  r: { return: done }\n", k)
		}
		g, ds := flow.Compile(fmt.Sprintf("d%d.yaml", k), []byte(src))
		if g == nil {
			t.Fatalf("d%d refused: %v", k, ds)
		}
		units[g.Name] = g
	}
	linked, ds := flow.Link(units, nil)
	var unfolds []string
	for _, d := range ds {
		if d.Code == flow.CodeUnfolds {
			unfolds = append(unfolds, d.Pos.File)
		}
	}
	// d0 unfolds into about 3·2^17 nodes, d1 half that, d2 a quarter:
	// those three are over 100,000.
	if want := []string{"d0.yaml", "d1.yaml", "d2.yaml"}; !slices.Equal(unfolds, want) {
		t.Errorf("flows that unfold too far: %v, want %v (%v)", unfolds, want, ds)
	}
	if linked["d0"] != nil || linked["d3"] == nil {
		t.Errorf("linked d0 %v, d3 %v: want d0 left out and d3 kept", linked["d0"] != nil, linked["d3"] != nil)
	}
}

// TestLongSubflowCycleNamedByItsEnds: each flow of a long cycle reports
// it, by its first and last flows, not whole.
func TestLongSubflowCycleNamedByItsEnds(t *testing.T) {
	units := map[string]*flow.Graph{}
	for k := range 20 {
		src := fmt.Sprintf("flow: c%02d\nnodes:\n  a: { subflow: c%02d, next: r }\n  r: { return: done }\n", k, (k+1)%20)
		g, ds := flow.Compile(fmt.Sprintf("c%02d.yaml", k), []byte(src))
		if g == nil {
			t.Fatalf("c%02d refused: %v", k, ds)
		}
		units[g.Name] = g
	}
	_, ds := flow.Link(units, nil)
	cycles := 0
	for _, d := range ds {
		if d.Code != flow.CodeSubflowCycle {
			continue
		}
		cycles++
		if !strings.Contains(d.Message, "… (9 more)") || len(d.Message) > 300 {
			t.Errorf("%s", d.Message)
		}
	}
	if cycles != 20 {
		t.Errorf("%d cycle diagnostics, want one per flow", cycles)
	}
}

// TestWithTypes: a with: value whose type the subflow's var cannot hold
// (its expressions read it with its initial value's type) is a link error;
// a number for a float, an untyped value, or a var the subflow sets pass.
func TestWithTypes(t *testing.T) {
	const sub = `flow: count
vars: {tries: 0, rate: 1.5, name: "", seen: 0}
nodes:
  a: { Speak: "{{ vars.tries + 1 }} {{ vars.rate }} {{ vars.name }}", next: s }
  s: { set: { seen: "'yes'" } }
`
	for with, want := range map[string]string{
		`{tries: "'three'"}`:                   `with: tries gives string, but subflow count's var tries holds int (its initial value is 0)`,
		`{name: 5}`:                            `with: name gives int, but subflow count's var name holds string`,
		`{tries: 3, rate: 2, name: call.From}`: "",
		`{tries: vars.anything, seen: true}`:   "",
	} {
		top := "flow: top\nvars: {anything: 1}\nnodes:\n  c: { subflow: count, with: " + with + " }\n"
		units := map[string]*flow.Graph{}
		for i, src := range []string{top, sub} {
			g, ds := flow.Compile(fmt.Sprintf("f%d.yaml", i), []byte(src))
			if g == nil {
				t.Fatalf("%s refused: %v", src, ds)
			}
			units[g.Name] = g
		}
		_, ds := flow.Link(units, nil)
		got := ""
		if len(ds) > 0 {
			got = ds[0].Message
		}
		if (want == "") != (len(ds) == 0) || !strings.Contains(got, want) {
			t.Errorf("with: %s: %v, want %q", with, ds, want)
		}
	}
}
