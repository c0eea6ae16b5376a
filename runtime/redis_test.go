package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

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

// Stop ends the server by its PID and waits for it.
func (s *redisServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
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
