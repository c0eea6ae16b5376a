package runtime

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo/plivotest"
)

// The PHLO trigger tests run ccFlow: the answer of call c1 (customer
// +14155550100) dials alice<bob into q-c1 (member 101, alice); the
// customer then joins q-c1 through the XML (member 102).
const (
	customer = "+14155550100"
	carol    = "sip:carol@phone.plivo.com"
	dave     = "sip:dave@phone.plivo.com"
	erin     = "sip:erin@phone.plivo.com"
)

// phloRoom answers call id from caller and joins the caller to the call's
// MultiPartyCall on the fake, as Plivo does when the call runs the
// MultiPartyCall element.
func phloRoom(t *testing.T, srv *httptest.Server, fake *plivotest.Server, id, caller string) {
	t.Helper()
	if code, xml := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {id}, "From": {caller}, "To": {"+14155550199"}, "Direction": {"inbound"}}); code != 200 || !strings.Contains(xml, "<MultiPartyCall") {
		t.Fatalf("answer = %d %s", code, xml)
	}
	fake.Join("q-"+id, id, caller, "customer")
}

type phloAnswer struct {
	code       int
	body       map[string]string
	replayed   bool
	retryAfter string
}

// phlo sends a trigger API request with the headers given.
func phlo(t *testing.T, u string, body any, header ...string) phloAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer secret")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := phloAnswer{code: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true", retryAfter: resp.Header.Get("Retry-After")}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

func node(srv *httptest.Server) string { return srv.URL + "/v1/phlo/cc/multi_party_call/queue" }

func member(srv *httptest.Server, address string) string {
	return node(srv) + "/members/" + url.PathEscape(address)
}

func trig(action, to, role, source string) map[string]string {
	return map[string]string{"action": action, "to": to, "role": role, "trigger_source": source}
}

// mpcRequests returns the MultiPartyCall requests the fake received since
// the mark (a count of requests), as "METHOD path below the MPC".
func mpcRequests(fake *plivotest.Server, mark int) []string {
	var out []string
	for _, r := range fake.Requests()[mark:] {
		if _, rest, ok := strings.Cut(r.Path, "/MultiPartyCall/"); ok {
			_, rest, _ = strings.Cut(rest, "/")
			out = append(out, r.Method+" "+rest)
		}
	}
	return out
}

// dialled counts the accepted Add Participant requests that dialled to.
func dialled(fake *plivotest.Server, to string) int {
	n := 0
	for _, a := range fake.Added() {
		if a.To == to {
			n++
		}
	}
	return n
}

// parts returns the fake's participants of an MPC by address.
func parts(t *testing.T, fake *plivotest.Server, mpc string) map[string]plivotest.Participant {
	t.Helper()
	out := map[string]plivotest.Participant{}
	for _, p := range fake.Participants(mpc) {
		if q, ok := out[p.Address]; ok && !q.Exited {
			continue // keep the live one of an address dialled twice
		}
		out[p.Address] = p
	}
	return out
}

func wantRequests(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: Plivo requests\n  %q\nwant\n  %q", what, got, want)
	}
}

// TestPHLOColdTransferRemovesTheAgent: trigger_source is the agent
// handing the call over; the cold transfer dials to, then kicks the
// agent, and the customer stays.
func TestPHLOColdTransferRemovesTheAgent(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	mark := len(fake.Requests())
	a := phlo(t, node(srv), trig("cold_transfer", dave, "agent", carol))
	if a.code != http.StatusCreated || a.body["api_id"] == "" || a.body["error"] != "" || a.body["warning"] != "" {
		t.Fatalf("cold_transfer = %d %v", a.code, a.body)
	}
	wantRequests(t, "cold_transfer", mpcRequests(fake, mark), "GET Participant/", "POST Participant/", "DELETE Participant/103/")
	ps := parts(t, fake, "q-c1")
	if ps[customer].Exited || !ps[carol].Exited || ps[dave].Exited || ps[dave].Role != "agent" {
		t.Errorf("after the cold transfer: customer exited %v, carol exited %v, dave %+v", ps[customer].Exited, ps[carol].Exited, ps[dave])
	}
	// dave, added by the API, can hand the call over in turn.
	if a := phlo(t, node(srv), trig("cold_transfer", erin, "", dave)); a.code != http.StatusCreated {
		t.Fatalf("cold_transfer from dave = %d %v", a.code, a.body)
	}
	if ps := parts(t, fake, "q-c1"); !ps[dave].Exited || ps[erin].Exited || ps[customer].Exited {
		t.Errorf("second cold transfer: %+v", ps)
	}
}

// TestPHLOTransferRefusesTheCustomer: a customer as trigger_source of a
// transfer is refused before anyone is dialled or kicked (flowd used to
// kick the customer).
func TestPHLOTransferRefusesTheCustomer(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	// A number Plivo reports without its + is the same party.
	for _, source := range []string{customer, "14155550100"} {
		for _, action := range []string{"cold_transfer", "warm_transfer"} {
			mark := len(fake.Requests())
			a := phlo(t, node(srv), trig(action, dave, "agent", source))
			if source == customer && (a.code != http.StatusConflict || !strings.Contains(a.body["error"], "customer")) {
				t.Errorf("%s from the customer = %d %v, want 409 naming the customer", action, a.code, a.body)
			}
			if source != customer && a.code < 400 {
				t.Errorf("%s from the customer as %s = %d %v, want a refusal", action, source, a.code, a.body)
			}
			if got := mpcRequests(fake, mark); slices.Contains(got, "POST Participant/") || slices.ContainsFunc(got, func(r string) bool { return !strings.HasPrefix(r, "GET ") }) {
				t.Errorf("%s from the customer made Plivo requests %q; want none that act", action, got)
			}
		}
	}
	if dialled(fake, dave) != 0 || parts(t, fake, "q-c1")[customer].Exited {
		t.Errorf("dave dialled %d times, customer %+v", dialled(fake, dave), parts(t, fake, "q-c1")[customer])
	}
	// call from the customer is PHLO's "add user": allowed.
	if a := phlo(t, node(srv), trig("call", dave, "agent", customer)); a.code != http.StatusCreated {
		t.Errorf("call from the customer = %d %v", a.code, a.body)
	}
}

// TestPHLOTransferChecksBeforeDialling: a trigger_source that is not in
// the MultiPartyCall is refused before the Add Participant request (flowd
// used to dial, then fail the kick with a 502).
func TestPHLOTransferChecksBeforeDialling(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	if a := phlo(t, member(srv, carol), map[string]string{"action": "hangup"}); a.code != http.StatusCreated {
		t.Fatalf("hangup carol = %d %v", a.code, a.body)
	}
	// carol left: her reference still leads to the room, the listing
	// says she is not in it.
	for _, action := range []string{"cold_transfer", "warm_transfer"} {
		mark := len(fake.Requests())
		a := phlo(t, node(srv), trig(action, dave, "agent", carol))
		if a.code != http.StatusNotFound || !strings.Contains(a.body["error"], "not a member") {
			t.Errorf("%s from a member who left = %d %v, want 404", action, a.code, a.body)
		}
		wantRequests(t, action+" from a member who left", mpcRequests(fake, mark), "GET Participant/")
	}
	// Unknown to flowd: nothing asked of Plivo.
	mark := len(fake.Requests())
	if a := phlo(t, node(srv), trig("cold_transfer", dave, "agent", "sip:nobody@phone.plivo.com")); a.code != http.StatusNotFound {
		t.Errorf("cold_transfer from an unknown agent = %d %v", a.code, a.body)
	}
	wantRequests(t, "unknown trigger_source", mpcRequests(fake, mark))
	// to and trigger_source the same party.
	if a := phlo(t, node(srv), trig("cold_transfer", carol, "agent", carol)); a.code != http.StatusBadRequest {
		t.Errorf("cold_transfer to oneself = %d %v", a.code, a.body)
	}
	if n := dialled(fake, dave); n != 0 {
		t.Errorf("dave dialled %d times; want none", n)
	}
}

// TestPHLORetryDoesNotDialTwice: a request sent again gets the first
// one's answer and dials nobody.
func TestPHLORetryDoesNotDialTwice(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	first := phlo(t, node(srv), trig("cold_transfer", dave, "agent", carol))
	again := phlo(t, node(srv), trig("cold_transfer", dave, "agent", carol))
	if first.code != http.StatusCreated || again.code != first.code || again.body["api_id"] != first.body["api_id"] || !again.replayed || first.replayed {
		t.Errorf("cold_transfer sent twice: %+v then %+v; want the first answer again", first, again)
	}
	if n := dialled(fake, dave); n != 1 {
		t.Errorf("dave dialled %d times, want 1", n)
	}
	// call retried: one dial.
	phlo(t, node(srv), trig("call", erin, "agent", customer))
	if a := phlo(t, node(srv), trig("call", erin, "agent", customer)); a.code != http.StatusCreated || !a.replayed {
		t.Errorf("call sent again = %+v", a)
	}
	if n := dialled(fake, erin); n != 1 {
		t.Errorf("erin dialled %d times, want 1", n)
	}

	// Idempotency-Key: the key, not the body, makes requests the same;
	// the same key on another body is refused.
	const frank = "sip:frank@phone.plivo.com"
	k1 := phlo(t, node(srv), trig("call", frank, "supervisor", customer), "Idempotency-Key", "k1")
	k1again := phlo(t, node(srv), trig("call", frank, "supervisor", customer), "Idempotency-Key", "k1")
	other := phlo(t, node(srv), trig("call", "sip:gina@phone.plivo.com", "agent", customer), "Idempotency-Key", "k1")
	if k1.code != http.StatusCreated || k1again.body["api_id"] != k1.body["api_id"] || !k1again.replayed || other.code != http.StatusUnprocessableEntity {
		t.Errorf("Idempotency-Key: %+v, again %+v, other body %+v", k1, k1again, other)
	}
	if n := dialled(fake, frank); n != 1 || dialled(fake, "sip:gina@phone.plivo.com") != 0 {
		t.Errorf("frank dialled %d times, want 1; gina %d, want 0", n, dialled(fake, "sip:gina@phone.plivo.com"))
	}

	// A request Plivo refused dialled nobody: sent again, it runs.
	const hank = "sip:hank@phone.plivo.com"
	fake.Inject(plivotest.Fault{Method: http.MethodPost, Path: "/MultiPartyCall/name_q-c1/Participant/", Status: 400, Body: `{"api_id":"x","error":"destination not allowed"}`})
	if a := phlo(t, node(srv), trig("call", hank, "agent", customer)); a.code != http.StatusBadRequest || a.body["error"] != "destination not allowed" {
		t.Errorf("refused call = %+v", a)
	}
	if a := phlo(t, node(srv), trig("call", hank, "agent", customer)); a.code != http.StatusCreated || a.replayed {
		t.Errorf("call sent again after a refusal = %+v; want it run", a)
	}
	if n := dialled(fake, hank); n != 1 {
		t.Errorf("hank dialled %d times, want 1", n)
	}
}

// TestPHLOColdTransferKickFailureIsAWarning: the new agent was dialled;
// a failed kick is a warning on a 201, not a 502 a client would retry.
func TestPHLOColdTransferKickFailureIsAWarning(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	fake.Inject(plivo400(http.MethodDelete, "/Participant/"))
	a := phlo(t, node(srv), trig("cold_transfer", dave, "agent", carol))
	if a.code != http.StatusCreated || a.body["api_id"] == "" || a.body["error"] != "" || !strings.Contains(a.body["warning"], carol) {
		t.Fatalf("cold_transfer with a failed kick = %d %v; want 201 with a warning", a.code, a.body)
	}
	if ps := parts(t, fake, "q-c1"); ps[dave].Exited || ps[carol].Exited {
		t.Errorf("dave %+v, carol %+v", ps[dave], ps[carol])
	}
	// The client retries: the same answer, no second dial.
	if again := phlo(t, node(srv), trig("cold_transfer", dave, "agent", carol)); !again.replayed || again.body["warning"] != a.body["warning"] || dialled(fake, dave) != 1 {
		t.Errorf("retry = %+v, dave dialled %d times", again, dialled(fake, dave))
	}
	// The warning's advice works.
	if a := phlo(t, member(srv, carol), map[string]string{"action": "hangup"}); a.code != http.StatusCreated || !parts(t, fake, "q-c1")[carol].Exited {
		t.Errorf("hangup carol = %d %v", a.code, a.body)
	}
}

func plivo400(method, path string) plivotest.Fault {
	return plivotest.Fault{Method: method, Path: path, Status: 400, Body: `{"api_id":"x","error":"refused"}`}
}

// warmRoom is c1's room with carol (103) and a supervisor (104) added,
// and carol warm-transferring to dave (105): alice (101) and the customer
// (102) are on hold.
func warmRoom(t *testing.T) (*httptest.Server, *plivotest.Server) {
	t.Helper()
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	for _, add := range []map[string]string{trig("call", carol, "agent", customer), trig("call", "sip:sup@phone.plivo.com", "supervisor", customer)} {
		if a := phlo(t, node(srv), add); a.code != http.StatusCreated {
			t.Fatalf("%v = %d %v", add, a.code, a.body)
		}
	}
	mark := len(fake.Requests())
	if a := phlo(t, node(srv), trig("warm_transfer", dave, "agent", carol)); a.code != http.StatusCreated || a.body["api_id"] == "" || a.body["warning"] != "" {
		t.Fatalf("warm_transfer = %d %v", a.code, a.body)
	}
	wantRequests(t, "warm_transfer", mpcRequests(fake, mark), "GET Participant/", "POST Participant/101,102/", "POST Participant/")
	for _, r := range fake.Requests()[mark:] {
		if strings.HasSuffix(r.Path, "/101,102/") && r.Body["hold"] != true {
			t.Errorf("warm_transfer update = %v, want hold", r.Body)
		}
	}
	ps := parts(t, fake, "q-c1")
	if !ps[customer].Hold || !ps["sip:alice@phone.plivo.com"].Hold || ps[carol].Hold || ps["sip:sup@phone.plivo.com"].Hold || ps[dave].Hold || ps[dave].Exited {
		t.Fatalf("during the warm transfer: %+v", ps)
	}
	return srv, fake
}

// TestPHLOWarmTransferResume: U1 and U3 talk while the customer is on
// hold; resume_call of U1 adds the customer to the call.
func TestPHLOWarmTransferResume(t *testing.T) {
	srv, fake := warmRoom(t)
	// One transfer at a time per agent.
	mark := len(fake.Requests())
	if a := phlo(t, node(srv), trig("warm_transfer", erin, "agent", carol)); a.code != http.StatusConflict {
		t.Errorf("a second warm transfer = %d %v, want 409", a.code, a.body)
	}
	if slices.Contains(mpcRequests(fake, mark), "POST Participant/") || dialled(fake, erin) != 0 {
		t.Errorf("a refused warm transfer dialled: %q", mpcRequests(fake, mark))
	}
	mark = len(fake.Requests())
	if a := phlo(t, member(srv, carol), map[string]string{"action": "resume_call"}); a.code != http.StatusCreated {
		t.Fatalf("resume_call = %d %v", a.code, a.body)
	}
	wantRequests(t, "resume_call", mpcRequests(fake, mark), "GET Participant/", "POST Participant/101,102/")
	ps := parts(t, fake, "q-c1")
	if ps[customer].Hold || ps["sip:alice@phone.plivo.com"].Hold || ps[dave].Exited || ps[carol].Exited {
		t.Errorf("after resume_call: %+v", ps)
	}
	// With no transfer left, resume_call takes the member off hold.
	mark = len(fake.Requests())
	if a := phlo(t, member(srv, carol), map[string]string{"action": "resume_call"}); a.code != http.StatusCreated {
		t.Fatalf("resume_call again = %d %v", a.code, a.body)
	}
	wantRequests(t, "resume_call without a transfer", mpcRequests(fake, mark), "GET Participant/", "POST Participant/103/")
	// Then carol may start another.
	if a := phlo(t, node(srv), trig("warm_transfer", erin, "agent", carol)); a.code != http.StatusCreated {
		t.Errorf("warm transfer after the first ended = %d %v", a.code, a.body)
	}
}

// TestPHLOWarmTransferAbort: abort_transfer names the member who started
// the transfer; the target is kicked and the customer is back with U1.
func TestPHLOWarmTransferAbort(t *testing.T) {
	srv, fake := warmRoom(t)
	if a := phlo(t, member(srv, dave), map[string]string{"action": "abort_transfer"}); a.code != http.StatusConflict {
		t.Errorf("abort_transfer of the target = %d %v, want 409", a.code, a.body)
	}
	mark := len(fake.Requests())
	if a := phlo(t, member(srv, carol), map[string]string{"action": "abort_transfer"}); a.code != http.StatusCreated {
		t.Fatalf("abort_transfer = %d %v", a.code, a.body)
	}
	wantRequests(t, "abort_transfer", mpcRequests(fake, mark), "GET Participant/", "DELETE Participant/105/", "GET Participant/", "POST Participant/101,102/")
	ps := parts(t, fake, "q-c1")
	if !ps[dave].Exited || ps[carol].Exited || ps[customer].Hold || ps[customer].Exited {
		t.Errorf("after abort_transfer: %+v", ps)
	}
	if a := phlo(t, member(srv, carol), map[string]string{"action": "abort_transfer"}); a.code != http.StatusConflict {
		t.Errorf("abort_transfer again = %d %v, want 409", a.code, a.body)
	}
	if h := fake.Hangups(); len(h) != 0 {
		t.Errorf("abort_transfer of a target that joined hung up calls %v", h)
	}
}

// TestPHLOWarmTransferAbortRinging: a target still ringing is no member of
// the room yet, so no kick reaches it: abort_transfer hangs its call up,
// or it would join when it answers.
func TestPHLOWarmTransferAbortRinging(t *testing.T) {
	srv, fake := warmRoom(t)
	var daveCall string
	for _, p := range fake.Participants("q-c1") {
		if p.Address == dave {
			daveCall = p.CallUUID
		}
	}
	if daveCall == "" {
		t.Fatal("dave was not dialled")
	}
	fake.Leave("q-c1", daveCall) // as flowd sees a call not yet answered: no member
	mark := len(fake.Requests())
	if a := phlo(t, member(srv, carol), map[string]string{"action": "abort_transfer"}); a.code != http.StatusCreated {
		t.Fatalf("abort_transfer = %d %v", a.code, a.body)
	}
	wantRequests(t, "abort_transfer", mpcRequests(fake, mark), "GET Participant/", "GET Participant/", "POST Participant/101,102/")
	if h := fake.Hangups(); !slices.Equal(h, []string{daveCall}) {
		t.Errorf("hung up %v, want the ringing target's call %s", h, daveCall)
	}
	if ps := parts(t, fake, "q-c1"); ps[customer].Hold || ps["sip:alice@phone.plivo.com"].Hold {
		t.Errorf("after abort_transfer: %+v", ps)
	}
}

// TestPHLOWarmTransferHangup: U1 leaving completes the transfer: the
// customer is taken off hold with U3.
func TestPHLOWarmTransferHangup(t *testing.T) {
	srv, fake := warmRoom(t)
	mark := len(fake.Requests())
	if a := phlo(t, member(srv, carol), map[string]string{"action": "hangup"}); a.code != http.StatusCreated || a.body["warning"] != "" {
		t.Fatalf("hangup = %d %v", a.code, a.body)
	}
	wantRequests(t, "hangup", mpcRequests(fake, mark), "GET Participant/", "DELETE Participant/103/", "GET Participant/", "POST Participant/101,102/")
	if ps := parts(t, fake, "q-c1"); !ps[carol].Exited || ps[customer].Hold || ps[dave].Exited {
		t.Errorf("after hangup: %+v", ps)
	}
}

// TestPHLOWarmTransferAddFails: when Plivo refuses the new participant,
// the members held for the transfer are taken off hold again.
func TestPHLOWarmTransferAddFails(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	fake.Override = func(r plivotest.Request) *plivotest.Reply {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/name_q-c1/Participant/") {
			return &plivotest.Reply{Status: 400, Body: map[string]any{"api_id": "x", "error": "destination not allowed"}}
		}
		return nil
	}
	mark := len(fake.Requests())
	if a := phlo(t, node(srv), trig("warm_transfer", dave, "agent", carol)); a.code != http.StatusBadRequest || a.body["error"] != "destination not allowed" {
		t.Fatalf("warm_transfer refused by Plivo = %d %v", a.code, a.body)
	}
	fake.Override = nil
	wantRequests(t, "refused warm_transfer", mpcRequests(fake, mark), "GET Participant/", "POST Participant/101,102/", "POST Participant/", "POST Participant/101,102/")
	if ps := parts(t, fake, "q-c1"); ps[customer].Hold || ps["sip:alice@phone.plivo.com"].Hold {
		t.Errorf("held members left on hold: %+v", ps)
	}
	// No transfer was kept: abort_transfer has nothing to abort.
	if a := phlo(t, member(srv, carol), map[string]string{"action": "abort_transfer"}); a.code != http.StatusConflict {
		t.Errorf("abort_transfer after a refused transfer = %d %v", a.code, a.body)
	}
}

// TestPHLOFindsTheRoomFromAnAgent: an agent flowd did not add can act
// from the room it finds through to, when the listing shows it is a
// member there — and only then.
func TestPHLOFindsTheRoomFromAnAgent(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	phloRoom(t, srv, fake, "c2", "+14155550111")
	const xavier, yolanda = "sip:xavier@phone.plivo.com", "sip:yolanda@phone.plivo.com"
	fake.Join("q-c2", "x-call", xavier, "agent") // joined through XML of its own: flowd knows nothing of it
	// carol was added to c1's room: her reference leads there, where
	// xavier is not.
	if a := phlo(t, node(srv), trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	mark := len(fake.Requests())
	if a := phlo(t, node(srv), trig("call", carol, "agent", xavier)); a.code != http.StatusNotFound {
		t.Errorf("call from an agent of another room = %d %v, want 404", a.code, a.body)
	}
	wantRequests(t, "call from an agent of another room", mpcRequests(fake, mark), "GET Participant/")
	// yolanda was added to c2's room and left; xavier dials her again.
	if a := phlo(t, node(srv), trig("call", yolanda, "agent", "+14155550111")); a.code != http.StatusCreated {
		t.Fatalf("call yolanda = %d %v", a.code, a.body)
	}
	if a := phlo(t, member(srv, yolanda), map[string]string{"action": "hangup"}); a.code != http.StatusCreated {
		t.Fatalf("hangup yolanda = %d %v", a.code, a.body)
	}
	if a := phlo(t, node(srv), trig("call", yolanda, "agent", xavier)); a.code != http.StatusCreated {
		t.Fatalf("call from xavier = %d %v", a.code, a.body)
	}
	if ps := parts(t, fake, "q-c2"); ps[yolanda].Exited {
		t.Errorf("yolanda not back in q-c2: %+v", ps)
	}
	// xavier is known now: member actions find it.
	if a := phlo(t, member(srv, xavier), map[string]string{"action": "mute"}); a.code != http.StatusCreated || !parts(t, fake, "q-c2")[xavier].Mute {
		t.Errorf("mute xavier = %d %v", a.code, a.body)
	}
}

// TestPHLOConcurrentCopiesDialOnce: copies of a request arriving together
// dial once; the others are told to ask again (409) or get its answer.
func TestPHLOConcurrentCopiesDialOnce(t *testing.T) {
	srv, fake := ccServer(t)
	phloRoom(t, srv, fake, "c1", customer)
	const n = 8
	answers := make(chan phloAnswer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- phlo(t, node(srv), trig("call", carol, "agent", customer))
		}()
	}
	wg.Wait()
	close(answers)
	created := 0
	for a := range answers {
		switch a.code {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("a copy got %d %v", a.code, a.body)
		}
	}
	if d := dialled(fake, carol); d != 1 || created == 0 {
		t.Errorf("carol dialled %d times (want 1), %d copies answered 201", d, created)
	}
}

// TestPHLOSubflowRoom: the trigger API names a MultiPartyCall node inside
// a subflow as its calls are named, through the calling node, with "."
// for "/" in the URL (route.queue).
func TestPHLOSubflowRoom(t *testing.T) {
	fake, client := fakePlivo(t)
	sub, ds := flow.Compile("cc-sub.yaml", []byte(strings.Replace(ccFlow, "flow: cc", "flow: cc-sub", 1)))
	if sub == nil {
		t.Fatal(ds)
	}
	front, ds := flow.Compile("front.yaml", []byte("flow: front\nnodes:\n  hello:\n    Speak: Hello.\n    next: route\n  route:\n    subflow: cc-sub\n"))
	if front == nil {
		t.Fatal(ds)
	}
	reg := NewRegistry(t.TempDir(), slog.New(slog.DiscardHandler))
	reg.Add(sub, front)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, APIToken: "secret"}))
	t.Cleanup(srv.Close)

	code, xml := post(t, srv.URL+"/flows/front/answer", url.Values{"CallUUID": {"c1"}, "From": {customer}, "To": {"+14155550199"}, "Direction": {"inbound"}})
	if code != 200 || !strings.Contains(xml, "<Speak>Hello.</Speak><MultiPartyCall") || !strings.Contains(xml, "/route.queue/exit") {
		t.Fatalf("answer = %d %s", code, xml)
	}
	fake.Join("q-c1", "c1", customer, "customer")
	u := srv.URL + "/v1/phlo/front/multi_party_call/route.queue"
	if a := phlo(t, u, trig("call", carol, "agent", customer)); a.code != http.StatusCreated {
		t.Fatalf("call carol = %d %v", a.code, a.body)
	}
	if n := dialled(fake, carol); n != 1 {
		t.Errorf("carol dialled %d times", n)
	}
	if a := phlo(t, srv.URL+"/v1/phlo/front/multi_party_call/queue", trig("call", dave, "agent", customer)); a.code != http.StatusNotFound {
		t.Errorf("the subflow's node named as the caller's own: %d %v", a.code, a.body)
	}
}
