package console_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/runtime"
)

// The API credentials of the console's server: a token for scripts, and
// the Plivo auth id and token a person types at the browser's prompt.
const (
	apiToken  = "console-test-token"
	authID    = "MAXXXXXXXXXXXXXXXXXX"
	authToken = "console-test-auth-token"
)

// brokenFlow does not validate: a GetDigits with numDigits 0, and a next
// to a node that does not exist.
const brokenFlow = `flow: broken
nodes:
  menu:
    GetDigits:
      numDigits: 0
    next: rout
  route:
    Speak: Hello.
`

// testServer is a runtime.Server on a real listener of 127.0.0.1, serving the
// IVR example from a temporary flows folder, at a clock the test moves.
type testServer struct {
	url   string
	dir   string
	reg   *runtime.Registry
	clock atomic.Int64 // Unix nanoseconds
	sim   *plivosim.Sim
}

func startConsole(t *testing.T) *testServer {
	t.Helper()
	// The flows folder is "flows" in a temporary folder the test runs in,
	// so files are named as flowd serve --flows flows names them.
	src := testenv.ReadFile(t, filepath.Join(testenv.Root(), "examples", "flows", "ivr.yaml"))
	t.Chdir(t.TempDir())
	c := &testServer{dir: "flows"}
	must(t, os.Mkdir(c.dir, 0o755))
	must(t, os.WriteFile(filepath.Join(c.dir, "ivr.yaml"), src, 0o644))
	c.clock.Store(testenv.Open.UnixNano())
	now := func() time.Time { return time.Unix(0, c.clock.Load()).UTC() }
	c.reg = runtime.NewRegistry(c.dir, slog.New(slog.DiscardHandler))
	if !c.reg.Reload() {
		t.Fatal("the IVR example does not load")
	}
	st := runtime.NewMemory()
	srv := runtime.New(runtime.Config{Registry: c.reg, Store: st, Now: now,
		APIToken: apiToken, APIBasicID: authID, APIKey: authToken})
	hs := httptest.NewServer(srv)
	// Cleanups run last first: the streams end, then the listener closes
	// (Close waits for the requests under way), then the store.
	t.Cleanup(func() { st.Close() })
	t.Cleanup(hs.Close)
	t.Cleanup(srv.EndStreams)
	c.url = hs.URL
	c.sim = &plivosim.Sim{Client: hs.Client(), HangupURL: hs.URL + "/flows/ivr/hangup"}
	return c
}

func (c *testServer) advance(d time.Duration) { c.clock.Add(int64(d)) }

// call starts a call of the IVR example as Plivo does: the answer
// webhook with Plivo's form parameters.
func (c *testServer) call(t *testing.T, id string) *plivosim.Call {
	t.Helper()
	call, err := c.sim.Call(context.Background(), c.url+"/flows/ivr/answer",
		map[string]string{"CallUUID": id, "From": "+14155550100", "To": "+14155550199", "Direction": "inbound"})
	if err != nil {
		t.Fatal(err)
	}
	return call
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// browser starts Debian's chromium, headless, with a profile of its own;
// the browser is killed when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testenv.LookPath(t, "chromium", "Debian: apt-get install chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(bctx) // closes the browser, and waits for it to exit
		bcancel()
	})
	return bctx
}

// screenshot saves the page to the test's folder and, under -update, to
// docs/NAME.png, where the README shows it.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(t.TempDir(), name+".png"), png, 0o644))
	if *testenv.Update {
		must(t, os.WriteFile(filepath.Join(testenv.Root(), "docs", name+".png"), png, 0o644))
	}
}

// wait waits until a JavaScript expression is true in the page.
func wait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("main").innerText`))
		t.Fatalf("waiting for %s (%s): %v; the page shows:\n%s", what, expr, err, page)
	}
}

func text(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// TestConsoleChallenge: /ui/ without credentials is refused with the
// Basic challenge a browser answers with its prompt; with either
// credential it serves the page.
func TestConsoleChallenge(t *testing.T) {
	c := startConsole(t)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong basic", "Basic " + base64.StdEncoding.EncodeToString([]byte(authID+":nope")), http.StatusUnauthorized},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte(authID+":"+authToken)), http.StatusOK},
		{"bearer", "Bearer " + apiToken, http.StatusOK},
	} {
		for _, path := range []string{"/ui/", "/ui/console.js", "/ui/api/flows", "/ui/api/calls"} {
			req, _ := http.NewRequest(http.MethodGet, c.url+path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.name, path, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="flowd"` {
					t.Errorf("%s %s: WWW-Authenticate %q, want Basic realm=\"flowd\"", tc.name, path, got)
				}
			}
		}
	}
}

// TestConsolePrompt: the browser meets the console's challenge as a Basic
// sign-in for realm "flowd" (what a person sees as the prompt), and with
// the Plivo auth id and token typed there, the console opens.
func TestConsolePrompt(t *testing.T) {
	c := startConsole(t)
	ctx := browser(t)
	challenged := make(chan string, 4)
	must(t, chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *fetch.EventRequestPaused:
			go func() {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
			}()
		case *fetch.EventAuthRequired:
			select {
			case challenged <- e.AuthChallenge.Scheme + " " + e.AuthChallenge.Realm:
			default:
			}
			go func() {
				_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: e.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: authID, Password: authToken}})
			}()
		}
	}))
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: new(true)})
	must(t, err)
	_, err = chromedp.Run(ctx, chromedp.Navigate(c.url+"/ui/"))
	must(t, err)
	select {
	case got := <-challenged:
		if !strings.EqualFold(got, "basic flowd") {
			t.Errorf("the browser was challenged with %q, want Basic for realm flowd", got)
		}
	default:
		t.Fatal("the browser was never asked to sign in")
	}
	wait(t, ctx, "the flows list", `!!document.querySelector('#flows tr[data-flow="ivr"]')`)
	wait(t, ctx, "the live-calls stream", `document.getElementById("stream-state").textContent === "live"`)
}

// TestConsole drives the console in a real browser: the flows, a flow's
// diagram with its counts, a call moving in the live list without the page
// reloading, the call's trace, and a rejected file's diagnostics.
func TestConsole(t *testing.T) {
	c := startConsole(t)
	ctx := browser(t)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(authID+":"+authToken))
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	must(t, err)
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
	must(t, err)

	// Calls before the page opens, for the diagram's counts: one presses 1
	// and is put through to sales, one hangs up at the menu, one waits.
	done := c.call(t, "a0000000-0000-4000-8000-000000000001")
	must(t, done.Press("1"))
	must(t, done.Dial("completed"))
	must(t, done.Hangup())
	quit := c.call(t, "a0000000-0000-4000-8000-000000000002")
	must(t, quit.Hangup())
	c.call(t, "a0000000-0000-4000-8000-000000000003")

	// The flows.
	_, err = chromedp.Run(ctx, chromedp.Navigate(c.url+"/ui/"))
	must(t, err)
	wait(t, ctx, "the flows list", `!!document.querySelector('#flows tr[data-flow="ivr"]')`)
	row := text(t, ctx, `document.querySelector('#flows tr[data-flow="ivr"]').innerText`)
	flows, _ := c.reg.Flows()
	loaded := flows[0].LoadedAt.UTC().Format("2006-01-02 15:04:05 UTC") // the registry's clock
	for _, want := range []string{"ivr", flows[0].Version, filepath.Join(c.dir, "ivr.yaml"), loaded} {
		if !strings.Contains(row, want) {
			t.Errorf("the flows list's row of ivr %q lacks %q", row, want)
		}
	}
	wait(t, ctx, "the live-calls stream", `document.getElementById("stream-state").textContent === "live"`)
	// The page never reloads from here on: a mark set on it now must stay.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.stillTheSamePage = true`))
	must(t, err)

	// The diagram, by keyboard: the flow's link.
	_, err = chromedp.Run(ctx, chromedp.Focus(`#flows a[href="#/flows/ivr"]`))
	must(t, err)
	_, err = chromedp.Run(ctx, chromedp.KeyEvent("\r"))
	must(t, err)
	wait(t, ctx, "the diagram", `!!document.querySelector('svg g[data-node="menu"] text.visits')`)
	for node, want := range map[string][2]string{
		"greet":   {"reached 3 (1h) · 3 (all)", "ended 0 (1h) · 0 (all)"},
		"menu":    {"reached 3 (1h) · 3 (all)", "ended 1 (1h) · 1 (all)"},
		"sales":   {"reached 1 (1h) · 1 (all)", "ended 0 (1h) · 0 (all)"},
		"hangup":  {"reached 1 (1h) · 1 (all)", "ended 1 (1h) · 1 (all)"},
		"support": {"reached 0 (1h) · 0 (all)", "ended 0 (1h) · 0 (all)"},
	} {
		sel := fmt.Sprintf(`svg g[data-node=%q]`, node)
		if got := text(t, ctx, `document.querySelector('`+sel+` text.visits').textContent`); got != want[0] {
			t.Errorf("node %s shows %q, want %q", node, got, want[0])
		}
		if got := text(t, ctx, `document.querySelector('`+sel+` text.exits').textContent`); got != want[1] {
			t.Errorf("node %s shows %q, want %q", node, got, want[1])
		}
	}
	screenshot(t, ctx, "console-flow")
	// An hour later the last hour's counts are empty; the totals stay.
	c.advance(61 * time.Minute)
	_, err = chromedp.Run(ctx, chromedp.Click(`button`))
	must(t, err)
	wait(t, ctx, "the counts an hour later", `document.querySelector('svg g[data-node="menu"] text.visits').textContent === "reached 0 (1h) · 3 (all)"`)

	// The live calls: the waiting call is listed at the menu; a new call
	// appears, moves to sales when its caller presses 1, and leaves the
	// list when it hangs up, without the page reloading.
	_, err = chromedp.Run(ctx, chromedp.Click(`#nav-calls`))
	must(t, err)
	wait(t, ctx, "the waiting call", `document.querySelector('tr[data-call="a0000000-0000-4000-8000-000000000003"] .wait')?.textContent === "menu"`)
	id := "b0000000-0000-4000-8000-000000000004"
	moving := c.call(t, id)
	wait(t, ctx, "the new call at the menu", `document.querySelector('tr[data-call="`+id+`"] .wait')?.textContent === "menu"`)
	if got := text(t, ctx, `document.querySelector('tr[data-call="`+id+`"] .step').textContent`); got != "1" {
		t.Errorf("the new call is at step %s, want 1", got)
	}
	c.advance(42 * time.Second)
	must(t, moving.Press("1"))
	wait(t, ctx, "the call moving to sales", `document.querySelector('tr[data-call="`+id+`"] .wait')?.textContent === "sales"`)
	if got := text(t, ctx, `document.querySelector('tr[data-call="`+id+`"] .step').textContent`); got != "2" {
		t.Errorf("after the menu the call is at step %s, want 2", got)
	}
	if got := text(t, ctx, `document.getElementById("live-count").textContent`); got != "2" {
		t.Errorf("the live-call count shows %s, want 2", got)
	}
	screenshot(t, ctx, "console-calls")

	// Its trace: the menu's input, the walk, the XML.
	_, err = chromedp.Run(ctx, chromedp.Click(`tr[data-call="`+id+`"] a[href^="#/calls/"]`))
	must(t, err)
	wait(t, ctx, "the trace", `!!document.querySelector('#trace li[data-step="2"]')`)
	step := text(t, ctx, `document.querySelector('#trace li[data-step="2"]').innerText`)
	for _, want := range []string{"callback from menu", "Digits = 1", "route → sales", "<Dial", "+14155550101"} {
		if !strings.Contains(step, want) {
			t.Errorf("the trace's step 2 lacks %q:\n%s", want, step)
		}
	}
	screenshot(t, ctx, "console-trace")
	// The trace follows the call: the Dial's answer adds step 3.
	must(t, moving.Dial("no-answer"))
	wait(t, ctx, "the trace's next step", `!!document.querySelector('#trace li[data-step="3"]')`)

	_, err = chromedp.Run(ctx, chromedp.Click(`#nav-calls`))
	must(t, err)
	wait(t, ctx, "the calls list", `!!document.querySelector('#calls')`)
	must(t, moving.Hangup())
	wait(t, ctx, "the call leaving the list", `!document.querySelector('tr[data-call="`+id+`"]') && document.getElementById("live-count").textContent === "1"`)

	// A broken file: the reload rejects it, and the flows list shows its
	// diagnostics at file:line:col.
	broken := filepath.Join(c.dir, "broken.yaml")
	must(t, os.WriteFile(broken, []byte(brokenFlow), 0o644))
	if c.reg.Reload() {
		t.Fatal("the reload accepted the broken flow")
	}
	_, err = chromedp.Run(ctx, chromedp.Click(`#nav-flows`))
	must(t, err)
	wait(t, ctx, "the rejected file", `!!document.querySelector('#rejected section[data-path$="broken.yaml"]')`)
	diags := text(t, ctx, `document.querySelector('#rejected section').innerText`)
	for _, want := range []string{broken + ":5:18: error:", broken + ":6:11: error:", "did you mean \"route\"", "[unknown-node]"} {
		if !strings.Contains(diags, want) {
			t.Errorf("the rejected file's diagnostics lack %q:\n%s", want, diags)
		}
	}
	screenshot(t, ctx, "console-flows")

	// What a webhook carries shows as text, never as markup.
	hostile := `<img src=x onerror="window.pwned=1">`
	c.call(t, hostile)
	_, err = chromedp.Run(ctx, chromedp.Click(`#nav-calls`))
	must(t, err)
	wait(t, ctx, "the call with markup in its id", `[...document.querySelectorAll("#calls tr[data-call]")].some((tr) => tr.dataset.call === `+fmt.Sprintf("%q", hostile)+` && tr.querySelector("a").textContent === tr.dataset.call)`)
	if n := text(t, ctx, `String(document.querySelectorAll("main img").length) + " " + String(window.pwned)`); n != "0 undefined" {
		t.Errorf("markup in a CallUUID was parsed: %s", n)
	}
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.stillTheSamePage === true`)); err != nil || !same {
		t.Errorf("the page reloaded (%v)", err)
	}
}
