package runtime

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo"
)

// stuckREST never answers add_participant: it holds each request until
// the request's context ends, or for a minute.
type stuckREST struct{ API }

func (stuckREST) AddParticipant(ctx context.Context, _ plivo.MPCRef, _ *plivo.AddParticipantParams) (*plivo.AddParticipantResponse, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return &plivo.AddParticipantResponse{}, nil
	}
}

// TestRESTTimeoutTakesErrorOutcome: a REST action Plivo does not answer
// takes its error outcome once the webhook's REST timeout has passed, so
// Plivo gets the XML in time, instead of the webhook waiting out the REST
// client's own timeout.
func TestRESTTimeoutTakesErrorOutcome(t *testing.T) {
	_, client := fakePlivo(t)
	reg := testRegistry(t, "once.yaml", onceFlow)
	st := NewMemory()
	t.Cleanup(func() { st.Close() })
	const timeout = 200 * time.Millisecond
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, REST: stuckREST{client}, PublicURL: "http://flowd.test", RESTTimeout: timeout}))
	t.Cleanup(srv.Close)

	form := url.Values{"CallUUID": {"stuck-1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}
	code, body := post(t, srv.URL+"/flows/once/answer", form)
	if code != 200 || !strings.Contains(body, "<GetDigits") {
		t.Fatalf("answer = %d %s", code, body)
	}
	form.Set("Digits", "1")
	code, body = post(t, srv.URL+"/flows/once/calls/1/menu/action", form)
	if code != 200 || !strings.Contains(body, "<Speak>Sorry.</Speak>") {
		t.Fatalf("callback = %d %s; want the error outcome", code, body)
	}
	// (Without the bound, the stuck request would succeed after a
	// minute, and the walk would go on to the queue.)
	rec, err := st.Get(context.Background(), "stuck-1")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := decodeState(rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	msg := sess.Nodes["ring"]["error"]
	if !strings.Contains(msg, "no answer from Plivo within 200ms") {
		t.Errorf("nodes.ring.error = %q", msg)
	}
}
