package runtime

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/plivo/plivotest"
)

// How the trigger API finds a call: by either of its addresses, written
// as Plivo writes them or not, only while the call is in the room.

// roomFlow's MultiPartyCall has no next: the flow ends there and the call
// stays in the room until it hangs up.
const roomFlow = `
flow: room
nodes:
  queue:
    MultiPartyCall:
      name: "r-{{ call.CallUUID }}"
      role: customer
`

// testNow is the fixed clock of the servers these tests start.
var testNow = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// partyServer serves ccFlow (and roomFlow) with a fixed clock and a real
// plivo.Client pointed at a fake Plivo; cfg's fields that are set are
// kept.
func partyServer(t *testing.T, cfg Config) (*httptest.Server, *plivotest.Server) {
	t.Helper()
	fake, client := fakePlivo(t)
	reg := testRegistry(t, "cc.yaml", ccFlow)
	g, ds := flow.Compile("room.yaml", []byte(roomFlow))
	if g == nil {
		t.Fatalf("room.yaml: %v", ds)
	}
	reg.Add(g)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	cfg.Registry, cfg.Store, cfg.REST = reg, st, client
	cfg.Now = func() time.Time { return testNow }
	if cfg.APIToken == "" {
		cfg.APIToken = "secret"
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv, fake
}

// answerCall answers a call of flow from from to to and returns its XML.
func answerCall(t *testing.T, srv *httptest.Server, flowName, id, from, to, direction string) string {
	t.Helper()
	code, xml := post(t, srv.URL+"/flows/"+flowName+"/answer", url.Values{"CallUUID": {id}, "From": {from}, "To": {to}, "Direction": {direction}})
	if code != http.StatusOK || !strings.Contains(xml, "<MultiPartyCall") {
		t.Fatalf("answer %s = %d %s", id, code, xml)
	}
	return xml
}

// addedTo returns the MPCs the fake's Add Participant requests since mark
// (a count of them) dialled to into.
func addedTo(fake *plivotest.Server, mark int, to string) []string {
	var out []string
	for _, a := range fake.Added()[mark:] {
		if a.To == to {
			out = append(out, a.MPCName)
		}
	}
	return out
}

// TestTriggerSourceMatchesFromOrTo: trigger_source may be the call's From
// or its To, inbound or outbound (SPEC §8); flowd used to know only the
// other party.
func TestTriggerSourceMatchesFromOrTo(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	answerCall(t, srv, "cc", "in1", "+14155550100", "+14155550199", "inbound")
	answerCall(t, srv, "cc", "out1", "+14155550299", "+14155550200", "outbound")
	for i, c := range []struct{ source, room, from string }{
		{"+14155550100", "q-in1", "+14155550199"},  // inbound From: the caller
		{"+14155550199", "q-in1", "+14155550199"},  // inbound To: the Plivo number
		{"+14155550200", "q-out1", "+14155550299"}, // outbound To: the callee
		{"+14155550299", "q-out1", "+14155550299"}, // outbound From: the Plivo number
	} {
		to := "sip:agent" + string(rune('a'+i)) + "@phone.plivo.com"
		mark := len(fake.Added())
		a := phlo(t, node(srv), trig("call", to, "agent", c.source))
		if a.code != http.StatusCreated || a.body["error"] != "" {
			t.Errorf("trigger_source %s = %d %v, want 201", c.source, a.code, a.body)
			continue
		}
		added := fake.Added()[mark:]
		if len(added) != 1 || added[0].MPCName != c.room || added[0].From != c.from {
			t.Errorf("trigger_source %s: Add Participant %+v, want one into %s from %s", c.source, added, c.room, c.from)
		}
	}
}

// TestTriggerSharedPlivoNumber: the Plivo number is every inbound call's
// To. While one call to it is in a room of the node, it names that call;
// while several are, it names none (409), and nobody is dialled. The
// caller's address always names its own call.
func TestTriggerSharedPlivoNumber(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	const number = "+14155550199"
	answerCall(t, srv, "cc", "c1", "+14155550101", number, "inbound")
	answerCall(t, srv, "cc", "c2", "+14155550102", number, "inbound")

	mark := len(fake.Requests())
	a := phlo(t, node(srv), trig("call", carol, "agent", number))
	if a.code != http.StatusConflict || !strings.Contains(a.body["error"], "more than one live call") || !strings.Contains(a.body["error"], "caller") {
		t.Errorf("trigger_source = the shared number = %d %v, want 409 naming the ambiguity", a.code, a.body)
	}
	wantRequests(t, "ambiguous trigger", mpcRequests(fake, mark))
	// Written without its +, the number is as ambiguous.
	if a := phlo(t, node(srv), trig("call", carol, "agent", "14155550199")); a.code != http.StatusConflict {
		t.Errorf("trigger_source = the shared number without + = %d %v, want 409", a.code, a.body)
	}

	// The caller's address names its call.
	m := len(fake.Added())
	if a := phlo(t, node(srv), trig("call", carol, "agent", "+14155550102")); a.code != http.StatusCreated {
		t.Fatalf("trigger_source = c2's caller = %d %v", a.code, a.body)
	}
	if got := addedTo(fake, m, carol); len(got) != 1 || got[0] != "q-c2" {
		t.Errorf("carol added into %v, want q-c2", got)
	}

	// c1 hangs up: the number now names c2 alone.
	if code, body := post(t, srv.URL+"/flows/cc/hangup", url.Values{"CallUUID": {"c1"}, "HangupCause": {"NORMAL_CLEARING"}}); code != http.StatusNoContent {
		t.Fatalf("hangup = %d %s", code, body)
	}
	m = len(fake.Added())
	if a := phlo(t, node(srv), trig("call", dave, "agent", number)); a.code != http.StatusCreated {
		t.Fatalf("trigger_source = the number of c2 alone = %d %v", a.code, a.body)
	}
	if got := addedTo(fake, m, dave); len(got) != 1 || got[0] != "q-c2" {
		t.Errorf("dave added into %v, want q-c2", got)
	}

	// A caller whose address is also the Plivo number of another live
	// call: its own call wins.
	answerCall(t, srv, "cc", "c3", number, "+14155550300", "inbound")
	m = len(fake.Added())
	if a := phlo(t, node(srv), trig("call", erin, "agent", number)); a.code != http.StatusCreated {
		t.Fatalf("trigger_source = c3's caller and c2's number = %d %v", a.code, a.body)
	}
	if got := addedTo(fake, m, erin); len(got) != 1 || got[0] != "q-c3" {
		t.Errorf("erin added into %v, want q-c3 (the caller's own call)", got)
	}
}

// TestTriggerAddressesNormalised: Plivo writes numbers with or without
// their +, and SIP addresses in any case; the trigger API finds the call
// and its members however they are written.
func TestTriggerAddressesNormalised(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	answerCall(t, srv, "cc", "n1", "14155550700", "+14155550900", "inbound")
	answerCall(t, srv, "cc", "n2", "sip:alice@phone.plivo.com", "+14155550901", "inbound")
	for i, c := range []struct{ source, room string }{
		{"+14155550700", "q-n1"},
		{"14155550900", "q-n1"},
		{"SIP:Alice@phone.plivo.com", "q-n2"},
		{" +14155550901", "q-n2"},
	} {
		to := "sip:agent" + string(rune('a'+i)) + "@phone.plivo.com"
		m := len(fake.Added())
		a := phlo(t, node(srv), trig("call", to, "agent", c.source))
		if a.code != http.StatusCreated {
			t.Errorf("trigger_source %q = %d %v, want 201", c.source, a.code, a.body)
			continue
		}
		if got := addedTo(fake, m, to); len(got) != 1 || got[0] != c.room {
			t.Errorf("trigger_source %q: added into %v, want %s", c.source, got, c.room)
		}
	}
	// A member added as sip:carol@... is found as SIP:Carol@...
	if a := phlo(t, node(srv), trig("call", carol, "agent", "+14155550700")); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	if a := phlo(t, member(srv, "SIP:Carol@Phone.Plivo.com"), map[string]string{"action": "hold"}); a.code != http.StatusCreated {
		t.Errorf("hold SIP:Carol@Phone.Plivo.com = %d %v, want 201", a.code, a.body)
	}
	if ps := parts(t, fake, "q-n1"); !ps[carol].Hold {
		t.Errorf("carol not on hold: %+v", ps[carol])
	}
	// voicemail_drop is refused as not supported, not as unknown.
	if a := phlo(t, member(srv, carol), map[string]string{"action": "voicemail_drop"}); a.code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(a.body), "voicemail_drop is not supported") {
		t.Errorf("voicemail_drop = %d %v, want 400 saying it is not supported", a.code, a.body)
	}
}

// TestTriggerNotFoundNamesNoOtherRoom: a trigger_source no live call has
// is 404 saying so, though to leads to another call's room (flowd used to
// name that room: "not a member of multi-party call q-c1").
func TestTriggerNotFoundNamesNoOtherRoom(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	answerCall(t, srv, "cc", "c1", customer, "+14155550199", "inbound")
	fake.Join("q-c1", "c1", customer, "customer")
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	for _, action := range []string{"call", "warm_transfer", "cold_transfer"} {
		mark := len(fake.Requests())
		a := phlo(t, node(srv), trig(action, carol, "agent", "+19995550000"))
		if a.code != http.StatusNotFound || strings.Contains(a.body["error"], "q-c1") ||
			!strings.Contains(a.body["error"], `no live multi-party call of node "queue" in flow "cc" has "+19995550000"`) {
			t.Errorf("%s from an unknown trigger_source = %d %v, want 404 that names no room", action, a.code, a.body)
		}
		for _, r := range mpcRequests(fake, mark) {
			if !strings.HasPrefix(r, "GET ") {
				t.Errorf("%s from an unknown trigger_source made Plivo request %s", action, r)
			}
		}
	}
}

// exitURL returns the onExitActionUrl of an answer's MultiPartyCall.
func exitURL(t *testing.T, xml string) string {
	t.Helper()
	m := regexp.MustCompile(`onExitActionUrl="([^"]+)"`).FindStringSubmatch(xml)
	if m == nil {
		t.Fatalf("no onExitActionUrl in %s", xml)
	}
	return m[1]
}

// TestTriggerAfterTheCallLeftTheRoom: once the call's MultiPartyCall exit
// callback moved it on, its room is no longer live for the trigger API
// (flowd used to add participants to it until the hangup).
func TestTriggerAfterTheCallLeftTheRoom(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	xml := answerCall(t, srv, "cc", "c1", customer, "+14155550199", "inbound")
	fake.Join("q-c1", "c1", customer, "customer")
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol while in the room = %d %v", a.code, a.body)
	}
	code, body := post(t, exitURL(t, xml), url.Values{"ParticipantCallUUID": {"c1"}, "MPCFriendlyName": {"q-c1"}, "ParticipantExitCause": {"left"}})
	if code != http.StatusOK || !strings.Contains(body, "<Hangup") {
		t.Fatalf("exit callback = %d %s", code, body)
	}
	mark := len(fake.Requests())
	for _, source := range []string{customer, "+14155550199", carol} {
		a := phlo(t, node(srv), trig("call", dave, "agent", source))
		if a.code != http.StatusNotFound {
			t.Errorf("call from %s after the caller left = %d %v, want 404", source, a.code, a.body)
		}
	}
	if a := phlo(t, member(srv, carol), map[string]string{"action": "hold"}); a.code != http.StatusNotFound {
		t.Errorf("hold carol after the caller left = %d %v, want 404", a.code, a.body)
	}
	wantRequests(t, "triggers after the caller left", mpcRequests(fake, mark))
}

// TestTriggerWhileTheFlowEndsInTheRoom: a MultiPartyCall without next
// ends the flow with the call in the room: triggers act until it hangs
// up.
func TestTriggerWhileTheFlowEndsInTheRoom(t *testing.T) {
	srv, fake := partyServer(t, Config{})
	answerCall(t, srv, "room", "r1", customer, "+14155550199", "inbound")
	u := srv.URL + "/v1/phlo/room/multi_party_call/queue"
	if a := phlo(t, u, trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol with the flow ended in the room = %d %v", a.code, a.body)
	}
	if got := addedTo(fake, 0, carol); len(got) != 1 || got[0] != "r-r1" {
		t.Errorf("carol added into %v, want r-r1", got)
	}
	if code, _ := post(t, srv.URL+"/flows/room/hangup", url.Values{"CallUUID": {"r1"}}); code != http.StatusNoContent {
		t.Fatalf("hangup = %d", code)
	}
	if a := phlo(t, u, trig("call", dave, "agent", customer)); a.code != http.StatusNotFound {
		t.Errorf("call dave after the hangup = %d %v, want 404", a.code, a.body)
	}
}

// TestAnswerStepTrace: the answer step of a trace has its node (the
// flow's start), outcome and inputs, as callback steps do; the inputs
// are in the trace entry, not the call's state.
func TestAnswerStepTrace(t *testing.T) {
	srv, _ := partyServer(t, Config{})
	answerCall(t, srv, "cc", "c1", customer, "+14155550199", "inbound")
	sess := apiSession(t, srv.URL, "c1")
	if len(sess.Trace) != 1 {
		t.Fatalf("trace = %+v", sess.Trace)
	}
	a := sess.Trace[0]
	if a.Webhook != "answer" || a.Node != "ring" || a.Outcome != "answer" || a.Inputs["From"] != customer || a.Inputs["Direction"] != "inbound" || a.Inputs["CallUUID"] != "c1" {
		t.Errorf("answer step = %+v; want node ring, outcome answer, the answer's parameters", a)
	}
	if !a.At.Equal(testNow) {
		t.Errorf("answer step at %v, want the server's clock %v", a.At, testNow)
	}
}

// TestAnswerStepInputsNotStored: the answer step shows the answer's
// parameters as its inputs, which the call's state keeps as call; its
// trace entry does not store them a second time.
func TestAnswerStepInputsNotStored(t *testing.T) {
	const src = `
flow: hello
nodes:
  hi:
    Speak: Hello.
`
	reg := testRegistry(t, "hello.yaml", src)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, APIToken: "secret", Now: func() time.Time { return testNow }}))
	t.Cleanup(srv.Close)
	if code, _ := post(t, srv.URL+"/flows/hello/answer", url.Values{"CallUUID": {"s1"}, "From": {customer}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	a := apiSession(t, srv.URL, "s1").Trace[0]
	if a.Node != "hi" || a.Inputs["From"] != customer || a.Inputs["CallUUID"] != "s1" {
		t.Errorf("answer step = %+v; want node hi and the answer's parameters", a)
	}
	entries, err := st.Trace(t.Context(), "s1")
	if err != nil || len(entries) != 1 {
		t.Fatalf("trace entries %d (%v)", len(entries), err)
	}
	if strings.Contains(string(entries[0]), customer) {
		t.Errorf("the answer's trace entry stores its parameters again: %s", entries[0])
	}
}

// TestAPIAuthSchemeAnyCase: the scheme's name is case-insensitive (RFC
// 7235 §2.1).
func TestAPIAuthSchemeAnyCase(t *testing.T) {
	srv, _ := partyServer(t, Config{APIBasicID: "MAXXXXXXXXXXXXXXXXXX", APIKey: "token"})
	basic := base64.StdEncoding.EncodeToString([]byte("MAXXXXXXXXXXXXXXXXXX:token"))
	for _, c := range []struct {
		header string
		want   int
	}{
		{"Bearer secret", http.StatusOK},
		{"bearer secret", http.StatusOK},
		{"BEARER secret", http.StatusOK},
		{"bEaReR  secret", http.StatusOK},
		{"basic " + basic, http.StatusOK},
		{"BASIC " + basic, http.StatusOK},
		{"bearer wrong", http.StatusUnauthorized},
		{"bearersecret", http.StatusUnauthorized},
		{"Token secret", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/flows", nil)
		req.Header.Set("Authorization", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Authorization: %s = %d, want %d", c.header, resp.StatusCode, c.want)
		}
	}
}

// TestPublicURLPathPrefix: with a public URL that has a path, flowd
// serves under it as well as at the bare paths, so a proxy may pass the
// prefix on or strip it; Plivo's signatures are over the public URL
// either way.
func TestPublicURLPathPrefix(t *testing.T) {
	const token = "MzQ5ZTdkZjFhYjQ4NmRmMTQ0NzUwYmQ5ZDFlZTVi"
	const public = "https://flowd.example.com/plivo"
	srv, _ := partyServer(t, Config{PublicURL: public + "/", AuthTokens: []string{token}})
	signed := func(path string, form url.Values) (int, string) {
		t.Helper()
		// Plivo signs the URL it calls: the public one.
		public := public + strings.TrimPrefix(path, "/plivo")
		sig, err := plivo.SignatureV3(http.MethodPost, public, form, "0542", token)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(plivo.HeaderSignatureV3, sig)
		req.Header.Set(plivo.HeaderNonceV3, "0542")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ id, prefix string }{{"p1", "/plivo"}, {"p2", ""}} {
		code, xml := signed(c.prefix+"/flows/cc/answer", url.Values{"CallUUID": {c.id}, "From": {customer}, "To": {"+14155550199"}})
		if code != http.StatusOK || !strings.Contains(xml, `onExitActionUrl="`+public+`/flows/cc/calls/1/queue/exit"`) {
			t.Fatalf("answer at %q = %d %s", c.prefix+"/flows/cc/answer", code, xml)
		}
		// The callback, as Plivo sends it through a proxy that keeps the
		// prefix, or strips it.
		u, _ := url.Parse(exitURL(t, xml))
		path := strings.TrimPrefix(u.Path, "/plivo")
		code, xml = signed(c.prefix+path, url.Values{"ParticipantCallUUID": {c.id}})
		if code != http.StatusOK || !strings.Contains(xml, "<Hangup") {
			t.Errorf("exit callback at %q = %d %s", c.prefix+path, code, xml)
		}
	}
	// /v1 and /healthz are under the prefix too; nothing under another.
	for path, want := range map[string]int{"/plivo/v1/flows": 200, "/plivo/healthz": 200, "/other/flows/cc/answer": 404, "/plivox/healthz": 404} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestPublicPrefix: the prefixes flowd serves under, and those it does
// not: a first segment of flowd's own would take bare paths for prefixed
// ones.
func TestPublicPrefix(t *testing.T) {
	for public, want := range map[string]string{
		"":                              "",
		"https://flowd.example.com":     "",
		"https://flowd.example.com/":    "",
		"https://example.com/plivo":     "/plivo",
		"https://example.com/a/b/":      "/a/b",
		"https://example.com/flows":     "",
		"https://example.com/v1/x":      "",
		"https://example.com/flowsplus": "/flowsplus",
	} {
		if got, _ := publicPrefix(public); got != want {
			t.Errorf("publicPrefix(%q) = %q, want %q", public, got, want)
		}
	}
}
