package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/fastserve"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/internal/scenarios"
	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/plivo/plivotest"
	"github.com/flowd-dev/flowd/runtime"
)

// The end-to-end tests run flowd behind a real listener and play Plivo
// with plivosim: every example flow is driven through every edge of its
// graph, and each webhook's XML and trace are checked.

var examplesDir = filepath.Join("..", "examples", "flows")

// Clocks for the flows' hours(): a Monday morning and a Sunday, New York.
var (
	clockOpen   = testenv.Open
	clockClosed = testenv.Closed
)

// storeKind opens a fresh store for a test; every e2e test runs with each.
type storeKind struct {
	name string
	open func(t *testing.T) runtime.Store
}

var storeKinds = []storeKind{
	{"memory", func(t *testing.T) runtime.Store {
		m := runtime.NewMemory()
		t.Cleanup(func() { m.Close() })
		return m
	}},
	{"journal", func(t *testing.T) runtime.Store {
		j, err := runtime.OpenJournal(filepath.Join(t.TempDir(), "sessions"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		return j
	}},
	{"bolt", func(t *testing.T) runtime.Store {
		b, err := runtime.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
}

// eachStore runs fn as a subtest per store kind.
func eachStore(t *testing.T, fn func(t *testing.T, open func(*testing.T) runtime.Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { fn(t, k.open) })
	}
}

// envConfig says how to start a flowd for a test.
type envConfig struct {
	dir       string // flows folder (default: the examples)
	store     runtime.Store
	params    map[string]string
	tokens    []string
	publicURL string
	maxBody   int64
	clock     time.Time // default clockOpen
	logs      io.Writer // default: discarded
	noServer  bool      // in-process only (no listener)
	// fast serves over fastserve, as flowd serve does by default, each
	// request in a context the Server's RequestContext made; else over
	// net/http (httptest).
	fast      bool
	wrapStore func(runtime.Store) runtime.Store
	// sessionTTL and traceTTL default to flowd's (12h, 1h).
	sessionTTL, traceTTL time.Duration
	// rest gives flowd Plivo's REST API: a fake one (env.fake).
	rest bool
}

// The http nodes of the flows served by a test env never reach the
// network: Config.HTTP is the fake CRM of internal/scenarios (env.crm),
// which answers crm-routing's look-ups in this process by the caller's
// number (scenarios.CRMVIP, CRMDown, CRMSlow...), and refuses, failing
// the test, any request for another host than scenarios.CRMHost. The
// params crm_url and crm_token point crm-routing at it unless a test sets
// them.
const testCRMToken = "e2e-crm-token-5f1c"

// crmLookupURL is crm-routing's look-up as the trace keeps it: no query.
const crmLookupURL = scenarios.CRMURL + "/customers"

// env is a running flowd with a Plivo simulator pointed at it.
type env struct {
	t     testing.TB
	srv   *httptest.Server // nil with noServer
	h     *runtime.Server
	reg   *runtime.Registry
	store runtime.Store
	base  string // the URL the simulator calls
	sim   *plivosim.Sim
	now   atomic.Int64
	fake  *plivotest.Server // Plivo's REST API, with envConfig.rest
	crm   *scenarios.CRM    // answers the http nodes' requests
	// refuse, when set, may answer a request of the fake Plivo API in its
	// place (a non-nil Reply): a script's fault finer than a path.
	refuse atomic.Pointer[func(plivotest.Request) *plivotest.Reply]
}

func startEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	if cfg.dir == "" {
		cfg.dir = examplesDir
	}
	if cfg.clock.IsZero() {
		cfg.clock = clockOpen
	}
	logw := cfg.logs
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	reg := runtime.NewRegistry(cfg.dir, log)
	if !reg.Reload() {
		t.Logf("some flows in %s do not load", cfg.dir)
	}
	e := &env{t: t, reg: reg, store: cfg.store, crm: scenarios.NewCRM(testCRMToken)}
	e.now.Store(cfg.clock.UnixNano())
	st := cfg.store
	if cfg.wrapStore != nil {
		st = cfg.wrapStore(st)
	}
	params := maps.Clone(cfg.params)
	if params == nil {
		params = map[string]string{}
	}
	if _, ok := params["crm_url"]; !ok {
		params["crm_url"] = scenarios.CRMURL
	}
	if _, ok := params["crm_token"]; !ok {
		params["crm_token"] = testCRMToken
	}
	t.Cleanup(func() {
		if n, u := e.crm.Stray(); n > 0 {
			t.Errorf("%d requests of http nodes went elsewhere than the fake CRM (last: %s): tests never reach the network", n, u)
		}
		if n := e.crm.Unauthorized(); n > 0 {
			t.Errorf("the fake CRM got %d requests without the crm_token", n)
		}
	})
	rc := runtime.Config{
		Registry: reg, Store: st, Params: params, AuthTokens: cfg.tokens, PublicURL: cfg.publicURL,
		MaxBody: cfg.maxBody, Logger: log, SessionTTL: cfg.sessionTTL, TraceTTL: cfg.traceTTL,
		Now:      func() time.Time { return time.Unix(0, e.now.Load()) },
		APIToken: testAPIToken,
		HTTP:     e.crm, // never the default client, which reaches the network
	}
	if cfg.rest {
		e.fake = plivotest.New("MAXXXXXXXXXXXXXXXXXX", "fake-token")
		t.Cleanup(e.fake.Close)
		e.fake.Override = func(r plivotest.Request) *plivotest.Reply {
			if f := e.refuse.Load(); f != nil {
				return (*f)(r)
			}
			return nil
		}
		e.fake.Reset() // its lock publishes Override to the fake's handlers
		client, err := plivo.NewClient(plivo.Config{AuthID: e.fake.AuthID, AuthToken: e.fake.AuthToken, BaseURL: e.fake.URL, CPS: -1, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		rc.REST = client
	}
	e.h = runtime.New(rc)
	if cfg.noServer {
		e.base = "http://flowd.test"
		e.sim = &plivosim.Sim{Client: plivosim.HandlerClient(e.h)}
	} else if cfg.fast {
		e.base = serveFast(t, e.h)
		e.sim = &plivosim.Sim{}
	} else {
		e.srv = httptest.NewServer(e.h)
		t.Cleanup(e.srv.Close)
		e.base = e.srv.URL
		e.sim = &plivosim.Sim{}
	}
	if cfg.publicURL != "" {
		e.base = strings.TrimSuffix(cfg.publicURL, "/")
	}
	e.sim.HangupURL = e.base + "/flows/any/hangup"
	if len(cfg.tokens) > 0 {
		e.sim.AuthToken = cfg.tokens[0]
	}
	return e
}

// serveFast serves h over fastserve on a loopback port until the test
// ends, as flowd serve does, and returns its URL.
func serveFast(t testing.TB, h *runtime.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// net/http's header limit, not flowd serve's 16 KiB: a script sends
	// an answer URL of vars larger than that.
	fs := fastserve.New(fastserve.Config{Handler: h, Context: h.RequestContext, MaxHeaderBytes: http.DefaultMaxHeaderBytes})
	done := make(chan error, 1)
	go func() { done <- fs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fs.Shutdown(ctx); err != nil {
			_ = fs.Close()
		}
		if err := <-done; err != nil {
			t.Errorf("fastserve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func (e *env) setClock(t time.Time) { e.now.Store(t.UnixNano()) }

// answerURL returns a flow's answer URL, with initial vars when given.
func (e *env) answerURL(flowName string, vars map[string]any) string {
	u, err := runtime.AnswerURL(e.base, flowName, vars)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// call answers a new call of a flow.
func (e *env) call(t testing.TB, flowName string, params map[string]string, vars map[string]any) *plivosim.Call {
	t.Helper()
	c, err := e.sim.Call(context.Background(), e.answerURL(flowName, vars), params)
	if err != nil {
		t.Fatalf("answer %s: %v", flowName, err)
	}
	c.HangupURL = e.base + "/flows/" + flowName + "/hangup"
	return c
}

// get does a GET on flowd and returns the status and body.
func (e *env) get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// testAPIToken is the API token of the test servers: /v1 needs one.
const testAPIToken = "test-api-token"

// session returns a call's trace from /v1/calls/{uuid}.
func (e *env) session(t testing.TB, id string) *runtime.Session {
	t.Helper()
	code, body := e.get(t, "/v1/calls/"+url.PathEscape(id))
	if code != http.StatusOK {
		t.Fatalf("GET /v1/calls/%s: %d %s", id, code, body)
	}
	var s runtime.Session
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("trace of %s: %v\n%s", id, err, body)
	}
	// The CRM's token (a secret param) and the look-up's query (the
	// caller's number) are never kept.
	for _, secret := range []string{testCRMToken, "phone="} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("the trace of %s (%s) keeps %q", id, s.Flow, secret)
		}
	}
	return &s
}

// record returns the stored record of a call, for before/after checks.
func (e *env) record(t testing.TB, id string) runtime.Record {
	t.Helper()
	rec, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("store.Get(%s): %v", id, err)
	}
	return rec
}

func (e *env) metrics(t testing.TB) string {
	t.Helper()
	code, body := e.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	return string(body)
}

// metricValue returns the value of one series of /metrics, or -1.
func metricValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// callbackParts splits one of flowd's callback URLs.
func callbackParts(base, flowName, u string) (step int, node, event string, ok bool) {
	rest, found := strings.CutPrefix(u, base+"/flows/"+flowName+"/calls/")
	if !found {
		return 0, "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return 0, "", "", false
	}
	step, err := strconv.Atoi(parts[0])
	if err != nil {
		return 0, "", "", false
	}
	return step, runtime.NodeOfURL(parts[1]), parts[2], true
}

// checkURLs checks that every URL flowd wrote for Plivo to follow is
// absolute, and that the callback URLs are flowd's own for this flow.
func checkURLs(t testing.TB, base, flowName string, doc *plivosim.Element) {
	t.Helper()
	var walk func(e *plivosim.Element)
	walk = func(e *plivosim.Element) {
		for _, a := range e.Attrs {
			switch a.Name {
			case "action", "onExitActionUrl":
				if _, _, _, ok := callbackParts(base, flowName, a.Value); !ok {
					t.Errorf("<%s %s=%q>: not a callback URL under %s/flows/%s/calls/", e.Name, a.Name, a.Value, base, flowName)
				}
			}
			if strings.HasSuffix(a.Name, "Url") || a.Name == "action" || a.Name == "waitSound" || a.Name == "confirmSound" {
				if u, err := url.Parse(a.Value); err != nil || !u.IsAbs() || u.Host == "" {
					t.Errorf("<%s %s=%q>: not an absolute URL", e.Name, a.Name, a.Value)
				}
			}
		}
		if e.Name == "Redirect" {
			if u, err := url.Parse(strings.TrimSpace(e.Text)); err != nil || !u.IsAbs() || u.Host == "" {
				t.Errorf("<Redirect>%s</Redirect>: not an absolute URL", e.Text)
			}
		}
		for _, k := range e.Children {
			walk(k)
		}
	}
	walk(doc)
}

// firstValues flattens request parameters.
func firstValues(v url.Values) map[string]string {
	out := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

// verify checks the webhook the call just made: a 200 with a valid XML
// document whose URLs are absolute, and a trace whose last step is this
// webhook (its node, event, outcome, inputs, path and XML), consistent
// with where the simulator now waits. It returns the session.
func (e *env) verify(t testing.TB, c *plivosim.Call, flowName string) *runtime.Session {
	t.Helper()
	resp := c.Last()
	if resp == nil || resp.Status != http.StatusOK {
		t.Fatalf("%s: last answer %+v", flowName, resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Doc == nil {
		t.Fatalf("%s: no XML document: %s", flowName, resp.Body)
	}
	checkURLs(t, e.base, flowName, resp.Doc)
	s := e.session(t, c.UUID)
	if s.Flow != flowName || s.CallUUID != c.UUID {
		t.Errorf("trace: flow %q call %q", s.Flow, s.CallUUID)
	}
	if s.Version == "" {
		t.Errorf("trace: no version")
	}
	if len(s.Trace) != s.Step {
		t.Fatalf("trace: %d steps recorded, step %d", len(s.Trace), s.Step)
	}
	last := s.Trace[len(s.Trace)-1]
	if last.Step != s.Step || last.XML != string(resp.Body) {
		t.Errorf("trace step %d: XML\n%s\nwant the answer\n%s", last.Step, last.XML, resp.Body)
	}
	g, err := e.reg.Version(context.Background(), e.store, s.Flow, s.Version)
	if err != nil {
		t.Fatal(err)
	}
	sent := firstValues(resp.Request.Params)
	if step, node, event, ok := callbackParts(e.base, flowName, resp.Request.URL); ok {
		if last.Webhook != "callback" || last.Node != node || last.Event != event || step != s.Step-1 {
			t.Errorf("trace step %d: webhook %q node %q event %q, want a callback of step %d at %q (%s)", last.Step, last.Webhook, last.Node, last.Event, step, node, event)
		}
		n := g.Lookup(node)
		if n == nil {
			t.Fatalf("no node %q", node)
		}
		if want := flow.OutcomeName(n, event, sent); last.Outcome != want {
			t.Errorf("trace step %d: outcome %q, want %q", last.Step, last.Outcome, want)
		}
		want := sent
		if n.Private {
			// log: false — what the caller entered is never kept.
			want = maps.Clone(sent)
			for _, k := range []string{"Digits", "Speech", "UnstableSpeech"} {
				if _, ok := want[k]; ok {
					want[k] = "<redacted>"
				}
			}
			if _, kept := s.Nodes[n.ID]; kept {
				t.Errorf("trace step %d: the state keeps nodes.%s of a log: false node", last.Step, n.ID)
			}
		}
		if !mapsEqual(last.Inputs, want) {
			t.Errorf("trace step %d: inputs %v, want %v", last.Step, last.Inputs, want)
		}
		// The node it goes to is named as the node called back is
		// (check_pin/check after check_pin/ask).
		prefix := strings.TrimSuffix(node, n.ID)
		if to := flow.Outcome(n, event, sent); to != nil && (len(last.Path) == 0 || last.Path[0] != prefix+to.ID) {
			t.Errorf("trace step %d: path %v, want it to start at %s", last.Step, last.Path, prefix+to.ID)
		}
	} else {
		if last.Webhook != "answer" || s.Step != 1 {
			t.Errorf("trace step %d: webhook %q, want the answer", last.Step, last.Webhook)
		}
		if len(last.Path) == 0 || last.Path[0] != g.Start.ID {
			t.Errorf("answer path %v, want it to start at %s", last.Path, g.Start.ID)
		}
	}
	// Where the simulator waits is where the session waits.
	w := c.Wait()
	if s.Wait != "" {
		if s.Status != runtime.StatusLive {
			t.Errorf("waiting at %s with status %s", s.Wait, s.Status)
		}
		step, node, _, ok := callbackParts(e.base, flowName, w.URL)
		if !ok || node != s.Wait || step != s.Step {
			t.Errorf("session waits at %s (step %d); the document waits at %+v", s.Wait, s.Step, w)
		}
		if (w.Kind == "GetDigits" || w.Kind == "GetInput") && !strings.HasSuffix(w.NoInputURL, "/"+runtime.URLNode(s.Wait)+"/no_input") {
			t.Errorf("input without flowd's no_input Redirect: %+v", w)
		}
	} else {
		if s.Status != runtime.StatusEnded {
			t.Errorf("ended flow with status %s", s.Status)
		}
		if !c.Ended() && w.Kind != "Redirect" {
			t.Errorf("the flow ended but the document waits at %+v", w)
		}
	}
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ---- coverage of the graphs' edges ----

// coverage counts the edges of the example flows the tests took.
type coverage struct {
	mu    sync.Mutex
	edges map[string]map[string]bool // flow → "from -label-> to" → taken
}

func newCoverage(reg *runtime.Registry) *coverage {
	c := &coverage{edges: map[string]map[string]bool{}}
	for _, name := range reg.Names() {
		g := reg.Current(name)
		m := map[string]bool{}
		for _, n := range g.Nodes {
			for _, ed := range n.Edges() {
				m[edgeName(n, edgeLabel(ed), ed.To)] = false
			}
		}
		if g.OnError != nil {
			m[edgeName(nil, "on_error", g.OnError)] = false
		}
		c.edges[name] = m
	}
	return c
}

func edgeLabel(ed flow.Edge) string { return ed.Label }

func edgeName(from *flow.Node, label string, to *flow.Node) string {
	f := "*"
	if from != nil {
		f = from.ID
	}
	return f + " -" + label + "-> " + to.ID
}

// mark records the edges a call's trace took.
func (cv *coverage) mark(g *flow.Graph, s *runtime.Session) {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	m := cv.edges[g.Name]
	if m == nil {
		return
	}
	take := func(k string) {
		if _, ok := m[k]; ok {
			m[k] = true
		}
	}
	for _, st := range s.Trace {
		if st.Webhook == "hangup" {
			continue
		}
		if st.Error != "" && g.OnError != nil && slices.Contains(st.Path, g.OnError.ID) {
			take(edgeName(nil, "on_error", g.OnError))
		}
		if len(st.Edges) > 0 {
			// The engine records the edges it took, with their labels; an
			// edge inside a subflow counts in the subflow's own flow.
			for _, tk := range st.Edges {
				sg, from := g.Locate(tk.From)
				if from == nil {
					continue
				}
				for _, ed := range from.Edges() {
					if ed.Label == tk.Label {
						if sm := cv.edges[sg.Name]; sm != nil {
							if _, ok := sm[edgeName(from, ed.Label, ed.To)]; ok {
								sm[edgeName(from, ed.Label, ed.To)] = true
							}
						}
					}
				}
			}
			continue
		}
		// Older traces: infer the edges from the path.
		if st.Webhook == "callback" && len(st.Path) > 0 {
			n := g.Node(st.Node)
			label := "next"
			if _, ok := n.On[st.Outcome]; ok {
				label = st.Outcome
			}
			take(edgeName(n, label, g.Node(st.Path[0])))
		}
		for i := 0; i+1 < len(st.Path); i++ {
			a, b := g.Node(st.Path[i]), g.Node(st.Path[i+1])
			found := false
			for _, ed := range a.Edges() {
				if ed.To == b && (ed.Kind != flow.EdgeOn) {
					take(edgeName(a, edgeLabel(ed), b))
					found = true
					break
				}
			}
			if !found && st.Error != "" && g.OnError == b {
				take(edgeName(nil, "on_error", b))
			}
		}
	}
}

// markCall fetches a call's trace and marks its edges.
func (cv *coverage) markCall(t testing.TB, e *env, id string) {
	s := e.session(t, id)
	g, err := e.reg.Version(context.Background(), e.store, s.Flow, s.Version)
	if err != nil {
		t.Fatal(err)
	}
	cv.mark(g, s)
}

func (cv *coverage) check(t *testing.T) {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	var missing []string
	total := 0
	for name, m := range cv.edges {
		for k, ok := range m {
			total++
			if !ok {
				missing = append(missing, name+": "+k)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d edges never taken:\n%s", len(missing), total, strings.Join(missing, "\n"))
	} else {
		t.Logf("all %d edges of %d flows taken", total, len(cv.edges))
	}
}

// ---- scripted calls ----

// step is one webhook of a scripted call and what it must produce.
type step struct {
	name     string
	do       func(c *plivosim.Call) error // nil for the answer
	wait     string                       // the node the call waits at after it ("" = the flow ended)
	path     []string                     // the nodes walked
	contains []string
	absent   []string
	vars     map[string]any // a subset of the vars after the step
	err      bool           // a run-time error was handled
	xml      string         // the whole document, when given
	// requests, when not nil, are the http nodes' requests of the step
	// in the trace: "node METHOD URL status error" (see crmLookup).
	requests []string
	// edges are edges the step must have taken, "from label" ("lookup
	// error"), where the path alone does not tell.
	edges []string
}

// crmLookup is crm-routing's look-up as the step's requests show it.
func crmLookup(status int, errText string) string {
	return strings.TrimSpace(fmt.Sprintf("lookup GET %s %d %s", crmLookupURL, status, errText))
}

type script struct {
	name   string
	flow   string
	env    string // "" for the default server, "params" for the one with odd params
	clock  time.Time
	call   map[string]string
	vars   map[string]any // initial vars in the answer URL
	steps  []step
	noHang bool // do not hang up at the end
	// before prepares the server (faults in the fake Plivo API, rooms)
	// and may return call params (a CallUUID the setup used).
	before func(t *testing.T, e *env) map[string]string
	// after checks what the call did once its steps are done, before the
	// hangup (the fake Plivo API's requests).
	after func(t *testing.T, e *env, c *plivosim.Call)
}

func press(d string) func(*plivosim.Call) error {
	return func(c *plivosim.Call) error { return c.Press(d) }
}

// digits posts Digits as given, past Plivo's key rules (a key outside
// validDigits, more keys than numDigits): a flow's catch-all branches.
func digits(d string) func(*plivosim.Call) error {
	return func(c *plivosim.Call) error { return c.PressWith(d, map[string]string{"Digits": d}) }
}
func say(s string) func(*plivosim.Call) error {
	return func(c *plivosim.Call) error { return c.Say(s) }
}
func dial(s string) func(*plivosim.Call) error {
	return func(c *plivosim.Call) error { return c.Dial(s) }
}
func noInput(c *plivosim.Call) error  { return c.NoInput() }
func exit(c *plivosim.Call) error     { return c.Exit(nil) }
func recorded(c *plivosim.Call) error { return c.Record(nil) }

// run plays a script and checks every step.
func (sc *script) run(t *testing.T, e *env, cv *coverage) {
	if !sc.clock.IsZero() {
		e.setClock(sc.clock)
		defer e.setClock(clockOpen)
	}
	call := sc.call
	if sc.before != nil {
		if p := sc.before(t, e); p != nil {
			call = maps.Clone(p)
			maps.Copy(call, sc.call)
		}
	}
	var c *plivosim.Call
	for i, st := range sc.steps {
		label := fmt.Sprintf("%s step %d (%s)", sc.name, i, st.name)
		if i == 0 {
			if st.do != nil {
				t.Fatalf("%s: the first step is the answer", label)
			}
			c = e.call(t, sc.flow, call, sc.vars)
		} else if err := st.do(c); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		s := e.verify(t, c, sc.flow)
		last := s.Trace[len(s.Trace)-1]
		xml := string(c.XML())
		if s.Wait != st.wait {
			t.Errorf("%s: waits at %q, want %q\n%s", label, s.Wait, st.wait, xml)
		}
		if st.path != nil && !slices.Equal(last.Path, st.path) {
			t.Errorf("%s: path %v, want %v", label, last.Path, st.path)
		}
		for _, want := range st.contains {
			if !strings.Contains(xml, want) {
				t.Errorf("%s: XML lacks %q\n%s", label, want, xml)
			}
		}
		for _, no := range st.absent {
			if strings.Contains(xml, no) {
				t.Errorf("%s: XML has %q\n%s", label, no, xml)
			}
		}
		if st.xml != "" && xml != st.xml {
			t.Errorf("%s: XML\n%s\nwant\n%s", label, xml, st.xml)
		}
		for k, v := range st.vars {
			if got := fmt.Sprint(s.Vars[k]); got != fmt.Sprint(v) {
				t.Errorf("%s: vars.%s = %s, want %v", label, k, got, v)
			}
		}
		if (last.Error != "") != st.err {
			t.Errorf("%s: run-time error %q, want error %v", label, last.Error, st.err)
		}
		for _, want := range st.edges {
			from, edge, _ := strings.Cut(want, " ")
			if !slices.Contains(last.Edges, flow.Taken{From: from, Label: edge}) {
				t.Errorf("%s: edge %s -%s-> not taken: %v", label, from, edge, last.Edges)
			}
		}
		if st.requests != nil {
			var got []string
			for _, r := range last.Requests {
				got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s %d %s", r.Node, r.Method, r.URL, r.Status, r.Error)))
			}
			if !slices.Equal(got, st.requests) {
				t.Errorf("%s: requests %q, want %q", label, got, st.requests)
			}
		}
		if st.wait == "" && !c.Ended() && c.Wait().Kind != "Redirect" {
			t.Errorf("%s: the document still waits at %+v", label, c.Wait())
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if cv != nil {
		cv.markCall(t, e, c.UUID)
	}
	if sc.after != nil {
		sc.after(t, e, c)
	}
	if sc.noHang {
		return
	}
	if err := c.HangupWith(map[string]string{"HangupCause": "NORMAL_CLEARING"}); err != nil {
		t.Fatalf("%s: hangup: %v", sc.name, err)
	}
	s := e.session(t, c.UUID)
	if s.Status != runtime.StatusHungUp || s.HangupCause != "NORMAL_CLEARING" || s.Trace[len(s.Trace)-1].Webhook != "hangup" {
		t.Errorf("%s: after hangup: status %s cause %q", sc.name, s.Status, s.HangupCause)
	}
}

// oddParams make the example flows fail at run time, to reach on_error.
var oddParams = map[string]string{
	"wait_music":        "not a URL",             // conference-bridge: waitSound refused
	"max_attempts":      "x",                     // ivr: int() fails
	"max_call_seconds":  "10",                    // support-queue: maxDuration out of range
	"agent_queue":       "2",                     // support-agent: the queue is fixed
	"bot_url":           "https://not-a-ws.test", // preanswer-stream: Stream wants wss://
	"hold_music":        "not a URL",             // contact-center: wait_music_url refused, agents not rung
	"voicemail_seconds": "forever",               // contact-center: Record maxLength refused
}

var scripts = []script{
	// ---- ivr ----
	{name: "ivr sales completed", flow: "ivr", call: map[string]string{"CallerName": "Ada"}, steps: []step{
		{name: "answer", wait: "menu", path: []string{"greet", "menu"}, contains: []string{
			`<Speak voice="Polly.Joanna" language="en-US">Welcome to Acme, Ada.<break time="300ms"/><say-as interpret-as="spell-out">ACME</say-as>`,
			`<GetDigits action=`, `numDigits="1"`, `retries="2"`, `validDigits="129"`, `<Speak>Press 1 for sales, 2 for support, or 9 to hear this menu again.</Speak></GetDigits><Redirect>`,
		}},
		{name: "press 1", do: press("1"), wait: "sales", path: []string{"route", "sales"}, contains: []string{
			`<Dial action=`, `timeout="20"`, `callerId="+14155550199"`, `<Number>+14155550101</Number>`}},
		{name: "dial completed", do: dial("completed"), path: []string{"goodbye", "hangup"},
			xml: `<Response><Speak>Thank you for calling Acme. Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "ivr support busy", flow: "ivr", steps: []step{
		{name: "answer", wait: "menu", contains: []string{"Welcome to Acme, caller."}},
		{name: "press 2", do: press("2"), wait: "support", path: []string{"route", "support"}, contains: []string{`<User>sip:support@phone.plivo.com</User>`, `timeout="25"`}},
		{name: "dial busy", do: dial("busy"), path: []string{"sorry", "goodbye", "hangup"}, contains: []string{"Sorry, we could not connect you.", "<Hangup/>"}},
	}},
	{name: "ivr support completed", flow: "ivr", steps: []step{
		{name: "answer", wait: "menu"},
		{name: "press 2", do: press("2"), wait: "support"},
		{name: "dial completed", do: dial("completed"), path: []string{"goodbye", "hangup"}},
	}},
	{name: "ivr sales no-answer", flow: "ivr", steps: []step{
		{name: "answer", wait: "menu"},
		{name: "press 1", do: press("1"), wait: "sales"},
		{name: "dial no-answer", do: dial("no-answer"), path: []string{"sorry", "goodbye", "hangup"}},
	}},
	{name: "ivr retry limit", flow: "ivr", steps: []step{
		{name: "answer", wait: "menu", vars: map[string]any{"attempts": 0}},
		{name: "press 9 (menu again)", do: press("9"), wait: "menu", path: []string{"route", "menu"}, vars: map[string]any{"attempts": 0}},
		{name: "no input", do: noInput, wait: "menu", path: []string{"retry", "too_many", "invalid", "menu"}, vars: map[string]any{"attempts": 1},
			contains: []string{"<Speak>Sorry, I did not get that.</Speak><GetDigits"}},
		{name: "invalid key", do: digits("5"), wait: "menu", path: []string{"route", "retry", "too_many", "invalid", "menu"}, vars: map[string]any{"attempts": 2}},
		{name: "no input again", do: noInput, path: []string{"retry", "too_many", "goodbye", "hangup"}, vars: map[string]any{"attempts": 3},
			xml: `<Response><Speak>Thank you for calling Acme. Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "ivr on_error", flow: "ivr", env: "params", steps: []step{
		{name: "answer", wait: "menu"},
		{name: "no input: int(params.max_attempts) fails", do: noInput, path: []string{"retry", "too_many", "sorry", "goodbye", "hangup"}, err: true,
			contains: []string{"Sorry, we could not connect you.", "<Hangup/>"}},
	}},

	// ---- conference-bridge ----
	{name: "conference host", flow: "conference-bridge", steps: []step{
		{name: "answer", wait: "check_pin/ask", path: []string{"check_pin", "check_pin/ask"}, contains: []string{`numDigits="4"`, `log="false"`, `retries="2"`, `finishOnKey="#"`, "enter your four digit PIN"}},
		{name: "host PIN", do: press("7351"), wait: "host_joins", path: []string{"check_pin/check", "check_pin/admin", "host_joins"}, absent: []string{"7351", "2468"}, contains: []string{
			`<Conference `, `startConferenceOnEnter="true"`, `endConferenceOnExit="true"`, `record="true"`, `callbackUrl="https://crm.example.com/conference/events"`, `>acme-weekly</Conference>`}},
		{name: "host leaves", do: exit, path: []string{"host_left", "hangup"}, contains: []string{"You have ended the conference for everyone.", "<Hangup/>"}},
	}},
	{name: "conference guest", flow: "conference-bridge", steps: []step{
		{name: "answer", wait: "check_pin/ask"},
		{name: "guest PIN", do: press("2468"), wait: "guest_joins", path: []string{"check_pin/check", "check_pin/member", "guest_joins"}, contains: []string{
			`startConferenceOnEnter="false"`, `waitSound="https://media.example.com/acme/conference-wait.xml"`, `hangupOnStar="true"`}},
		{name: "guest leaves", do: exit, path: []string{"guest_left", "hangup"}, contains: []string{"You have left the conference."}},
	}},
	{name: "conference lockout", flow: "conference-bridge", steps: []step{
		{name: "answer", wait: "check_pin/ask"},
		{name: "wrong PIN", do: press("1111"), wait: "check_pin/ask", path: []string{"check_pin/check", "check_pin/wrong", "check_pin/too_many", "check_pin/try_again", "check_pin/ask"},
			contains: []string{"That PIN is not valid. You have 2 tries left."}},
		{name: "no input", do: noInput, wait: "check_pin/ask", path: []string{"check_pin/wrong", "check_pin/too_many", "check_pin/try_again", "check_pin/ask"},
			contains: []string{"You have 1 tries left."}},
		{name: "wrong again", do: press("0000"), path: []string{"check_pin/check", "check_pin/wrong", "check_pin/too_many", "check_pin/failed", "locked_out", "hangup"},
			xml: `<Response><Speak>Sorry, that PIN is not valid. Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "conference on_error", flow: "conference-bridge", env: "params", steps: []step{
		{name: "answer", wait: "check_pin/ask"},
		{name: "guest PIN: waitSound refused", do: press("2468"), path: []string{"check_pin/check", "check_pin/member", "guest_joins", "trouble", "hangup"}, err: true,
			contains: []string{"the conference bridge is not available right now"}},
	}},

	// ---- team-voicemail (and the pin-check subflow) ----
	{name: "voicemail listen", flow: "team-voicemail", steps: []step{
		{name: "answer", wait: "check_pin/ask", path: []string{"hello", "check_pin", "check_pin/ask"}, contains: []string{"Enter your staff PIN"}},
		{name: "PIN", do: press("7351"), wait: "menu", path: []string{"check_pin/check", "check_pin/admin", "latest", "menu"}, absent: []string{"7351"}},
		{name: "again", do: press("1"), wait: "menu", path: []string{"latest", "menu"}},
		{name: "done", do: noInput, path: []string{"goodbye", "hangup"}},
	}},
	{name: "voicemail two wrong PINs", flow: "team-voicemail", steps: []step{
		{name: "answer", wait: "check_pin/ask"},
		{name: "wrong", do: press("1111"), wait: "check_pin/ask", contains: []string{"You have 1 tries left."}},
		{name: "wrong again", do: press("2222"), path: []string{"check_pin/check", "check_pin/wrong", "check_pin/too_many", "check_pin/failed", "goodbye", "hangup"}},
	}},

	// ---- business-hours ----
	{name: "business open completed", flow: "business-hours", steps: []step{
		{name: "answer", wait: "ring_agent", path: []string{"check_hours", "connecting", "ring_agent"}, contains: []string{
			"Connecting you to the front desk.", `<Dial action=`, `timeout="25"`, `timeLimit="3600"`, `dialMusic="real"`, `callerId="+14155550100"`,
			`<Number>+14155550123</Number><User>sip:frontdesk@phone.plivo.com</User></Dial>`}},
		{name: "dial completed", do: dial("completed"), path: []string{"goodbye", "hangup"}},
	}},
	{name: "business open busy", flow: "business-hours", steps: []step{
		{name: "answer", wait: "ring_agent"},
		{name: "dial busy", do: dial("busy"), wait: "voicemail", path: []string{"agent_busy", "voicemail_prompt", "voicemail"}, vars: map[string]any{"reason": "the front desk was busy"},
			contains: []string{"Please leave a message after the beep.", `<Record action=`, `maxLength="120"`, `transcriptionType="auto"`}},
		{name: "voicemail recorded", do: recorded, path: []string{"confirm_sms", "thanks", "hangup"}, contains: []string{
			`<Message src="+14155550199" dst="+14155550100" type="sms"`, "we got your voicemail (the front desk was busy)", "Goodbye.</Speak><Hangup/>"}},
	}},
	{name: "business open timeout", flow: "business-hours", steps: []step{
		{name: "answer", wait: "ring_agent"},
		{name: "dial timeout", do: dial("timeout"), wait: "voicemail", path: []string{"agent_away", "voicemail_prompt", "voicemail"}, vars: map[string]any{"reason": "nobody could take your call"}},
	}},
	{name: "business open unknown DialStatus", flow: "business-hours", steps: []step{
		{name: "answer", wait: "ring_agent"},
		{name: "a DialStatus no on: names", do: func(c *plivosim.Call) error { return c.Callback(map[string]string{"DialStatus": "cancel"}) },
			path: []string{"goodbye", "hangup"}},
	}},
	{name: "business closed", flow: "business-hours", clock: clockClosed, steps: []step{
		{name: "answer", wait: "voicemail", path: []string{"check_hours", "closed", "closed_reason", "voicemail_prompt", "voicemail"}, vars: map[string]any{"reason": "we were closed"},
			contains: []string{"We are closed right now.", "<Record "}},
		{name: "voicemail recorded", do: recorded, path: []string{"confirm_sms", "thanks", "hangup"}, contains: []string{"(we were closed)"}},
	}},
	{name: "business on_error", flow: "business-hours", clock: clockClosed, call: map[string]string{"From": "anonymous"}, steps: []step{
		{name: "answer", wait: "voicemail"},
		{name: "recorded: Message dst anonymous fails", do: recorded, path: []string{"confirm_sms", "fail_safe", "hangup"}, err: true,
			xml: `<Response><Speak>Sorry, we are having trouble right now. Please call again later.</Speak><Hangup/></Response>`},
	}},

	// ---- preanswer-stream ----
	{name: "preanswer one document", flow: "preanswer-stream", steps: []step{
		{name: "answer", path: []string{"early_media", "bot", "send_extension", "settle", "hand_off"}, contains: []string{
			`<PreAnswer><Speak>Please note: this call may be recorded`, `<Wait length="1"/><Play>https://media.example.com/acme/chime.mp3</Play></PreAnswer>`,
			`<Stream bidirectional="true" audioTrack="inbound"`, `keepCallAlive="true"`, `>wss://bot.example.com/v1/calls</Stream>`,
			`<DTMF async="false">ww2040#</DTMF>`, `<Wait length="2"/>`, `<Redirect method="POST">https://apps.example.com/plivo/after-bot.xml</Redirect>`}},
	}},
	{name: "preanswer apology", flow: "preanswer-stream", env: "params", steps: []step{
		{name: "answer: Stream URL refused, no on_error", err: true,
			xml: `<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`},
	}},

	// ---- support-queue ----
	{name: "queue technical rated", flow: "support-queue", steps: []step{
		{name: "answer", wait: "choose_queue", path: []string{"welcome", "choose_queue"}, contains: []string{`<Play>https://media.example.com/acme/welcome.mp3</Play><GetDigits`, `validDigits="12"`}},
		{name: "press 2", do: press("2"), wait: "join_queue", path: []string{"pick_queue", "announce", "join_queue"}, vars: map[string]any{"queue": "2"}, contains: []string{
			"you are in the technical support queue", `<MultiPartyCall role="customer" maxDuration="3600" maxParticipants="4"`, `startMpcOnEnter="false"`,
			`waitMusicUrl="https://media.example.com/acme/wait-music.xml"`, `onExitActionUrl=`, `>acme-support-2</MultiPartyCall>`}},
		{name: "customer leaves", do: exit, wait: "rate_call", path: []string{"rate_call"}, contains: []string{"please rate this call from 1 to 5"}},
		{name: "rates 4", do: press("4"), path: []string{"save_rating", "thanks", "goodbye", "hangup"}, vars: map[string]any{"rating": 4},
			contains: []string{"Thank you for rating us 4 out of 5.", "<Hangup/>"}},
	}},
	{name: "queue default billing unrated", flow: "support-queue", steps: []step{
		{name: "answer", wait: "choose_queue"},
		{name: "no input", do: noInput, wait: "join_queue", path: []string{"default_queue", "announce", "join_queue"}, vars: map[string]any{"queue": "1"},
			contains: []string{"billing queue", ">acme-support-1</MultiPartyCall>"}},
		{name: "leaves", do: exit, wait: "rate_call"},
		{name: "no rating", do: noInput, path: []string{"goodbye", "hangup"}, vars: map[string]any{"rating": 0}},
	}},
	{name: "queue on_error in a callback", flow: "support-queue", steps: []step{
		{name: "answer", wait: "choose_queue"},
		{name: "press 1", do: press("1"), wait: "join_queue"},
		{name: "leaves", do: exit, wait: "rate_call"},
		{name: "empty digits: int() fails", do: digits(""), path: []string{"save_rating", "sorry", "hangup"}, err: true,
			contains: []string{"Sorry, we cannot take your call right now."}},
	}},
	{name: "queue on_error maxDuration out of range", flow: "support-queue", env: "params", steps: []step{
		{name: "answer", wait: "choose_queue"},
		{name: "press 1: maxDuration 10", do: press("1"), path: []string{"pick_queue", "announce", "join_queue", "sorry", "hangup"}, err: true,
			absent: []string{"MultiPartyCall"}},
	}},

	// ---- support-agent ----
	{name: "agent keypad two calls", flow: "support-agent", steps: []step{
		{name: "answer", wait: "ask_queue", path: []string{"which_queue", "ask_queue"}, contains: []string{"Agent line. Enter your queue number"}},
		{name: "queue 2", do: press("2"), wait: "join", path: []string{"queue_from_keypad", "join"}, vars: map[string]any{"queue": "2"}, contains: []string{
			`<MultiPartyCall role="agent"`, `endMpcOnExit="true"`, `agentHoldMusicUrl="https://media.example.com/acme/agent-hold.xml"`, `>acme-support-2</MultiPartyCall>`}},
		{name: "call ends", do: exit, wait: "next_caller", path: []string{"wrap_up", "next_caller"}, vars: map[string]any{"calls_taken": 1},
			contains: []string{"That was call 1 in queue 2."}},
		{name: "next caller", do: press("1"), wait: "join", path: []string{"join"}},
		{name: "call ends", do: exit, wait: "next_caller", vars: map[string]any{"calls_taken": 2}, contains: []string{"That was call 2 in queue 2."}},
		{name: "done", do: noInput, path: []string{"goodbye", "hangup"}},
	}},
	{name: "agent gives up", flow: "support-agent", steps: []step{
		{name: "answer", wait: "ask_queue"},
		{name: "no input", do: noInput, wait: "ask_queue", path: []string{"no_entry", "give_up", "ask_queue"}, vars: map[string]any{"bad_entries": 1}},
		{name: "no input again", do: noInput, path: []string{"no_entry", "give_up", "goodbye", "hangup"}, vars: map[string]any{"bad_entries": 2}},
	}},
	{name: "agent fixed queue", flow: "support-agent", env: "params", steps: []step{
		{name: "answer", wait: "join", path: []string{"which_queue", "queue_from_param", "join"}, vars: map[string]any{"queue": "2"}, contains: []string{">acme-support-2</MultiPartyCall>"}},
		{name: "call ends", do: exit, wait: "next_caller"},
	}},
	{name: "agent on_error", flow: "support-agent", vars: map[string]any{"calls_taken": "many"}, steps: []step{
		{name: "answer", wait: "ask_queue", vars: map[string]any{"calls_taken": "many"}},
		{name: "queue 1", do: press("1"), wait: "join"},
		{name: "call ends: calls_taken + 1 fails", do: exit, path: []string{"wrap_up", "sorry", "goodbye", "hangup"}, err: true,
			contains: []string{"Sorry, the agent line has a problem."}},
	}},

	// ---- support-supervisor ----
	{name: "supervisor coaches", flow: "support-supervisor", steps: []step{
		{name: "answer", wait: "ask_queue", path: []string{"ask_queue"}},
		{name: "queue 2", do: press("2"), wait: "ask_mode", path: []string{"ask_mode"}, contains: []string{"Press 1 to listen only, or 2 to coach the agent."}},
		{name: "coach", do: press("2"), wait: "join", path: []string{"pick_mode", "join"}, vars: map[string]any{"muted": false}, contains: []string{
			`<MultiPartyCall role="supervisor"`, `coachMode="true"`, `mute="false"`, `stayAlone="false"`, `>acme-support-2</MultiPartyCall>`}},
		{name: "leaves", do: exit, path: []string{"left", "goodbye", "hangup"}, contains: []string{"You have left queue 2."}},
	}},
	{name: "supervisor listens", flow: "support-supervisor", steps: []step{
		{name: "answer", wait: "ask_queue"},
		{name: "queue 1", do: press("1"), wait: "ask_mode"},
		{name: "no choice", do: noInput, wait: "join", path: []string{"join"}, contains: []string{`mute="true"`, ">acme-support-1</MultiPartyCall>"}},
	}},
	{name: "supervisor picks listen", flow: "support-supervisor", steps: []step{
		{name: "answer", wait: "ask_queue"},
		{name: "queue 1", do: press("1"), wait: "ask_mode"},
		{name: "listen", do: press("1"), wait: "join", path: []string{"pick_mode", "join"}, contains: []string{`mute="true"`}},
	}},
	{name: "supervisor no queue", flow: "support-supervisor", steps: []step{
		{name: "answer", wait: "ask_queue"},
		{name: "no input", do: noInput, path: []string{"goodbye", "hangup"}},
	}},
	{name: "supervisor on_error", flow: "support-supervisor", vars: map[string]any{"muted": "maybe"}, steps: []step{
		{name: "answer", wait: "ask_queue"},
		{name: "queue 1", do: press("1"), wait: "ask_mode"},
		{name: "no choice: mute=maybe refused", do: noInput, path: []string{"join", "goodbye", "hangup"}, err: true, absent: []string{"MultiPartyCall"}},
	}},

	// ---- survey ----
	{name: "survey by voice", flow: "survey", steps: []step{
		{name: "answer", wait: "q1", path: []string{"intro", "q1"}, contains: []string{`<GetInput action=`, `inputType="speech"`, `hints="yes,no,yeah,nope"`, `profanityFilter="true"`}},
		{name: "says yes", do: say("Yes, it was fine"), wait: "q2", path: []string{"q1_answer", "q1_yes", "q2"}, vars: map[string]any{"answered": 1, "score": 1},
			contains: []string{`inputType="dtmf speech"`}},
		{name: "says four", do: say("Four."), path: []string{"q2_answer", "q2_check", "q2_counted", "closing", "hangup"}, vars: map[string]any{"answered": 2, "score": 5, "rating": 4},
			contains: []string{"You answered 2 of 2 questions."}},
	}},
	{name: "survey by keypad", flow: "survey", steps: []step{
		{name: "answer", wait: "q1"},
		{name: "silence", do: noInput, wait: "q1_keypad", path: []string{"q1_keypad"}, contains: []string{`inputType="dtmf"`, "Press 1 for yes, or 2 for no."}},
		{name: "press 2 (no)", do: press("2"), wait: "q2", path: []string{"q1_answer", "q1_no", "q2"}, vars: map[string]any{"answered": 1, "score": 0}},
		{name: "press 3", do: press("3"), path: []string{"q2_answer", "q2_check", "q2_counted", "closing", "hangup"}, vars: map[string]any{"answered": 2, "score": 3, "rating": 3}},
	}},
	{name: "survey unclear", flow: "survey", steps: []step{
		{name: "answer", wait: "q1"},
		{name: "mumbles", do: say("hmm"), wait: "q2", path: []string{"q1_answer", "q1_unclear", "q2"}, vars: map[string]any{"unclear": 1}},
		{name: "says banana", do: say("banana"), path: []string{"q2_answer", "q2_check", "q2_unclear", "closing", "hangup"}, vars: map[string]any{"unclear": 2, "answered": 0},
			contains: []string{"You answered 0 of 2 questions."}},
	}},
	{name: "survey silent", flow: "survey", steps: []step{
		{name: "answer", wait: "q1"},
		{name: "silence", do: noInput, wait: "q1_keypad"},
		{name: "silence again", do: noInput, wait: "q2", path: []string{"q2"}},
		{name: "silence at q2", do: noInput, path: []string{"closing", "hangup"}, vars: map[string]any{"answered": 0}},
	}},
	// ---- contact-center (REST actions against a fake Plivo API) ----
	{name: "cc agents rung, recorded, rated", flow: "contact-center", steps: []step{
		{name: "answer", wait: "queue", path: []string{"greet", "open", "ring_agents", "record", "queue"}, contains: []string{
			"Connecting you to the next available agent.", `<MultiPartyCall role="customer"`, `startMpcOnEnter="false"`, `endMpcOnExit="true"`}},
		{name: "customer leaves", do: exit, wait: "survey", path: []string{"stop_record", "survey"}, contains: []string{"Please rate your call from 1 to 5."}},
		{name: "rates 4", do: press("4"), path: []string{"thanks", "goodbye", "hangup"}, contains: []string{"You rated us 4. Thank you."}},
	}},
	{name: "cc no rating", flow: "contact-center", steps: []step{
		{name: "answer", wait: "queue"},
		{name: "customer leaves", do: exit, wait: "survey"},
		{name: "no rating", do: noInput, path: []string{"goodbye", "hangup"}},
	}},
	{name: "cc closed: voicemail", flow: "contact-center", clock: clockClosed, steps: []step{
		{name: "answer", wait: "voicemail", path: []string{"greet", "open", "voicemail"}, contains: []string{`<Record action=`, `maxLength="120"`}},
		{name: "recorded", do: recorded, path: []string{"goodbye", "hangup"}},
	}},
	{name: "cc Plivo refuses to ring the agents", flow: "contact-center",
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "POST", Path: "/Participant/", Status: 400, Body: `{"api_id":"x","error":"destination not allowed"}`})
			return nil
		}, steps: []step{
			{name: "answer", wait: "voicemail", path: []string{"greet", "open", "ring_agents", "voicemail"}},
		}},
	{name: "cc Plivo refuses to record", flow: "contact-center",
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "POST", Path: "/Record/", Status: 400})
			return nil
		}, steps: []step{
			{name: "answer", wait: "queue", path: []string{"greet", "open", "ring_agents", "record", "queue"}},
		}},
	{name: "cc Plivo refuses to stop recording", flow: "contact-center",
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "DELETE", Path: "/Record/", Status: 404})
			return nil
		}, steps: []step{
			{name: "answer", wait: "queue"},
			{name: "customer leaves", do: exit, wait: "survey", path: []string{"stop_record", "survey"}},
		}},
	{name: "cc on_error", flow: "contact-center", env: "params", steps: []step{
		{name: "answer: wait_music_url and maxLength refused", path: []string{"greet", "open", "ring_agents", "voicemail", "sorry", "goodbye", "hangup"}, err: true,
			xml: `<Response><Speak>Sorry, something went wrong.</Speak><Speak>Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "callback connects the agent", flow: "contact-center-callback", vars: map[string]any{"ticket": 4521, "agent": "sip:alice@phone.plivo.com"}, steps: []step{
		{name: "answer", wait: "consent", path: []string{"consent"}, contains: []string{"calling back about ticket 4521."}},
		{name: "press 1", do: press("1"), wait: "room", path: []string{"decide", "dial_agent", "room"}, contains: []string{`<MultiPartyCall role="customer"`, `>cb-4521</MultiPartyCall>`}},
		{name: "leaves", do: exit, path: []string{"goodbye", "hangup"}},
	}},
	{name: "callback later", flow: "contact-center-callback", vars: map[string]any{"ticket": 4522, "agent": "sip:bob@phone.plivo.com"}, steps: []step{
		{name: "answer", wait: "consent"},
		{name: "press 2", do: press("2"), path: []string{"decide", "later", "goodbye", "hangup"}, contains: []string{"We will call you back another time."}},
	}},
	{name: "callback dial refused", flow: "contact-center-callback", vars: map[string]any{"ticket": 4523, "agent": "sip:carol@phone.plivo.com"},
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "POST", Path: "/name_cb-4523/Participant/", Status: 400})
			return nil
		}, steps: []step{
			{name: "answer", wait: "consent"},
			{name: "press 1", do: press("1"), path: []string{"decide", "dial_agent", "later", "goodbye", "hangup"}},
		}},
	{name: "callback on_error", flow: "contact-center-callback", vars: map[string]any{"ticket": strings.Repeat("9", 110<<10)}, steps: []step{
		{name: "answer: a 110 KB ticket makes the document too large", path: []string{"consent", "goodbye", "hangup"}, err: true,
			xml: `<Response><Speak>Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "supervisor controls a live room", flow: "contact-center-supervisor",
		before: func(t *testing.T, e *env) map[string]string {
			// A customer's call from +14155550123 opens room cc-14155550123.
			c := e.call(t, "contact-center", map[string]string{"From": "+14155550123"}, nil)
			if c.Wait().Kind != "MultiPartyCall" {
				t.Fatalf("the customer's call: %s", c.XML())
			}
			return nil
		}, steps: []step{
			{name: "answer", wait: "ask_room", path: []string{"ask_room"}, contains: []string{`numDigits="15"`}},
			{name: "room number", do: press("14155550123"), wait: "join", path: []string{"join"}, contains: []string{`<MultiPartyCall role="supervisor"`, `coachMode="true"`, `>cc-14155550123</MultiPartyCall>`}},
			{name: "leaves", do: exit, wait: "control", path: []string{"control"}},
			{name: "hold", do: press("5"), wait: "control", path: []string{"choose", "hold", "done", "control"}, contains: []string{"<Speak>Done.</Speak>"}},
			{name: "resume", do: press("6"), wait: "control", path: []string{"choose", "resume", "done", "control"}},
			{name: "rejoin", do: press("1"), wait: "join", path: []string{"choose", "join"}},
			{name: "leaves", do: exit, wait: "control"},
			{name: "end the room", do: press("9"), path: []string{"choose", "end_room", "goodbye", "hangup"}},
		}},
	{name: "supervisor on a room that is gone", flow: "contact-center-supervisor", steps: []step{
		{name: "answer", wait: "ask_room"},
		{name: "room number", do: press("404"), wait: "join"},
		{name: "leaves", do: exit, wait: "control"},
		{name: "hold", do: press("5"), wait: "control", path: []string{"choose", "hold", "failed", "control"}, contains: []string{"The room may have ended."}},
		{name: "end", do: press("9"), wait: "control", path: []string{"choose", "end_room", "failed", "control"}},
		{name: "a key validDigits leaves out, posted as given", do: digits("7"), wait: "control", path: []string{"choose", "control"}},
	}},
	{name: "supervisor on_error", flow: "contact-center-supervisor", env: "params", steps: []step{
		{name: "answer", wait: "ask_room"},
		{name: "100 KB of keys: the document is too large", do: digits(strings.Repeat("7", 110<<10)), path: []string{"join", "goodbye", "hangup"}, err: true},
	}},

	{name: "survey apology", flow: "survey", vars: map[string]any{"answered": "lots"}, steps: []step{
		{name: "answer", wait: "q1"},
		{name: "says no: answered + 1 fails, no on_error", do: say("no"), path: []string{"q1_answer", "q1_no"}, err: true,
			xml: `<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`},
	}},
	// ---- crm-routing: an http look-up in the fake CRM (env.crm, by the
	// caller's number), REST actions against the fake Plivo API ----
	{name: "crm VIP: manager, then agents", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMVIP}, steps: []step{
		{name: "answer", wait: "vip_queue", path: []string{"lookup", "route", "ring_manager", "ring_backup", "vip_welcome", "vip_queue"},
			requests: []string{crmLookup(200, "")}, edges: []string{"lookup next", "route case 1", "ring_manager next", "ring_backup next"}, contains: []string{
				"<Speak>Welcome back, Ada. Connecting you to your account manager.</Speak>", `<MultiPartyCall role="customer"`,
				`startMpcOnEnter="false"`, `endMpcOnExit="true"`, `>vip-`}},
		{name: "customer leaves", do: exit, path: []string{"goodbye", "hangup"}, requests: []string{},
			xml: `<Response><Speak>Goodbye.</Speak><Hangup/></Response>`},
	}, after: func(t *testing.T, e *env, c *plivosim.Call) {
		wantAdded(t, e, c, "sip:carol@phone.plivo.com at vip-", "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com at vip- after 20")
	}},
	{name: "crm VIP without a manager", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMVIPAlone}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "route", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(200, "")},
			contains: []string{"<Speak>Thank you for calling Acme. Connecting you to the next available agent.</Speak>", `<MultiPartyCall role="customer"`, `>cc-`},
			absent:   []string{"Welcome back"}},
	}},
	{name: "crm customer: the normal queue", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMCustomer}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "route", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(200, "")},
			edges: []string{"route next", "ring_agents next"}},
		{name: "customer leaves", do: exit, path: []string{"goodbye", "hangup"}, requests: []string{}},
	}, after: func(t *testing.T, e *env, c *plivosim.Call) {
		wantAdded(t, e, c, "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com at cc-")
	}},
	{name: "crm answers 503", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMDown}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(503, "status 503")},
			edges: []string{"lookup error"}},
		{name: "customer leaves", do: exit, path: []string{"goodbye", "hangup"}},
	}},
	{name: "crm times out", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMSlow}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(0, "timeout")}},
	}, after: func(t *testing.T, e *env, c *plivosim.Call) {
		// The fake fails at once: the test never waits for the 2 s.
		if r := e.session(t, c.UUID).Trace[0].Requests; len(r) != 1 || r[0].Ms > 1000 {
			t.Errorf("the timed-out look-up: %+v", r)
		}
	}},
	{name: "crm refuses the connection", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMRefused}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(0, "connection refused")}},
	}},
	{name: "crm does not know the caller", flow: "crm-routing", call: map[string]string{"From": "+14155550404"}, steps: []step{
		{name: "answer", wait: "queue", path: []string{"lookup", "ring_agents", "welcome", "queue"}, requests: []string{crmLookup(404, "status 404")}},
	}},
	{name: "crm answers a JSON string: on_error", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMOdd}, steps: []step{
		{name: "answer: nodes.lookup.body?.vip fails", path: []string{"lookup", "route", "sorry", "goodbye", "hangup"}, err: true,
			requests: []string{crmLookup(200, "")},
			xml:      `<Response><Speak>Sorry, something went wrong.</Speak><Speak>Goodbye.</Speak><Hangup/></Response>`},
	}},
	{name: "crm Plivo refuses to ring the manager", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMVIP},
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "POST", Path: "/Participant/", Status: 400, Body: `{"api_id":"x","error":"destination not allowed"}`})
			return nil
		}, steps: []step{
			{name: "answer", wait: "queue", path: []string{"lookup", "route", "ring_manager", "ring_agents", "welcome", "queue"},
				edges: []string{"ring_manager error"}, absent: []string{"Welcome back", ">vip-"}},
			{name: "customer leaves", do: exit, path: []string{"goodbye", "hangup"}},
		}, after: func(t *testing.T, e *env, c *plivosim.Call) {
			wantAdded(t, e, c, "sip:alice@phone.plivo.com<sip:bob@phone.plivo.com at cc-")
		}},
	{name: "crm Plivo refuses to ring the backup agents", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMVIP},
		before: func(t *testing.T, e *env) map[string]string {
			// Both Add Participants go to the same room: refuse the one
			// with delay_dial, the backup. Refused or not, the call goes on
			// to vip_welcome (ring_backup has no on: error).
			refuse := func(r plivotest.Request) *plivotest.Reply {
				if _, ok := r.Body["delay_dial"]; ok && strings.HasSuffix(r.Path, "/Participant/") {
					return &plivotest.Reply{Status: 400, Body: map[string]any{"api_id": "x", "error": "destination not allowed"}}
				}
				return nil
			}
			e.refuse.Store(&refuse)
			t.Cleanup(func() { e.refuse.Store(nil) })
			return nil
		}, steps: []step{
			{name: "answer", wait: "vip_queue", path: []string{"lookup", "route", "ring_manager", "ring_backup", "vip_welcome", "vip_queue"},
				edges: []string{"ring_manager next", "ring_backup next"}, contains: []string{"Welcome back, Ada."}},
			{name: "customer leaves", do: exit, path: []string{"goodbye", "hangup"}},
		}, after: func(t *testing.T, e *env, c *plivosim.Call) {
			if res := e.session(t, c.UUID).Nodes["ring_backup"]; res["outcome"] != "error" || !strings.Contains(res["error"], "400") {
				t.Errorf("nodes.ring_backup = %v, want the error outcome of Plivo's 400", res)
			}
			wantAdded(t, e, c, "sip:carol@phone.plivo.com at vip-")
		}},
	{name: "crm Plivo refuses to ring the agents: voicemail", flow: "crm-routing", call: map[string]string{"From": scenarios.CRMCustomer},
		before: func(t *testing.T, e *env) map[string]string {
			e.fake.Inject(plivotest.Fault{Method: "POST", Path: "/Participant/", Status: 400})
			return nil
		}, steps: []step{
			{name: "answer", wait: "voicemail", path: []string{"lookup", "route", "ring_agents", "voicemail"}, edges: []string{"ring_agents error"},
				contains: []string{`<Record action=`, `maxLength="120"`, `playBeep="true"`}, absent: []string{"MultiPartyCall"}},
			{name: "recorded", do: recorded, path: []string{"goodbye", "hangup"}, requests: []string{}},
		}},
}

// wantAdded checks the Add Participant requests the fake Plivo API
// accepted for a call's rooms (vip-<uuid>, cc-<uuid>): "to at room-"
// with " after N" for a delay_dial.
func wantAdded(t *testing.T, e *env, c *plivosim.Call, want ...string) {
	t.Helper()
	var got []string
	for _, a := range e.fake.Added() {
		room, ok := strings.CutSuffix(a.MPCName, c.UUID)
		if !ok {
			continue
		}
		s := a.To + " at " + room
		if d, ok := a.Params["delay_dial"]; ok {
			s += fmt.Sprintf(" after %v", d)
		}
		got = append(got, s)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Add Participant accepted for call %s: %q, want %q", c.UUID, got, want)
	}
}

// TestE2EExamples drives every example flow through every edge of its
// graph: scripted calls check the XML of each step, and an explorer sends
// every event each waiting node can receive, in every state it reaches,
// until no new state appears. Every edge (each on: outcome, branch case,
// next, no_input path and on_error) must have been taken.
func TestE2EExamples(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		st := open(t)
		// Over fastserve, as flowd serve by default: every webhook of the
		// scripts and the exploration is served in one of a few contexts
		// reused request after request.
		e := startEnv(t, envConfig{store: st, rest: true, fast: true})
		// A second flowd on the same store, over net/http, with params
		// that make flows fail, and a body limit that lets a caller type
		// 100 KB of keys.
		ep := startEnv(t, envConfig{store: st, params: oddParams, rest: true, maxBody: 512 << 10})
		cv := newCoverage(e.reg)
		if len(e.reg.Names()) == 0 {
			t.Fatal("no example flows loaded")
		}
		scripted := map[string]bool{}
		for i := range scripts {
			sc := &scripts[i]
			scripted[sc.flow] = true
			t.Run("script/"+sc.name, func(t *testing.T) {
				if e.reg.Current(sc.flow) == nil {
					t.Skipf("no flow %s in the examples", sc.flow)
				}
				target := e
				if sc.env == "params" {
					target = ep
				}
				sc.run(t, target, cv)
			})
		}
		names := e.reg.Names()
		sort.Strings(names)
		var timed []string // flows that read the clock: explored at two times, alone
		t.Run("explore", func(t *testing.T) {
			var served []*flow.Graph
			for _, name := range names {
				served = append(served, e.reg.Current(name))
			}
			subflows := flow.SubflowNames(served...)
			for _, name := range names {
				if subflows[name] {
					continue // walked by the flows that run it
				}
				if !scripted[name] {
					t.Errorf("example flow %s has no scripted calls", name)
				}
				src := e.reg.Current(name).Source
				if bytes.Contains(src, []byte("hours(")) || bytes.Contains(src, []byte("now()")) {
					timed = append(timed, name)
					continue
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					explore(t, e, name, cv)
				})
			}
		})
		for _, name := range timed {
			t.Run("explore/"+name, func(t *testing.T) {
				for _, clock := range []time.Time{clockOpen, clockClosed} {
					e.setClock(clock)
					explore(t, e, name, cv)
				}
				e.setClock(clockOpen)
			})
		}
		cv.check(t)
		checkMetrics(t, e)
	})
}

// checkMetrics checks /metrics after the example calls.
func checkMetrics(t *testing.T, e *env) {
	// The registry was loaded before the server existed (as flowd serve
	// does); a reload afterwards is what flowd_reloads_total counts.
	e.reg.Reload()
	m := e.metrics(t)
	for _, name := range []string{
		"flowd_webhooks_total", "flowd_webhook_duration_seconds", "flowd_sessions_live", "flowd_errors_total", "flowd_reloads_total",
	} {
		if !strings.Contains(m, "\n# TYPE "+name+" ") {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, series := range []string{
		`flowd_webhooks_total{flow="ivr",outcome="waiting",webhook="answer"}`,
		`flowd_webhooks_total{flow="ivr",outcome="ended",webhook="callback"}`,
		`flowd_webhooks_total{flow="business-hours",outcome="error",webhook="callback"}`,
		`flowd_webhooks_total{flow="ivr",outcome="ok",webhook="hangup"}`,
		`flowd_webhook_duration_seconds_count{webhook="answer"}`,
		`flowd_webhook_duration_seconds_count{webhook="callback"}`,
		`flowd_errors_total{flow="business-hours",kind="runtime"}`,
		`flowd_reloads_total{result="ok"}`,
	} {
		if v := metricValue(m, series); v <= 0 {
			t.Errorf("/metrics: %s = %v, want > 0", series, v)
		}
	}
	if v := metricValue(m, "flowd_sessions_live"); v < 0 {
		t.Errorf("flowd_sessions_live = %v", v)
	}
}

// ---- the explorer ----

// event is one thing Plivo can report at a waiting node.
type event struct {
	name string
	send func(c *plivosim.Call) error
}

// events lists what can happen where the call waits: keys (valid ones,
// one invalid one, and PIN-like params), speech (the hints, and words no
// branch expects), no input, every DialStatus and one Plivo does not
// document, a recording, leaving a room.
func events(c *plivosim.Call, params map[string]string) []event {
	w := c.Wait()
	var out []event
	add := func(name string, f func(c *plivosim.Call) error) { out = append(out, event{name, f}) }
	switch w.Kind {
	case "GetDigits", "GetInput":
		el := w.Element
		dtmf := w.Kind == "GetDigits" || el.Attr("inputType") == "" || strings.Contains(el.Attr("inputType"), "dtmf")
		speech := w.Kind == "GetInput" && (el.Attr("inputType") == "" || strings.Contains(el.Attr("inputType"), "speech"))
		if dtmf {
			seen := map[string]bool{}
			keys := el.Attr("validDigits")
			if keys == "" {
				keys = "123"
			}
			for _, k := range keys {
				seen[string(k)] = true
			}
			for _, k := range "0123456789*#" {
				if !strings.ContainsRune(keys, k) {
					seen[string(k)] = true // one key outside validDigits
					break
				}
			}
			for _, v := range params { // a PIN among the params
				if v != "" && strings.Trim(v, "0123456789") == "" {
					seen[v] = true
				}
			}
			var ds []string
			for d := range seen {
				ds = append(ds, d)
			}
			sort.Strings(ds)
			for _, d := range ds {
				add("press "+d, press(d))
			}
		}
		if speech {
			words := []string{"something else"}
			for _, h := range strings.Split(el.Attr("hints"), ",") {
				if h = strings.TrimSpace(h); h != "" {
					words = append(words, h)
				}
			}
			for _, s := range words {
				add("say "+s, say(s))
			}
		}
		add("no input", noInput)
	case "Dial":
		for _, st := range flow.DialStatuses {
			add("dial "+st, dial(st))
		}
		add("dial (undocumented status)", func(c *plivosim.Call) error { return c.Callback(map[string]string{"DialStatus": "cancel"}) })
	case "Record":
		add("recorded", recorded)
	case "Conference", "MultiPartyCall":
		add("exit", exit)
	}
	return out
}

// explore reaches every state (waiting node and vars) of a flow up to a
// depth, sending every event at each, and checks every webhook. To try
// each event in a state it forks the call there: a copy of the session
// under a new CallUUID, resumed by the simulator at the same document.
func explore(t *testing.T, e *env, flowName string, cv *coverage) {
	const maxDepth, maxStates, parallel = 8, 80, 8
	params := map[string]string{}
	for _, p := range e.reg.Current(flowName).Params {
		params[p.Name] = p.Default
	}
	type state struct {
		c   *plivosim.Call
		s   *runtime.Session
		key string
	}
	keyOf := func(s *runtime.Session) string {
		b, _ := json.Marshal(s.Vars)
		return s.Wait + " " + string(b)
	}
	c := e.call(t, flowName, nil, nil)
	s := e.verify(t, c, flowName)
	cv.markCall(t, e, c.UUID)
	if s.Wait == "" {
		return
	}
	seen := map[string]bool{keyOf(s): true}
	level := []state{{c, s, keyOf(s)}}
	var mu sync.Mutex
	calls := 1
	for depth := 0; depth < maxDepth && len(level) > 0; depth++ {
		var next []state
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for _, st := range level {
			for _, ev := range events(st.c, params) {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					gt := goTB{t}
					fc := e.fork(gt, st.c, st.s)
					if err := ev.send(fc); err != nil {
						t.Errorf("%s: at %s, %s: %v", flowName, st.key, ev.name, err)
						return
					}
					s := e.verify(gt, fc, flowName)
					cv.markCall(gt, e, fc.UUID)
					mu.Lock()
					defer mu.Unlock()
					calls++
					if k := keyOf(s); s.Wait != "" && !seen[k] && len(seen) < maxStates {
						seen[k] = true
						next = append(next, state{fc, s, k})
					}
				}()
			}
		}
		wg.Wait()
		sort.Slice(next, func(i, j int) bool { return next[i].key < next[j].key })
		level = next
	}
	t.Logf("%s: %d states, %d calls", flowName, len(seen), calls)
}

// fork copies a live call's session under a new CallUUID and returns a
// simulator call at the same document: the copy goes on from there.
func (e *env) fork(t testing.TB, c *plivosim.Call, s *runtime.Session) *plivosim.Call {
	t.Helper()
	id := plivosim.NewUUID()
	cp := s.CallState
	cp.CallUUID = id
	cp.Call = maps.Clone(s.Call)
	cp.Call["CallUUID"] = id
	cp.Entries = len(s.Trace)
	data, err := json.Marshal(&cp)
	if err != nil {
		t.Fatal(err)
	}
	// The copy's state, then its trace, an entry a write.
	ttl := time.Hour
	for i, step := range s.Trace {
		entry, err := json.Marshal(step)
		if err != nil {
			t.Fatal(err)
		}
		rec := runtime.Record{Rev: i + 1, Live: true, Data: data, Entry: entry, Seq: i}
		if i == 0 {
			err = e.store.Create(context.Background(), id, rec, ttl)
		} else {
			err = e.store.Update(context.Background(), id, i, rec, ttl)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	params := maps.Clone(c.Params)
	params["CallUUID"] = id
	fc, err := e.sim.Resume(context.Background(), params, c.XML())
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

// goTB is a testing.TB for goroutines other than the test's: Fatal marks
// the test failed and ends the goroutine.
type goTB struct{ testing.TB }

func (g goTB) Fatal(args ...any) {
	g.TB.Helper()
	g.TB.Error(args...)
	goruntime.Goexit()
}

func (g goTB) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.TB.Errorf(format, args...)
	goruntime.Goexit()
}

func (g goTB) FailNow() {
	g.TB.Fail()
	goruntime.Goexit()
}

// TestE2ERuntimeErrors runs flows of our own whose templates yield values
// Plivo would refuse: with on_error the call goes there, without it the
// caller hears the apology and the call hangs up; never a 5xx.
func TestE2ERuntimeErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{dir: filepath.Join("testdata", "errflows"), store: open(t)})
		for _, name := range []string{"with-on-error", "without-on-error"} {
			if e.reg.Current(name) == nil {
				t.Fatalf("testdata flow %s does not load", name)
			}
		}
		apology := `<Response><Speak>We are sorry, something went wrong. Goodbye.</Speak><Hangup/></Response>`
		sc := []script{
			{name: "answer out of range, on_error", flow: "with-on-error", vars: map[string]any{"n": 0}, steps: []step{
				{name: "answer: numDigits 0", path: []string{"ask", "oops", "bye"}, err: true,
					xml: `<Response><Speak>Oops, something broke.</Speak><Hangup/></Response>`},
			}},
			{name: "callback out of range, on_error", flow: "with-on-error", steps: []step{
				{name: "answer", wait: "ask", contains: []string{`numDigits="2"`}},
				{name: "press 0: timeout 0", do: press("0"), path: []string{"again", "oops", "bye"}, err: true,
					xml: `<Response><Speak>Oops, something broke.</Speak><Hangup/></Response>`},
				// The call ended; its session is intact.
			}},
			{name: "callback in range", flow: "with-on-error", steps: []step{
				{name: "answer", wait: "ask"},
				{name: "press 7", do: press("7"), wait: "again", path: []string{"again"}, contains: []string{`timeout="7"`}},
				{name: "no input", do: noInput, path: []string{"bye"}},
			}},
			{name: "answer out of range, no on_error", flow: "without-on-error", vars: map[string]any{"seconds": 0}, steps: []step{
				{name: "answer: length 0", path: []string{"hello", "pause"}, err: true, xml: apology},
			}},
			{name: "callback out of range, no on_error", flow: "without-on-error", steps: []step{
				{name: "answer", wait: "ask", path: []string{"hello", "pause", "ask"}},
				{name: "press 0: loop -1", do: press("0"), path: []string{"repeat"}, err: true, xml: apology},
			}},
		}
		for i := range sc {
			t.Run(sc[i].name, func(t *testing.T) { sc[i].run(t, e, nil) })
		}
		if v := metricValue(e.metrics(t), `flowd_errors_total{flow="without-on-error",kind="runtime"}`); v != 2 {
			t.Errorf("runtime errors of without-on-error: %v, want 2", v)
		}
	})
}

// TestE2EAnswerGET answers with GET (parameters in the query), as a
// Plivo application configured with answer_method GET does.
func TestE2EAnswerGET(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		e.sim.AnswerMethod = http.MethodGet
		c := e.call(t, "ivr", map[string]string{"CallerName": "Grace"}, nil)
		s := e.verify(t, c, "ivr")
		if s.Call["CallerName"] != "Grace" || !strings.Contains(string(c.XML()), "Welcome to Acme, Grace.") {
			t.Fatalf("GET answer: call %v\n%s", s.Call, c.XML())
		}
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		e.verify(t, c, "ivr")
	})
}

// TestE2EUnknownFlow: an answer for a flow that is not served is a 404.
func TestE2EUnknownFlow(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		_, err := e.sim.Call(context.Background(), e.base+"/flows/nope/answer", nil)
		var se *plivosim.StatusError
		if !asStatus(err, &se) || se.Status != http.StatusNotFound || !strings.Contains(string(se.Body), `unknown flow "nope"`) {
			t.Fatalf("unknown flow: %v", err)
		}
		if code, _ := e.get(t, "/healthz"); code != 200 {
			t.Fatalf("healthz %d", code)
		}
		if code, body := e.get(t, "/v1/calls/nobody"); code != http.StatusNotFound || !strings.Contains(string(body), "unknown call") {
			t.Fatalf("trace of an unknown call: %d %s", code, body)
		}
	})
}

func asStatus(err error, se **plivosim.StatusError) bool {
	if err == nil {
		return false
	}
	s, ok := err.(*plivosim.StatusError)
	if ok {
		*se = s
	}
	return ok
}

// TestE2EMPCEvents: a MultiPartyCall node with events: [status,
// recording] gets Plivo's status and recording callbacks into the call's
// trace; they never move the call.
func TestE2EMPCEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t), rest: true})
		if e.reg.Current("contact-center") == nil {
			t.Skip("no contact-center example")
		}
		c := e.call(t, "contact-center", nil, nil)
		if w := c.Wait(); w.Kind != "MultiPartyCall" {
			t.Fatalf("not in the MPC: %s", c.XML())
		}
		// Add Participant created the MPC, so its request carries flowd's
		// event URLs for the call (the customer's XML would be ignored).
		urls := map[string]string{}
		for _, r := range e.fake.Requests() {
			if strings.HasSuffix(r.Path, "/Participant/") {
				for _, arg := range []string{"status_callback_url", "recording_callback_url"} {
					if u, _ := r.Body[arg].(string); u != "" {
						urls[arg] = u
					}
				}
			}
		}
		statusURL, recordingURL := urls["status_callback_url"], urls["recording_callback_url"]
		if !strings.Contains(statusURL, "/flows/contact-center/events/"+c.UUID+"/ring_agents/status") || !strings.Contains(recordingURL, "/events/"+c.UUID+"/ring_agents/recording") {
			t.Fatalf("Add Participant's event URLs: %v", urls)
		}
		before := e.session(t, c.UUID)
		for _, ev := range []struct {
			url    string
			params map[string]string
		}{
			{statusURL, map[string]string{"EventName": "MPCInitialized", "MPCName": "cc-" + c.UUID}},
			{statusURL, map[string]string{"EventName": "ParticipantJoined", "ParticipantRole": "agent"}},
			{recordingURL, map[string]string{"EventName": "MPCRecordingCompleted", "RecordingURL": "https://media.plivo.com/r.mp3"}},
		} {
			form := url.Values{}
			for k, v := range ev.params {
				form.Set(k, v)
			}
			r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: ev.url, Params: form})
			if err != nil || r.Status/100 != 2 {
				t.Fatalf("%s: %v %+v", ev.url, err, r)
			}
		}
		s := e.session(t, c.UUID)
		if s.Step != before.Step || s.Wait != "queue" || len(s.Trace) != len(before.Trace) {
			t.Fatalf("events moved the call: step %d→%d wait %s", before.Step, s.Step, s.Wait)
		}
		if len(s.Events) != 3 || s.Events[0].Params["EventName"] != "MPCInitialized" || s.Events[2].Params["RecordingURL"] == "" {
			t.Fatalf("events in the trace: %+v", s.Events)
		}
		// The call goes on.
		if err := c.Exit(nil); err != nil {
			t.Fatal(err)
		}
		e.verify(t, c, "contact-center")
		// An event for a call flowd does not know is refused.
		u := strings.Replace(statusURL, c.UUID, "nobody", 1)
		r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: u, Params: url.Values{"CallUUID": {"nobody"}}})
		if err != nil || r.Status/100 != 4 {
			t.Fatalf("event for an unknown call: %v %+v", err, r)
		}
	})
}
