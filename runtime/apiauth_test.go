package runtime

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAPIAccess: /v1 and, with MetricsAuth, /metrics answer only requests
// with the API credentials, whatever address they come from; with none
// configured, only a purely local flowd answers, and only to loopback.
// Refusals are logged, never with what the client sent.
func TestAPIAccess(t *testing.T) {
	const loopback, remote = "127.0.0.1:40000", "203.0.113.7:40000"
	for _, tc := range []struct {
		name   string
		cfg    Config
		from   string
		auth   string
		path   string
		status int
	}{
		// A reverse proxy on the same host: every request is loopback.
		{"token set, loopback without credentials", Config{APIToken: "tok", AuthTokens: []string{"plivo"}}, loopback, "", "/v1/calls/c1", 401},
		{"token set, loopback with a wrong token", Config{APIToken: "tok"}, loopback, "Bearer nope-secret", "/v1/calls/c1", 401},
		{"token set, remote with the token", Config{APIToken: "tok"}, remote, "Bearer tok", "/v1/calls/c1", 404},
		{"basic auth with the Plivo credentials", Config{APIBasicID: "MAID", APIKey: "key"}, remote, basic("MAID", "key"), "/v1/calls/c1", 404},
		{"basic auth, wrong key", Config{APIBasicID: "MAID", APIKey: "key"}, remote, basic("MAID", "nope-secret"), "/v1/calls/c1", 401},
		// In production (a Plivo token, or not Local) with no API
		// credentials: nobody.
		{"production without API credentials, loopback", Config{AuthTokens: []string{"plivo"}}, loopback, "", "/v1/calls/c1", 401},
		{"not local without API credentials, loopback", Config{}, loopback, "", "/v1/calls/c1", 401},
		// Purely local: loopback only.
		{"purely local, loopback", Config{Local: true}, loopback, "", "/v1/calls/c1", 404},
		{"purely local, remote", Config{Local: true}, remote, "", "/v1/calls/c1", 401},
		// /metrics: open unless MetricsAuth.
		{"metrics open", Config{APIToken: "tok"}, remote, "", "/metrics", 200},
		{"metrics behind credentials", Config{APIToken: "tok", MetricsAuth: true}, remote, "", "/metrics", 401},
		{"metrics with credentials", Config{APIToken: "tok", MetricsAuth: true}, remote, "Bearer tok", "/metrics", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tc.cfg
			cfg.Registry = testRegistry(t, "cc.yaml", ccFlow)
			st := NewMemory()
			t.Cleanup(func() { st.Close() })
			cfg.Store = st
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			srv := New(cfg)
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.RemoteAddr = tc.from
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("%s from %s: %d %s, want %d", tc.path, tc.from, rec.Code, rec.Body, tc.status)
			}
			refused := strings.Contains(logs.String(), "refused an API request")
			if refused != (tc.status == 401) {
				t.Errorf("refusal logged = %v, status %d:\n%s", refused, rec.Code, logs.String())
			}
			if strings.Contains(logs.String(), "nope-secret") || tc.auth != "" && strings.Contains(logs.String(), tc.auth) {
				t.Errorf("the log holds the credential sent:\n%s", logs.String())
			}
		})
	}
}

func basic(id, key string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(id, key)
	return r.Header.Get("Authorization")
}
