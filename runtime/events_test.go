package runtime

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestEventsOnlyWhereAskedAndCapped: a node receives only the event kinds
// its events: lists, and an event's parameters are capped in the trace.
func TestEventsOnlyWhereAskedAndCapped(t *testing.T) {
	srv, _ := ccServer(t) // queue asks for status events only
	if code, _ := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	for _, path := range []string{"/flows/cc/events/c1/queue/recording", "/flows/cc/events/c1/ring/status", "/flows/cc/events/c1/nosuch/status"} {
		if code, msg := post(t, srv.URL+path, url.Values{"EventName": {"x"}}); code != http.StatusNotFound || !strings.Contains(msg, "does not receive") {
			t.Errorf("%s = %d %q, want 404: the node did not ask for it", path, code, msg)
		}
	}
	big := url.Values{"EventName": {strings.Repeat("v", 5000)}}
	for i := range 100 {
		big.Set("P"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), "1")
	}
	if code, _ := post(t, srv.URL+"/flows/cc/events/c1/queue/status", big); code != http.StatusNoContent {
		t.Fatalf("a large event = %d", code)
	}
	sess := apiSession(t, srv.URL, "c1")
	if len(sess.Events) != 1 {
		t.Fatalf("%d events kept, want the one status event", len(sess.Events))
	}
	p := sess.Events[0].Params
	if len(p) > maxEventParams+1 || p["flowd_truncated"] == "" {
		t.Errorf("event kept %d params (truncated %q), want at most %d and a count of the rest", len(p), p["flowd_truncated"], maxEventParams)
	}
	for k, v := range p {
		if len(v) > maxEventValue {
			t.Errorf("param %s kept %d bytes, want at most %d", k, len(v), maxEventValue)
		}
	}
}

// TestEventsKeptApartFromSteps: a room's events, however many, never push
// the call's steps out of its trace; the trace keeps the latest events
// and says how many of each it left out.
func TestEventsKeptApartFromSteps(t *testing.T) {
	const src = `
flow: loop
nodes:
  room:
    MultiPartyCall: { name: "r-{{ call.CallUUID }}", role: customer }
    events: [status]
    next: menu
  menu:
    GetDigits: { numDigits: 1 }
    next: menu
`
	reg := testRegistry(t, "loop.yaml", src)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, APIToken: "secret", TraceFirst: 2, TraceLast: 3, TraceEvents: 4}))
	t.Cleanup(srv.Close)
	if code, _ := post(t, srv.URL+"/flows/loop/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	if code, _ := post(t, srv.URL+"/flows/loop/calls/1/room/exit", url.Values{"ParticipantCallUUID": {"c1"}}); code != http.StatusOK {
		t.Fatalf("exit = %d", code)
	}
	for step := 2; step < 12; step++ {
		for e := range 5 {
			if code, _ := post(t, srv.URL+"/flows/loop/events/c1/room/status", url.Values{"EventName": {fmt.Sprintf("e%d.%d", step, e)}}); code != http.StatusNoContent {
				t.Fatalf("event = %d", code)
			}
		}
		u := fmt.Sprintf("%s/flows/loop/calls/%d/menu/action", srv.URL, step)
		if code, msg := post(t, u, url.Values{"CallUUID": {"c1"}, "Digits": {"1"}}); code != http.StatusOK {
			t.Fatalf("step %d = %d %s", step, code, msg)
		}
	}
	sess := apiSession(t, srv.URL, "c1")
	var steps []int
	for _, s := range sess.Trace {
		steps = append(steps, s.Step)
	}
	if want := []int{1, 2, 10, 11, 12}; !slices.Equal(steps, want) || sess.Omitted != 7 {
		t.Errorf("steps kept %v (omitted %d), want %v (omitted 7)", steps, sess.Omitted, want)
	}
	var events []string
	for _, e := range sess.Events {
		events = append(events, e.Params["EventName"])
	}
	if want := []string{"e11.1", "e11.2", "e11.3", "e11.4"}; !slices.Equal(events, want) || sess.EventsOmitted != 46 {
		t.Errorf("events kept %v (omitted %d), want %v (omitted 46)", events, sess.EventsOmitted, want)
	}
}

// TestEventCopiesKeptOnce: Plivo sends a status callback again when it
// got no answer in time; the copy is answered and not kept twice, even
// with other events in between. The same event later, once out of the
// latest kept, and an event that differs in one parameter are kept.
func TestEventCopiesKeptOnce(t *testing.T) {
	srv, _ := ccServer(t) // queue asks for status events
	if code, _ := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	send := func(name, seq string) {
		t.Helper()
		if code, _ := post(t, srv.URL+"/flows/cc/events/c1/queue/status", url.Values{"EventName": {name}, "SequenceNumber": {seq}}); code != http.StatusNoContent {
			t.Fatalf("event %s %s = %d", name, seq, code)
		}
	}
	send("MPCStart", "1")
	send("ParticipantJoin", "2")
	send("MPCStart", "1") // a copy, after another event
	send("ParticipantJoin", "3")
	var got []string
	for _, e := range apiSession(t, srv.URL, "c1").Events {
		got = append(got, e.Params["EventName"]+"/"+e.Params["SequenceNumber"])
	}
	if want := []string{"MPCStart/1", "ParticipantJoin/2", "ParticipantJoin/3"}; !slices.Equal(got, want) {
		t.Errorf("events kept %v, want %v", got, want)
	}
	for i := range keptEventKeys {
		send("Speak", fmt.Sprint(10+i))
	}
	send("MPCStart", "1") // no longer among the latest: kept again
	if n := len(apiSession(t, srv.URL, "c1").Events); n != 3+keptEventKeys+1 {
		t.Errorf("%d events kept, want %d", n, 3+keptEventKeys+1)
	}
}

// TestRefusalsClipped: a refusal that quotes what the client sent says
// what was wrong without echoing all of it.
func TestRefusalsClipped(t *testing.T) {
	srv, _ := ccServer(t)
	if code, _ := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	code, msg := post(t, srv.URL+"/flows/cc/events/c1/queue/"+strings.Repeat("k", 5000), url.Values{"EventName": {"x"}})
	if code != http.StatusNotFound || len(msg) > 600 || !strings.HasPrefix(msg, "no such event kind") || !strings.Contains(msg, "… (cut)") {
		t.Errorf("= %d, %d bytes: %.100s", code, len(msg), msg)
	}
	c, out := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue/members/"+strings.Repeat("9", 50000), "secret", map[string]string{"action": "hold"})
	if c < 400 || len(out["error"]) > 600 {
		t.Errorf("member action = %d, error of %d bytes", c, len(out["error"]))
	}
}
