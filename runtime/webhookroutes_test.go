package runtime

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// TestMatchWebhookAsChi: whatever ServeHTTP's own matcher routes, chi
// routes to the same pattern with the same parameters; and it does route
// Plivo's webhooks, so they skip chi's tree. What it leaves to chi (nil)
// chi answers as before.
func TestMatchWebhookAsChi(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	s := New(Config{Registry: NewRegistry(t.TempDir(), nil), Store: st})
	mux := s.router.(*chi.Mux)
	for _, c := range []struct {
		method, target string
		fast           bool // matched by matchWebhook
	}{
		{"POST", "/flows/ivr/answer", true},
		{"GET", "/flows/ivr/answer?vars=%7B%7D", true},
		{"POST", "/flows/ivr/hangup", true},
		{"POST", "/flows/ivr/calls/12/menu/action", true},
		{"POST", "/flows/ivr/calls/12/sub.menu/action", true},
		{"POST", "/flows/ivr/events/c-1/queue/status", true},
		{"POST", "/flows/%CB/answer", true},          // a raw byte in Path, no RawPath
		{"POST", "/flows/a%20b/answer", true},        // escaped as Go escapes it: no RawPath
		{"POST", "/flows/a%2Fb/answer", false},       // RawPath: chi matches the escaped path
		{"POST", "/flows/ivr/calls/1/%2B1/x", false}, // RawPath
		{"PUT", "/flows/ivr/answer", false},
		{"HEAD", "/flows/ivr/answer", false},
		{"POST", "/flows//answer", false},
		{"POST", "/flows/ivr/answer/", false},
		{"POST", "/flows/ivr/answer/more", false},
		{"POST", "/flows/ivr", false},
		{"POST", "/flows/", false},
		{"POST", "/flows/ivr/nothing", false},
		{"POST", "/flows/ivr/calls/1/menu", false},
		{"POST", "/flows/ivr/calls/1/menu/action/x", false},
		{"POST", "/flows/ivr/calls//menu/action", false},
		{"POST", "/flows/ivr/events/c/q/", false},
		{"POST", "/v1/flows/ivr/calls", false},
		{"POST", "/healthz", false},
		{"GET", "/flowsx/ivr/answer", false},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		fast := chi.NewRouteContext()
		wr := s.matchWebhook(r, fast)
		if (wr != nil) != c.fast {
			t.Errorf("%s %s: matched %v, want %v", c.method, c.target, wr != nil, c.fast)
		}
		if wr == nil {
			if len(fast.URLParams.Keys) != 0 {
				t.Errorf("%s %s: no match, but parameters %v", c.method, c.target, fast.URLParams)
			}
			continue
		}
		path := r.URL.Path
		if r.URL.RawPath != "" {
			path = r.URL.RawPath
		}
		want := chi.NewRouteContext()
		if p := mux.Find(want, c.method, path); p != wr.pattern {
			t.Errorf("%s %s: %q, chi finds %q", c.method, c.target, wr.pattern, p)
		}
		if !reflect.DeepEqual(fast.URLParams, want.URLParams) {
			t.Errorf("%s %s: parameters %v, chi's %v", c.method, c.target, fast.URLParams, want.URLParams)
		}
	}
}

// TestMatchWebhookRandomPaths: on paths made at random of webhook-like
// segments, the matcher and chi agree: whatever the matcher routes, chi
// routes to the same pattern and parameters, and every webhook route chi
// finds for a plain path (no RawPath, no empty segment) the matcher finds
// too, so no webhook misses the fast path.
func TestMatchWebhookRandomPaths(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	s := New(Config{Registry: NewRegistry(t.TempDir(), nil), Store: st})
	mux := s.router.(*chi.Mux)
	segs := []string{"flows", "ivr", "answer", "hangup", "calls", "events", "12", "menu", "action", "",
		"a.b", "%2F", "%2B1", "a%20b", "%CB", "v1", "{flow}", "ui"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := 1 + rng.IntN(7)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = segs[rng.IntN(len(segs))]
		}
		if rng.IntN(3) > 0 {
			parts[0] = "flows" // most paths under /flows/
		}
		target := "/" + strings.Join(parts, "/")
		method := []string{"GET", "POST", "PUT"}[rng.IntN(3)]
		r, err := http.NewRequest(method, "http://flowd.test"+target, nil)
		if err != nil {
			continue
		}
		fast := chi.NewRouteContext()
		wr := s.matchWebhook(r, fast)
		path := r.URL.Path
		if r.URL.RawPath != "" {
			path = r.URL.RawPath
		}
		want := chi.NewRouteContext()
		found := mux.Find(want, method, path)
		if wr != nil {
			if found != wr.pattern || !reflect.DeepEqual(fast.URLParams, want.URLParams) {
				t.Fatalf("%s %s: %q %v, chi: %q %v", method, target, wr.pattern, fast.URLParams, found, want.URLParams)
			}
			continue
		}
		if strings.HasPrefix(found, "/flows/") && r.URL.RawPath == "" && !slices.Contains(want.URLParams.Values, "") {
			t.Fatalf("%s %s: chi routes it to %q, the matcher leaves it", method, target, found)
		}
	}
}

// panicStore panics where a webhook first reaches the store.
type panicStore struct{ Store }

func (panicStore) PutVersion(context.Context, string, string, []byte, time.Duration) error {
	panic("the store broke")
}

// TestMatchWebhookChain: a webhook ServeHTTP routes itself runs the
// middlewares chi would run for it, the top router's too: a handler's
// panic is answered 500 and counted by the recoverer, on every route.
func TestMatchWebhookChain(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	s := New(Config{Registry: testRegistry(t, "menu.yaml", menuFlow), Store: panicStore{st}})
	r := httptest.NewRequest("POST", "/flows/menu/answer", strings.NewReader("CallUUID=c1&From=%2B14155550100"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.matchWebhook(r, chi.NewRouteContext()) == nil {
		t.Fatal("the answer is not routed by matchWebhook")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "internal error") {
		t.Errorf("a panicking answer: %d %q, want 500 from the recoverer", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if want := `flowd_errors_total{flow="menu",kind="panic"} 1`; !strings.Contains(w.Body.String(), want) {
		t.Errorf("the panic not counted: no %s in\n%s", want, w.Body)
	}
}
