package runtime

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// healthServer serves a Server on st behind a real listener and returns
// it with its URL.
func healthServer(t *testing.T, st Store) (*Server, string) {
	t.Helper()
	s := New(Config{Registry: NewRegistry(t.TempDir(), nil), Store: st})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// getHealth asks url's /healthz and decodes its answer strictly.
func getHealth(t *testing.T, url string) (int, Health, []byte) {
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
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var h Health
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("GET /healthz: %v in %s", err, body)
	}
	return resp.StatusCode, h, body
}

// waitHealth asks /healthz until it answers code (the answer of a store
// check is kept a second), and returns that answer.
func waitHealth(t *testing.T, url string, code int) (Health, []byte) {
	t.Helper()
	var (
		got  int
		h    Health
		body []byte
	)
	for range 200 { // 10 s
		if got, h, body = getHealth(t, url); got == code {
			return h, body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/healthz still answers %d %s, want %d", got, body, code)
	return h, body
}

// TestHealthz serves two Servers on real listeners: each answers GET
// /healthz with 200 and JSON naming this process and its own instance,
// the ID Server.Instance returns, the same on every request.
func TestHealthz(t *testing.T) {
	newServer := func() (*Server, string) {
		st := NewMemory()
		t.Cleanup(func() { st.Close() })
		return healthServer(t, st)
	}
	get := func(url string) (Health, []byte) {
		t.Helper()
		code, h, body := getHealth(t, url)
		if code != http.StatusOK {
			t.Fatalf("GET /healthz: %d %s", code, body)
		}
		return h, body
	}

	a, urlA := newServer()
	b, urlB := newServer()
	ha, body := get(urlA)
	if want := (Health{Status: "ok", PID: os.Getpid(), Instance: a.Instance()}); ha != want {
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

// failingStore is a store whose Ping fails while fail holds an error,
// and counts its pings.
type failingStore struct {
	Store
	fail  atomic.Pointer[error]
	pings atomic.Int64
}

func (f *failingStore) Ping(ctx context.Context) error {
	f.pings.Add(1)
	if err := f.fail.Load(); err != nil {
		return *err
	}
	return f.Store.Ping(ctx)
}

func (f *failingStore) setFail(err error) {
	if err == nil {
		f.fail.Store(nil)
		return
	}
	f.fail.Store(&err)
}

// TestHealthzStoreDown: while the store's Ping fails, /healthz answers
// 503 {"status":"unavailable",…,"reason":"session store: …"}; once it
// works again, 200 ok without a reason.
func TestHealthzStoreDown(t *testing.T) {
	mem := NewMemory()
	t.Cleanup(func() { mem.Close() })
	st := &failingStore{Store: mem}
	st.setFail(errors.New("dial tcp 10.0.0.7:6379: connect: connection refused"))
	s, url := healthServer(t, st)

	code, h, body := getHealth(t, url)
	want := Health{Status: "unavailable", PID: os.Getpid(), Instance: s.Instance(),
		Reason: "session store: dial tcp 10.0.0.7:6379: connect: connection refused"}
	if code != http.StatusServiceUnavailable || h != want {
		t.Fatalf("/healthz with the store down: %d %s, want 503 %+v", code, body, want)
	}

	st.setFail(nil)
	h, body = waitHealth(t, url, http.StatusOK)
	if want := (Health{Status: "ok", PID: os.Getpid(), Instance: s.Instance()}); h != want || bytes.Contains(body, []byte(`"reason"`)) {
		t.Errorf("/healthz with the store back: %s, want %+v", body, want)
	}
}

// TestHealthzClosedStores: a memory, journal or bolt store that was closed makes
// /healthz answer 503, saying so; an open one answers 200.
func TestHealthzClosedStores(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		open         func(t *testing.T) Store
	}{
		{"memory", "session store: memory store is closed", func(t *testing.T) Store { return NewMemory() }},
		{"journal", "session store is closed", func(t *testing.T) Store {
			j, err := OpenJournal(filepath.Join(t.TempDir(), "sessions"))
			if err != nil {
				t.Fatal(err)
			}
			return j
		}},
		{"bolt", "database not open", func(t *testing.T) Store {
			b, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			if err := st.Ping(context.Background()); err != nil {
				t.Fatalf("Ping of an open store: %v", err)
			}
			_, url := healthServer(t, st)
			if code, _, body := getHealth(t, url); code != http.StatusOK {
				t.Fatalf("/healthz with the store open: %d %s", code, body)
			}
			st.Close()
			h, body := waitHealth(t, url, http.StatusServiceUnavailable)
			if h.Status != "unavailable" || !strings.HasPrefix(h.Reason, "session store: ") || !strings.Contains(h.Reason, tc.reason) {
				t.Errorf("/healthz with the store closed: %s, want the reason %q", body, tc.reason)
			}
		})
	}
}

// TestHealthzRedisDown: flowd on a real Redis answers 200; with the
// redis-server stopped (by its PID) 503 and why; restarted, 200 again.
func TestHealthzRedisDown(t *testing.T) {
	srv := startRedis(t, false)
	st, err := OpenRedis(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, url := healthServer(t, st)
	if code, h, body := getHealth(t, url); code != http.StatusOK || h.Status != "ok" {
		t.Fatalf("/healthz with Redis up: %d %s", code, body)
	}

	srv.Stop()
	h, body := waitHealth(t, url, http.StatusServiceUnavailable)
	// The reason is the dial's error, not a deadline that retries ran into.
	if addr := fmt.Sprintf("127.0.0.1:%d", srv.Port); h.Status != "unavailable" || h.PID != os.Getpid() ||
		!strings.HasPrefix(h.Reason, "session store: ") || !strings.Contains(h.Reason, addr) {
		t.Errorf("/healthz with Redis stopped: %s, want 503 and a reason naming %s", body, addr)
	}

	srv.Start(t)
	h, body = waitHealth(t, url, http.StatusOK)
	if h.Status != "ok" || h.Reason != "" {
		t.Errorf("/healthz with Redis restarted: %s", body)
	}
}

// TestHealthzRedisClusterDown: on a Redis Cluster, /healthz pings every
// master: one stopped makes it 503, naming that node; restarted, 200.
func TestHealthzRedisClusterDown(t *testing.T) {
	rc := startRedisCluster(t)
	st, err := OpenRedis(rc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, url := healthServer(t, st)
	if code, _, body := getHealth(t, url); code != http.StatusOK {
		t.Fatalf("/healthz with the cluster up: %d %s", code, body)
	}

	down := rc.nodes[1]
	down.Stop()
	h, body := waitHealth(t, url, http.StatusServiceUnavailable)
	if addr := fmt.Sprintf("127.0.0.1:%d", down.Port); h.Status != "unavailable" || !strings.Contains(h.Reason, addr) {
		t.Errorf("/healthz with a master stopped: %s, want a reason naming %s", body, addr)
	}

	down.Start(t)
	waitHealth(t, url, http.StatusOK)
}

// blockingStore's Ping waits for release, counting the pings.
type blockingStore struct {
	Store
	pings   atomic.Int64
	started chan struct{}
	release chan struct{}
	err     error
}

func (b *blockingStore) Ping(ctx context.Context) error {
	b.pings.Add(1)
	b.started <- struct{}{}
	<-b.release
	return b.err
}

// TestStoreCheckShared: the probes that come while a ping runs share it;
// its answer serves the probes of the next second without a ping, and
// after that a probe pings again.
func TestStoreCheckShared(t *testing.T) {
	st := &blockingStore{started: make(chan struct{}, 1), release: make(chan struct{}), err: errors.New("down")}
	var clock atomic.Int64 // ns since an arbitrary start
	c := &storeCheck{store: st, timeout: time.Second, every: time.Second,
		now: func() time.Time { return time.Unix(0, clock.Load()) }}
	ctx := context.Background()

	const probes = 20
	var wg sync.WaitGroup
	errs := make(chan error, probes)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- c.check(ctx) }()
	<-st.started // the first probe pings
	for range probes - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- c.check(ctx) }()
	}
	// The others find the ping under way and wait for it.
	pollUntil(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == probes-1
	})
	close(st.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || err.Error() != "down" {
			t.Errorf("a probe got %v, want the ping's error", err)
		}
	}
	if n := st.pings.Load(); n != 1 {
		t.Fatalf("%d probes at once pinged %d times, want once", probes, n)
	}

	clock.Add(int64(999 * time.Millisecond))
	if err := c.check(ctx); err == nil || st.pings.Load() != 1 {
		t.Fatalf("a probe within the second: %v after %d pings, want the kept answer and no ping", err, st.pings.Load())
	}
	clock.Add(int64(time.Millisecond))
	st.err = nil
	if err := c.check(ctx); err != nil || st.pings.Load() != 2 {
		t.Fatalf("a probe a second later: %v after %d pings, want a new ping's answer", err, st.pings.Load())
	}
}

// TestStoreCheckTimeout: a ping that does not answer in time fails the
// check with the deadline, and a probe that hangs up does not cut the
// ping short for the others.
func TestStoreCheckTimeout(t *testing.T) {
	hang := &hangingStore{}
	c := &storeCheck{store: hang, timeout: 50 * time.Millisecond, every: time.Second, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the probe's request is gone already
	if err := c.check(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hanging ping: %v, want the ping's deadline", err)
	}
}

// hangingStore's Ping answers only when its context ends.
type hangingStore struct{ Store }

func (hangingStore) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// pollUntil polls cond for up to 10 s.
func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out")
}
