package runtime

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCallURLsMade: a walker's URL function answers every callback URL
// as CallbackURL makes it, whatever it made before for another base,
// flow, step, node or event, and event URLs name their call.
func TestCallURLsMade(t *testing.T) {
	var u callURLs
	type step struct {
		base, flowName, callUUID string
		step                     int
		node, event              string
	}
	steps := []step{
		{"http://a", "ivr", "c1", 1, "menu", "action"},
		{"http://a", "ivr", "c2", 1, "menu", "action"}, // made already
		{"http://a", "ivr", "c2", 2, "menu", "action"}, // another step
		{"http://b", "ivr", "c3", 1, "menu", "action"}, // another base
		{"http://a", "sales", "c4", 1, "menu", "action"},
		{"http://a", "ivr", "c5", 1, "menu", "exit"},
		{"http://a", "ivr", "c5", 1, "queue", "action"},
		{"http://a", "ivr", "c6", 1, "queue", "status"}, // an event URL
		{"http://a", "ivr", "c7", 1, "queue", "status"},
		{"http://a", "ivr", "c8", 1, "menu", "action"},
		{"http://a", "ivr", "c9", 1, "menu", "action"},
	}
	for round := range 3 {
		for i, s := range steps {
			u.set(s.base, s.flowName, s.callUUID, s.step)
			want := CallbackURL(s.base, s.flowName, s.step, s.node, s.event)
			if s.event == "status" {
				want = EventURL(s.base, s.flowName, s.callUUID, s.node, s.event)
			}
			if got := u.url(s.node, s.event); got != want {
				t.Errorf("round %d, step %d: %s, want %s", round, i, got, want)
			}
		}
	}
}

// TestHostBase: a request no proxy forwarded is answered from its own
// scheme and Host, whatever the request before was addressed to.
func TestHostBase(t *testing.T) {
	s := &Server{}
	for i, c := range []struct {
		host string
		tls  bool
		fwd  http.Header
		want string
	}{
		{host: "a.example", want: "http://a.example"},
		{host: "a.example", want: "http://a.example"},
		{host: "a.example", tls: true, want: "https://a.example"},
		{host: "b.example:8080", want: "http://b.example:8080"},
		{host: "a.example", fwd: http.Header{"X-Forwarded-Proto": {"https"}}, want: "https://a.example"},
		{host: "a.example", fwd: http.Header{"X-Forwarded-Host": {"c.example"}}, want: "http://c.example"},
		{host: "a.example", fwd: http.Header{"Forwarded": {"host=d.example;proto=https"}}, want: "https://d.example"},
		{host: "ab.example", want: "http://ab.example"},
		{host: "b.example", want: "http://b.example"},
		{host: "a.example", want: "http://a.example"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/flows/ivr/answer", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for k, v := range c.fwd {
			r.Header[k] = v
		}
		if got := s.base(r); got != c.want {
			t.Errorf("request %d: %s, want %s", i, got, c.want)
		}
	}
}
