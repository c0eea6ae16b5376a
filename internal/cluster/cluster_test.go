package cluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyRotatesAndFailsOver puts a Proxy in front of two live
// replicas and one closed: requests alternate between the live ones,
// bodies included, and those meant for the closed one fail over.
func TestProxyRotatesAndFailsOver(t *testing.T) {
	var hosts []string
	live := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, name+":"+r.Host+":"+string(b))
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := live("a"), live("b")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, s := range []*httptest.Server{a, dead, b} {
		hosts = append(hosts, strings.TrimPrefix(s.URL, "http://"))
	}

	p := NewProxy(nil, Pool{MaxIdleConns: 8, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Second})
	front := httptest.NewServer(p.Handler())
	t.Cleanup(func() { front.Close(); p.CloseIdleConnections() })

	post := func(body string) string {
		t.Helper()
		resp, err := http.Post(front.URL+"/x", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST: %s %s", resp.Status, b)
		}
		return string(b)
	}

	// No replicas yet: 502.
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || p.Failed() != 1 {
		t.Fatalf("without replicas: %s, Failed %d; want 502, 1", resp.Status, p.Failed())
	}

	p.SetUpstreams(hosts)
	host := strings.TrimPrefix(front.URL, "http://")
	var got []string
	for i := range 6 {
		got = append(got, post(string(rune('0'+i))))
	}
	// Turns: a, dead→b, b, a, dead→b, b.
	want := []string{"a:" + host + ":0", "b:" + host + ":1", "b:" + host + ":2", "a:" + host + ":3", "b:" + host + ":4", "b:" + host + ":5"}
	if !slices.Equal(got, want) {
		t.Errorf("answers %q, want %q", got, want)
	}
	if s := p.Served(); !slices.Equal(s, []int64{2, 0, 4}) {
		t.Errorf("Served %v, want [2 0 4]", s)
	}
	if p.Failovers() != 2 {
		t.Errorf("Failovers %d, want 2", p.Failovers())
	}
}

// TestRetry checks that a Retry sends a request again after a 5xx and
// after the apology, with its body, stops at the first good answer, and
// gives up after Attempts.
func TestRetry(t *testing.T) {
	var n atomic.Int64
	var failFor atomic.Int64 // answers before a good one: 503, apology, 503, ...
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		b, _ := io.ReadAll(r.Body)
		switch {
		case i > failFor.Load():
			io.WriteString(w, "ok "+string(b))
		case i%2 == 0:
			w.Write(ApologyXML)
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	var observed []time.Duration
	rt := &Retry{Next: http.DefaultTransport, Observe: func(req *http.Request, d time.Duration) { observed = append(observed, d) }}
	client := &http.Client{Transport: rt}

	failFor.Store(3)
	resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "ok body" {
		t.Fatalf("answer %s %q, want 200 %q", resp.Status, b, "ok body")
	}
	if n.Load() != 4 || rt.Retries() != 3 || rt.Errors() != 2 || rt.Apologies() != 1 {
		t.Errorf("sent %d, Retries %d, Errors %d, Apologies %d; want 4, 3, 2, 1", n.Load(), rt.Retries(), rt.Errors(), rt.Apologies())
	}
	// Backoff 25 + 50 + 100 ms.
	if len(observed) != 1 || observed[0] < 175*time.Millisecond {
		t.Errorf("observed %v, want one latency of at least 175ms", observed)
	}

	// Failing every time: Attempts attempts, the last answer returned
	// (503, apology, 503).
	n.Store(0)
	failFor.Store(100)
	rt.Attempts = 3
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || n.Load() != 3 {
		t.Errorf("answer %s after %d attempts, want 503 after 3", resp.Status, n.Load())
	}

	// A connection error is retried too, and returned at the end.
	errs0, retries0 := rt.Errors(), rt.Retries()
	rt.Attempts = 2
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if resp, err := client.Get(closed.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("GET of a closed server: %s, want an error", resp.Status)
	}
	if e, r := rt.Errors()-errs0, rt.Retries()-retries0; e != 2 || r != 1 {
		t.Errorf("closed server: Errors +%d, Retries +%d; want +2, +1", e, r)
	}
}
