package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/plivo/plivotest"
)

// slowFlow's answer runs a REST action, add_participant, before it
// answers: with Plivo's API held (heldPlivo), its webhook stays in flight
// as long as a test wants.
const slowFlow = `nodes:
  ring:
    add_participant:
      mpc: "q-{{ call.CallUUID }}"
      role: agent
      to: sip:bob@phone.plivo.com
    on:
      error: sorry
    next: queue
  queue:
    MultiPartyCall:
      name: "q-{{ call.CallUUID }}"
      role: customer
  sorry:
    Speak: Sorry.
`

// heldPlivo is Plivo's REST API (plivotest's fake) behind a gate: each
// request is announced on arrived and waits until release is closed.
type heldPlivo struct {
	URL, AuthID, AuthToken string
	arrived                chan string
	release                chan struct{}
	once                   sync.Once
}

func newHeldPlivo(t *testing.T) *heldPlivo {
	t.Helper()
	fake := plivotest.New("MAXXXXXXXXXXXXXXXXXX", "plivo-token")
	t.Cleanup(fake.Close)
	h := &heldPlivo{AuthID: fake.AuthID, AuthToken: fake.AuthToken, arrived: make(chan string, 16), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.arrived <- r.URL.Path
		<-h.release
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(h.open) // before srv.Close, which waits for the requests
	h.URL = srv.URL
	return h
}

// open lets the held requests, and every later one, through.
func (h *heldPlivo) open() { h.once.Do(func() { close(h.release) }) }

// waitArrived waits for a request to reach the fake.
func (h *heldPlivo) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached Plivo's API")
	}
}

// plivoEnv points flowd at a fake Plivo: REST actions on, webhooks
// signed with its token.
func plivoEnv(t *testing.T, p *heldPlivo) {
	t.Setenv("PLIVO_AUTH_ID", p.AuthID)
	t.Setenv("PLIVO_AUTH_TOKEN", p.AuthToken)
	t.Setenv("PLIVO_API_URL", p.URL)
	t.Setenv("PLIVO_MAIN_AUTH_TOKEN", "")
	t.Setenv("FLOWD_API_TOKEN", "")
}

// flowsDir writes flow files (name → source) to a new folder.
func flowsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// served is flowd serve running in-process, stopped as SIGTERM stops it
// by cancelling its context.
type served struct {
	URL    string // where it listens, from the first line of stdout
	Line   string // that line
	logs   *testenv.Buffer
	cancel context.CancelFunc
	done   chan int
	once   sync.Once
	code   int
}

// serveInProcess starts flowd serve with args and waits for its first
// line; the test's end stops it, if the test did not.
func serveInProcess(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	serveContext = func() context.Context { return ctx }
	pr, pw := io.Pipe()
	s := &served{logs: &testenv.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		code := run(append([]string{"serve"}, args...), nil, pw, s.logs)
		pw.Close()
		s.done <- code
	}()
	t.Cleanup(func() {
		cancel()
		s.wait()
		serveContext = context.Background
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	m := serving.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("flowd serve did not start (%q, %v):\n%s", line, err, s.logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	s.URL, s.Line = m[1], line
	return s
}

// wait returns serve's exit status once it has returned.
func (s *served) wait() int {
	s.once.Do(func() { s.code = <-s.done })
	return s.code
}

// exited reports whether serve has returned.
func (s *served) exited() bool {
	select {
	case code := <-s.done:
		s.done <- code
		return true
	default:
		return false
	}
}

// logRecord finds the first JSON log line whose msg is msg.
func logRecord(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

// waitLog polls logs for a JSON line whose msg is msg.
func waitLog(t *testing.T, logs *testenv.Buffer, msg string) map[string]any {
	t.Helper()
	for range 500 { // 10 s
		if rec := logRecord(t, logs.String(), msg); rec != nil {
			return rec
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in the logs:\n%s", msg, logs.String())
	return nil
}

// refused reports whether a new connection to base's host is refused,
// polling up to 10 s until it is.
func refused(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	for range 500 {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// answerResult is a webhook's answer, sent from another goroutine.
type answerResult struct {
	resp *plivosim.Response
	err  error
}

// postAnswer posts a signed answer webhook to base for flow slow.
func postAnswer(base, token string) <-chan answerResult {
	out := make(chan answerResult, 1)
	go func() {
		sim := &plivosim.Sim{AuthToken: token}
		r, err := sim.Do(context.Background(), plivosim.Request{Method: http.MethodPost, URL: base + "/flows/slow/answer",
			Params: url.Values{"CallUUID": {"drain-1"}, "From": {"+14155550100"}, "To": {"+14155550199"}}})
		out <- answerResult{r, err}
	}()
	return out
}

// checkFullAnswer: the webhook got its whole answer, the walk having gone
// through the REST action to the room (not the error outcome).
func checkFullAnswer(t *testing.T, res answerResult) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("the webhook in flight when shutdown began: %v", res.err)
	}
	if body := string(res.resp.Body); res.resp.Status != http.StatusOK || !strings.Contains(body, "<MultiPartyCall") || !strings.HasSuffix(strings.TrimSpace(body), "</Response>") {
		t.Fatalf("the webhook in flight when shutdown began got %d %s, want 200 and the room's XML", res.resp.Status, body)
	}
}

// TestServeShutdownDrains: shutdown (SIGTERM or SIGINT cancel serve's
// context) while a webhook is in flight stops accepting connections at
// once, lets the webhook finish with its whole answer, then exits 0,
// logging "shutting down" with the reason and "stopped" with the count
// of requests drained.
func TestServeShutdownDrains(t *testing.T) {
	p := newHeldPlivo(t)
	plivoEnv(t, p)
	dir := flowsDir(t, map[string]string{"slow.yaml": slowFlow})
	s := serveInProcess(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--rest-timeout", "10s")

	answer := postAnswer(s.URL, p.AuthToken)
	p.waitArrived(t) // the webhook is in flight, waiting for Plivo's API
	s.cancel()       // as SIGTERM does

	rec := waitLog(t, s.logs, "shutting down")
	if rec["reason"] != context.Canceled.Error() || rec["in_flight"] != 1.0 {
		t.Errorf(`"shutting down" = %v, want the reason (context canceled) and in_flight 1`, rec)
	}
	if !refused(s.URL) {
		t.Errorf("a new connection is still accepted after shutdown began")
	}
	if s.exited() {
		t.Fatalf("serve exited with a webhook in flight:\n%s", s.logs.String())
	}

	p.open()
	checkFullAnswer(t, <-answer)
	if code := s.wait(); code != exitOK {
		t.Fatalf("serve exited %d, want 0:\n%s", code, s.logs.String())
	}
	stopped := logRecord(t, s.logs.String(), "stopped")
	if stopped == nil || stopped["drained"] != 1.0 || stopped["abandoned"] != 0.0 {
		t.Errorf(`"stopped" = %v, want drained 1, abandoned 0:\n%s`, stopped, s.logs.String())
	}
}

// TestServeDrainTimeout: a webhook that outlasts --drain-timeout does not
// hold the shutdown: serve closes its connection, logs it, and exits 0.
func TestServeDrainTimeout(t *testing.T) {
	p := newHeldPlivo(t)
	plivoEnv(t, p)
	dir := flowsDir(t, map[string]string{"slow.yaml": slowFlow})
	s := serveInProcess(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--rest-timeout", "10s", "--drain-timeout", "200ms")

	answer := postAnswer(s.URL, p.AuthToken)
	p.waitArrived(t)
	s.cancel()
	if code := s.wait(); code != exitOK {
		t.Fatalf("serve exited %d, want 0:\n%s", code, s.logs.String())
	}
	logs := s.logs.String()
	if rec := logRecord(t, logs, "the drain timeout passed with webhooks under way; closing their connections"); rec == nil || rec["level"] != "WARN" {
		t.Errorf("no warning that the drain timeout passed:\n%s", logs)
	}
	if rec := logRecord(t, logs, "stopped"); rec == nil || rec["abandoned"] != 1.0 || rec["drained"] != 0.0 {
		t.Errorf(`"stopped" = %v, want abandoned 1, drained 0`, rec)
	}
	p.open()
	if res := <-answer; res.err == nil && res.resp.Status == http.StatusOK {
		t.Errorf("the abandoned webhook was answered: %s", res.resp.Body)
	}
}

// TestServeDrainTimeoutFlag: --drain-timeout must be positive.
func TestServeDrainTimeoutFlag(t *testing.T) {
	dir := flowsDir(t, map[string]string{"clock.yaml": clockFlow})
	var out, errs testenv.Buffer
	if code := run([]string{"serve", "--flows", dir, "--store", "memory:", "--drain-timeout", "0s"}, nil, &out, &errs); code != exitUsage ||
		!strings.Contains(errs.String(), "--drain-timeout 0s: want more than 0") {
		t.Errorf("--drain-timeout 0s: exit %d, %s", code, errs.String())
	}
}

// TestServeStartupLine: the first line of stdout names the listen URL
// and the public URL; one "serving" log line lists each flow's answer and
// hangup URLs under the public URL, the address and the store.
func TestServeStartupLine(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN"} {
		t.Setenv(env, "")
	}
	dir := flowsDir(t, map[string]string{"clock.yaml": clockFlow, "room.yaml": roomFlow})
	db := filepath.Join(t.TempDir(), "s.db")
	for _, public := range []string{"https://flowd.example.com", ""} {
		t.Run("public-url="+public, func(t *testing.T) {
			args := []string{"--flows", dir, "--addr", "127.0.0.1:0", "--store", "bolt:" + db}
			if public != "" {
				args = append(args, "--public-url", public)
			}
			s := serveInProcess(t, args...)
			base := public
			if base == "" {
				base = s.URL
			}
			if want := fmt.Sprintf("flowd serving %s on %s (public URL %s; answer_url: %s/flows/<flow>/answer)\n", dir, s.URL, base, base); s.Line != want {
				t.Errorf("first line:\n%q\nwant\n%q", s.Line, want)
			}
			rec := waitLog(t, s.logs, "serving")
			want := map[string]any{
				"addr": strings.TrimPrefix(s.URL, "http://"), "listen_url": s.URL, "public_url": base,
				"store_kind": "bolt", "store": "bolt:" + db, "http": "fasthttp", "pid": float64(os.Getpid()),
				"flows": []any{
					map[string]any{"flow": "clock", "answer_url": base + "/flows/clock/answer", "hangup_url": base + "/flows/clock/hangup"},
					map[string]any{"flow": "room", "answer_url": base + "/flows/room/answer", "hangup_url": base + "/flows/room/hangup"},
				},
			}
			for k, v := range want {
				if got, _ := json.Marshal(rec[k]); string(got) != mustJSON(t, v) {
					t.Errorf(`"serving" %s = %s, want %s`, k, got, mustJSON(t, v))
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeLibrariesLogJSON: what libraries log comes out as flowd's
// JSON log lines: go-redis (a store that cannot be dialled), the standard
// library's log package (which bbolt, fsnotify and others may use), and
// the HTTP server's own error log.
func TestServeLibrariesLogJSON(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN"} {
		t.Setenv(env, "")
	}
	dir := flowsDir(t, map[string]string{"clock.yaml": clockFlow})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	t.Run("go-redis", func(t *testing.T) {
		// go-redis logs its failed dials; flowd then says it cannot start.
		var out, errs testenv.Buffer
		code := run([]string{"serve", "--flows", dir, "--store", "redis://" + closed + "/0?max_retries=-1"}, nil, &out, &errs)
		if code == exitOK {
			t.Fatalf("serve started on a Redis nobody listens on")
		}
		rec := jsonLineWith(errs.String(), "failed to dial")
		if rec == nil || rec["level"] != "WARN" || rec["component"] != "redis" || !strings.Contains(fmt.Sprint(rec["msg"]), closed) {
			t.Errorf("go-redis's message is not a JSON log line with component redis:\n%s", errs.String())
		}
		if strings.Contains(errs.String(), "pool.go:") { // go-redis's own lines name their file
			t.Errorf("go-redis still logs on its own:\n%s", errs.String())
		}
	})

	t.Run("running", func(t *testing.T) {
		before := stdlog.Writer()
		s := serveInProcess(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:")

		// A library that logs with the standard log package.
		stdlog.Printf("bbolt: a library message %d", 42)
		// go-redis, wherever in the process it runs.
		c := redis.NewClient(&redis.Options{Addr: closed, MaxRetries: -1, DialerRetries: 1})
		_ = c.Ping(context.Background()).Err()
		c.Close()
		for _, tc := range []struct{ what, contains, component string }{
			{"the log package", "bbolt: a library message 42", ""},
			{"go-redis", "failed to dial", "redis"},
		} {
			var rec map[string]any
			for range 250 {
				if rec = jsonLineWith(s.logs.String(), tc.contains); rec != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if rec == nil || rec["level"] != "WARN" || (tc.component != "" && rec["component"] != tc.component) {
				t.Errorf("%s: %v, want a WARN JSON line with component %q:\n%s", tc.what, rec, tc.component, s.logs.String())
			}
		}
		if code := func() int { s.cancel(); return s.wait() }(); code != exitOK {
			t.Fatalf("serve exited %d", code)
		}
		// Once serve has returned, the log package is the process's own again.
		if w := stdlog.Writer(); w != before {
			t.Errorf("after serve the log package writes to %T, want %T as before", w, before)
		}
	})
}

// TestHTTPServerErrorLog: the HTTP server's own messages (a TLS
// handshake that failed, a handler's panic) are flowd's JSON log lines,
// with "component":"http".
func TestHTTPServerErrorLog(t *testing.T) {
	var logs testenv.Buffer
	hs := newHTTPServer("127.0.0.1:0", http.NotFoundHandler(), newLogger(&logs))
	if hs.ErrorLog == nil {
		t.Fatal("the HTTP server logs with the log package's default logger")
	}
	hs.ErrorLog.Printf("http: TLS handshake error from %s: %v", "192.0.2.1:5555", "EOF")
	rec := jsonLineWith(logs.String(), "TLS handshake error")
	if rec == nil || rec["level"] != "WARN" || rec["component"] != "http" || rec["msg"] != "http: TLS handshake error from 192.0.2.1:5555: EOF" {
		t.Errorf("the HTTP server's message: %q, want a WARN JSON line with component http", logs.String())
	}
}

// jsonLineWith returns the first JSON log line whose msg contains s.
func jsonLineWith(logs, s string) map[string]any {
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(fmt.Sprint(rec["msg"]), s) {
			return rec
		}
	}
	return nil
}

// TestServeSIGTERM runs the flowd binary, sends it SIGTERM (by PID) while
// a webhook is in flight: the webhook gets its whole answer, flowd exits
// 0 and logs why it stopped.
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the flowd binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build flowd with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "flowd")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := newHeldPlivo(t)
	dir := flowsDir(t, map[string]string{"slow.yaml": slowFlow})
	cmd := exec.Command(bin, "serve", "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--rest-timeout", "10s")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLIVO_") && !strings.HasPrefix(kv, "FLOWD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PLIVO_AUTH_ID="+p.AuthID, "PLIVO_AUTH_TOKEN="+p.AuthToken, "PLIVO_API_URL="+p.URL)
	logs := &testenv.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := serving.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("flowd did not start (%q, %v):\n%s", line, err, logs.String())
	}
	base := m[1]

	answer := postAnswer(base, p.AuthToken)
	p.waitArrived(t)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rec := waitLog(t, logs, "shutting down")
	if rec["reason"] != "terminated signal received" {
		t.Errorf(`"shutting down" reason %v, want "terminated signal received"`, rec["reason"])
	}
	if !refused(base) {
		t.Errorf("a new connection is still accepted after SIGTERM")
	}
	select {
	case <-exited:
		t.Fatalf("flowd exited (%v) with a webhook in flight:\n%s", waitErr, logs.String())
	default:
	}

	p.open()
	checkFullAnswer(t, <-answer)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("flowd after SIGTERM: %v, want exit status 0:\n%s", waitErr, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("flowd did not exit after SIGTERM:\n%s", logs.String())
	}
	if rec := logRecord(t, logs.String(), "stopped"); rec == nil || rec["drained"] != 1.0 {
		t.Errorf(`"stopped" = %v, want drained 1:\n%s`, rec, logs.String())
	}
}

// TestInFlightLeavesTheConsoleStream: the shutdown's count of requests
// under way is of webhooks and API calls; a console page's live stream,
// open as long as the page, is none of them.
func TestInFlightLeavesTheConsoleStream(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	f := &inFlight{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})}
	var wg sync.WaitGroup
	for _, path := range []string{"/ui/api/events", "/flows/ivr/answer"} {
		wg.Go(func() { f.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil)) })
	}
	<-started
	<-started
	if n := f.drain(); n != 1 {
		t.Errorf("%d requests under way, want the webhook alone", n)
	}
	close(release)
	wg.Wait()
}
