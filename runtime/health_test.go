package runtime_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/flowd-dev/flowd/runtime"
)

// TestHealthz serves two Servers on real listeners: each answers GET
// /healthz with 200 and JSON naming this process and its own instance,
// the ID Server.Instance returns, the same on every request.
func TestHealthz(t *testing.T) {
	newServer := func() (*runtime.Server, string) {
		st := runtime.NewMemory()
		t.Cleanup(func() { st.Close() })
		s := runtime.New(runtime.Config{Registry: runtime.NewRegistry(t.TempDir(), nil), Store: st})
		hs := httptest.NewServer(s)
		t.Cleanup(hs.Close)
		return s, hs.URL
	}
	get := func(url string) (runtime.Health, []byte) {
		t.Helper()
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: %s %s", resp.Status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		var h runtime.Health
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			t.Fatalf("GET /healthz: %v in %s", err, body)
		}
		return h, body
	}

	a, urlA := newServer()
	b, urlB := newServer()
	ha, body := get(urlA)
	if want := (runtime.Health{Status: "ok", PID: os.Getpid(), Instance: a.Instance()}); ha != want {
		t.Errorf("/healthz answered %+v, want %+v", ha, want)
	}
	if bytes.Contains(body, []byte(`"reason"`)) {
		t.Errorf("an ok answer has a reason: %s", body)
	}
	if id, err := hex.DecodeString(ha.Instance); err != nil || len(id) != 8 {
		t.Errorf("instance %q: want 16 hex digits", ha.Instance)
	}
	if again, _ := get(urlA); again != ha || a.Instance() != ha.Instance {
		t.Errorf("second answer %+v, Instance() %q; want %+v again", again, a.Instance(), ha)
	}

	hb, _ := get(urlB)
	if hb.Instance != b.Instance() || hb.PID != os.Getpid() {
		t.Errorf("second server answered %+v, want pid %d instance %q", hb, os.Getpid(), b.Instance())
	}
	if hb.Instance == ha.Instance {
		t.Errorf("two Servers share the instance %q", ha.Instance)
	}
}
