package runtime

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchAPIToken is the API token of the servers these tests start.
const benchAPIToken = "api"

// httpFlow looks the caller up in a CRM, then asks for a key.
const httpFlow = `
flow: crm
params:
  crm: { default: "http://127.0.0.1:1" }
  token: { default: "tok", secret: true }
nodes:
  lookup:
    http:
      url: "{{ params.crm }}/customers?phone={{ urlquery(call.From) }}"
      headers: { Authorization: "Bearer {{ params.token }}" }
      timeout: 2s
    on: { error: normal }
    next: route
  route:
    branch:
      - when: nodes.lookup.body.vip == true
        next: vip
    next: normal
  vip:
    GetDigits:
      numDigits: 1
      children:
        - Speak: "Welcome back, {{ nodes.lookup.body.name }}."
    next: again
  again:
    http:
      url: "{{ params.crm }}/seen?phone={{ urlquery(call.From) }}&digit={{ input.Digits }}"
      method: POST
      headers: { Authorization: "Bearer {{ params.token }}" }
      body: { phone: "{{ call.From }}", vip: "{{ nodes.lookup.body.vip }}" }
    next: bye
  normal:
    Speak: Hello.
  bye:
    Speak: "Bye, {{ nodes.lookup.body.name }} ({{ nodes.again.status }})."
`

// crmServer is a real local CRM that counts what it is asked, answering
// after delay.
func crmServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64, *sync.Map) {
	var n atomic.Int64
	var seen sync.Map // path → count
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		c, _ := seen.LoadOrStore(r.URL.Path, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"vip": true, "name": "Ada"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &seen
}

// TestHTTPNodeOnce sends 8 simultaneous copies of the answer and of a
// callback whose walks make an http request, spread over two servers
// sharing a store: the CRM gets one request per step, and every copy the
// same XML.
func TestHTTPNodeOnce(t *testing.T) {
	crm, _, seen := crmServer(t, 50*time.Millisecond)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	var replicas []string
	for range 2 {
		reg := testRegistry(t, "crm.yaml", httpFlow)
		srv := httptest.NewServer(New(Config{Registry: reg, Store: st, PublicURL: "http://flowd.test", Params: map[string]string{"crm": crm.URL}, APIToken: benchAPIToken}))
		t.Cleanup(srv.Close)
		replicas = append(replicas, srv.URL)
	}
	copies := func(path string, form url.Values) []string {
		out := postCopies(t, replicas, path, form)
		sameAnswers(t, path, out)
		return out
	}
	count := func(path string) int64 {
		c, ok := seen.Load(path)
		if !ok {
			return 0
		}
		return c.(*atomic.Int64).Load()
	}
	form := url.Values{"CallUUID": {"h1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
	answers := copies("/flows/crm/answer", form)
	if !strings.Contains(answers[0], "Welcome back, Ada.") {
		t.Fatalf("answer: %s", answers[0])
	}
	if n := count("/customers"); n != 1 {
		t.Fatalf("8 copies of the answer made %d requests, want 1", n)
	}
	form.Set("Digits", "1")
	callbacks := copies("/flows/crm/calls/1/vip/action", form)
	if !strings.Contains(callbacks[0], "Bye, Ada (200).") {
		t.Fatalf("callback: %s", callbacks[0])
	}
	if n := count("/seen"); n != 1 {
		t.Fatalf("8 copies of the callback made %d requests, want 1", n)
	}
	// The trace keeps each request's method, URL without query, status
	// and duration, and shows the answers' bodies only by their size.
	req, _ := http.NewRequest(http.MethodGet, replicas[0]+"/v1/calls/h1", nil)
	req.Header.Set("Authorization", "Bearer "+benchAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess Session
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil {
		t.Fatal(err)
	}
	if got := sess.Nodes["lookup"]["body"]; got != "<28 bytes>" {
		t.Errorf("nodes.lookup.body in the trace = %q, want its size only", got)
	}
	if len(sess.Trace) < 2 || len(sess.Trace[0].Requests) != 1 || len(sess.Trace[1].Requests) != 1 {
		t.Fatalf("trace requests: %+v", sess.Trace)
	}
	first, second := sess.Trace[0].Requests[0], sess.Trace[1].Requests[0]
	if first.Node != "lookup" || first.Method != "GET" || first.URL != crm.URL+"/customers" || first.Status != 200 ||
		second.Node != "again" || second.Method != "POST" || second.URL != crm.URL+"/seen" || second.Status != 200 {
		t.Errorf("trace requests: %+v, %+v", first, second)
	}
}

// benchLookupFlow answers after an http look-up (with: true) or without
// one; the rest is the same.
func benchLookupFlow(with bool) string {
	src := `
flow: bench
params:
  crm: { default: "http://127.0.0.1:1" }
nodes:
  start:
    set: { n: 1 }
    next: lookup
  lookup:
    http:
      url: "{{ params.crm }}/customers?phone={{ urlquery(call.From) }}"
      timeout: 1s
    on: { error: greet }
    next: greet
  greet:
    GetDigits:
      numDigits: 1
      children:
        - Speak: "Hello {{ nodes.lookup.body?.name ?? 'caller' }}."
`
	if !with {
		src = strings.Replace(src, "    next: lookup\n", "    next: greet\n", 1)
		src = src[:strings.Index(src, "  lookup:")] + src[strings.Index(src, "  greet:"):]
		src = strings.Replace(src, "nodes.lookup.body?.name ?? 'caller'", "vars.name ?? 'caller'", 1)
	}
	return src
}

// BenchmarkHTTPNode measures what an http node adds to an answer webhook:
// the same flow with and without a look-up at a local server that
// answers at once (keep-alive, as flowd's shared client keeps
// connections). Compare the two sub-benchmarks of one run:
//
//	go test ./runtime -run '^$' -bench HTTPNode -count 5
func BenchmarkHTTPNode(b *testing.B) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"vip": true, "name": "Ada"}`))
	}))
	b.Cleanup(crm.Close)
	for _, with := range []bool{false, true} {
		name := "without"
		if with {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			reg := testRegistry(b, "bench.yaml", benchLookupFlow(with))
			st := NewMemory()
			b.Cleanup(func() { st.Close() })
			srv := New(Config{Registry: reg, Store: st, PublicURL: "http://flowd.test", Params: map[string]string{"crm": crm.URL}})
			want := "Hello caller."
			if with {
				want = "Hello Ada."
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				form := url.Values{"CallUUID": {fmt.Sprintf("b-%d", i)}, "From": {"+14155550100"}, "To": {"+14155550199"}}
				req := httptest.NewRequest(http.MethodPost, "/flows/bench/answer", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
					b.Fatalf("answer: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkHTTPNodeTimeout measures how long an answer takes when the
// look-up never answers: the node's timeout (100ms here) plus what flowd
// adds before it answers Plivo through the error edge.
//
//	go test ./runtime -run '^$' -bench HTTPNodeTimeout -benchtime 20x
func BenchmarkHTTPNodeTimeout(b *testing.B) {
	release := make(chan struct{})
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	b.Cleanup(func() { close(release); crm.Close() })
	src := strings.Replace(benchLookupFlow(true), "timeout: 1s", "timeout: 100ms", 1)
	reg := testRegistry(b, "bench.yaml", src)
	st := NewMemory()
	b.Cleanup(func() { st.Close() })
	srv := New(Config{Registry: reg, Store: st, PublicURL: "http://flowd.test", Params: map[string]string{"crm": crm.URL}})
	var worst time.Duration
	b.ResetTimer()
	for i := range b.N {
		form := url.Values{"CallUUID": {fmt.Sprintf("t-%d", i)}, "From": {"+14155550100"}}
		req := httptest.NewRequest(http.MethodPost, "/flows/bench/answer", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		srv.ServeHTTP(rec, req)
		if d := time.Since(t0); d > worst {
			worst = d
		}
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Hello caller.") {
			b.Fatalf("answer: %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// TestHTTPNodeOutlivesItsClient: Plivo gives up waiting for an answer
// whose http request is slow and sends the webhook again. The first
// copy's request still finishes (bounded by the node's timeout, not by
// the client), so the step stored — and answered to the retry — is the
// CRM's answer, not a "canceled" error outcome.
func TestHTTPNodeOutlivesItsClient(t *testing.T) {
	crm, n, _ := crmServer(t, 300*time.Millisecond)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: testRegistry(t, "crm.yaml", httpFlow), Store: st, PublicURL: "http://flowd.test", Params: map[string]string{"crm": crm.URL}, APIToken: benchAPIToken}))
	t.Cleanup(srv.Close)
	form := url.Values{"CallUUID": {"gone"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
	impatient := &http.Client{Timeout: 50 * time.Millisecond}
	if resp, err := impatient.PostForm(srv.URL+"/flows/crm/answer", form); err == nil {
		resp.Body.Close()
		t.Fatal("the impatient client got an answer before the CRM did")
	}
	// The retry waits for the first copy's claim, then gets its answer.
	code, body := post(t, srv.URL+"/flows/crm/answer", form)
	if code != http.StatusOK || !strings.Contains(body, "Welcome back, Ada.") {
		t.Fatalf("Plivo's retry: %d %s", code, body)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("the CRM was asked %d times, want 1", got)
	}
}
