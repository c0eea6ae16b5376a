package runtime

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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
