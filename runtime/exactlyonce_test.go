package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo"
)

// onceFlow runs a REST action on the answer and on a callback.
const onceFlow = `
flow: once
nodes:
  ring_first:
    add_participant:
      mpc: "first-{{ call.CallUUID }}"
      role: agent
      to: sip:alice@phone.plivo.com
    next: menu
  menu:
    GetDigits:
      numDigits: 1
      children:
        - Speak: Press 1 for an agent.
    next: ring
  ring:
    add_participant:
      mpc: "q-{{ call.CallUUID }}"
      role: agent
      to: sip:bob@phone.plivo.com
    on:
      error: sorry
    next: queue
  queue:
    MultiPartyCall:
      name: "q-{{ call.CallUUID }}"
      role: customer
  sorry:
    Speak: Sorry.
`

// slowREST holds each add_participant request a while, as a real Plivo
// does, so copies of a webhook overlap while the first makes it.
type slowREST struct {
	API
	delay time.Duration
}

func (s slowREST) AddParticipant(ctx context.Context, mpc plivo.MPCRef, p *plivo.AddParticipantParams) (*plivo.AddParticipantResponse, error) {
	time.Sleep(s.delay)
	return s.API.AddParticipant(ctx, mpc, p)
}

// TestSideEffectsOnce sends 8 simultaneous copies of an answer and of a
// callback whose walks run a REST action, spread over two servers that
// share one store (two replicas): exactly one request per step reaches
// Plivo, and every copy gets the same XML.
func TestSideEffectsOnce(t *testing.T) {
	fake, client := fakePlivo(t)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	var replicas []string
	for range 2 {
		reg := testRegistry(t, "once.yaml", onceFlow)
		srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: slowREST{client, 50 * time.Millisecond}, PublicURL: "http://flowd.test"}))
		t.Cleanup(srv.Close)
		replicas = append(replicas, srv.URL)
	}
	participants := func(mpc string) int {
		n := 0
		for _, r := range fake.Requests() {
			if strings.Contains(r.Path, "/MultiPartyCall/name_"+mpc+"/Participant/") {
				n++
			}
		}
		return n
	}
	copies := func(path string, form url.Values) []string { return postCopies(t, replicas, path, form) }
	same := func(what string, bodies []string) {
		t.Helper()
		sameAnswers(t, what, bodies)
		if !strings.HasPrefix(bodies[0], "200 <Response>") {
			t.Fatalf("%s: %s", what, bodies[0])
		}
	}

	for call := range 3 {
		id := fmt.Sprintf("once-%d", call)
		form := url.Values{"CallUUID": {id}, "From": {"+14155550100"}, "To": {"+14155550199"}}
		answers := copies("/flows/once/answer", form)
		same("answer", answers)
		if n := participants("first-" + id); n != 1 {
			t.Fatalf("%s: 8 copies of the answer made %d add_participant requests, want 1", id, n)
		}
		if !strings.Contains(answers[0], "<GetDigits") {
			t.Fatalf("%s: answer %s", id, answers[0])
		}
		form.Set("Digits", "1")
		callbacks := copies("/flows/once/calls/1/menu/action", form)
		same("callback", callbacks)
		if n := participants("q-" + id); n != 1 {
			t.Fatalf("%s: 8 copies of the callback made %d add_participant requests, want 1", id, n)
		}
		if !strings.Contains(callbacks[0], "<MultiPartyCall") {
			t.Fatalf("%s: callback %s", id, callbacks[0])
		}
		// A later copy, after the step, is a retry: the same XML, no request.
		code, body := post(t, replicas[0]+"/flows/once/calls/1/menu/action", form)
		if fmt.Sprintf("%d %s", code, body) != callbacks[0] || participants("q-"+id) != 1 {
			t.Fatalf("%s: a late copy: %d %s, %d requests", id, code, body, participants("q-"+id))
		}
	}
}

// TestClaimRunsOut: a copy that finds a step claimed by a copy that died
// (the claim's lease ran out) runs the step itself.
func TestClaimRunsOut(t *testing.T) {
	fake, client := fakePlivo(t)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	reg := testRegistry(t, "once.yaml", onceFlow)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, PublicURL: "http://flowd.test", Now: clock}))
	t.Cleanup(srv.Close)

	form := url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
	if code, body := post(t, srv.URL+"/flows/once/answer", form); code != 200 || !strings.Contains(body, "<GetDigits") {
		t.Fatalf("answer: %d %s", code, body)
	}
	// A copy of the callback claimed the step on another replica, then
	// that replica died.
	claimStep(t, st, "c1", "dead", now)
	form.Set("Digits", "1")
	// While the claim holds, a copy waits for the claimer's answer.
	impatient := &http.Client{Timeout: 150 * time.Millisecond}
	if resp, err := impatient.PostForm(srv.URL+"/flows/once/calls/1/menu/action", form); err == nil {
		resp.Body.Close()
		t.Fatalf("a copy answered %d while another held the step's claim", resp.StatusCode)
	}
	mu.Lock()
	now = now.Add(claimLease + time.Second)
	mu.Unlock()
	code, body := post(t, srv.URL+"/flows/once/calls/1/menu/action", form)
	if code != 200 || !strings.Contains(body, "<MultiPartyCall") {
		t.Fatalf("callback after the claim ran out: %d %s", code, body)
	}
	n := 0
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "name_q-c1/Participant/") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d add_participant requests, want 1 (the dead claimer made none)", n)
	}
}

// postCopies posts form to path on the replicas in turn, 8 copies at
// once, as Plivo's retries and a failover send them, and returns each
// answer as "STATUS BODY".
func postCopies(t *testing.T, replicas []string, path string, form url.Values) []string {
	const n = 8
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			code, body := post(t, replicas[i%len(replicas)]+path, form)
			bodies[i] = fmt.Sprintf("%d %s", code, body)
		})
	}
	close(start)
	wg.Wait()
	return bodies
}

// sameAnswers fails the test unless every copy got the same answer.
func sameAnswers(t *testing.T, what string, bodies []string) {
	t.Helper()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("%s: the copies got different answers:\n%s", what, strings.Join(bodies, "\n"))
		}
	}
}

// TestClaimWaitIsBounded: a copy waiting for a step another copy claimed
// answers 503 (with Retry-After) once it has waited Config.ClaimWait,
// rather than wait for the lease past the server's write timeout, which
// would close it without an answer; the step's side effect is not made.
func TestClaimWaitIsBounded(t *testing.T) {
	fake, client := fakePlivo(t)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	reg := testRegistry(t, "once.yaml", onceFlow)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, PublicURL: "http://flowd.test",
		Now: func() time.Time { return now }, ClaimWait: 100 * time.Millisecond}))
	t.Cleanup(srv.Close)
	form := url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
	if code, body := post(t, srv.URL+"/flows/once/answer", form); code != 200 {
		t.Fatalf("answer: %d %s", code, body)
	}
	claimStep(t, st, "c1", "slow", now)
	form.Set("Digits", "1")
	resp, err := http.PostForm(srv.URL+"/flows/once/calls/1/menu/action", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("a copy behind a claim: %d, Retry-After %q; want 503 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "name_q-c1/Participant/") {
			t.Errorf("the waiting copy made the step's request: %s", r.Path)
		}
	}
}

// claimStep stores a claim of the call's step 1 callback (1/menu/action)
// by owner, as a copy on another replica makes it, with its lease from
// now.
func claimStep(t *testing.T, st Store, id, owner string, now time.Time) {
	t.Helper()
	rec, err := st.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := decodeState(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	cs.Claim = &Claim{Key: "1/menu/action", Owner: owner, Until: now.Add(claimLease)}
	data, _ := encodeState(cs)
	if err := st.Update(t.Context(), id, rec.Rev, Record{Rev: rec.Rev + 1, Live: true, Data: data}, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// gatedREST holds the add_participant requests to one address until
// released, saying when one arrives: a webhook's side effect in flight.
type gatedREST struct {
	API
	to      string
	entered chan struct{}
	release chan struct{}
}

func (g gatedREST) AddParticipant(ctx context.Context, mpc plivo.MPCRef, p *plivo.AddParticipantParams) (*plivo.AddParticipantResponse, error) {
	if p.To == g.to {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.API.AddParticipant(ctx, mpc, p)
}

// overtakeFlow runs a REST action in a callback's walk, in a call whose
// room reports status events.
const overtakeFlow = `
flow: overtake
nodes:
  room:
    MultiPartyCall: { name: "r-{{ call.CallUUID }}", role: customer }
    events: [status]
    next: menu
  menu:
    GetDigits: { numDigits: 1 }
    next: ring
  ring:
    add_participant: { mpc: "r-{{ call.CallUUID }}", role: agent, to: "sip:bob@phone.plivo.com" }
    next: bye
  bye:
    Speak: Bye.
`

// TestSideEffectOnceWhenOvertaken: a callback whose walk is making a side
// effect loses its write to one that leaves its claim in place — the
// call's hangup (Plivo sends a Record's or a Dial's action and the hangup
// together), or a status event of its room. Its change, run again on the
// state as it now is, writes the same walk: the request reached Plivo
// once, and the step is kept (after the hangup, the call stays hung up).
func TestSideEffectOnceWhenOvertaken(t *testing.T) {
	for _, overtaker := range []string{"hangup", "event"} {
		t.Run(overtaker, func(t *testing.T) {
			fake, client := fakePlivo(t)
			st := NewMemory()
			t.Cleanup(func() { st.Close() })
			gate := gatedREST{API: client, to: "sip:bob@phone.plivo.com", entered: make(chan struct{}, 4), release: make(chan struct{})}
			srv := httptest.NewServer(New(Config{Registry: testRegistry(t, "overtake.yaml", overtakeFlow), Store: st, REST: gate, APIToken: "secret", PublicURL: "http://flowd.test"}))
			t.Cleanup(srv.Close)
			form := url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
			if code, body := post(t, srv.URL+"/flows/overtake/answer", form); code != 200 {
				t.Fatalf("answer: %d %s", code, body)
			}
			if code, body := post(t, srv.URL+"/flows/overtake/calls/1/room/exit", url.Values{"ParticipantCallUUID": {"c1"}}); code != 200 {
				t.Fatalf("exit: %d %s", code, body)
			}
			done := make(chan string, 1)
			go func() {
				code, body := post(t, srv.URL+"/flows/overtake/calls/2/menu/action", url.Values{"CallUUID": {"c1"}, "Digits": {"1"}})
				done <- fmt.Sprintf("%d %s", code, body)
			}()
			awaitSignal(t, gate.entered, "the walk's request to Plivo") // on its way
			var code int
			if overtaker == "hangup" {
				code, _ = post(t, srv.URL+"/flows/overtake/hangup", url.Values{"CallUUID": {"c1"}, "HangupCause": {"NORMAL_CLEARING"}})
			} else {
				code, _ = post(t, srv.URL+"/flows/overtake/events/c1/room/status", url.Values{"EventName": {"ParticipantJoin"}})
			}
			if code != http.StatusNoContent {
				t.Fatalf("%s: %d", overtaker, code)
			}
			close(gate.release)
			if got := <-done; !strings.HasPrefix(got, "200 <Response><Speak>Bye.</Speak>") {
				t.Fatalf("the callback: %s", got)
			}
			if n := len(fake.Added()); n != 1 {
				t.Errorf("%d add_participant requests reached Plivo, want 1", n)
			}
			sess := apiSession(t, srv.URL, "c1")
			var steps []string
			for _, s := range sess.Trace {
				steps = append(steps, s.Webhook+"/"+s.Node)
			}
			want := []string{"answer/room", "callback/room", "callback/menu"}
			wantStatus := StatusEnded
			if overtaker == "hangup" {
				want = []string{"answer/room", "callback/room", "hangup/", "callback/menu"}
				wantStatus = StatusHungUp
			}
			if strings.Join(steps, " ") != strings.Join(want, " ") || sess.Status != wantStatus || sess.Claim != nil {
				t.Errorf("trace %v, status %s, claim %+v; want %v, %s, no claim", steps, sess.Status, sess.Claim, want, wantStatus)
			}
			// The call ended once: where the caller hung up (menu), else
			// where the walk ended (bye).
			metrics := metricsText(t, srv.URL)
			ended := "bye"
			if overtaker == "hangup" {
				ended = "menu"
			}
			var exits []string
			for line := range strings.SplitSeq(metrics, "\n") {
				if strings.HasPrefix(line, `flowd_node_exits_total{flow="overtake"`) {
					exits = append(exits, line)
				}
			}
			if len(exits) != 1 || exits[0] != `flowd_node_exits_total{flow="overtake",node="`+ended+`"} 1` {
				t.Errorf("exits counted %q, want one at %s", exits, ended)
			}
		})
	}
}

// gatedCRM is a CRM whose answers wait until released, saying when a
// request arrives; it counts them.
// awaitSignal waits for ch, or fails the test after 10 s: a walk that
// never makes the request the test holds must not hang the package.
func awaitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not arrive within 10 s", what)
	}
}

func gatedCRM(t *testing.T) (url string, entered, release chan struct{}, n *atomic.Int64) {
	entered, release, n = make(chan struct{}, 8), make(chan struct{}), new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		entered <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"vip": true}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, entered, release, n
}

// handFlows: front's room reports status events; when the caller leaves
// it, front hands the call to desk, whose first node asks the CRM.
const (
	handFrontFlow = `
flow: front
nodes:
  room:
    MultiPartyCall: { name: "r-{{ call.CallUUID }}", role: customer }
    events: [status]
    next: out
  out:
    Redirect: http://flowd.test/flows/desk/answer
`
	handDeskFlow = `
flow: desk
params:
  crm: { default: "http://127.0.0.1:1" }
nodes:
  lookup:
    http: { url: "{{ params.crm }}/c" }
    next: ask
  ask:
    GetDigits: { numDigits: 1 }
`
)

// TestSideEffectOnceWhenAnswersOvertaken: as for callbacks, an answer, or
// a hand-over, whose walk is making a side effect and whose write loses to
// the hangup or to a status event writes the same walk: the CRM is asked
// once, and the step is kept in the trace.
func TestSideEffectOnceWhenAnswersOvertaken(t *testing.T) {
	crm, entered, release, n := gatedCRM(t)
	dir := t.TempDir()
	for name, src := range map[string]string{"front.yaml": handFrontFlow, "desk.yaml": handDeskFlow} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := NewRegistry(dir, slog.New(slog.DiscardHandler))
	reg.Params = map[string]string{"crm": crm}
	if !reg.Reload() {
		t.Fatal("the flows do not load")
	}
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, APIToken: "secret", PublicURL: "http://flowd.test", Params: reg.Params}))
	t.Cleanup(srv.Close)
	async := func(path string, form url.Values) chan string {
		done := make(chan string, 1)
		go func() {
			code, body := post(t, srv.URL+path, form)
			done <- fmt.Sprintf("%d %s", code, body)
		}()
		return done
	}
	steps := func(id string) string {
		var out []string
		for _, s := range apiSession(t, srv.URL, id).Trace {
			out = append(out, fmt.Sprintf("%d %s %s", s.Step, s.Webhook, s.Flow))
		}
		return strings.Join(out, ", ")
	}

	// The answer of desk, and the hangup while it asks the CRM.
	done := async("/flows/desk/answer", url.Values{"CallUUID": {"a1"}, "From": {"+14155550100"}})
	awaitSignal(t, entered, "the CRM request")
	if code, _ := post(t, srv.URL+"/flows/desk/hangup", url.Values{"CallUUID": {"a1"}, "HangupCause": {"NORMAL_CLEARING"}}); code != http.StatusNoContent {
		t.Fatalf("hangup: %d", code)
	}
	release <- struct{}{}
	if got := <-done; !strings.HasPrefix(got, "200 <Response><GetDigits") {
		t.Errorf("the answer: %s", got)
	}
	sess := apiSession(t, srv.URL, "a1")
	if n.Load() != 1 || sess.Status != StatusHungUp || sess.Nodes["lookup"]["status"] != "200" || steps("a1") != "1 answer , 2 hangup " {
		t.Errorf("answer overtaken by the hangup: %d CRM requests, status %s, nodes %v, trace %s", n.Load(), sess.Status, sess.Nodes, steps("a1"))
	}

	// A hand-over to desk, and a status event of front's room meanwhile.
	n.Store(0)
	if code, body := post(t, srv.URL+"/flows/front/answer", url.Values{"CallUUID": {"h1"}, "From": {"+14155550100"}}); code != 200 {
		t.Fatalf("front's answer: %d %s", code, body)
	}
	if code, body := post(t, srv.URL+"/flows/front/calls/1/room/exit", url.Values{"ParticipantCallUUID": {"h1"}}); code != 200 || !strings.Contains(body, "<Redirect>") {
		t.Fatalf("leaving the room: %d %s", code, body)
	}
	redirect := url.Values{"CallUUID": {"h1"}, "From": {"+14155550100"}, "Event": {"Redirect"}}
	done = async("/flows/desk/answer", redirect)
	awaitSignal(t, entered, "the CRM request")
	if code, _ := post(t, srv.URL+"/flows/front/events/h1/room/status", url.Values{"EventName": {"MPCEnd"}}); code != http.StatusNoContent {
		t.Fatalf("event: %d", code)
	}
	release <- struct{}{}
	handed := <-done
	if !strings.HasPrefix(handed, "200 <Response><GetDigits") || n.Load() != 1 {
		t.Fatalf("the hand-over: %s, %d CRM requests", handed, n.Load())
	}
	if got := steps("h1"); got != "1 answer , 2 callback , 3 answer desk" {
		t.Errorf("trace %s", got)
	}
	// Late copies, once the call moved on: the hand-over's XML, and the
	// first answer's; nothing walked again.
	if code, body := post(t, srv.URL+"/flows/desk/calls/3/ask/action", url.Values{"CallUUID": {"h1"}, "Digits": {"1"}}); code != 200 {
		t.Fatalf("desk's callback: %d %s", code, body)
	}
	if code, body := post(t, srv.URL+"/flows/desk/answer", redirect); fmt.Sprintf("%d %s", code, body) != handed {
		t.Errorf("a late copy of the hand-over: %d %s, want %s", code, body, handed)
	}
	if code, body := post(t, srv.URL+"/flows/front/answer", url.Values{"CallUUID": {"h1"}, "From": {"+14155550100"}}); code != 200 || !strings.Contains(body, "<MultiPartyCall") {
		t.Errorf("a late copy of the first answer: %d %s", code, body)
	}
	if n.Load() != 1 {
		t.Errorf("%d CRM requests after the late copies, want 1", n.Load())
	}

	// A hand-over, and the hangup while it asks the CRM.
	n.Store(0)
	post(t, srv.URL+"/flows/front/answer", url.Values{"CallUUID": {"h2"}, "From": {"+14155550100"}})
	post(t, srv.URL+"/flows/front/calls/1/room/exit", url.Values{"ParticipantCallUUID": {"h2"}})
	redirect.Set("CallUUID", "h2")
	done = async("/flows/desk/answer", redirect)
	awaitSignal(t, entered, "the CRM request")
	if code, _ := post(t, srv.URL+"/flows/front/hangup", url.Values{"CallUUID": {"h2"}, "HangupCause": {"NORMAL_CLEARING"}}); code != http.StatusNoContent {
		t.Fatalf("hangup: %d", code)
	}
	release <- struct{}{}
	if got := <-done; !strings.HasPrefix(got, "200 <Response><GetDigits") || n.Load() != 1 {
		t.Fatalf("the hand-over overtaken by the hangup: %s, %d CRM requests", got, n.Load())
	}
	sess = apiSession(t, srv.URL, "h2")
	if got := steps("h2"); got != "1 answer , 2 callback , 3 hangup , 4 answer desk" || sess.Status != StatusHungUp || sess.Wait != "" {
		t.Errorf("trace %s, status %s, wait %q", got, sess.Status, sess.Wait)
	}
}
