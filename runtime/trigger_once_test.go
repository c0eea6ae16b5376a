package runtime

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo/plivotest"
)

const zed = "sip:zed@phone.plivo.com"

// onceReplicas serves ccFlow from n servers sharing one store and one fake
// Plivo, with c1's customer in its MultiPartyCall. entered counts the
// trigger API requests the servers received.
func onceReplicas(t *testing.T, n int, claimWait time.Duration) (replicas []string, fake *plivotest.Server, st *Memory, entered *atomic.Int64) {
	t.Helper()
	fake, client := fakePlivo(t)
	st = NewMemory()
	t.Cleanup(func() { st.Close() })
	entered = new(atomic.Int64)
	var srvs []*httptest.Server
	for range n {
		h := New(Config{Registry: testRegistry(t, "cc.yaml", ccFlow), Store: st, REST: client, APIToken: "secret", ClaimWait: claimWait})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/phlo/") {
				entered.Add(1)
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		srvs, replicas = append(srvs, srv), append(replicas, srv.URL)
	}
	phloRoom(t, srvs[0], fake, "c1", customer)
	return replicas, fake, st, entered
}

// gate holds the fake's Add Participant requests that dial zed until
// open is called, and reports the first on reached; refuse, while set,
// has the fake refuse them (400) once let through.
type gate struct {
	reached chan struct{}
	release chan struct{}
	refuse  atomic.Bool
	once    sync.Once
}

func holdZed(fake *plivotest.Server) *gate {
	g := &gate{reached: make(chan struct{}, 1), release: make(chan struct{})}
	fake.Override = func(r plivotest.Request) *plivotest.Reply {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/Participant/") || r.Body["to"] != zed {
			return nil
		}
		select {
		case g.reached <- struct{}{}:
		default:
		}
		<-g.release
		if g.refuse.Load() {
			return &plivotest.Reply{Status: 400, Body: map[string]any{"api_id": "x", "error": "destination not allowed"}}
		}
		return nil
	}
	_ = fake.Requests() // its lock publishes Override to the fake's handlers
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// waitReached waits for the gate to hold a request.
func (g *gate) waitReached(t *testing.T) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("no Add Participant request reached Plivo")
	}
}

// addRequests counts the Add Participant requests that reached the fake
// for zed.
func addRequests(fake *plivotest.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/Participant/") && r.Body["to"] == zed {
			n++
		}
	}
	return n
}

// TestPHLOCopiesShareOneAnswer sends identical trigger requests while the
// first is still being handled — with and without an Idempotency-Key, to
// one server or spread over two sharing a store: Plivo is asked once, and
// every copy waits and gets the first one's answer, marked as replayed.
// When Plivo refuses the first, the copies share the refusal; a request
// sent after it runs again.
func TestPHLOCopiesShareOneAnswer(t *testing.T) {
	const copies = 5
	for _, tc := range []struct {
		name     string
		replicas int
		key      string
		refuse   bool
	}{
		{"one server", 1, "", false},
		{"one server, Idempotency-Key", 1, "k-1", false},
		{"two servers", 2, "", false},
		{"two servers, Idempotency-Key", 2, "k-1", false},
		{"one server, refused", 1, "", true},
		{"two servers, refused", 2, "k-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replicas, fake, _, entered := onceReplicas(t, tc.replicas, 0)
			g := holdZed(fake)
			defer g.open()
			g.refuse.Store(tc.refuse)
			var header []string
			if tc.key != "" {
				header = []string{"Idempotency-Key", tc.key}
			}
			body := trig("call", zed, "agent", customer)
			answers := make([]phloAnswer, copies)
			var wg sync.WaitGroup
			send := func(i int) {
				wg.Go(func() {
					answers[i] = phlo(t, replicas[i%len(replicas)]+"/v1/phlo/cc/multi_party_call/queue", body, header...)
				})
			}
			if len(replicas) == 1 {
				for i := range copies { // all at once
					send(i)
				}
				g.waitReached(t)
			} else {
				// Copies that reach two processes at the same moment can
				// both dial (phloonce.go): the first is under way when
				// the others are sent.
				send(0)
				g.waitReached(t)
				for i := 1; i < copies; i++ {
					send(i)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); entered.Load() < copies; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d copies reached flowd", entered.Load(), copies)
				}
			}
			time.Sleep(100 * time.Millisecond) // the copies reach the wait
			g.open()
			wg.Wait()

			want := http.StatusCreated
			if tc.refuse {
				want = http.StatusBadRequest
			}
			first := 0
			for _, a := range answers {
				if !a.replayed {
					first++
				}
				if a.code != want || a.body["api_id"] == "" || a.body["api_id"] != answers[0].body["api_id"] || a.body["error"] != answers[0].body["error"] {
					t.Errorf("copies answered differently; want %d for each:\n%+v", want, answers)
					break
				}
			}
			if first != 1 {
				t.Errorf("%d copies not marked Idempotent-Replayed, want 1: %+v", first, answers)
			}
			if n := addRequests(fake); n != 1 {
				t.Errorf("%d Add Participant requests, want 1", n)
			}
			if !tc.refuse {
				return
			}
			// Refused: nobody was dialled, and a request sent now runs.
			g.refuse.Store(false)
			if a := phlo(t, replicas[len(replicas)-1]+"/v1/phlo/cc/multi_party_call/queue", body, header...); a.code != http.StatusCreated || a.replayed {
				t.Errorf("sent after a refusal: %+v; want it run", a)
			}
			if n := dialled(fake, zed); n != 1 {
				t.Errorf("zed dialled %d times, want 1", n)
			}
		})
	}
}

// TestPHLOCopyWaitIsBounded: a copy waits for the first request's answer
// Config.ClaimWait at most, then answers 503 with Retry-After and asks
// nothing of Plivo — whether the first is slow or its process died,
// leaving its pending claim in the store until it expires.
func TestPHLOCopyWaitIsBounded(t *testing.T) {
	replicas, fake, st, _ := onceReplicas(t, 2, 100*time.Millisecond)
	u := replicas[0] + "/v1/phlo/cc/multi_party_call/queue"
	body := trig("call", zed, "agent", customer)
	refused := func(what string, a phloAnswer) {
		t.Helper()
		if a.code != http.StatusServiceUnavailable || a.retryAfter != "1" || !strings.Contains(a.body["error"], "identical request") || a.replayed {
			t.Errorf("%s: %d %v, Retry-After %q; want 503 and 1", what, a.code, a.body, a.retryAfter)
		}
	}

	// Slow: the first is held at Plivo.
	g := holdZed(fake)
	defer g.open()
	firstDone := make(chan phloAnswer)
	go func() { firstDone <- phlo(t, u, body) }()
	g.waitReached(t)
	for _, r := range replicas {
		refused("a copy behind a slow request on "+r, phlo(t, r+"/v1/phlo/cc/multi_party_call/queue", body))
	}
	g.open()
	if first := <-firstDone; first.code != http.StatusCreated || first.replayed {
		t.Fatalf("first = %+v", first)
	}
	if a := phlo(t, replicas[1]+"/v1/phlo/cc/multi_party_call/queue", body); a.code != http.StatusCreated || !a.replayed {
		t.Errorf("a copy after the first answered = %+v; want its answer", a)
	}
	if n := addRequests(fake); n != 1 {
		t.Errorf("%d Add Participant requests, want 1", n)
	}

	// Dead: a pending claim left in the store by a process that died.
	now := time.Now()
	var mu sync.Mutex
	st.mu.Lock()
	st.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st.mu.Unlock()
	if err := st.PutRef(t.Context(), "phlo-once:cc:queue:key:k-dead", oncePending, phloPending); err != nil {
		t.Fatal(err)
	}
	refused("a copy behind a dead process's claim", phlo(t, u, body, "Idempotency-Key", "k-dead"))
	if n := addRequests(fake); n != 1 {
		t.Errorf("%d Add Participant requests, want 1", n)
	}
	// Once the claim expires, the request runs.
	mu.Lock()
	now = now.Add(phloPending + time.Second)
	mu.Unlock()
	if a := phlo(t, u, body, "Idempotency-Key", "k-dead"); a.code != http.StatusCreated || a.replayed {
		t.Errorf("after the dead claim expired = %+v; want it run", a)
	}
	if n := addRequests(fake); n != 2 {
		t.Errorf("%d Add Participant requests, want 2", n)
	}
}
