package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
			// Addressed to loopback, as a request straight to a local
			// flowd is (TestAPIAccessThroughProxy: to a public name).
			req.Host = "127.0.0.1:8080"
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

// TestAPIAccessThroughProxy: a request that a proxy on the same host
// passes on comes from loopback, but was addressed to a public name, the
// one flowd builds its callback URLs from (Host, X-Forwarded-Host,
// Forwarded host). Without API credentials a purely local flowd refuses
// it on /v1 and /ui, as it refuses a remote peer; it serves only requests
// addressed to loopback. With credentials, the proxy changes nothing.
func TestAPIAccessThroughProxy(t *testing.T) {
	const (
		noCredentials = "unauthorized: this flowd has no API credentials; set FLOWD_API_TOKEN (or PLIVO_AUTH_ID with PLIVO_AUTH_TOKEN) to use /v1"
		credentials   = "unauthorized: send Authorization: Bearer <FLOWD_API_TOKEN> or Basic auth with the Plivo auth id and token"
	)
	public := []struct {
		name   string
		header http.Header
		host   string
	}{
		{name: "X-Forwarded-Host", header: http.Header{"X-Forwarded-Host": {"flowd.example.com"}, "X-Forwarded-Proto": {"https"}}},
		{name: "public Host", host: "flowd.example.com"},
		{name: "Forwarded host", header: http.Header{"Forwarded": {"for=203.0.113.7;host=flowd.example.com;proto=https"}}},
		{name: "Forwarded quoted host", header: http.Header{"Forwarded": {`for="[2001:db8::7]:4711";host="flowd.example.com:443"`}}},
		{name: "Forwarded host of the second element", header: http.Header{"Forwarded": {"for=203.0.113.7, for=198.51.100.1;host=flowd.example.com"}}},
		{name: "Forwarded host behind a client's unbalanced quote", header: http.Header{"Forwarded": {`host="localhost";x=", host=flowd.example.com`}}},
		// A proxy that keeps the public Host and passes the client's own
		// X-Forwarded-Host on: the client cannot make itself local.
		{name: "public Host, a client's X-Forwarded-Host: localhost", host: "flowd.example.com", header: http.Header{"X-Forwarded-Host": {"localhost"}}},
		{name: "a second X-Forwarded-Host", header: http.Header{"X-Forwarded-Host": {"localhost, flowd.example.com"}}},
		// A proxy that rewrites Host to loopback still names the client.
		{name: "X-Forwarded-For a remote client", host: "127.0.0.1:8080", header: http.Header{"X-Forwarded-For": {"203.0.113.5"}}},
		{name: "X-Forwarded-For, the remote client last", host: "127.0.0.1:8080", header: http.Header{"X-Forwarded-For": {"127.0.0.1, 203.0.113.5"}}},
		{name: "Forwarded for a remote client", host: "127.0.0.1:8080", header: http.Header{"Forwarded": {"for=203.0.113.5"}}},
		{name: "Forwarded for unknown", host: "127.0.0.1:8080", header: http.Header{"Forwarded": {"for=unknown"}}},
	}
	local := []struct {
		name   string
		header http.Header
		host   string
	}{
		{name: "listen address"},
		{name: "127.0.0.1", host: "127.0.0.1:8080"},
		{name: "localhost", host: "localhost:8080"},
		{name: "::1", host: "[::1]:8080"},
		{name: "X-Forwarded-Host localhost", header: http.Header{"X-Forwarded-Host": {"localhost:8080"}}},
		{name: "Forwarded host ::1", header: http.Header{"Forwarded": {`for=127.0.0.1;host="[::1]:8080"`}}},
	}
	for _, tc := range []struct {
		name      string
		cfg       Config
		auth      string
		path      string
		challenge string
		status    int // of a request addressed to loopback
		msg       string
	}{
		{name: "purely local /v1", cfg: Config{Local: true}, path: "/v1/calls/c1", challenge: `Basic realm="flowd", Bearer`, status: 404, msg: noCredentials},
		{name: "purely local /ui", cfg: Config{Local: true}, path: "/ui/", challenge: consoleChallenge, status: 200, msg: noCredentials},
		{name: "token, /v1 without it", cfg: Config{APIToken: "tok"}, path: "/v1/calls/c1", challenge: `Basic realm="flowd", Bearer`, status: 401, msg: credentials},
		{name: "token, /v1 with it", cfg: Config{APIToken: "tok"}, auth: "Bearer tok", path: "/v1/calls/c1", status: 404},
		{name: "token, /ui with it", cfg: Config{APIToken: "tok"}, auth: "Bearer tok", path: "/ui/", status: 200},
		{name: "basic, /ui without it", cfg: Config{APIBasicID: "MAID", APIKey: "key"}, path: "/ui/", challenge: consoleChallenge, status: 401, msg: credentials},
		{name: "basic, /v1 with it", cfg: Config{APIBasicID: "MAID", APIKey: "key"}, auth: basic("MAID", "key"), path: "/v1/calls/c1", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Registry = testRegistry(t, "cc.yaml", ccFlow)
			st := NewMemory()
			t.Cleanup(func() { st.Close() })
			cfg.Store = st
			cfg.Logger = slog.New(slog.DiscardHandler)
			srv := httptest.NewServer(New(cfg))
			t.Cleanup(srv.Close)
			get := func(t *testing.T, host string, header http.Header) *http.Response {
				t.Helper()
				req, err := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range header {
					req.Header[k] = vs
				}
				if host != "" {
					req.Host = host
				}
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { resp.Body.Close() })
				return resp
			}
			for _, a := range local {
				if resp := get(t, a.host, a.header); resp.StatusCode != tc.status {
					t.Errorf("addressed to loopback (%s): %d, want %d", a.name, resp.StatusCode, tc.status)
				}
			}
			for _, p := range public {
				resp := get(t, p.host, p.header)
				want := tc.status
				if tc.cfg.Local {
					want = http.StatusUnauthorized
				}
				if resp.StatusCode != want {
					t.Errorf("addressed to a public name (%s): %d, want %d", p.name, resp.StatusCode, want)
					continue
				}
				if want != http.StatusUnauthorized {
					continue
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", p.name, got, tc.challenge)
				}
				var body struct{ Error string }
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Errorf("%s: 401 body: %v", p.name, err)
				} else if body.Error != tc.msg {
					t.Errorf("%s: 401 says %q, want %q", p.name, body.Error, tc.msg)
				}
			}
		})
	}
}

// TestPublicHostOfCallbacks: the host apiAuth judges a request by is the
// one its callback URLs are built on, a Forwarded one included.
func TestPublicHostOfCallbacks(t *testing.T) {
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(New(Config{Registry: testRegistry(t, "menu.yaml", menuFlow), Store: st, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	for i, tc := range []struct {
		name   string
		header http.Header
		host   string
		want   string
	}{
		{name: "Host", want: srv.URL},
		{name: "X-Forwarded-Host", header: http.Header{"X-Forwarded-Host": {"flowd.example.com"}, "X-Forwarded-Proto": {"https"}}, want: "https://flowd.example.com"},
		{name: "Forwarded", header: http.Header{"Forwarded": {`for=203.0.113.7;proto=https;host="flowd.example.com"`}}, want: "https://flowd.example.com"},
		{name: "X-Forwarded-Host before Forwarded", header: http.Header{"X-Forwarded-Host": {"a.example.com"}, "Forwarded": {"host=b.example.com;proto=https"}}, want: "https://a.example.com"},
		{name: "X-Forwarded-Proto before Forwarded", header: http.Header{"X-Forwarded-Proto": {"http"}, "Forwarded": {"host=b.example.com;proto=https"}}, want: "http://b.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"CallUUID": {fmt.Sprintf("host-%d", i)}, "From": {"+14155550100"}}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/flows/menu/answer", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if want := `action="` + tc.want + `/flows/menu/calls/1/`; resp.StatusCode != 200 || !strings.Contains(string(b), want) {
				t.Errorf("%d, want callback URLs under %s:\n%s", resp.StatusCode, tc.want, b)
			}
		})
	}
}

func basic(id, key string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(id, key)
	return r.Header.Get("Authorization")
}
