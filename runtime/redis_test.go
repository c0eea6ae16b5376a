package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// redisServer is a real redis-server the test started on a free loopback
// port, stopped when the test ends.
type redisServer struct {
	URL  string
	Port int
	Dir  string
	cmd  *exec.Cmd
	args []string
}

// startRedis starts Debian's redis-server for a test, or skips the test
// with a message when the binary is missing (CI installs it). With
// persist, the server writes an append-only file so a restart keeps data.
func startRedis(t testing.TB, persist bool) *redisServer {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server", "Debian: apt-get install redis-server")
	port := freePort(t)
	dir := t.TempDir()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""}
	if persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	s := &redisServer{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Port: port, Dir: dir, args: append([]string{bin}, args...)}
	s.Start(t)
	t.Cleanup(func() { s.Stop() })
	return s
}

// Start runs the server and waits until it accepts connections.
func (s *redisServer) Start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Dir = s.Dir
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server did not start on port %d", s.Port)
}

// Stop ends the server by its PID with SIGTERM (redis-server then
// flushes its append-only file and exits) and waits for it.
func (s *redisServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		s.cmd = nil
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRedisStoreBasics(t *testing.T) {
	srv := startRedis(t, false)
	st, err := OpenStore(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing call: %v, want ErrNotFound", err)
	}
	if err := st.Create(ctx, "c1", Record{Rev: 1, Live: true, Data: []byte("one")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, "c1", Record{Rev: 1, Live: true, Data: []byte("two")}, time.Minute); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if err := st.Update(ctx, "c1", 5, Record{Rev: 6, Live: true, Data: []byte("x")}, time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("Update with a wrong step: %v, want ErrConflict", err)
	}
	if err := st.Update(ctx, "c1", 1, Record{Rev: 2, Live: false, Data: []byte("three")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, "c1")
	if err != nil || rec.Rev != 2 || rec.Live || string(rec.Data) != "three" {
		t.Fatalf("Get after Update = %+v, %v", rec, err)
	}
	if n, err := st.Live(ctx); err != nil || n != 0 {
		t.Fatalf("Live = %d, %v; want 0 after the call ended", n, err)
	}
	if err := st.PutVersion(ctx, "ivr", "v1", []byte("src"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := st.GetVersion(ctx, "ivr", "v1"); err != nil || string(b) != "src" {
		t.Fatalf("GetVersion = %q, %v", b, err)
	}
}

// TestRedisStoreContract runs the contract every store keeps against a
// real redis-server, a fresh one per subtest.
func TestRedisStoreContract(t *testing.T) {
	testStoreContract(t, func(t *testing.T) Store {
		srv := startRedis(t, false)
		st, err := OpenRedis(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestRedisRestartKeepsSessions: with persistence on, a session written
// before Redis restarts is there after, and the store reconnects.
func TestRedisRestartKeepsSessions(t *testing.T) {
	srv := startRedis(t, true)
	st, err := OpenRedis(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Create(ctx, "c1", Record{Rev: 1, Live: true, Data: []byte("before")}, time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Start(t)
	var rec Record
	for i := 0; i < 50; i++ {
		if rec, err = st.Get(ctx, "c1"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || string(rec.Data) != "before" {
		t.Fatalf("after a restart Get = %+v, %v", rec, err)
	}
	if err := st.Update(ctx, "c1", 1, Record{Rev: 2, Live: true, Data: []byte("after")}, time.Hour); err != nil {
		t.Fatalf("Update after a restart: %v", err)
	}
}

// redisClient is a plain client of a test's redis-server, to look at
// what the store wrote.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// fakeClock is a store's clock that tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// TestRedisLivePrunedByWrites: the live set loses its expired members as
// calls are written, without Live (a /metrics scrape) ever running, so it
// stays about as large as the calls live lately. The store's clock moves
// by hand: the live set's scores are its expiries.
func TestRedisLivePrunedByWrites(t *testing.T) {
	srv := startRedis(t, false)
	st, err := openRedis(srv.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := newFakeClock()
	st.now = clock.now
	c := redisClient(t, srv.URL)
	ctx := context.Background()
	card := func() int64 {
		t.Helper()
		n, err := c.ZCard(ctx, redisLiveKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 25 {
		if err := st.Create(ctx, fmt.Sprint("brief-", i), Record{Rev: 1, Live: true}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	clock.add(2 * time.Minute)
	if n := card(); n != 25 {
		t.Fatalf("live set = %d members, want the 25 written", n)
	}
	if n, err := st.Live(ctx); err != nil || n != 0 {
		t.Fatalf("Live = %d, %v; want 0 (all expired)", n, err)
	}
	if n := card(); n != 25 {
		t.Fatalf("Live changed the live set: %d members", n)
	}
	// Each write removes up to 10 expired members: 25 expired, then three
	// live calls written, leave the three.
	for i := range 3 {
		if err := st.Create(ctx, fmt.Sprint("long-", i), Record{Rev: 1, Live: true}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := card(); n != 3 {
		t.Fatalf("after three writes the live set has %d members, want 3", n)
	}
	// Calls come and go without a scrape: after 20 rounds of 10 calls
	// that expire, the set is about one round large.
	for round := range 20 {
		for i := range 10 {
			id := fmt.Sprintf("round-%d-%d", round, i)
			if err := st.Create(ctx, id, Record{Rev: 1, Live: true}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		clock.add(2 * time.Minute)
	}
	if n := card(); n > 3+10 {
		t.Fatalf("after 200 calls that expired the live set has %d members, want at most 13", n)
	}
	// Updates prune too.
	for i := range 2 {
		if err := st.Update(ctx, "long-0", i+1, Record{Rev: i + 2, Live: true}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := card(); n != 3 {
		t.Fatalf("after two updates the live set has %d members, want 3", n)
	}
	if n, err := st.Live(ctx); err != nil || n != 3 {
		t.Fatalf("Live = %d, %v; want 3", n, err)
	}
}

func TestRedisKeySlots(t *testing.T) {
	// Redis's own values (CLUSTER KEYSLOT) and CRC-16/XMODEM's check value.
	if c := crc16("123456789"); c != 0x31c3 {
		t.Fatalf("crc16 = %#x", c)
	}
	for key, slot := range map[string]int{"foo": 12182, "bar": 5061, "{user1000}.following": 3443, "{user1000}.followers": 3443, "a{}b": int(crc16("a{}b")) % redisSlots, "{}": 15257} {
		if got := keySlot(key); got != slot {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, slot)
		}
	}
	tags := slotTags()
	for s, tag := range tags {
		if tag == "" || keySlot(redisLiveSlotKey(s)) != s || keySlot(tag) != s {
			t.Fatalf("slot %d: tag %q", s, tag)
		}
	}
	// A call's keys share its slot, odd ids included.
	r := &Redis{cluster: true}
	for _, id := range []string{"0c5d8f0e-1c4e-4a4e-9a55-0a1b2c3d4e5f", "", "}x", "a}b", "{x}", "a{b", "ü"} {
		keys := r.callKeys(id)
		if keySlot(keys[0]) != keySlot(keys[1]) || keySlot(keys[0]) != keySlot(keys[2]) {
			t.Errorf("id %q: keys %q in slots %d %d %d", id, keys, keySlot(keys[0]), keySlot(keys[1]), keySlot(keys[2]))
		}
	}
	// Ids stay apart.
	seen := map[string]string{}
	for _, id := range []string{"", "~", "}", "~}", "}~", "{~}", "x"} {
		s, _ := redisKeys(id)
		if other, dup := seen[s]; dup {
			t.Errorf("ids %q and %q share the key %q", id, other, s)
		}
		seen[s] = id
	}
}

func TestParseRedisClusterURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		addrs string
		user  string
		pass  string
		tls   bool
		err   bool
	}{
		{url: "redis-cluster://127.0.0.1:7000", addrs: "127.0.0.1:7000"},
		{url: "redis-cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/", addrs: "10.0.0.1:7000 10.0.0.2:7001 [::1]:7002"},
		{url: "redis-cluster://:s%40cret@h1:6379,h2:6379?dial_timeout=3s", addrs: "h1:6379 h2:6379", pass: "s@cret"},
		{url: "rediss-cluster://flowd:pw@h1:6379/0", addrs: "h1:6379", user: "flowd", pass: "pw", tls: true},
		{url: "redis-cluster://h1:6379/1", err: true},
		{url: "redis-cluster://h1", err: true},
		{url: "redis-cluster://h1:6379,", err: true},
		{url: "redis-cluster://h1:6379?nosuch=1", err: true},
		{url: "redis://h1:6379", err: true},
	} {
		opt, err := parseRedisClusterURL(tc.url)
		if tc.err {
			if err == nil {
				t.Errorf("%s: accepted: %v", tc.url, opt.Addrs)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if got := strings.Join(opt.Addrs, " "); got != tc.addrs || opt.Username != tc.user || opt.Password != tc.pass || (opt.TLSConfig != nil) != tc.tls {
			t.Errorf("%s: addrs %q user %q password %q tls %v", tc.url, got, opt.Username, opt.Password, opt.TLSConfig != nil)
		}
	}
}
