package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowd-dev/flowd/flow"
)

// redisFlow is the flow ivr; tag tells one source of it from another.
func redisFlow(tag string) string {
	return `flow: ivr
nodes:
  ask:
    GetDigits:
      numDigits: 1
      children:
        - Speak: "Prompt ` + tag + `."
    on:
      no_input: done
    next: done
  done:
    Speak: "Goodbye from ` + tag + `."
    next: end
  end:
    Hangup: {}
`
}

const redisPublicURL = "http://flowd.test"

// redisReplica is a flowd Server with its own registry and its own
// connection to a shared Redis: a replica.
type redisReplica struct {
	t   *testing.T
	url string
	st  *Redis
	g   *flow.Graph
}

// startRedisReplica serves the flow ivr from source tag over the Redis at
// storeURL; watch is how often its store reads the versions marker (0:
// only with answers).
func startRedisReplica(t *testing.T, storeURL, tag string, watch time.Duration) *redisReplica {
	t.Helper()
	st, err := openRedis(storeURL, watch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g, ds := flow.Compile("ivr.yaml", []byte(redisFlow(tag)))
	if g == nil {
		t.Fatal(ds)
	}
	reg := NewRegistry(t.TempDir(), slog.New(slog.DiscardHandler))
	reg.Add(g)
	srv := httptest.NewServer(New(Config{Registry: reg, Store: st, PublicURL: redisPublicURL}))
	t.Cleanup(srv.Close)
	return &redisReplica{t: t, url: srv.URL, st: st, g: g}
}

func (p *redisReplica) post(path string, form url.Values) string {
	p.t.Helper()
	resp, err := http.PostForm(p.url+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, resp.StatusCode, " ")
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// answer answers a call and returns "status body".
func (p *redisReplica) answer(id string) string {
	p.t.Helper()
	return p.post("/flows/ivr/answer", url.Values{"CallUUID": {id}, "From": {"+14155550100"}, "To": {"+14155550199"}})
}

var actionRE = regexp.MustCompile(`action="([^"]+)"`)

// press follows the GetDigits action of an answer with digits.
func (p *redisReplica) press(answer, id, digits string) string {
	p.t.Helper()
	m := actionRE.FindStringSubmatch(answer)
	if m == nil {
		p.t.Fatalf("no action in %s", answer)
	}
	return p.post(strings.TrimPrefix(m[1], redisPublicURL), url.Values{"CallUUID": {id}, "Digits": {digits}})
}

func wantReply(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, want) {
		t.Fatalf("%s: %s; want 200 with %q", what, got, want)
	}
}

// TestRedisVersionWrittenBackAfterFlushall: Redis loses everything; the
// first answer after it writes its flow version back before it answers,
// so a replica that never compiled that version serves the new call.
func TestRedisVersionWrittenBackAfterFlushall(t *testing.T) {
	srv := startRedis(t, false)
	c := redisClient(t, srv.URL)
	testRedisVersionsAfterLoss(t, srv.URL, func(t *testing.T) {
		if err := c.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

// testRedisVersionsAfterLoss: replica a serves ivr "one", replica b the
// newer "two" (a rolling deploy). flush loses all of Redis's data.
func testRedisVersionsAfterLoss(t *testing.T, storeURL string, flush func(t *testing.T)) {
	ctx := context.Background()
	// No marker watch: the answer's own write must find the loss.
	a := startRedisReplica(t, storeURL, "one", 0)
	b := startRedisReplica(t, storeURL, "two", 0)
	first := a.answer("before")
	wantReply(t, "answer before the loss", first, "Prompt one.")
	wantReply(t, "callback on the other replica", b.press(first, "before", "1"), "Goodbye from one.")

	flush(t)
	if _, err := a.st.GetVersion(ctx, "ivr", a.g.Version); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the version survived the flush: %v", err)
	}
	after := a.answer("after")
	wantReply(t, "answer after the loss", after, "Prompt one.")
	// At once: no watch ran, no other webhook came.
	src, err := b.st.GetVersion(ctx, "ivr", a.g.Version)
	if err != nil || string(src) != redisFlow("one") {
		t.Fatalf("after the first answer since the loss, the version is %q, %v", src, err)
	}
	ttl, err := a.st.c.PTTL(ctx, redisVersionKey("ivr", a.g.Version)).Result()
	if err != nil || ttl < 12*time.Hour {
		t.Fatalf("the written-back version expires in %v (%v), want its TTL (13h)", ttl, err)
	}
	wantReply(t, "callback of the new call on the replica that never compiled its version", b.press(after, "after", "1"), "Goodbye from one.")
}

// TestRedisVersionRecoveredForLiveCall: a live call's session survives
// but its version is lost (a cluster node that held the version failed
// over to an empty replica). The replica that never compiled it asks,
// and the one that pinned it writes it back while the callback waits.
func TestRedisVersionRecoveredForLiveCall(t *testing.T) {
	srv := startRedis(t, false)
	c := redisClient(t, srv.URL)
	ctx := context.Background()
	a := startRedisReplica(t, srv.URL, "one", 100*time.Millisecond)
	b := startRedisReplica(t, srv.URL, "two", 100*time.Millisecond)
	ans := a.answer("live")
	wantReply(t, "answer", ans, "Prompt one.")
	if n, err := c.Del(ctx, redisVersionKey("ivr", a.g.Version)).Result(); err != nil || n != 1 {
		t.Fatalf("DEL of the version: %d, %v", n, err)
	}
	start := time.Now()
	wantReply(t, "callback after the version was lost", b.press(ans, "live", "1"), "Goodbye from one.")
	if d := time.Since(start); d > redisRecoverWait {
		t.Fatalf("the callback took %v", d)
	}
	if _, err := c.Get(ctx, redisVersionKey("ivr", a.g.Version)).Result(); err != nil {
		t.Fatalf("the version is not back: %v", err)
	}

	// When no process knows the version any more (a pinned it, b read it:
	// both would write it back), a callback gets the apology after
	// redisRecoverWait.
	ans = a.answer("orphan")
	wantReply(t, "answer", ans, "Prompt one.")
	a.st.Close()
	b.st.Close()
	c.Del(ctx, redisVersionKey("ivr", a.g.Version))
	d := startRedisReplica(t, srv.URL, "two", 100*time.Millisecond)
	start = time.Now()
	wantReply(t, "callback of a version nobody knows", d.press(ans, "orphan", "1"), "We are sorry")
	if d := time.Since(start); d < redisRecoverWait || d > redisRecoverWait+3*time.Second {
		t.Fatalf("the apology came after %v, want about %v", d, redisRecoverWait)
	}
}

// TestRedisRecoverVersionItself: a process that wrote or read a version
// writes it back itself when asked for it, at once and with the TTL it
// had; one that never knew it waits, then gives up.
func TestRedisRecoverVersionItself(t *testing.T) {
	srv := startRedis(t, false)
	ctx := context.Background()
	st, err := openRedis(srv.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutVersion(ctx, "ivr", "v1", []byte("src"), time.Hour); err != nil {
		t.Fatal(err)
	}
	c := redisClient(t, srv.URL)
	c.Del(ctx, redisVersionKey("ivr", "v1"))
	if _, err := st.GetVersion(ctx, "ivr", "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetVersion after DEL: %v", err)
	}
	start := time.Now()
	src, err := st.RecoverVersion(ctx, "ivr", "v1")
	if err != nil || string(src) != "src" || time.Since(start) > time.Second {
		t.Fatalf("RecoverVersion = %q, %v after %v", src, err, time.Since(start))
	}
	if ttl, err := c.PTTL(ctx, redisVersionKey("ivr", "v1")).Result(); err != nil || ttl < 59*time.Minute || ttl > time.Hour {
		t.Fatalf("written back with TTL %v, %v", ttl, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := st.RecoverVersion(cctx, "ivr", "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecoverVersion of a version nobody knows: %v", err)
	}
}

// commandCounter counts a client's round trips (a command or a pipeline
// each) and the commands in them.
type commandCounter struct {
	mu     sync.Mutex
	trips  int
	cmds   []string
	record bool
}

func (h *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}

func (h *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.add(cmds...)
		return next(ctx, cmds)
	}
}

func (h *commandCounter) add(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.record {
		return
	}
	h.trips++
	for _, c := range cmds {
		h.cmds = append(h.cmds, c.Name())
	}
}

func (h *commandCounter) start() {
	h.mu.Lock()
	h.trips, h.cmds, h.record = 0, nil, true
	h.mu.Unlock()
}

func (h *commandCounter) stop() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.record = false
	return h.trips, h.cmds
}

// commandStats reads INFO commandstats: calls by command.
func commandStats(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q", line)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// TestRedisAnswerOneRoundTrip: the answer webhook makes one round trip
// to Redis — the create script and the read of the versions marker in one
// pipeline — as go-redis sees it and as Redis counts it.
func TestRedisAnswerOneRoundTrip(t *testing.T) {
	srv := startRedis(t, false)
	c := redisClient(t, srv.URL)
	a := startRedisReplica(t, srv.URL, "one", 0)
	h := &commandCounter{}
	a.st.c.AddHook(h)
	// The first answer pins the version (and loads the script).
	wantReply(t, "first answer", a.answer("first"), "Prompt one.")

	before := commandStats(t, c)
	h.start()
	wantReply(t, "answer", a.answer("second"), "Prompt one.")
	trips, cmds := h.stop()
	after := commandStats(t, c)
	if trips != 1 || strings.Join(cmds, " ") != "evalsha get" {
		t.Fatalf("the answer made %d round trips to Redis (%q), want 1 (evalsha get)", trips, cmds)
	}
	// Redis counts the commands a script runs too: those of the create
	// script are allowed, nothing else.
	inScript := map[string]bool{"exists": true, "del": true, "hset": true, "pexpire": true, "zrangebyscore": true, "zrem": true, "zadd": true, "hdel": true}
	delta := map[string]int{}
	for name, n := range after {
		if name != "info" && n != before[name] {
			delta[name] = n - before[name]
		}
	}
	for name := range delta {
		if name != "evalsha" && name != "get" && !inScript[name] {
			t.Fatalf("Redis ran %v for the answer, want evalsha and get once each, and the script's commands", delta)
		}
	}
	if delta["evalsha"] != 1 || delta["get"] != 1 {
		t.Fatalf("Redis ran %v for the answer, want evalsha and get once each", delta)
	}
	t.Logf("Redis ran %v for the answer", delta)
}
