package flow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// TestScheduledHangupGoesOn: Plivo plays what follows a Hangup with a
// schedule until the time is up, so such a Hangup takes next; without a
// schedule, next is an error that says how to schedule it.
func TestScheduledHangupGoesOn(t *testing.T) {
	src := `flow: f
nodes:
  limit:
    Hangup: { schedule: 60 }
    next: talk
  talk:
    Speak: This call ends in a minute.
    next: hold
  hold:
    Play: https://example.com/hold.mp3
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, nil))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := `<Response><Hangup schedule="60"/><Speak>This call ends in a minute.</Speak><Play>https://example.com/hold.mp3</Play></Response>`
	if got := string(r.XML); got != want {
		t.Errorf("XML\n got %s\nwant %s", got, want)
	}
	if strings.Join(r.Path, " ") != "limit talk hold" {
		t.Errorf("path = %v", r.Path)
	}

	_, ds = flow.Compile("f.yaml", []byte(strings.Replace(src, "{ schedule: 60 }", "{}", 1)))
	if got := ds.Error(); !strings.Contains(got, "f.yaml:5:11: error: Hangup ends the flow, so node limit cannot have next; remove it, or give Hangup a schedule (then the walk goes on to next) [terminal-next]") {
		t.Errorf("without schedule:\n%s", got)
	}
}

// TestURLQuery: urlquery escapes a value for a URL query, numbers
// written as templates write them.
func TestURLQuery(t *testing.T) {
	src := `flow: f
vars:
  n: 12.5
nodes:
  go:
    Redirect: "https://crm.example.com/c?phone={{ urlquery(call.From) }}&q={{ urlquery('a&b=c d') }}&n={{ urlquery(vars.n) }}"
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c", "From": "+1 415/555"}, nil))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := `<Response><Redirect>https://crm.example.com/c?phone=%2B1+415%2F555&amp;q=a%26b%3Dc+d&amp;n=12.5</Redirect></Response>`
	if got := string(r.XML); got != want {
		t.Errorf("XML\n got %s\nwant %s", got, want)
	}
}

// TestHoursDatedExceptions: a dated entry of hours() replaces the weekly
// hours on its date, and a bad one is a load error where it stands.
func TestHoursDatedExceptions(t *testing.T) {
	src := `flow: f
nodes:
  check:
    branch:
      - when: hours("Mon-Fri 09:00-17:00; 2026-12-25 closed; 2026-12-31 09:00-12:00", "America/New_York")
        next: open
    next: closed
  open:
    Speak: open
  closed:
    Speak: closed
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 24, 10, 0, 0, 0, ny), "open"},        // Thursday
		{time.Date(2026, 12, 25, 10, 0, 0, 0, ny), "closed"},      // Christmas, a Friday
		{time.Date(2026, 12, 31, 11, 59, 0, 0, ny), "open"},       // New Year's Eve morning
		{time.Date(2026, 12, 31, 12, 0, 0, 0, ny), "closed"},      // and its afternoon
		{time.Date(2026, 12, 24, 21, 30, 0, 0, time.UTC), "open"}, // 16:30 in New York
	} {
		w := flow.Walker{Now: tc.at}
		r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, nil))
		if want := "<Speak>" + tc.want + "</Speak>"; !strings.Contains(string(r.XML), want) || r.Err != nil {
			t.Errorf("at %s: %s %v, want %s", tc.at, r.XML, r.Err, want)
		}
	}
	_, ds = flow.Compile("f.yaml", []byte(strings.Replace(src, "2026-12-31 09:00", "2026-02-30 09:00", 1)))
	if got := ds.Error(); !strings.Contains(got, "f.yaml:5:62: error: ") || !strings.Contains(got, "2026-02-30") {
		t.Errorf("a bad date:\n%s", got)
	}
}

// TestUserFromInputStaysOneURI: a User built from caller input that would
// reach another host is a run-time error, which goes to on_error; a plain
// extension dials.
func TestUserFromInputStaysOneURI(t *testing.T) {
	src := `flow: f
on_error: sorry
nodes:
  ext:
    GetDigits: { numDigits: 4 }
    next: dial
  dial:
    Dial:
      children:
        - User: "sip:{{ input.Digits }}@phone.plivo.com"
  sorry:
    Speak: Sorry.
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	for digits, want := range map[string]string{
		"1234":                     "<User>sip:1234@phone.plivo.com</User>",
		"attacker@evil.example;x=": "<Speak>Sorry.</Speak>",
	} {
		w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), URL: func(node, ev string) string { return "https://flowd.test/" + node + "/" + ev }}
		st := g.NewState(map[string]string{"CallUUID": "c"}, nil)
		r := w.Resume(g, st, g.Node("ext"), flow.EventAction, map[string]string{"Digits": digits})
		if !strings.Contains(string(r.XML), want) {
			t.Errorf("Digits %q: %s (%v), want %s", digits, r.XML, r.Err, want)
		}
		if (want == "<Speak>Sorry.</Speak>") != (r.Err != nil) {
			t.Errorf("Digits %q: error %v", digits, r.Err)
		}
	}
}

// TestSharedVars: a flow whose vars hold no map or list lends them to new
// calls as they are; a walk that sets a var sets it in a copy, and the
// next call starts from the flow's vars again.
func TestSharedVars(t *testing.T) {
	src := `flow: f
vars:
  attempts: 0
  name: x
nodes:
  again:
    set:
      attempts: vars.attempts + 1
    next: say
  say:
    Speak: "{{ vars.attempts }} {{ vars.name }}"
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	for range 2 {
		vars, ok := g.SharedVars()
		if !ok {
			t.Fatal("scalar vars are not shared")
		}
		st := &flow.State{Call: map[string]string{"CallUUID": "c"}, Vars: vars, SharedVars: true, Nodes: map[string]map[string]string{}}
		var w flow.Walker
		r := w.Answer(g, st)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if got := string(r.XML); !strings.Contains(got, "<Speak>1 x</Speak>") {
			t.Fatalf("XML %s", got)
		}
		if st.SharedVars || st.Vars["attempts"] != 1 || st.Vars["name"] != "x" {
			t.Fatalf("after the walk: shared %v, vars %v", st.SharedVars, st.Vars)
		}
		if v := g.InitialVars(); v["attempts"] != 0 || len(v) != 2 {
			t.Fatalf("the flow's vars changed: %v", v)
		}
	}
	g, ds = flow.Compile("f.yaml", []byte(strings.Replace(src, "name: x", "name: [x]", 1)))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	if _, ok := g.SharedVars(); ok {
		t.Fatal("vars holding a list are shared")
	}
}

// TestOutcomeNameIsAnOutcome: the trace names the outcome a callback
// took: Dial's DialStatus when it is one of Dial's outcomes, else next —
// the walk takes next for "Completed", "cancel" or no DialStatus, and the
// trace must not say otherwise.
func TestOutcomeNameIsAnOutcome(t *testing.T) {
	src := `flow: f
nodes:
  dial:
    Dial:
      children:
        - Number: "14155550100"
    on:
      busy: sorry
    next: bye
  sorry:
    Speak: Busy.
  bye:
    Speak: Bye.
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	for status, want := range map[string]string{
		"busy": "busy", "completed": "completed", "no-answer": "no-answer",
		"Completed": "next", "cancel": "next", "": "next",
	} {
		p := map[string]string{"DialStatus": status}
		if got := flow.OutcomeName(g.Node("dial"), flow.EventAction, p); got != want {
			t.Errorf("DialStatus %q: outcome %q, want %q", status, got, want)
		}
	}
	if got := flow.OutcomeName(g.Node("dial"), flow.EventAction, map[string]string{}); got != "next" {
		t.Errorf("no DialStatus: outcome %q, want next", got)
	}
}

// TestRecordInBackgroundWaits: a Record that records in the background
// (recordSession, startOnDialAnswer) is written with flowd's action URL
// and ends the document, as every Record (SPEC's table of edges): Plivo
// posts the action as soon as the background recording starts, and next —
// the Dial it records — comes in the answer to that.
func TestRecordInBackgroundWaits(t *testing.T) {
	src := `flow: f
nodes:
  rec:
    Record: { startOnDialAnswer: true }
    next: agent
  agent:
    Dial:
      children:
        - Number: "14155550100"
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused at load: %v", ds)
	}
	w := flow.Walker{Now: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), URL: func(node, ev string) string { return "https://flowd.test/" + node + "/" + ev }}
	r := w.Answer(g, g.NewState(map[string]string{"CallUUID": "c"}, nil))
	if want := `<Response><Record action="https://flowd.test/rec/action" startOnDialAnswer="true"/></Response>`; string(r.XML) != want || r.WaitAt != "rec" {
		t.Errorf("answer: %s (waits at %q), want %s", r.XML, r.WaitAt, want)
	}
	r = w.Resume(g, g.NewState(map[string]string{"CallUUID": "c"}, nil), g.Node("rec"), flow.EventAction, map[string]string{"RecordUrl": "https://media.plivo.com/r.mp3", "RecordingDuration": "-1"})
	if !strings.Contains(string(r.XML), `<Dial action="https://flowd.test/agent/action"><Number>14155550100</Number></Dial>`) {
		t.Errorf("after the action: %s", r.XML)
	}
}
