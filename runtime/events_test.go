package runtime

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEventsOnlyWhereAskedAndCapped: a node receives only the event kinds
// its events: lists, and an event's parameters are capped in the trace.
func TestEventsOnlyWhereAskedAndCapped(t *testing.T) {
	srv, _ := ccServer(t) // queue asks for status events only
	if code, _ := post(t, srv.URL+"/flows/cc/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}); code != http.StatusOK {
		t.Fatalf("answer = %d", code)
	}
	for _, path := range []string{"/flows/cc/events/c1/queue/recording", "/flows/cc/events/c1/ring/status", "/flows/cc/events/c1/nosuch/status"} {
		if code, msg := post(t, srv.URL+path, url.Values{"EventName": {"x"}}); code != http.StatusNotFound || !strings.Contains(msg, "does not receive") {
			t.Errorf("%s = %d %q, want 404: the node did not ask for it", path, code, msg)
		}
	}
	big := url.Values{"EventName": {strings.Repeat("v", 5000)}}
	for i := range 100 {
		big.Set("P"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), "1")
	}
	if code, _ := post(t, srv.URL+"/flows/cc/events/c1/queue/status", big); code != http.StatusNoContent {
		t.Fatalf("a large event = %d", code)
	}
	sess := apiSession(t, srv.URL, "c1")
	if len(sess.Events) != 1 {
		t.Fatalf("%d events kept, want the one status event", len(sess.Events))
	}
	p := sess.Events[0].Params
	if len(p) > maxEventParams+1 || p["flowd_truncated"] == "" {
		t.Errorf("event kept %d params (truncated %q), want at most %d and a count of the rest", len(p), p["flowd_truncated"], maxEventParams)
	}
	for k, v := range p {
		if len(v) > maxEventValue {
			t.Errorf("param %s kept %d bytes, want at most %d", k, len(v), maxEventValue)
		}
	}
}
