package runtime_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/runtime"
)

// TestAPIJSONKeepsXML: the /v1 API writes <, > and & as they are, so the
// XML of a trace reads as XML, and the answer is still JSON that decodes
// to the same trace.
func TestAPIJSONKeepsXML(t *testing.T) {
	e := startEnv(t, envConfig{store: runtime.NewMemory(), noServer: true})
	c := e.call(t, "ivr", map[string]string{"CallerName": "Ann & Bob"}, nil)

	code, body := e.get(t, "/v1/calls/"+url.PathEscape(c.UUID))
	if code != http.StatusOK {
		t.Fatalf("GET /v1/calls/%s: %d %s", c.UUID, code, body)
	}
	for _, want := range []string{`"<Response>`, `</Response>"`, `Ann & Bob`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the trace does not hold %s as it is:\n%s", want, body)
		}
	}
	for _, escaped := range []string{`\u003c`, `\u003e`, `\u0026`} {
		if bytes.Contains(body, []byte(escaped)) {
			t.Errorf("the trace escapes HTML characters (%s):\n%s", escaped, body)
		}
	}
	var s runtime.Session
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("the trace is not JSON: %v\n%s", err, body)
	}
	if len(s.Trace) == 0 || !strings.HasPrefix(s.Trace[0].XML, "<Response>") || s.Trace[0].XML != string(c.XML()) {
		t.Errorf("the trace's first XML is not the answer:\n got %+v\nwant %s", s.Trace, c.XML())
	}

	// Errors are written the same way.
	code, body = e.get(t, "/v1/calls/a&b")
	if code != http.StatusNotFound || !bytes.Contains(body, []byte(`unknown call \"a&b\"`)) {
		t.Errorf("GET /v1/calls/a&b: %d %s", code, body)
	}
	// So are a path and a method the API does not have: JSON, not chi's
	// text, and only behind the API's credentials.
	for _, path := range []string{"/v1/nothing", "/v1/phlo/ivr/multi_party_call/inner/room", "/v1/flows"} {
		method := http.MethodGet
		if path == "/v1/flows" {
			method = http.MethodDelete
		}
		for _, auth := range []bool{true, false} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(method, path, nil)
			if auth {
				req.Header.Set("Authorization", "Bearer "+testAPIToken)
			}
			e.h.ServeHTTP(rec, req)
			var msg struct{ Error string }
			want := http.StatusNotFound
			if method == http.MethodDelete {
				want = http.StatusMethodNotAllowed
			}
			if !auth {
				want = http.StatusUnauthorized
			}
			if rec.Code != want || json.Unmarshal(rec.Body.Bytes(), &msg) != nil || msg.Error == "" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s %s (credentials %v): %d %q %s, want %d and a JSON error", method, path, auth, rec.Code, rec.Header().Get("Content-Type"), rec.Body, want)
			}
		}
	}
}
