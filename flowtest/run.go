package flowtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/plivo/plivotest"
	"github.com/flowd-dev/flowd/runtime"
)

// BaseURL is the public URL the simulated flowd answers at: callback URLs
// in the XML start with it. It is `flowd render`'s default, so what
// render prints can be pasted into an xml: expectation.
const BaseURL = "http://127.0.0.1:8080"

// CallUUID is the CallUUID of every simulated call unless a case sets
// one: each case has its own server and store, and a fixed id keeps XML
// that shows it stable.
const CallUUID = "00000000-0000-0000-0000-000000000000"

// Find expands paths into flow test files: files are taken as given,
// folders are searched recursively for *_test.yaml. The result is sorted.
func Find(paths []string) ([]string, error) {
	return flow.FindFiles(paths, IsTestFile)
}

// RunFiles loads and runs test files, several at a time (each case is
// independent: its own server and store), and returns the results in the
// order of files.
func RunFiles(files []string, opts Options) []*Result {
	results := make([]*Result, len(files))
	workers := min(goruntime.GOMAXPROCS(0), len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = Load(files[i]).Run(opts)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// Suite is one test file with the flow it tests.
type Suite struct {
	Path  string
	File  *File       // nil when the file could not be decoded
	Graph *flow.Graph // nil when the flow could not be loaded
	// Diags are the problems of the test file and of its flow; when any is
	// an error the suite cannot run.
	Diags flow.Diagnostics
}

// Load decodes a test file and loads its flow.
func Load(path string) *Suite {
	path = filepath.Clean(path)
	s := &Suite{Path: path}
	src, err := flow.ReadFile(path)
	if err != nil {
		s.Diags = flow.Diagnostics{{Pos: flow.Pos{File: path}, Severity: flow.Error, Code: flow.CodeShape, Message: err.Error()}}
		return s
	}
	tf, ds := Decode(path, src)
	s.File, s.Diags = tf, ds
	if tf == nil {
		return s
	}
	// The flow is loaded even when the file has problems, so every
	// problem is reported in one run.
	g, fds := tf.LoadFlow()
	s.Diags = append(s.Diags, fds...)
	// The test file's problems first, in order, then its flow's.
	slices.SortStableFunc(s.Diags, func(a, b flow.Diagnostic) int {
		return cmp.Or(
			cmp.Compare(boolInt(a.Pos.File != path), boolInt(b.Pos.File != path)),
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
	if !s.Diags.HasErrors(false) {
		s.Graph = g
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// OK reports whether the suite can run.
func (s *Suite) OK() bool { return s.File != nil && s.Graph != nil && !s.Diags.HasErrors(false) }

// Options control a run.
type Options struct {
	// Run selects the cases whose name it matches; nil runs all.
	Run *regexp.Regexp
	// Coverage, when set, collects the nodes and edges the cases take.
	Coverage *Coverage
}

// Result is what running one suite found.
type Result struct {
	Suite    *Suite
	Cases    []*CaseResult // the cases that ran, in file order
	Duration time.Duration
}

// Failed reports whether the suite could not run or a case failed.
func (r *Result) Failed() bool {
	if !r.Suite.OK() {
		return true
	}
	for _, c := range r.Cases {
		if c.Failed() {
			return true
		}
	}
	return false
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case *Case
	// Failure is why the case failed, nil when it passed. A case stops at
	// the first step that fails.
	Failure  *Failure
	Duration time.Duration
	// Session is the call's trace at the end, as /v1/calls returned it.
	Session *runtime.Session
}

// Failed reports whether the case failed.
func (c *CaseResult) Failed() bool { return c.Failure != nil }

// Failure says what went wrong in a case: where, what was expected and
// what happened.
type Failure struct {
	Pos   flow.Pos // the step (or the case, when the call could not start)
	Step  int      // 1-based; 0 when the call could not start
	Event string   // the step's event, as the test file writes it
	// Problems are the expectations that did not hold, or the one reason
	// the step could not happen; each names what was expected and what
	// happened.
	Problems []string
	// What the step produced, for the report.
	Wait   string   // the node the call waits at, "" when the flow ended
	HungUp bool     // the hangup webhook has come
	Path   []string // the nodes walked in the step
	XML    string   // the XML answered in the step
	Error  string   // a run-time error the flow met (handled by on_error or an apology)
}

// Run runs every selected case of a suite.
func (s *Suite) Run(opts Options) *Result {
	start := time.Now()
	r := &Result{Suite: s}
	if !s.OK() {
		r.Duration = time.Since(start)
		return r
	}
	if opts.Coverage != nil {
		opts.Coverage.Register(s.Graph)
	}
	reg := runtime.NewRegistry(filepath.Dir(s.Graph.Path), slog.New(slog.DiscardHandler))
	reg.Add(s.Graph)
	for _, c := range s.File.Cases {
		if opts.Run != nil && !opts.Run.MatchString(c.Name) {
			continue
		}
		cr := runCase(reg, s.Graph, c)
		if opts.Coverage != nil && cr.Session != nil {
			opts.Coverage.Add(s.Graph, cr.Session)
		}
		r.Cases = append(r.Cases, cr)
	}
	r.Duration = time.Since(start)
	return r
}

// DefaultClock is the flow's clock in a case without clock: a fixed
// Monday noon (UTC), so a flow test never depends on the day it runs.
var DefaultClock = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

// caseRun is one case in progress.
type caseRun struct {
	srv    *runtime.Server
	fake   *plivotest.Server // the simulated Plivo API
	room   string            // the MultiPartyCall the call is in, on the fake
	call   *plivosim.Call
	uuid   string
	traced int // trace steps already seen
	sess   *runtime.Session
	mock   *Mock // answers the http nodes' requests
}

func runCase(reg *runtime.Registry, g *flow.Graph, c *Case) *CaseResult {
	start := time.Now()
	res := &CaseResult{Case: c}
	defer func() { res.Duration = time.Since(start) }()

	store := runtime.NewMemory()
	defer store.Close()
	clock := c.Clock
	if clock.IsZero() {
		clock = DefaultClock
	}
	now := func() time.Time { return clock }
	fake, client, err := fakePlivo(c.RESTErrors)
	if err != nil {
		res.Failure = &Failure{Pos: c.Pos, Problems: []string{"the simulated Plivo API did not start: " + err.Error()}}
		return res
	}
	defer fake.Close()
	// The whole trace is kept: coverage reads every step of a case. The
	// http nodes' requests never reach the network: the mock answers them.
	mock := NewMock(c.HTTP)
	srv := runtime.New(runtime.Config{Registry: reg, Store: store, PublicURL: BaseURL, Params: c.Params, Now: now, REST: client, APIToken: apiToken,
		HTTP: mock, TraceFirst: 1, TraceLast: math.MaxInt32})
	run := &caseRun{srv: srv, fake: fake, mock: mock}
	for i, room := range c.Rooms {
		n := strconv.Itoa(i + 1)
		fake.Join(room, "room-customer-"+n, "+15555550100", "customer")
		fake.Join(room, "room-agent-"+n, "sip:agent"+n+"@phone.plivo.com", "agent")
	}

	params := map[string]string{"CallUUID": CallUUID, "RequestUUID": CallUUID}
	params["SessionStart"] = clock.UTC().Format("2006-01-02 15:04:05.000000")
	for k, v := range c.Call {
		params[k] = v
	}
	run.uuid = params["CallUUID"]
	answer, err := runtime.AnswerURL(BaseURL, g.Name, c.Vars)
	if err != nil {
		res.Failure = &Failure{Pos: c.Pos, Problems: []string{"the case's vars cannot be sent: " + err.Error()}}
		return res
	}
	sim := &plivosim.Sim{Client: plivosim.HandlerClient(srv)}
	ctx := context.Background()
	steps := c.Steps
	checksAnswer := len(steps) > 0 && steps[0].Event == nil
	if checksAnswer {
		mock.Override(steps[0].HTTP)
	}
	run.call, err = sim.Call(ctx, answer, params)
	run.call.HangupURL = BaseURL + "/flows/" + url.PathEscape(g.Name) + "/hangup"
	mock.Override(nil)

	if checksAnswer {
		// The first step checks the answer.
		f := run.step(1, steps[0], err)
		res.Session = run.sess
		if f != nil {
			res.Failure = f
			return res
		}
		steps = steps[1:]
	} else if err != nil {
		res.Failure = run.failure(c.Pos, 0, nil, []string{"the answer failed: " + describeErr(err)})
		res.Session = run.sess
		return res
	} else {
		// The answer's walk is not a step of its own; it is still traced
		// and counted by coverage, and answered by the case's http:.
		if _, err := run.trace(); err != nil {
			res.Failure = run.failure(c.Pos, 0, nil, []string{err.Error()})
			return res
		}
		if _, unanswered := mock.Take(); len(unanswered) > 0 {
			res.Failure = run.failure(c.Pos, 0, nil, unansweredProblems(unanswered))
			res.Failure.Event = "answer"
			res.Session = run.sess
			return res
		}
	}
	for i := len(c.Steps) - len(steps); i < len(c.Steps); i++ {
		st := c.Steps[i]
		mock.Override(st.HTTP)
		sendErr := run.send(st.Event)
		mock.Override(nil)
		if f := run.step(i+1, st, sendErr); f != nil {
			res.Failure = f
			break
		}
	}
	res.Session = run.sess
	return res
}

// send sends a step's event as Plivo would.
func (r *caseRun) send(e *Event) error {
	if err := r.deliverable(e); err != nil {
		return err
	}
	c := r.call
	switch e.Kind {
	case flow.EventPress:
		return c.PressWith(e.Value, e.Params)
	case flow.EventSay:
		if len(e.Params) > 0 {
			return c.Callback(merge(map[string]string{"InputType": "speech", "Speech": e.Value, "SpeechConfidenceScore": "0.9", "Digits": ""}, e.Params))
		}
		return c.Say(e.Value)
	case flow.EventSilence:
		return c.NoInput()
	case flow.EventDial:
		return c.DialWith(e.Value, e.Params)
	case flow.EventRecord:
		return c.Record(e.Params)
	case flow.EventLeave:
		return c.Exit(e.Params)
	case flow.EventHangup:
		return c.HangupWith(e.Params)
	case flow.EventRaw:
		return c.Callback(e.Params)
	}
	return fmt.Errorf("unknown event %q", e.Kind)
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// testEvents returns the events a call waiting at an element can be sent:
// those of the flow kind of the same name, which declares its callbacks.
func testEvents(element string) []string {
	if k := flow.LookupKind(element); k != nil {
		return k.TestEvents()
	}
	return nil
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// deliverable explains, in the test's words, why an event cannot reach
// the document the call is in; nil when it can.
func (r *caseRun) deliverable(e *Event) error {
	c := r.call
	if c.HungUp() {
		return fmt.Errorf("cannot send %s: the call has hung up", e)
	}
	if e.Kind == flow.EventHangup {
		return nil
	}
	w := c.Wait()
	where := r.where(w)
	if w.Ended() || w.Kind == "Redirect" {
		return fmt.Errorf("cannot send %s: %s; only hangup: true can follow", e, where)
	}
	if e.Kind == flow.EventRaw {
		return nil // raw params go wherever the document waits
	}
	takes := testEvents(w.Kind)
	if !slices.Contains(takes, e.Kind) {
		return fmt.Errorf("cannot send %s: %s, which takes %s", e, where, orList(takes))
	}
	if w.Kind == "GetInput" && (e.Kind == flow.EventPress || e.Kind == flow.EventSay) && !listens(w.Element, e.Kind) {
		return fmt.Errorf("cannot send %s: %s, whose inputType %q does not take %s", e, where, w.Element.Attr("inputType"), map[string]string{flow.EventPress: "digits", flow.EventSay: "speech"}[e.Kind])
	}
	return nil
}

// listens reports whether a GetInput takes press (dtmf) or say (speech).
func listens(el *plivosim.Element, event string) bool {
	t, ok := el.LookupAttr("inputType")
	if !ok || strings.TrimSpace(t) == "" {
		return true
	}
	want := "dtmf"
	if event == flow.EventSay {
		want = "speech"
	}
	for _, f := range strings.Fields(t) {
		if f == want {
			return true
		}
	}
	return false
}

// where describes where the call's document stands.
func (r *caseRun) where(w plivosim.Wait) string {
	switch {
	case w.Kind == "Redirect":
		return "the flow has ended: the call was handed to " + w.URL
	case w.Ended():
		if r.sess != nil && r.sess.Wait == "" {
			how := "the document ends"
			if w.End == "Hangup" {
				how = "the document ends with <Hangup>"
			}
			return "the flow has ended (" + how + ")"
		}
		return "the call's document has ended"
	}
	node := ""
	if r.sess != nil {
		node = r.sess.Wait
	}
	if node == "" {
		return "the call is at <" + w.Kind + ">"
	}
	return fmt.Sprintf("the call waits at node %s (<%s>)", node, w.Kind)
}

// apiToken guards the in-process server's /v1, as flowd serve's would be.
const apiToken = "flowtest"

// trace reads the call's session from /v1/calls/{CallUUID}, in process,
// and returns the trace steps added since the last read.
func (r *caseRun) trace() ([]runtime.TraceStep, error) {
	req, err := http.NewRequest(http.MethodGet, BaseURL+"/v1/calls/"+url.PathEscape(r.uuid), nil)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+apiToken)
	}
	if err != nil {
		return nil, err
	}
	resp, err := plivosim.Transport(r.srv).RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("flowd has no trace of the call: GET /v1/calls/%s: %d %s", r.uuid, resp.StatusCode, strings.TrimSpace(b.String()))
	}
	sess, err := runtime.DecodeSession(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("reading the call's trace: %w", err)
	}
	r.sess = sess
	if r.traced > len(sess.Trace) {
		r.traced = 0
	}
	added := sess.Trace[r.traced:]
	r.traced = len(sess.Trace)
	return added, nil
}

// failure builds a Failure with what the step produced.
func (r *caseRun) failure(pos flow.Pos, n int, e *Event, problems []string) *Failure {
	f := &Failure{Pos: pos, Step: n, Problems: problems}
	if e != nil {
		f.Event = e.String()
	} else if n > 0 {
		f.Event = "answer"
	}
	return f
}

// unansweredProblems are the problems of requests nothing answered.
func unansweredProblems(nodes []string) []string {
	out := make([]string, len(nodes))
	for i, node := range nodes {
		out[i] = Unanswered(node)
	}
	return out
}

// step checks what a step's event did against its expectations. A
// request of an http node that nothing answered fails the step before
// them: the walk took the node's error outcome because of the test file.
func (r *caseRun) step(n int, st *Step, sendErr error) *Failure {
	made, unanswered := r.mock.Take()
	if sendErr != nil {
		// The document the call is still in.
		f := r.failure(st.Pos, n, st.Event, append(unansweredProblems(unanswered), describeErr(sendErr)))
		f.XML = strings.TrimSpace(string(r.call.XML()))
		if _, err := r.trace(); err == nil && r.sess != nil {
			f.Wait, f.HungUp = r.sess.Wait, r.sess.Status == runtime.StatusHungUp
		}
		return f
	}
	added, err := r.trace()
	if err != nil {
		return r.failure(st.Pos, n, st.Event, []string{err.Error()})
	}
	r.syncRoom()
	var path []string
	var xml, runErr string
	var traced []flow.Request
	for _, t := range added {
		path = append(path, t.Path...)
		traced = append(traced, t.Requests...)
		if t.Webhook != "hangup" {
			xml = t.XML
		}
		if t.Error != "" {
			runErr = t.Error
		}
	}
	hangup := st.Event != nil && st.Event.Kind == flow.EventHangup
	problems := unansweredProblems(unanswered)
	// flowd's session and the XML it answered must agree on where the
	// call waits: Plivo only has the XML.
	if !hangup {
		if p := r.agree(); p != "" {
			problems = append(problems, p)
		}
	}
	// The expectations of a step whose requests were not all answered are
	// not checked: its walk went where the test file did not mean it to.
	if x := st.Expect; x != nil && len(unanswered) == 0 {
		problems = append(problems, check(x, r.sess, path, xml, stepRequests(traced, made), hangup)...)
	}
	if len(problems) == 0 {
		return nil
	}
	f := r.failure(st.Pos, n, st.Event, problems)
	f.Wait, f.Path, f.XML, f.Error = r.sess.Wait, path, xml, runErr
	f.HungUp = r.sess.Status == runtime.StatusHungUp
	return f
}

// syncRoom tells the simulated Plivo API that the call entered or left a
// MultiPartyCall through XML, as real Plivo knows, so REST actions on the
// room (update, kick, record) find it.
func (r *caseRun) syncRoom() {
	w := r.call.Wait()
	room := ""
	if w.Kind == "MultiPartyCall" && w.Element != nil {
		room = strings.TrimSpace(w.Element.Text)
	}
	if room == r.room {
		return
	}
	if r.room != "" {
		r.fake.Leave(r.room, r.uuid)
	}
	if room != "" {
		role := ""
		for _, a := range w.Element.Attrs {
			if a.Name == "role" {
				role = a.Value
			}
		}
		r.fake.Join(room, r.uuid, runtime.PartyAddress(r.sess.Call), role)
	}
	r.room = room
}

// agree reports a call whose session and XML disagree on where it waits.
func (r *caseRun) agree() string {
	w := r.call.Wait()
	node := r.sess.Wait
	switch {
	case node == "" && !w.Ended() && w.Kind != "Redirect":
		return fmt.Sprintf("flowd's session says the flow ended, but its XML waits at <%s> (%s)", w.Kind, w.URL)
	case node != "" && (w.Ended() || w.Kind == "Redirect"):
		return fmt.Sprintf("flowd's session waits at node %s, but its XML has no callback for it", node)
	case node != "" && !strings.Contains(w.URL, "/"+url.PathEscape(runtime.URLNode(node))+"/"):
		return fmt.Sprintf("flowd's session waits at node %s, but its XML waits at <%s> with %s", node, w.Kind, w.URL)
	}
	return ""
}

// describeErr turns the simulator's errors into the test's words.
func describeErr(err error) string {
	var se *plivosim.StatusError
	if errors.As(err, &se) {
		body := strings.TrimSpace(string(se.Body))
		return fmt.Sprintf("flowd answered %d %s to %s %s: %s", se.Status, http.StatusText(se.Status), se.Method, se.URL, body)
	}
	return strings.TrimPrefix(err.Error(), "plivosim: ")
}
