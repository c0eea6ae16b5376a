package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
)

// consoleServer serves menuFlow with API credentials at a clock the test
// moves; its console streams end before the listener closes.
func consoleServer(t *testing.T) (*httptest.Server, *Server, *atomic.Int64) {
	t.Helper()
	clock := new(atomic.Int64)
	clock.Store(time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC).UnixNano())
	st := NewMemory()
	srv := New(Config{Registry: testRegistry(t, "menu.yaml", menuFlow), Store: st, APIToken: "secret",
		Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { st.Close() })
	t.Cleanup(hs.Close)
	t.Cleanup(srv.EndStreams)
	return hs, srv, clock
}

func consoleGet(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data map[string]any
}

// readEvents reads a stream's events onto a channel until it ends.
func readEvents(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10 s")
	}
	return sseEvent{}
}

func eventCall(t *testing.T, ev sseEvent, name string) map[string]any {
	t.Helper()
	if ev.name != name {
		t.Fatalf("event %q (%v), want %q", ev.name, ev.data, name)
	}
	c, _ := ev.data["call"].(map[string]any)
	return c
}

// TestConsoleEvents: the live-calls stream starts with the list, tells
// each move of a call (node, step) and its leaving, and ends when the
// server ends its streams.
func TestConsoleEvents(t *testing.T) {
	hs, srv, _ := consoleServer(t)
	sim := &plivosim.Sim{Client: hs.Client(), HangupURL: hs.URL + "/flows/menu/hangup"}
	waiting, err := sim.Call(context.Background(), hs.URL+"/flows/menu/answer", map[string]string{"CallUUID": "call-1"})
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/ui/api/events", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, ct)
	}
	events := readEvents(resp.Body)
	first := nextEvent(t, events)
	calls, _ := first.data["calls"].([]any)
	if first.name != "calls" || len(calls) != 1 || first.data["total"] != 1.0 || first.data["now"] != "2026-11-23T15:00:00Z" {
		t.Fatalf("first event: %s %v", first.name, first.data)
	}
	if c := calls[0].(map[string]any); c["call_uuid"] != "call-1" || c["wait"] != "menu" || c["step"] != 1.0 || c["flow"] != "menu" {
		t.Errorf("listed call: %v", c)
	}

	moving, err := sim.Call(context.Background(), hs.URL+"/flows/menu/answer", map[string]string{"CallUUID": "call-2"})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, events)
	if c := eventCall(t, ev, "call"); c["call_uuid"] != "call-2" || c["wait"] != "menu" || c["step"] != 1.0 || ev.data["added"] != true {
		t.Errorf("answered: %v", ev.data)
	}
	if _, err := moving.Retry(); err != nil { // a retry stores nothing: no event
		t.Fatal(err)
	}
	if err := moving.NoInput(); err != nil { // to bye: the flow ends
		t.Fatal(err)
	}
	if c := eventCall(t, nextEvent(t, events), "gone"); c["call_uuid"] != "call-2" {
		t.Errorf("ended: %v", c)
	}
	if err := waiting.Hangup(); err != nil {
		t.Fatal(err)
	}
	if c := eventCall(t, nextEvent(t, events), "gone"); c["call_uuid"] != "call-1" || c["wait"] != "menu" {
		t.Errorf("hung up: %v", c)
	}

	srv.EndStreams()
	select {
	case ev, ok := <-events:
		if ok {
			t.Errorf("after EndStreams: %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("EndStreams did not end the stream")
	}
	if r, _ := consoleGet(t, hs.URL+"/ui/api/events"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after EndStreams: %d", r.StatusCode)
	}
}

// TestConsoleData: the console's data endpoints and files, and the
// headers that keep the page to its own files.
func TestConsoleData(t *testing.T) {
	hs, srv, clock := consoleServer(t)
	sim := &plivosim.Sim{Client: hs.Client(), HangupURL: hs.URL + "/flows/menu/hangup"}
	c, err := sim.Call(context.Background(), hs.URL+"/flows/menu/answer", map[string]string{"CallUUID": "call-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Press("1"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Call(context.Background(), hs.URL+"/flows/menu/answer", map[string]string{"CallUUID": "call-2"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(90 * time.Second))

	resp, body := consoleGet(t, hs.URL+"/ui/api/flows/menu")
	var fl consoleFlowJSON
	if err := json.Unmarshal(body, &fl); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s %v", resp.StatusCode, body, err)
	}
	flows, _ := srv.reg.Flows()
	if fl.Name != "menu" || fl.Version != flows[0].Version || fl.LoadedAt != flows[0].LoadedAt.UTC().Format(time.RFC3339) ||
		fl.Source != "menu.yaml" || fl.Now != "2026-11-23T15:01:30Z" {
		t.Errorf("flow: %+v", fl.flowJSON)
	}
	if len(fl.Diagram.Nodes) != 4 {
		t.Errorf("diagram nodes: %+v", fl.Diagram.Nodes)
	}
	for node, want := range map[string]NodeCount{
		"greet":  {Visits: 2, VisitsHour: 2},
		"menu":   {Visits: 2, VisitsHour: 2},
		"thanks": {Visits: 1, Exits: 1, VisitsHour: 1, ExitsHour: 1},
	} {
		if fl.Counts[node] != want {
			t.Errorf("%s: %+v, want %+v", node, fl.Counts[node], want)
		}
	}
	if resp, _ := consoleGet(t, hs.URL+"/ui/api/flows/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown flow: %d", resp.StatusCode)
	}

	_, body = consoleGet(t, hs.URL+"/ui/api/calls")
	var live liveCallsJSON
	if err := json.Unmarshal(body, &live); err != nil {
		t.Fatal(err)
	}
	if len(live.Calls) != 1 || live.Total != 1 || live.Calls[0].CallUUID != "call-2" || live.Calls[0].Wait != "menu" ||
		!live.Now.Equal(time.Date(2026, 11, 23, 15, 1, 30, 0, time.UTC)) {
		t.Errorf("live calls: %s", body)
	}

	// A call's trace is /v1/calls's, and /ui/api/flows is /v1/flows's.
	for ui, v1 := range map[string]string{"/ui/api/calls/call-1": "/v1/calls/call-1", "/ui/api/flows": "/v1/flows"} {
		_, a := consoleGet(t, hs.URL+ui)
		_, b := consoleGet(t, hs.URL+v1)
		if string(a) != string(b) || len(a) < 50 {
			t.Errorf("%s answers other than %s:\n%s\n%s", ui, v1, a, b)
		}
	}

	resp, body = consoleGet(t, hs.URL+"/ui/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<script src="console.js"`) {
		t.Errorf("/ui/: %d %.200s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for path, ctype := range map[string]string{"/ui/console.js": "text/javascript", "/ui/console.css": "text/css"} {
		if resp, _ := consoleGet(t, hs.URL+path); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := noRedirect.Get(hs.URL + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	// Relative, so that a public URL's path (/plivo/ui) is kept.
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "ui/" {
		t.Errorf("/ui: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if loc, _ := r.Location(); loc == nil || loc.Path != "/ui/" {
		t.Errorf("/ui leads to %v, want /ui/", loc)
	}
	// HEAD is answered as GET is.
	head, err := http.NewRequest(http.MethodHead, hs.URL+"/ui/", nil)
	if err != nil {
		t.Fatal(err)
	}
	head.Header.Set("Authorization", "Bearer secret")
	if r, err := http.DefaultClient.Do(head); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("HEAD /ui/: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	// The API's own challenge is unchanged: Basic and Bearer.
	r, err = http.Get(hs.URL + "/v1/flows")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if got := r.Header.Get("WWW-Authenticate"); r.StatusCode != http.StatusUnauthorized || got != `Basic realm="flowd", Bearer` {
		t.Errorf("/v1/flows without credentials: %d %q", r.StatusCode, got)
	}
}

// TestCallEventMatchesJSON: the stream's hand-written events are what
// encoding/json writes of callEventJSON (HTML escaping off), field for
// field; a field added to LiveCall without being added to appendCallEvent
// fails it.
func TestCallEventMatchesJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 15, 0, 0, 123456789, time.UTC)
	for _, c := range []told{
		{call: LiveCall{CallUUID: "a", Flow: "ivr", Version: "v1", Wait: "menu", Step: 1, Started: at, Updated: at.Add(time.Second)}, added: true},
		{call: LiveCall{CallUUID: `q"<&>\` + "\u2028é\x01", Flow: "f", Step: 12, Started: at}},
		{call: LiveCall{CallUUID: "b", Flow: "ivr", Wait: "sales", Step: 3}, gone: true},
	} {
		var want strings.Builder
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(callEventJSON{Now: at, Call: c.call, Added: c.added}); err != nil {
			t.Fatal(err)
		}
		name := "call"
		if c.gone {
			name = "gone"
		}
		if got, want := string(appendCallEvent(nil, at, c.call, c.gone, c.added)), "event: "+name+"\ndata: "+strings.TrimSuffix(want.String(), "\n")+"\n\n"; got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
}

// deadlineWriter is a stream's ResponseWriter that keeps how far off the
// write deadline was at each write, and fails the writes after the
// first `ok`, as a connection to a client that stopped reading does.
type deadlineWriter struct {
	header   http.Header
	deadline time.Time
	ok       int
	mu       sync.Mutex
	lefts    []time.Duration // the deadline's distance at each write
}

func (w *deadlineWriter) Header() http.Header { return w.header }
func (w *deadlineWriter) WriteHeader(int)     {}
func (w *deadlineWriter) FlushError() error   { return nil }
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = t
	return nil
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	left := time.Duration(-1) // no deadline
	if !w.deadline.IsZero() {
		left = time.Until(w.deadline)
	}
	w.lefts = append(w.lefts, left)
	if len(w.lefts) > w.ok {
		return 0, os.ErrDeadlineExceeded
	}
	return len(p), nil
}

// TestConsoleStreamWriteDeadline: each write of a live-calls stream has a
// deadline of its own, so a client that stops reading frees its stream
// (and its slot) once a write waits that long; the server's write
// timeout, meant for webhooks, does not end a stream that is read.
func TestConsoleStreamWriteDeadline(t *testing.T) {
	hs, srv, _ := consoleServer(t)
	w := &deadlineWriter{header: http.Header{}, ok: 1}
	req := httptest.NewRequest(http.MethodGet, "/ui/api/events", nil)
	req.Header.Set("Authorization", "Bearer secret")
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeHTTP(w, req)
	}()
	// The list went out; a call's event is the next write, which fails.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		n := len(w.lefts)
		w.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	sim := &plivosim.Sim{Client: hs.Client(), HangupURL: hs.URL + "/flows/menu/hangup"}
	if _, err := sim.Call(context.Background(), hs.URL+"/flows/menu/answer", map[string]string{"CallUUID": "call-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end when its write failed")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lefts) != 2 {
		t.Fatalf("%d writes, want the list and the call's event", len(w.lefts))
	}
	for i, left := range w.lefts {
		if left <= 0 || left > streamWriteTimeout {
			t.Errorf("write %d: its deadline %v away, want within (0, %v]", i, left, streamWriteTimeout)
		}
	}
}
