package runtime

import (
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
