package runtime

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/plivo/plivotest"
)

const ccFlow = `
flow: cc
params:
  agents: { default: "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com" }
vars:
  tries: 0
nodes:
  ring:
    add_participant:
      mpc: "q-{{ call.CallUUID }}"
      role: agent
      to: "{{ params.agents }}"
      ring_timeout: 20
    on:
      error: sorry
    next: queue
  queue:
    MultiPartyCall:
      name: "q-{{ call.CallUUID }}"
      role: customer
    events: [status]
    next: bye
  sorry:
    Speak: "Sorry: {{ nodes.ring.error }}"
  bye:
    Hangup: {}
`

// fakePlivo starts a fake Plivo API and a real plivo.Client pointed at it.
func fakePlivo(t *testing.T) (*plivotest.Server, *plivo.Client) {
	t.Helper()
	fake := plivotest.New("MAXXXXXXXXXXXXXXXXXX", "token")
	t.Cleanup(fake.Close)
	client, err := plivo.NewClient(plivo.Config{AuthID: fake.AuthID, AuthToken: fake.AuthToken, BaseURL: fake.URL, CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	return fake, client
}

// testRegistry compiles a flow's source into a registry of its own.
func testRegistry(t testing.TB, file, src string) *Registry {
	t.Helper()
	g, ds := flow.Compile(file, []byte(src))
	if g == nil {
		t.Fatalf("%s: %v", file, ds)
	}
	reg := NewRegistry(t.TempDir(), slog.New(slog.DiscardHandler))
	reg.Add(g)
	return reg
}

// ccServer serves ccFlow with a real plivo.Client pointed at a fake Plivo.
func ccServer(t *testing.T) (*httptest.Server, *plivotest.Server) {
	t.Helper()
	fake, client := fakePlivo(t)
	reg := testRegistry(t, "cc.yaml", ccFlow)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, APIToken: "secret"}))
	t.Cleanup(srv.Close)
	return srv, fake
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func apiPost(t *testing.T, u, token string, body any) (int, map[string]string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// apiSession reads a call's session from /v1/calls/{id} of a ccServer.
func apiSession(t *testing.T, base, id string) Session {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/calls/"+id, nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess Session
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	return sess
}

func TestRESTActionDialsAgentsIntoTheCallersMPC(t *testing.T) {
	srv, fake := ccServer(t)
	code, xml := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Direction": {"inbound"}})
	if code != 200 || !strings.Contains(xml, "<MultiPartyCall") || !strings.Contains(xml, ">q-c1</MultiPartyCall>") {
		t.Fatalf("answer = %d %s", code, xml)
	}
	if !strings.Contains(xml, `statusCallbackUrl="`+srv.URL+`/flows/cc/events/c1/queue/status"`) {
		t.Errorf("the MPC does not send its status events to flowd: %s", xml)
	}
	added := fake.Added()
	if len(added) != 1 {
		t.Fatalf("fake Plivo saw %d add-participant requests, want 1", len(added))
	}
	var body map[string]any
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "/Participant/") {
			body = r.Body
			if r.Path != "/v1/Account/MAXXXXXXXXXXXXXXXXXX/MultiPartyCall/name_q-c1/Participant/" {
				t.Errorf("path = %s", r.Path)
			}
		}
	}
	if body["to"] != "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com" || body["from"] != "+14155550199" || body["role"] != "agent" {
		t.Errorf("add participant body = %v; want both agents, from the call's Plivo number, role agent", body)
	}

	// A status event lands in the trace.
	code, _ = post(t, srv.URL+"/flows/cc/events/c1/queue/status", url.Values{"EventName": {"participant-state-changes"}, "MPCName": {"q-c1"}})
	if code != http.StatusNoContent {
		t.Fatalf("event = %d", code)
	}
	sess := apiSession(t, srv.URL, "c1")
	if len(sess.Events) != 1 || sess.Events[0].Params["EventName"] != "participant-state-changes" {
		t.Errorf("trace events = %+v", sess.Events)
	}
	// Escaped call ids in the URL are the call's (c%31 is c1).
	if code, _ := post(t, srv.URL+"/flows/cc/events/c%31/queue/status", url.Values{"EventName": {"participant-state-changes"}}); code != http.StatusNoContent {
		t.Fatalf("event with an escaped CallUUID = %d", code)
	}
	if sess := apiSession(t, srv.URL, "c%31"); sess.CallUUID != "c1" || len(sess.Events) != 2 {
		t.Errorf("trace at an escaped CallUUID: call %q, %d events", sess.CallUUID, len(sess.Events))
	}
	if sess.Rooms["queue"] != "q-c1" {
		t.Errorf("rooms = %v", sess.Rooms)
	}
}

func TestRESTActionFailureTakesErrorOutcome(t *testing.T) {
	srv, fake := ccServer(t)
	fake.Inject(plivotest.Fault{Method: http.MethodPost, Path: "/v1/Account/MAXXXXXXXXXXXXXXXXXX/MultiPartyCall/name_q-c2/Participant/", Status: 400, Body: `{"api_id":"x","error":"destination not allowed"}`})
	code, xml := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c2"}, "From": {"+1"}, "To": {"+2"}})
	if code != 200 || !strings.Contains(xml, "<Speak>Sorry: ") || !strings.Contains(xml, "destination not allowed") {
		t.Fatalf("answer = %d %s; want the error branch with Plivo's message", code, xml)
	}
}

func TestPHLOTriggerAPI(t *testing.T) {
	srv, fake := ccServer(t)
	post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c3"}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Direction": {"inbound"}})

	// Unauthenticated: 401.
	if code, _ := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue", "", map[string]string{"action": "call"}); code != http.StatusUnauthorized {
		t.Fatalf("no auth = %d, want 401", code)
	}
	// Add a supervisor to the caller's MPC.
	code, out := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue", "secret", map[string]string{
		"action": "call", "to": "sip:sup@phone.plivo.com", "role": "supervisor", "trigger_source": "+14155550100",
	})
	if code != http.StatusCreated || out["api_id"] == "" || out["error"] != "" {
		t.Fatalf("phlo call = %d %v", code, out)
	}
	parts := fake.Participants("q-c3")
	found := false
	for _, p := range parts {
		found = found || (p.Address == "sip:sup@phone.plivo.com" && p.Role == "supervisor")
	}
	if !found {
		t.Fatalf("supervisor not in the MPC: %+v", parts)
	}
	// Unknown trigger source: 404.
	if code, _ := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue", "secret", map[string]string{
		"action": "call", "to": "+1999", "trigger_source": "+10000000000",
	}); code != http.StatusNotFound {
		t.Fatalf("unknown trigger source = %d, want 404", code)
	}
	// Member actions: hold the supervisor, then hang up on them.
	// The address may come escaped, as a client's URL builder escapes it.
	if code, out := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue/members/sip%3Asup%40phone.plivo.com", "secret", map[string]string{"action": "hold"}); code != http.StatusCreated {
		t.Fatalf("hold = %d %v", code, out)
	}
	for _, p := range fake.Participants("q-c3") {
		if p.Address == "sip:sup@phone.plivo.com" && !p.Hold {
			t.Errorf("supervisor not on hold: %+v", p)
		}
	}
	if code, out := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue/members/sip:sup@phone.plivo.com", "secret", map[string]string{"action": "hangup"}); code != http.StatusCreated {
		t.Fatalf("hangup = %d %v", code, out)
	}
	for _, p := range fake.Participants("q-c3") {
		if p.Address == "sip:sup@phone.plivo.com" && !p.Exited {
			t.Errorf("supervisor still in the MPC: %+v", p)
		}
	}
	if code, _ := apiPost(t, srv.URL+"/v1/phlo/cc/multi_party_call/queue/members/x", "secret", map[string]string{"action": "dance"}); code != http.StatusBadRequest {
		t.Errorf("unknown member action = %d, want 400", code)
	}
}

func TestStartCallAPI(t *testing.T) {
	srv, fake := ccServer(t)
	code, out := apiPost(t, srv.URL+"/v1/flows/cc/calls", "secret", map[string]any{"from": "+14155550199", "to": "+14155550100", "vars": map[string]any{"ticket": 42}})
	if code != http.StatusCreated || out["request_uuid"] == "" {
		t.Fatalf("start call = %d %v", code, out)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("fake Plivo saw %d calls", len(calls))
	}
	u, err := url.Parse(calls[0].AnswerURL)
	if err != nil || u.Path != "/flows/cc/answer" || calls[0].HangupURL != srv.URL+"/flows/cc/hangup" {
		t.Fatalf("answer_url = %s, hangup_url = %s", calls[0].AnswerURL, calls[0].HangupURL)
	}
	// Plivo then fetches the answer URL: the call runs with the vars.
	code, _ = post(t, calls[0].AnswerURL, url.Values{"CallUUID": {"c4"}, "From": {"+14155550199"}, "To": {"+14155550100"}, "Direction": {"outbound"}})
	if code != 200 {
		t.Fatalf("answer = %d", code)
	}
	sess := apiSession(t, srv.URL, "c4")
	if sess.Vars["ticket"] != float64(42) {
		t.Errorf("vars = %v; want ticket 42 from the trigger", sess.Vars)
	}
	if code, _ := apiPost(t, srv.URL+"/v1/flows/nope/calls", "secret", map[string]any{"from": "1", "to": "2"}); code != http.StatusNotFound {
		t.Errorf("unknown flow = %d, want 404", code)
	}
	// What would make the call fail once placed is refused before it is.
	for _, c := range []struct {
		body any
		msg  string
	}{
		{map[string]any{"from": "+14155550199", "to": "+1415\u0000555", "vars": map[string]any{}}, "printable"},
		{map[string]any{"from": "+14155550199", "to": "+14155550100", "vars": map[string]any{"tries": "three"}}, "vars.tries: want a whole number, as its initial value 0 is, not text \"three\""},
		{map[string]any{"from": "+14155550199", "to": "+14155550100", "vars": map[string]any{"tries": 1.5}}, "vars.tries: want a whole number"},
	} {
		if code, out := apiPost(t, srv.URL+"/v1/flows/cc/calls", "secret", c.body); code != http.StatusBadRequest || !strings.Contains(out["error"], c.msg) {
			t.Errorf("%v = %d %v, want 400 with %q", c.body, code, out, c.msg)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/flows/cc/calls", strings.NewReader(`{"from":"+14155550199","to":"+14155550100"} {"x":1}`))
	req.Header.Set("Authorization", "Bearer secret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body with more after its object: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("fake Plivo saw %d calls, want only the first", n)
	}
}

// TestEventsNeedPlivoSignature: with an auth token, a MultiPartyCall
// event must carry Plivo's signature like every other webhook; a forged
// one is refused and leaves the trace alone.
func TestEventsNeedPlivoSignature(t *testing.T) {
	fake := plivotest.New("MAXXXXXXXXXXXXXXXXXX", "token")
	defer fake.Close()
	client, err := plivo.NewClient(plivo.Config{AuthID: fake.AuthID, AuthToken: fake.AuthToken, BaseURL: fake.URL, CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	g, ds := flow.Compile("cc.yaml", []byte(ccFlow))
	if g == nil {
		t.Fatalf("cc flow: %v", ds)
	}
	reg := NewRegistry(t.TempDir(), slog.New(slog.DiscardHandler))
	reg.Add(g)
	st := NewMemory()
	defer st.Close()
	const token = "MzQ5ZTdkZjFhYjQ4NmRmMTQ0NzUwYmQ5ZDFlZTVi"
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, AuthTokens: []string{token}}))
	defer srv.Close()

	signed := func(u string, form url.Values, key string) int {
		t.Helper()
		nonce := "05429567804466091622"
		sig, err := plivo.SignatureV3(http.MethodPost, u, form, nonce, key)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(plivo.HeaderSignatureV3, sig)
		req.Header.Set(plivo.HeaderNonceV3, nonce)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := signed(srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"e1"}, "From": {"+1"}, "To": {"+2"}}, token); code != 200 {
		t.Fatalf("signed answer = %d", code)
	}
	ev := srv.URL + "/flows/cc/events/e1/queue/status"
	form := url.Values{"EventName": {"mpc-state-changes"}}
	if code := signed(ev, form, "not-the-token"); code != http.StatusForbidden {
		t.Fatalf("forged event = %d, want 403", code)
	}
	if code, _ := post(t, ev, form); code != http.StatusForbidden {
		t.Fatalf("unsigned event = %d, want 403", code)
	}
	if code := signed(ev, form, token); code != http.StatusNoContent {
		t.Fatalf("signed event = %d, want 204", code)
	}
	entries, err := st.Trace(t.Context(), "e1")
	if err != nil {
		t.Fatal(err)
	}
	var sess Session
	if err := sess.addEntries(entries); err != nil || len(sess.Events) != 1 {
		t.Fatalf("trace events = %v, %v; want only the signed one", sess.Events, err)
	}
}
