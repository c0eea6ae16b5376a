package runtime

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestFlowCtxUnknownFlow: flowCtx refuses nothing. Each route answers a
// flow flowd does not serve as it decides, and a call on a flow removed
// from the folder goes on from the version it is pinned to.
func TestFlowCtxUnknownFlow(t *testing.T) {
	_, client := fakePlivo(t)
	reg := testRegistry(t, "cc.yaml", ccFlow)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: client, APIToken: "secret"}))
	t.Cleanup(srv.Close)
	call := url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Direction": {"inbound"}}
	code, xml := post(t, srv.URL+"/flows/cc/answer", call)
	if code != http.StatusOK {
		t.Fatalf("answer: %d %s", code, xml)
	}
	m := regexp.MustCompile(`onExitActionUrl="([^"]+)"`).FindStringSubmatch(xml)
	if m == nil {
		t.Fatalf("answer without an exit URL: %s", xml)
	}
	exit := m[1]

	webhook := func(path string, form url.Values) (int, string) {
		return post(t, srv.URL+path, form)
	}
	api := func(path string, body any) (int, string) {
		code, out := apiPost(t, srv.URL+path, "secret", body)
		return code, out["error"]
	}
	other := url.Values{"CallUUID": {"x"}}
	for _, c := range []struct {
		name string
		do   func() (int, string)
		code int
		msg  string
	}{
		{"answer", func() (int, string) { return webhook("/flows/nope/answer", other) }, 404, `unknown flow "nope"`},
		{"callback, unknown call", func() (int, string) { return webhook("/flows/nope/calls/1/queue/exit", other) }, 404, `unknown call "x"`},
		{"callback, a call of another flow", func() (int, string) { return webhook("/flows/nope/calls/1/queue/exit", call) }, 409, "call c1 runs flow cc, not nope"},
		{"event, unknown call", func() (int, string) { return webhook("/flows/nope/events/x/queue/status", nil) }, 404, `unknown call "x"`},
		{"event, a call of another flow", func() (int, string) { return webhook("/flows/nope/events/c1/queue/status", nil) }, 409, `call "c1" does not run flow nope`},
		// A hangup that overtakes its answer is kept only for a flow flowd
		// serves: a made-up flow's stores nothing.
		{"hangup, unknown call", func() (int, string) { return webhook("/flows/nope/hangup", other) }, 404, `unknown call "x"`},
		{"hangup, a call of another flow", func() (int, string) { return webhook("/flows/nope/hangup", call) }, 409, "call c1 runs flow cc, not nope"},
		// Not valid UTF-8: no metrics label (Prometheus would panic).
		{"hangup, a flow name that is no name", func() (int, string) { return webhook("/flows/%CB/hangup", url.Values{"CallUUID": {"y"}}) }, 404, `unknown call "y"`},
		{"start a call", func() (int, string) {
			return api("/v1/flows/nope/calls", map[string]string{"from": "+14155550100", "to": "+14155550101"})
		}, 404, `unknown flow "nope"`},
		{"add to a multi-party call", func() (int, string) {
			return api("/v1/phlo/nope/multi_party_call/queue", map[string]string{"action": "call", "to": "+14155550101", "trigger_source": "+14155550100"})
		}, 404, `no live multi-party call of node "queue" in flow "nope"`},
		{"a member action", func() (int, string) {
			return api("/v1/phlo/nope/multi_party_call/queue/members/+14155550100", map[string]string{"action": "hold"})
		}, 404, `no live multi-party call of node "queue" in flow "nope"`},
	} {
		code, msg := c.do()
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, msg, c.code, c.msg)
		}
	}

	// The folder no longer holds cc: new calls are refused, c1 goes on.
	reg.Reload()
	if reg.Current("cc") != nil {
		t.Fatal("cc is still served")
	}
	if code, body := webhook("/flows/cc/answer", url.Values{"CallUUID": {"c2"}}); code != 404 || !strings.Contains(body, `unknown flow "cc"`) {
		t.Errorf("a new call of a removed flow: %d %s", code, body)
	}
	if code, body := webhook("/flows/cc/events/c1/queue/status", url.Values{"EventName": {"MPCStart"}}); code != 204 {
		t.Errorf("an event of a call of a removed flow: %d %s", code, body)
	}
	if code, body := post(t, exit, call); code != 200 || !strings.Contains(body, "<Hangup/>") {
		t.Errorf("a callback of a call of a removed flow: %d %s", code, body)
	}
	if code, body := webhook("/flows/cc/hangup", call); code != 204 {
		t.Errorf("the hangup of a call of a removed flow: %d %s", code, body)
	}
	// Requests for flows flowd does not serve are counted under "unknown".
	metrics := metricsText(t, srv.URL)
	if !strings.Contains(metrics, `flowd_errors_total{flow="unknown",kind="not_found"}`) || strings.Contains(metrics, `flow="nope"`) {
		t.Errorf("unknown flows in the metrics:\n%s", metrics)
	}
}

// TestRequestContextReused: requests served one after another in one
// context of RequestContext's, as flowd serve's HTTP server serves them,
// are each routed and parsed as their own: nothing of a request's flow,
// route or parameters reaches the next, with a public URL's path too. A
// context another Server made, or one serving a request already, is
// served as any other context.
func TestRequestContextReused(t *testing.T) {
	for _, public := range []string{"", "https://example.com/plivo"} {
		t.Run("public="+public, func(t *testing.T) {
			_, client := fakePlivo(t)
			reg := testRegistry(t, "cc.yaml", ccFlow)
			st := NewMemory()
			t.Cleanup(func() { st.Close() })
			s := New(Config{Registry: reg, Store: st, REST: client, APIToken: "secret", PublicURL: public})
			other := New(Config{Registry: reg, Store: st, REST: client, APIToken: "secret", PublicURL: public})
			ctx := s.RequestContext()
			prefix := strings.TrimPrefix(public, "https://example.com")
			serve := func(h http.Handler, method, path string, form url.Values) (int, string) {
				t.Helper()
				r := httptest.NewRequestWithContext(ctx, method, prefix+path, strings.NewReader(form.Encode()))
				if method == http.MethodPost {
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code, w.Body.String()
			}
			call := func(id string) url.Values {
				return url.Values{"CallUUID": {id}, "From": {"+14155550100"}, "To": {"+14155550199"}, "Direction": {"inbound"}}
			}
			code, xml := serve(s, http.MethodPost, "/flows/cc/answer", call("c1"))
			m := regexp.MustCompile(`onExitActionUrl="[^"]*?(/flows/cc/calls/[^"]+)"`).FindStringSubmatch(xml)
			if code != http.StatusOK || m == nil {
				t.Fatalf("answer c1: %d %s", code, xml)
			}
			exit := strings.TrimPrefix(m[1], prefix)
			for _, c := range []struct {
				name         string
				h            http.Handler
				method, path string
				form         url.Values
				code         int
				body         string
			}{
				{"health", s, http.MethodGet, "/healthz", nil, 200, `"ok"`},
				{"an unknown flow after a known one", s, http.MethodPost, "/flows/nope/answer", call("c9"), 404, `unknown flow "nope"`},
				{"the exit of c1", s, http.MethodPost, exit, call("c1"), 200, "<Response>"},
				{"a second answer's own parameters", s, http.MethodPost, "/flows/cc/answer", call("c2"), 200, "<Response>"},
				{"a call of another flow", s, http.MethodPost, "/flows/nope/hangup", call("c2"), 409, "call c2 runs flow cc, not nope"},
				{"the API, through chi", s, http.MethodGet, "/v1/calls/c2", nil, 401, ""},
				{"another Server's context", other, http.MethodPost, "/flows/cc/answer", call("c3"), 200, "<Response>"},
				{"a hangup before its answer", s, http.MethodPost, "/flows/cc/hangup", call("c4"), 204, ""},
				{"a body past the limit", s, http.MethodPost, "/flows/cc/answer", url.Values{"CallUUID": {"c6"}, "X": {strings.Repeat("x", 1<<20)}}, 413, "request body too large"},
				{"the next body", s, http.MethodPost, "/flows/cc/hangup", call("c7"), 204, ""},
			} {
				if code, body := serve(c.h, c.method, c.path, c.form); code != c.code || !strings.Contains(body, c.body) {
					t.Errorf("%s: %d %q, want %d with %q", c.name, code, body, c.code, c.body)
				}
			}
			for _, id := range []string{"c1", "c2", "c3"} {
				rec, err := st.Get(t.Context(), id)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				sess, err := decodeState(rec.Data)
				if err != nil || sess.CallUUID != id || sess.Call["CallUUID"] != id {
					t.Errorf("%s stored as %+v (%v)", id, sess, err)
				}
			}

			// Served while it serves a request (a handler serving another
			// request through the Server): a context of its own.
			rc := ctx.(*requestCtx)
			rc.serving, rc.routed = true, true
			rc.route = flowRoute{Name: "stale"}
			if code, body := serve(s, http.MethodPost, "/flows/cc/answer", call("c5")); code != 200 || !strings.Contains(body, "<Response>") {
				t.Errorf("while serving: %d %s", code, body)
			}
			if !rc.serving || rc.route.Name != "stale" {
				t.Errorf("the busy context was changed: %+v", rc)
			}
		})
	}
}

// TestBodyLimit: bodyLimit reads what http.MaxBytesReader reads, with
// the same errors, whatever the body's length and the reads' sizes.
func TestBodyLimit(t *testing.T) {
	const limit = 100
	for _, size := range []int{0, 1, limit - 1, limit, limit + 1, 3 * limit} {
		for _, chunk := range []int{1, 7, limit, limit + 1, 4096} {
			body := strings.Repeat("b", size)
			read := func(r io.Reader) (string, []string) {
				var got strings.Builder
				var errs []string
				buf := make([]byte, chunk)
				for range 1000 {
					n, err := r.Read(buf)
					got.Write(buf[:n])
					if err != nil {
						errs = append(errs, fmt.Sprintf("%T %v", err, err))
						if len(errs) == 2 {
							break
						}
					}
				}
				return got.String(), errs
			}
			l := &bodyLimit{r: io.NopCloser(strings.NewReader(body)), n: limit, i: limit}
			got, gotErrs := read(l)
			want, wantErrs := read(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(body)), limit))
			if got != want || fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
				t.Errorf("body %d, reads of %d: %d bytes, %v; MaxBytesReader %d bytes, %v", size, chunk, len(got), gotErrs, len(want), wantErrs)
			}
		}
	}
}
