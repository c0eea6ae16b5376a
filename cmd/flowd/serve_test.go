package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/runtime"
)

// clockFlow says whether the call came in business hours, and the time of
// day the flow sees.
const clockFlow = `nodes:
  check:
    branch:
      - when: hours("Mon-Fri 09:00-17:00", "America/New_York")
        next: open
    next: closed
  open:
    Speak: "open at {{ now().Format('Mon 15:04') }}"
    next: bye
  closed:
    Speak: "closed at {{ now().Format('Mon 15:04') }}"
    next: bye
  bye:
    Hangup: {}
`

// TestServeClock starts flowd serve in-process with --clock and answers a
// call: the flows' clock starts at --clock, whatever the time of day.
// Without --clock it is the process's clock (the test clock here).
func TestServeClock(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clock.yaml"), []byte(clockFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ clock, want string }{
		{"2026-11-23T10:00:00-05:00", "<Speak>open at Mon 10:00</Speak>"},
		{"2026-11-22T10:00:00-05:00", "<Speak>closed at Sun 10:00</Speak>"},
		{"2026-11-23T15:00:00Z", "<Speak>open at Mon 15:00</Speak>"},
		{"2026-11-23T23:30:00+01:00", "<Speak>closed at Mon 23:30</Speak>"},
		{"", " at " + testenv.ClockStart().Format("Mon 15:04") + "</Speak>"},
	} {
		t.Run(cmp.Or(tc.clock, "no --clock"), func(t *testing.T) {
			args := []string{"--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:"}
			if tc.clock != "" {
				args = append(args, "--clock", tc.clock)
			}
			base := startServe(t, args...)
			resp, err := http.PostForm(base+"/flows/clock/answer", url.Values{
				"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"},
			})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
				t.Errorf("answer with --clock %s: %d %s\nwant it to contain %s", tc.clock, resp.StatusCode, body, tc.want)
			}
		})
	}
}

// TestHTTPServers: both HTTP servers --http names serve the same
// answer, and any other name is bad usage.
func TestHTTPServers(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clock.yaml"), []byte(clockFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{}
	for _, engine := range []string{"fasthttp", "net/http"} {
		base := startServe(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--clock", "2026-11-23T10:00:00-05:00", "--http", engine)
		resp, err := http.PostForm(base+"/flows/clock/answer", url.Values{"CallUUID": {"c1"}, "From": {"+14155550100"}, "To": {"+14155550199"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/xml" {
			t.Errorf("--http %s: %d %s %s", engine, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		answers[engine] = strings.ReplaceAll(string(body), base, "BASE")
	}
	if answers["fasthttp"] != answers["net/http"] || !strings.Contains(answers["fasthttp"], "open at Mon 10:00") {
		t.Errorf("the answers differ:\n fasthttp %s\n net/http %s", answers["fasthttp"], answers["net/http"])
	}
	var stderr strings.Builder
	if code := run([]string{"serve", "--flows", dir, "--http", "h2"}, nil, io.Discard, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), `--http "h2": want fasthttp or net/http`) {
		t.Errorf("--http h2: exit %d, %q", code, stderr.String())
	}
}

var serving = regexp.MustCompile(`^flowd serving .* on (http://\S+) `)

// startServe runs flowd serve with args until the test ends, and returns
// the URL it listens at.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	serveContext = func() context.Context { return ctx }
	pr, pw := io.Pipe()
	var logs testenv.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(append([]string{"serve"}, args...), nil, pw, &logs)
		pw.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("flowd serve exited with status %d:\n%s", code, logs.String())
		}
		serveContext = context.Background
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	m := serving.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("flowd serve did not start (%q, %v):\n%s", line, err, logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return m[1]
}

// roomFlow joins a MultiPartyCall whose status and recording events flowd
// receives, after a menu: its XML carries every kind of URL flowd writes.
const roomFlow = `nodes:
  menu:
    GetDigits:
      numDigits: 1
      children:
        - Speak: Press 1 for sales.
    on: { input: room, no_input: room }
  room:
    MultiPartyCall:
      name: "cc-{{ call.CallUUID }}"
      role: customer
      record: true
    events: [status, recording]
    next: bye
  bye:
    Hangup: {}
`

// TestRenderIsServe: flowd render prints, byte for byte, what serve
// answers for the same call, event URLs included.
func TestRenderIsServe(t *testing.T) {
	for _, env := range []string{"PLIVO_AUTH_TOKEN", "PLIVO_AUTH_ID", "PLIVO_MAIN_AUTH_TOKEN", "FLOWD_API_TOKEN"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "room.yaml")
	if err := os.WriteFile(file, []byte(roomFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:")
	call := map[string]string{"CallUUID": "6d8a2f5e-0c1b-4f4e-9a55-3b1f0f7b2c11", "From": "+14155550100", "To": "+14155550199"}
	for _, node := range []string{"", "room"} {
		form := url.Values{}
		args := []string{"render", file, "--public-url", base}
		for k, v := range call {
			form.Set(k, v)
			args = append(args, "--call", k+"="+v)
		}
		answer := base + "/flows/room/answer"
		if node != "" {
			// The menu's no-input Redirect, which Plivo follows at the
			// call's first step, walks into the room.
			answer = base + "/flows/room/calls/1/menu/no_input"
			args = append(args, "--node", node)
		}
		resp, err := http.PostForm(answer, form)
		if err != nil {
			t.Fatal(err)
		}
		served, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s %v", answer, resp.StatusCode, served, err)
		}
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != exitOK {
			t.Fatalf("flowd %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
		}
		if node == "" {
			// render's answer is the call's first step; so was serve's.
			if got := strings.TrimSpace(out.String()); got != string(served) {
				t.Errorf("render and serve differ:\nrender %s\nserve  %s", got, served)
			}
			continue
		}
		// serve walked from the menu on its second step.
		want := strings.ReplaceAll(string(served), "/calls/2/", "/calls/1/")
		if got := strings.TrimSpace(out.String()); got != want {
			t.Errorf("render --node room and serve differ:\nrender %s\nserve  %s", got, want)
		}
		if !strings.Contains(want, "/flows/room/events/"+call["CallUUID"]+"/room/status") {
			t.Errorf("serve's room XML has no event URL for the call: %s", want)
		}
	}
}

// TestAPIBehindProxy: flowd on loopback with PLIVO_AUTH_TOKEN set, as
// behind a reverse proxy on the same host, where every request comes
// from 127.0.0.1: without API credentials /v1 answers 401 to everyone,
// and with them only to a request that carries them.
func TestAPIBehindProxy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clock.yaml"), []byte(clockFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(url, auth string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Setenv("PLIVO_AUTH_TOKEN", "plivo-token")
	t.Setenv("PLIVO_AUTH_ID", "")
	t.Setenv("PLIVO_MAIN_AUTH_TOKEN", "")
	t.Setenv("FLOWD_API_TOKEN", "")
	base := startServe(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:")
	if code := get(base+"/v1/calls/c1", ""); code != http.StatusUnauthorized {
		t.Errorf("no API credentials configured: /v1 from loopback = %d, want 401", code)
	}
	if code := get(base+"/v1/flows", "Bearer guess"); code != http.StatusUnauthorized {
		t.Errorf("no API credentials configured, a guessed token: /v1/flows = %d, want 401", code)
	}

	t.Setenv("FLOWD_API_TOKEN", "api-token")
	base = startServe(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:")
	if code := get(base+"/v1/calls/c1", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1 without credentials = %d, want 401", code)
	}
	if code := get(base+"/v1/flows", "Bearer api-token"); code != http.StatusOK {
		t.Errorf("/v1/flows with the token = %d, want 200", code)
	}
}

// TestTwoProcs: on one CPU, flowd on a store that flushes to the disk
// takes a second processor (a flush must not hold the only one), unless
// GOMAXPROCS is set; on the memory and Redis stores it keeps one.
func TestTwoProcs(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	for _, kind := range []string{"journal", "bolt"} {
		goruntime.GOMAXPROCS(1)
		if was := twoProcs(kind); was != 1 || goruntime.GOMAXPROCS(0) != 2 {
			t.Fatalf("%s on one CPU: was %d, now %d", kind, was, goruntime.GOMAXPROCS(0))
		}
		if was := twoProcs(kind); was != 0 || goruntime.GOMAXPROCS(0) != 2 {
			t.Fatalf("%s on two: was %d, now %d", kind, was, goruntime.GOMAXPROCS(0))
		}
	}
	for _, kind := range []string{"memory", "redis"} {
		goruntime.GOMAXPROCS(1)
		if was := twoProcs(kind); was != 0 || goruntime.GOMAXPROCS(0) != 1 {
			t.Fatalf("%s on one CPU: was %d, now %d", kind, was, goruntime.GOMAXPROCS(0))
		}
	}
	goruntime.GOMAXPROCS(1)
	t.Setenv("GOMAXPROCS", "1")
	if was := twoProcs("journal"); was != 0 || goruntime.GOMAXPROCS(0) != 1 {
		t.Fatalf("GOMAXPROCS=1 set: was %d, now %d", was, goruntime.GOMAXPROCS(0))
	}
}

// TestHeapFloor: unset GOGC and GOMEMLIMIT, serve's heap holds a
// pointer-free ballast the collector counts as live until keep is
// called; set, nothing is added.
func TestHeapFloor(t *testing.T) {
	heap := testenv.LiveHeap
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := heap()
	keep := heapFloor()
	// Less whatever garbage the collection before freed.
	if grown := int64(heap()) - int64(before); grown < heapFloorSize-1<<20 {
		t.Fatalf("the heap grew by %d bytes with the floor, want about %d", grown, heapFloorSize)
	}
	keep()
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "200")
			before := heap()
			keep := heapFloor()
			if after := heap(); after > before+heapFloorSize/2 {
				t.Fatalf("with %s set, the heap grew from %d to %d bytes", env, before, after)
			}
			keep()
		})
	}
}

// TestServeReserveMemory: --reserve-memory touches the reserve in the
// background and says so; a size it cannot read is bad usage.
func TestServeReserveMemory(t *testing.T) {
	t.Cleanup(func() { _, _ = runtime.ReserveMemory(0) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clock.yaml"), []byte(clockFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serveInProcess(t, "--flows", dir, "--addr", "127.0.0.1:0", "--store", "memory:", "--reserve-memory", "8MiB")
	if rec := waitLog(t, s.logs, "memory reserved for stored calls"); rec["bytes"] == nil {
		t.Errorf("the reserve's line: %v", rec)
	}
	for _, bad := range []string{"4GB", "-1GiB", "GiB", "1.5GiB", "9999999TiB"} {
		var stderr strings.Builder
		if code := run([]string{"serve", "--flows", dir, "--reserve-memory", bad}, nil, io.Discard, &stderr); code != exitUsage ||
			!strings.Contains(stderr.String(), "--reserve-memory "+bad+": want a size such as 4GiB") {
			t.Errorf("--reserve-memory %s: exit %d, %q", bad, code, stderr.String())
		}
	}
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "512B": 512, "64KiB": 64 << 10, "512MiB": 512 << 20, "4GiB": 4 << 30, "1TiB": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
