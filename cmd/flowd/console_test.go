package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

const helloFlow = `flow: hello
nodes:
  greet:
    Speak: Hello.
`

// TestServeConsole: flowd serve serves the console at /ui/ behind the API
// token, and an open live-calls stream does not hold up the shutdown: it
// ends when the drain starts, and serve exits 0 with nothing abandoned.
func TestServeConsole(t *testing.T) {
	t.Setenv("PLIVO_AUTH_TOKEN", "")
	t.Setenv("PLIVO_AUTH_ID", "")
	t.Setenv("FLOWD_API_TOKEN", "console-token")
	dir := flowsDir(t, map[string]string{"hello.yaml": helloFlow})
	s := serveInProcess(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--drain-timeout", "5s")

	get := func(path, auth string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("/ui/", "")
	resp.Body.Close()
	// Only a token is configured: no Basic sign-in could succeed, so the
	// challenge asks for the token rather than prompt a browser.
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="flowd"` {
		t.Errorf("/ui/ without the token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp = get("/ui/", "Bearer console-token")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/ui/ with the token: %d", resp.StatusCode)
	}

	stream := get("/ui/api/events", "Bearer console-token")
	defer stream.Body.Close()
	first, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil || first != "event: calls\n" {
		t.Fatalf("the stream's first line: %q %v", first, err)
	}
	start := time.Now()
	s.cancel() // as SIGTERM does
	if code := s.wait(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.logs.String())
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("serve took %v to stop with a stream open: the stream held up the drain", took)
	}
	if rec := logRecord(t, s.logs.String(), "stopped"); rec == nil || rec["abandoned"] != 0.0 {
		t.Errorf(`"stopped" = %v, want nothing abandoned:\n%s`, rec, s.logs.String())
	}
	if strings.Contains(s.logs.String(), "the drain timeout passed") {
		t.Errorf("the drain timed out:\n%s", s.logs.String())
	}
}
