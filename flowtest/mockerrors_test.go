package flowtest

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/runtime"
)

// lookupFlow makes one request as the call is answered.
const lookupFlow = `flow: lookup
params:
  url: { default: "https://crm.example.com/customers" }
nodes:
  lookup:
    http: { url: "{{ params.url }}", timeout: 300ms }
    on: { error: failed }
    next: bye
  failed:
    Speak: "{{ nodes.lookup.error }}"
    next: bye
  bye:
    Hangup: {}
`

// answerLookup walks the answer of lookupFlow with client for its http
// node, and returns what the node kept: status, error and outcome.
func answerLookup(t *testing.T, ctx context.Context, client flow.HTTP, url string) map[string]string {
	t.Helper()
	g, ds := flow.Compile("lookup.yaml", []byte(lookupFlow))
	if g == nil {
		t.Fatal(ds)
	}
	p, _ := g.ResolveParams(map[string]string{"url": url})
	st := g.NewState(map[string]string{"CallUUID": CallUUID}, p)
	w := &flow.Walker{URL: runtime.URLs(BaseURL, g.Name, CallUUID, 1), HTTP: client, Context: ctx}
	if res := w.Answer(g, st); res.Err != nil {
		t.Fatal(res.Err)
	}
	got := st.Nodes["lookup"]
	return map[string]string{"status": got["status"], "error": got["error"], "outcome": got["outcome"]}
}

// TestMockErrorsAreProductions: every error a mock answers with is a
// reason a real request gives, and the http node keeps the same status,
// error and outcome from the mock as from a real request that fails so.
// The mock's list of errors must grow with flow's reasons: each is tried
// here against the real client, over a real listener, where the network
// can be made to fail that way offline.
func TestMockErrorsAreProductions(t *testing.T) {
	big := strings.Repeat("x", flow.HTTPMaxBody+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/big503":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(big))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/drop":
			// The connection is closed before any answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL
	closed.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	// The real request that fails for each reason; "" where it cannot be
	// made to offline (a DNS miss would need a resolver).
	real := map[string]struct {
		url    string
		ctx    context.Context
		status int
	}{
		flow.HTTPTimeout:      {url: srv.URL + "/slow"},
		flow.HTTPRefused:      {url: refused},
		flow.HTTPUnknownHost:  {},
		flow.HTTPBodyTooLarge: {url: srv.URL + "/big", status: 200},
		flow.HTTPCanceled:     {url: srv.URL + "/slow", ctx: canceled},
		flow.HTTPFailed:       {url: srv.URL + "/drop"},
	}
	client := runtime.NewHTTPClient()
	for _, reason := range answerErrors {
		r, ok := real[reason]
		if !ok {
			t.Errorf("error %q: no real request is tried for it here", reason)
			continue
		}
		a := &Answer{Node: "lookup", Error: reason, Status: r.status}
		mocked := answerLookup(t, context.Background(), NewMock(map[string]*Answer{"lookup": a}), srv.URL)
		if mocked["error"] != reason || mocked["outcome"] != flow.OutcomeError {
			t.Errorf("error %q: the node keeps %v", reason, mocked)
		}
		if r.url == "" {
			continue
		}
		ctx := r.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if got := answerLookup(t, ctx, client, r.url); !maps.Equal(got, mocked) {
			t.Errorf("error %q: a real request keeps %v, the mock %v", reason, got, mocked)
		}
	}

	// An answer too large keeps the status it came with.
	a := &Answer{Node: "lookup", Error: flow.HTTPBodyTooLarge, Status: 503}
	mocked := answerLookup(t, context.Background(), NewMock(map[string]*Answer{"lookup": a}), srv.URL)
	if got := answerLookup(t, context.Background(), client, srv.URL+"/big503"); !maps.Equal(got, mocked) || got["status"] != "503" {
		t.Errorf("body too large with 503: a real request keeps %v, the mock %v", got, mocked)
	}
}
