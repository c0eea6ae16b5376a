package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/internal/plivosim"
	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/runtime"
)

// The retry and forgery rules: Plivo retries, duplicates and forgeries
// must never advance a call twice or change it at all.

// callbackParams returns what Plivo posts for an event of the call.
func callbackParams(c *plivosim.Call, extra map[string]string) url.Values {
	v := url.Values{}
	for k, x := range c.Params {
		v.Set(k, x)
	}
	v.Del("Event")
	v.Set("CallStatus", "in-progress")
	for k, x := range extra {
		v.Set(k, x)
	}
	return v
}

// sameRecord fails unless the call's stored record is still before.
func sameRecord(t *testing.T, e *env, id string, before runtime.Record, what string) {
	t.Helper()
	after := e.record(t, id)
	if after.Rev != before.Rev || after.Live != before.Live || !bytes.Equal(after.Data, before.Data) {
		t.Errorf("%s changed the session: rev %d→%d live %v→%v\nbefore %s\nafter  %s", what, before.Rev, after.Rev, before.Live, after.Live, before.Data, after.Data)
	}
}

func TestRetriedCallbackSameXMLOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		c := e.call(t, "ivr", nil, nil)
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		first := c.XML()
		before := e.record(t, c.UUID)
		for i := range 3 {
			r, err := c.Retry()
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("retry %d: %v %+v", i, err, r)
			}
			if !bytes.Equal(r.Body, first) {
				t.Fatalf("retry %d answered\n%s\nnot\n%s", i, r.Body, first)
			}
		}
		sameRecord(t, e, c.UUID, before, "a retried callback")
		if s := e.session(t, c.UUID); s.Step != 2 || len(s.Trace) != 2 {
			t.Fatalf("after retries: step %d, %d trace steps; want 2", s.Step, len(s.Trace))
		}
		// The call goes on from where the first delivery left it.
		if err := c.Dial("completed"); err != nil {
			t.Fatal(err)
		}
		// A retry of an older callback, after the call moved on, gets the
		// XML its step answered (from the trace) and changes nothing.
		moved := e.record(t, c.UUID)
		r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/calls/1/menu/action", Params: callbackParams(c, map[string]string{"Digits": "1"})})
		if err != nil || r.Status != http.StatusOK || !bytes.Equal(r.Body, first) {
			t.Fatalf("retry two steps late: %v %+v, want\n%s", err, r, first)
		}
		sameRecord(t, e, c.UUID, moved, "a late retry")
		// Another event of that step was never answered: refused.
		r, err = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/calls/1/menu/no_input", Params: callbackParams(c, nil)})
		if err != nil || r.Status != http.StatusConflict {
			t.Fatalf("a late callback no copy of which was answered: %v %+v", err, r)
		}
	})
}

func TestConcurrentDuplicateCallbacks(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		for round := range 3 {
			c := e.call(t, "ivr", nil, nil)
			req := plivosim.Request{Method: "POST", URL: c.Wait().URL, Params: callbackParams(c, map[string]string{"Digits": "2"})}
			const n = 20
			bodies := make([][]byte, n)
			codes := make([]int, n)
			var wg sync.WaitGroup
			gun := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gun
					r, err := e.sim.Do(context.Background(), req)
					if err != nil {
						t.Error(err)
						return
					}
					codes[i], bodies[i] = r.Status, r.Body
				}()
			}
			close(gun)
			wg.Wait()
			for i := range n {
				if codes[i] != http.StatusOK || !bytes.Equal(bodies[i], bodies[0]) {
					t.Fatalf("round %d: duplicate %d: %d\n%s\nwant 200 and\n%s", round, i, codes[i], bodies[i], bodies[0])
				}
			}
			if !strings.Contains(string(bodies[0]), "<User>sip:support@phone.plivo.com</User>") {
				t.Fatalf("round %d: %s", round, bodies[0])
			}
			s := e.session(t, c.UUID)
			if s.Step != 2 || len(s.Trace) != 2 || s.Wait != "support" || s.Trace[1].XML != string(bodies[0]) {
				t.Fatalf("round %d: step %d, %d trace steps, wait %q", round, s.Step, len(s.Trace), s.Wait)
			}
		}
	})
}

func TestForgedCallbacksChangeNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		c := e.call(t, "ivr", nil, nil)
		if err := c.Press("9"); err != nil { // menu again: step 2, waiting at menu
			t.Fatal(err)
		}
		other := e.call(t, "survey", nil, nil)
		base := e.base + "/flows/ivr/calls/"
		good := callbackParams(c, map[string]string{"Digits": "1"})
		for _, tc := range []struct {
			name   string
			url    string
			params url.Values
			code   int
			msg    string
		}{
			{"a step ahead", base + "3/menu/action", good, 409, "stale callback: call " + c.UUID + ` is at step 2 waiting at "menu", not step 3 at "menu"`},
			{"an old step, another event", base + "1/menu/no_input", good, 409, "stale callback"},
			{"step 0", base + "0/menu/action", good, 404, "no such callback"},
			{"step not a number", base + "x/menu/action", good, 404, "no such callback"},
			{"step written +2", base + "+2/menu/action", good, 404, "no such callback"},
			{"step written 02", base + "02/menu/action", good, 404, "no such callback"},
			{"unknown call", base + "2/menu/action", callbackParams(c, map[string]string{"CallUUID": "no-such-call"}), 404, `unknown call "no-such-call"`},
			{"no CallUUID", base + "2/menu/action", url.Values{"Digits": {"1"}}, 400, "missing CallUUID"},
			{"a node it does not wait at", base + "2/sales/action", callbackParams(c, map[string]string{"DialStatus": "completed"}), 409, `waiting at "menu", not step 2 at "sales"`},
			{"a node the flow lacks", base + "2/nosuch/action", good, 404, `has no node "nosuch"`},
			{"a node that never calls back", base + "2/greet/action", good, 400, `node "greet" (Speak) never reports "action"`},
			{"an event the node cannot send", base + "2/menu/exit", good, 400, `node "menu" (GetDigits) never reports "exit"`},
			{"an unknown event", base + "2/menu/hack", good, 400, `never reports "hack"`},
			{"another flow's URL", e.base + "/flows/survey/calls/2/menu/action", good, 409, "runs flow ivr, not survey"},
			{"a flow that does not exist", e.base + "/flows/nope/calls/2/menu/action", good, 409, "runs flow ivr, not nope"},
			{"this call on the other call's URL", e.base + "/flows/survey/calls/1/q1/action", callbackParams(c, map[string]string{"Speech": "yes"}), 409, "runs flow ivr, not survey"},
		} {
			before := e.record(t, c.UUID)
			beforeOther := e.record(t, other.UUID)
			r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: tc.url, Params: tc.params})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if r.Status != tc.code || !strings.Contains(string(r.Body), tc.msg) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, r.Status, r.Body, tc.code, tc.msg)
			}
			sameRecord(t, e, c.UUID, before, tc.name)
			sameRecord(t, e, other.UUID, beforeOther, tc.name)
		}
		// The call still works.
		if err := c.Press("2"); err != nil || c.Wait().Kind != "Dial" {
			t.Fatalf("after the forgeries: %v %+v", err, c.Wait())
		}
		e.verify(t, c, "ivr")
		if v := metricValue(e.metrics(t), `flowd_errors_total{flow="ivr",kind="stale"}`); v < 3 {
			t.Errorf("stale errors counted: %v", v)
		}
	})
}

func TestAnswerRetries(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		c := e.call(t, "ivr", map[string]string{"CallerName": "Ada"}, nil)
		first := c.XML()
		before := e.record(t, c.UUID)
		// Sequential and concurrent retries of the answer: the same XML.
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c.Retry()
				if err != nil || r.Status != 200 || !bytes.Equal(r.Body, first) {
					t.Errorf("answer retry %d: %v %d\n%s", i, err, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		sameRecord(t, e, c.UUID, before, "a retried answer")
		// The same CallUUID answered on another flow is refused: the
		// call runs ivr.
		p := map[string]string{"CallUUID": c.UUID}
		_, err := e.sim.Call(context.Background(), e.answerURL("survey", nil), p)
		var se *plivosim.StatusError
		if !errors.As(err, &se) || se.Status != 409 || !strings.Contains(string(se.Body), "runs flow ivr, not survey") {
			t.Fatalf("answer of a live call on another flow: %v", err)
		}
		sameRecord(t, e, c.UUID, before, "an answer on another flow")
		// Once the call moved on, an answer retry gets the first answer
		// (from the trace) and changes nothing.
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		moved := e.record(t, c.UUID)
		r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.answerURL("ivr", nil), Params: url.Values{"CallUUID": {c.UUID}}})
		if err != nil || r.Status != 200 || !bytes.Equal(r.Body, first) {
			t.Fatalf("late answer retry: %v %+v", err, r)
		}
		sameRecord(t, e, c.UUID, moved, "a late answer retry")
		// Concurrent first answers of one new call: one session, one XML.
		id := plivosim.NewUUID()
		bodies := make([][]byte, 10)
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.answerURL("survey", nil), Params: url.Values{"CallUUID": {id}, "From": {"+1555"}}})
				if err != nil || r.Status != 200 {
					t.Errorf("concurrent answer: %v %+v", err, r)
					return
				}
				bodies[i] = r.Body
			}()
		}
		wg.Wait()
		for i := range bodies {
			if !bytes.Equal(bodies[i], bodies[0]) {
				t.Fatalf("concurrent answers differ:\n%s\n%s", bodies[i], bodies[0])
			}
		}
		if s := e.session(t, id); s.Step != 1 || len(s.Trace) != 1 {
			t.Fatalf("concurrent answers: step %d, %d steps", s.Step, len(s.Trace))
		}
	})
}

func TestCallbackAfterHangup(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t)})
		c := e.call(t, "ivr", nil, nil)
		waitURL := c.Wait().URL
		if err := c.Hangup(); err != nil {
			t.Fatal(err)
		}
		before := e.record(t, c.UUID)
		if before.Live {
			t.Fatal("a hung-up call is still live")
		}
		// The callback the call waited at, overtaken by the hangup (Plivo
		// sends a Record's action or a Dial's and the hangup in no set
		// order): what it reports is kept and the walk after it runs; the
		// call stays hung up, and nothing calls it back again.
		late := callbackParams(c, map[string]string{"Digits": "1"})
		r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: waitURL, Params: late})
		if err != nil || r.Status != 200 || !strings.Contains(string(r.Body), "<Dial") {
			t.Fatalf("callback after hangup: %v %+v", err, r)
		}
		s := e.session(t, c.UUID)
		if s.Status != runtime.StatusHungUp || s.Wait != "" || s.Step != 3 || e.record(t, c.UUID).Live {
			t.Fatalf("after the late callback: status %s wait %q step %d", s.Status, s.Wait, s.Step)
		}
		if last := s.Trace[len(s.Trace)-1]; last.Node != "menu" || last.Inputs["Digits"] != "1" || !slices.Equal(last.Path, []string{"route", "sales"}) {
			t.Fatalf("the late callback's trace step: %+v", last)
		}
		if n, _ := e.store.Live(context.Background()); n != 0 {
			t.Fatalf("Live = %d after the late callback", n)
		}
		before = e.record(t, c.UUID)
		// A copy of it gets the same XML and changes nothing; any other
		// callback of the hung-up call is refused.
		r2, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: waitURL, Params: late})
		if err != nil || r2.Status != 200 || !bytes.Equal(r2.Body, r.Body) {
			t.Fatalf("copy of the late callback: %v %+v", err, r2)
		}
		sameRecord(t, e, c.UUID, before, "a copy of the late callback")
		r, err = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: strings.Replace(waitURL, "/action", "/no_input", 1), Params: late})
		if err != nil || r.Status != 409 || !strings.Contains(string(r.Body), "has hung up") {
			t.Fatalf("another callback after hangup: %v %+v", err, r)
		}
		sameRecord(t, e, c.UUID, before, "another callback after hangup")
		// A retried hangup changes nothing either.
		r, err = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/hangup", Params: url.Values{"CallUUID": {c.UUID}, "HangupCause": {"OTHER"}}})
		if err != nil || r.Status != http.StatusNoContent {
			t.Fatalf("retried hangup: %v %+v", err, r)
		}
		sameRecord(t, e, c.UUID, before, "a retried hangup")
		if s := e.session(t, c.UUID); s.Status != runtime.StatusHungUp || s.HangupCause != "NORMAL_CLEARING" {
			t.Fatalf("status %s cause %s", s.Status, s.HangupCause)
		}
		// A hangup that overtakes its call's answer is kept: the answer,
		// when it comes, finds the call over, answers a Hangup and does
		// not bring it to life.
		r, _ = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/hangup", Params: url.Values{"CallUUID": {"early"}, "HangupCause": {"ORIGINATOR_CANCEL"}}})
		if r.Status != http.StatusNoContent {
			t.Fatalf("hangup before the answer: %d", r.Status)
		}
		r, err = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/answer", Params: url.Values{"CallUUID": {"early"}, "From": {"+14155550100"}}})
		if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<Hangup") || strings.Contains(string(r.Body), "<GetDigits") {
			t.Fatalf("answer after its hangup: %v %d %s", err, r.Status, r.Body)
		}
		if s := e.session(t, "early"); s.Status != runtime.StatusHungUp || s.HangupCause != "ORIGINATOR_CANCEL" || s.Step != 0 {
			t.Fatalf("after a hangup that overtook the answer: status %s cause %s step %d", s.Status, s.HangupCause, s.Step)
		}
		// The hangup goes to the flow of its URL: another flow's call
		// with that id is refused.
		r, _ = e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/survey/hangup", Params: url.Values{"CallUUID": {"early"}}})
		if r.Status != http.StatusConflict {
			t.Fatalf("hangup for another flow's call: %d", r.Status)
		}
	})
}

// pausingStore holds the next Update until released: to interleave two
// webhooks of one call deterministically.
type pausingStore struct {
	runtime.Store
	mu      sync.Mutex
	armed   bool
	paused  chan struct{}
	release chan struct{}
}

func (p *pausingStore) arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

func (p *pausingStore) Update(ctx context.Context, id string, prev int, rec runtime.Record, ttl time.Duration) error {
	p.mu.Lock()
	pause := p.armed
	p.armed = false
	p.mu.Unlock()
	if pause {
		p.paused <- struct{}{}
		<-p.release
	}
	return p.Store.Update(ctx, id, prev, rec, ttl)
}

// TestHangupRacingCallback: Plivo posts a Dial's action and the hangup
// at nearly the same time. A callback that read the session before the
// hangup must not store it live again after.
func TestHangupRacingCallback(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		ps := &pausingStore{paused: make(chan struct{}), release: make(chan struct{})}
		e := startEnv(t, envConfig{store: open(t), wrapStore: func(st runtime.Store) runtime.Store { ps.Store = st; return ps }})
		c := e.call(t, "ivr", nil, nil)
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		ps.arm()
		done := make(chan error, 1)
		go func() { done <- c.Dial("completed") }()
		<-ps.paused // the Dial's callback has walked and waits to store
		hang := c.Params
		r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + "/flows/ivr/hangup", Params: url.Values{"CallUUID": {hang["CallUUID"]}, "HangupCause": {"NORMAL_CLEARING"}}})
		if err != nil || r.Status != http.StatusNoContent {
			t.Fatalf("hangup: %v %+v", err, r)
		}
		close(ps.release)
		// The callback that lost the race reads the hung-up call again
		// and is kept as the late callback it now is: the Dial's result
		// is not lost, and the call stays hung up.
		if err := <-done; err != nil {
			t.Errorf("the callback that lost the race: %v", err)
		}
		s := e.session(t, c.UUID)
		if s.Status != runtime.StatusHungUp || s.Wait != "" || e.record(t, c.UUID).Live {
			t.Fatalf("the hung-up call came back: status %s wait %q", s.Status, s.Wait)
		}
		if last := s.Trace[len(s.Trace)-1]; last.Node != "sales" || last.Inputs["DialStatus"] != "completed" {
			t.Fatalf("the Dial's result was lost: %+v", last)
		}
		if n, _ := e.store.Live(context.Background()); n != 0 {
			t.Fatalf("Live = %d after the hangup", n)
		}
	})
}

// ---- signatures ----

const (
	acctToken = "MzQ5ZTdkZjFhYjQ4NmRmMTQ0NzUwYmQ5ZDFlZTVi"
	mainToken = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
)

func TestSignatures(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t), tokens: []string{acctToken, mainToken}})
		// Correctly signed: a whole call passes, answer (POST and GET),
		// callbacks and hangup.
		for _, method := range []string{"POST", "GET"} {
			e.sim.AnswerMethod = method
			c := e.call(t, "ivr", nil, map[string]any{"attempts": 1})
			if err := c.Press("1"); err != nil {
				t.Fatal(err)
			}
			if err := c.Dial("completed"); err != nil {
				t.Fatal(err)
			}
			if err := c.Hangup(); err != nil {
				t.Fatal(err)
			}
		}
		e.sim.AnswerMethod = ""
		// -Ma-V3 with the main account's token passes.
		ma := &plivosim.Sim{MainAuthToken: mainToken}
		c, err := ma.Call(context.Background(), e.answerURL("ivr", nil), nil)
		if err != nil {
			t.Fatalf("Ma-V3 signed answer: %v", err)
		}
		if err := c.Press("2"); err != nil {
			t.Fatalf("Ma-V3 signed callback: %v", err)
		}
		// Refused, and nothing changes: unsigned, wrong token, the main
		// token in the account header, a signature for other params, a
		// signature without its nonce.
		live := e.call(t, "ivr", nil, nil)
		before := e.record(t, live.UUID)
		press := plivosim.Request{Method: "POST", URL: live.Wait().URL, Params: callbackParams(live, map[string]string{"Digits": "1"})}
		for _, tc := range []struct {
			name string
			sim  *plivosim.Sim
			req  func() *http.Request
		}{
			{name: "unsigned", sim: &plivosim.Sim{}},
			{name: "wrong token", sim: &plivosim.Sim{AuthToken: "not-the-token"}},
			{name: "main token as the account's", sim: &plivosim.Sim{AuthToken: mainToken}},
			{name: "signed for other params", req: func() *http.Request {
				sig, _ := plivo.SignatureV3("POST", press.URL, callbackParams(live, map[string]string{"Digits": "2"}), "123", acctToken)
				r := formRequest(press.URL, press.Params)
				r.Header.Set(plivo.HeaderSignatureV3, sig)
				r.Header.Set(plivo.HeaderNonceV3, "123")
				return r
			}},
			{name: "no nonce", req: func() *http.Request {
				sig, _ := plivo.SignatureV3("POST", press.URL, press.Params, "123", acctToken)
				r := formRequest(press.URL, press.Params)
				r.Header.Set(plivo.HeaderSignatureV3, sig)
				return r
			}},
		} {
			var code int
			var body []byte
			if tc.sim != nil {
				r, err := tc.sim.Do(context.Background(), press)
				if err != nil {
					t.Fatal(err)
				}
				code, body = r.Status, r.Body
				// Answers are refused too.
				_, err = tc.sim.Call(context.Background(), e.answerURL("ivr", nil), nil)
				var se *plivosim.StatusError
				if !errors.As(err, &se) || se.Status != 403 {
					t.Errorf("%s answer: %v", tc.name, err)
				}
			} else {
				resp, err := http.DefaultClient.Do(tc.req())
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			if code != 403 || !strings.Contains(string(body), "invalid Plivo signature") {
				t.Errorf("%s: %d %s, want 403", tc.name, code, body)
			}
			sameRecord(t, e, live.UUID, before, tc.name)
		}
		// The call itself, correctly signed, still goes on.
		if err := live.Press("1"); err != nil {
			t.Fatal(err)
		}
		if v := metricValue(e.metrics(t), `flowd_errors_total{flow="ivr",kind="forged"}`); v < 5 {
			t.Errorf("forged requests counted: %v", v)
		}
	})
}

func formRequest(u string, v url.Values) *http.Request {
	r, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// proxy forwards requests for a public URL to flowd, as a TLS-terminating
// reverse proxy does: it strips the public path prefix and, when told,
// says where the request was addressed with X-Forwarded-Proto/-Host.
type proxy struct {
	public, target *url.URL
	forwarded      bool
	extra          http.Header
}

func (p proxy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != p.public.Host || !strings.HasPrefix(r.URL.Path, p.public.Path) {
		return nil, fmt.Errorf("proxy: no route to %s", r.URL)
	}
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.Scheme, u.Host = p.target.Scheme, p.target.Host
	u.Path = strings.TrimPrefix(u.Path, p.public.Path)
	u.RawPath = ""
	r2.URL, r2.Host = &u, p.target.Host
	if p.forwarded {
		r2.Header.Set("X-Forwarded-Proto", p.public.Scheme)
		r2.Header.Set("X-Forwarded-Host", p.public.Host)
	}
	for k, vs := range p.extra {
		r2.Header[k] = vs
	}
	return http.DefaultTransport.RoundTrip(r2)
}

func TestSignaturesBehindAProxy(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		st := open(t)
		for _, tc := range []struct {
			name      string
			public    string
			publicURL string // flowd's config
			forwarded bool
		}{
			{name: "X-Forwarded headers", public: "https://flowd.example.com", forwarded: true},
			{name: "PublicURL with a path", public: "https://voice.example.com:8443/flowd", publicURL: "https://voice.example.com:8443/flowd"},
			{name: "PublicURL wins over forged X-Forwarded headers", public: "https://voice.example.com/app", publicURL: "https://voice.example.com/app", forwarded: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := startEnv(t, envConfig{store: st, tokens: []string{acctToken}, publicURL: tc.publicURL})
				pub, _ := url.Parse(tc.public)
				target, _ := url.Parse(e.srv.URL)
				px := proxy{public: pub, target: target, forwarded: tc.forwarded}
				if tc.publicURL != "" && tc.forwarded {
					px.extra = http.Header{"X-Forwarded-Host": {"evil.example.com"}, "X-Forwarded-Proto": {"http"}}
				}
				sim := &plivosim.Sim{Client: &http.Client{Transport: px}, AuthToken: acctToken, HangupURL: tc.public + "/flows/ivr/hangup"}
				c, err := sim.Call(context.Background(), tc.public+"/flows/ivr/answer", nil)
				if err != nil {
					t.Fatalf("signed for the public URL: %v", err)
				}
				// Callback URLs are public ones, and signed as such.
				if w := c.Wait(); !strings.HasPrefix(w.URL, tc.public+"/flows/ivr/calls/1/menu/action") {
					t.Fatalf("callback URL %s, want it under %s", w.URL, tc.public)
				}
				if err := c.Press("1"); err != nil {
					t.Fatal(err)
				}
				if err := c.Dial("busy"); err != nil {
					t.Fatal(err)
				}
				if err := c.Hangup(); err != nil {
					t.Fatal(err)
				}
				// Through the proxy, but signed for the internal URL: refused.
				params := url.Values{"CallUUID": {plivosim.NewUUID()}, "From": {"+1555"}}
				sig, _ := plivo.SignatureV3("POST", e.srv.URL+"/flows/ivr/answer", params, "42", acctToken)
				req := formRequest(tc.public+"/flows/ivr/answer", params)
				req.Header.Set(plivo.HeaderSignatureV3, sig)
				req.Header.Set(plivo.HeaderNonceV3, "42")
				resp, err := sim.Client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 403 {
					t.Fatalf("signed for the internal URL: %d", resp.StatusCode)
				}
				if tc.publicURL != "" {
					// Straight to flowd, signed for the address it was sent
					// to: refused, flowd is at its PublicURL.
					direct := &plivosim.Sim{AuthToken: acctToken}
					_, err = direct.Call(context.Background(), e.srv.URL+"/flows/ivr/answer", nil)
					var se *plivosim.StatusError
					if !errors.As(err, &se) || se.Status != 403 {
						t.Fatalf("signed for the internal URL: %v", err)
					}
				}
			})
		}
	})
}

// ---- malformed requests ----

func TestMalformedWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		e := startEnv(t, envConfig{store: open(t), maxBody: 4096})
		c := e.call(t, "ivr", nil, nil)
		before := e.record(t, c.UUID)
		cb := c.Wait().URL
		big := "CallUUID=" + c.UUID + "&Digits=1&Pad=" + strings.Repeat("x", 5000)
		for _, tc := range []struct {
			name, method, url, ctype, body string
			code                           int
			msg                            string
		}{
			{"answer without CallUUID", "POST", e.base + "/flows/ivr/answer", "application/x-www-form-urlencoded", "From=1", 400, "missing CallUUID"},
			{"callback without CallUUID", "POST", cb, "application/x-www-form-urlencoded", "Digits=1", 400, "missing CallUUID"},
			{"hangup without CallUUID", "POST", e.base + "/flows/ivr/hangup", "application/x-www-form-urlencoded", "", 400, "missing CallUUID"},
			{"GET without CallUUID", "GET", e.base + "/flows/ivr/answer?From=1", "", "", 400, "missing CallUUID"},
			{"body over the limit", "POST", cb, "application/x-www-form-urlencoded", big, 413, "too large"},
			{"answer over the limit", "POST", e.base + "/flows/ivr/answer", "application/x-www-form-urlencoded", big, 413, "too large"},
			{"bad form encoding", "POST", cb, "application/x-www-form-urlencoded", "CallUUID=" + c.UUID + "&Digits=%zz", 400, "malformed request"},
			{"bad query encoding", "GET", cb + "?CallUUID=" + c.UUID + "&Digits=%zz", "", "", 400, "malformed request"},
			{"not a form", "POST", cb, "application/json", `{"CallUUID":"` + c.UUID + `","Digits":"1"}`, 400, "missing CallUUID"},
			{"unknown flow", "POST", e.base + "/flows/nope/answer", "application/x-www-form-urlencoded", "CallUUID=" + c.UUID, 404, `unknown flow "nope"`},
			{"bad flow name", "POST", e.base + "/flows/..%2F..%2Fetc/answer", "application/x-www-form-urlencoded", "CallUUID=x", 404, "unknown flow"},
			{"unknown route", "POST", e.base + "/flows/ivr/calls/2/menu", "application/x-www-form-urlencoded", "CallUUID=" + c.UUID, 404, ""},
			{"PUT", "PUT", cb, "application/x-www-form-urlencoded", "CallUUID=" + c.UUID + "&Digits=1", 405, ""},
		} {
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.msg) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, resp.StatusCode, body, tc.code, tc.msg)
			}
			sameRecord(t, e, c.UUID, before, tc.name)
		}
		// The server is fine and the call goes on.
		if code, _ := e.get(t, "/healthz"); code != 200 {
			t.Fatal("healthz")
		}
		if err := c.Press("1"); err != nil {
			t.Fatal(err)
		}
		e.verify(t, c, "ivr")
	})
}

// TestBadFlowNamesInURLs: a flow name that is not valid UTF-8, or made
// up, never crashes flowd (Prometheus panics on such a label) and never
// becomes a metrics series of its own.
func TestBadFlowNamesInURLs(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) runtime.Store) {
		st := open(t)
		for _, tokens := range [][]string{nil, {acctToken}} {
			e := startEnv(t, envConfig{store: st, tokens: tokens})
			c := e.call(t, "ivr", nil, nil)
			before := e.record(t, c.UUID)
			for _, path := range []string{"/flows/%CB/answer", "/flows/%CB/calls/1/menu/action", "/flows/made-up-123/answer", "/flows/%00/calls/1/menu/action", "/flows/%CB/calls/1/menu/action?x=%zz"} {
				r, err := e.sim.Do(context.Background(), plivosim.Request{Method: "POST", URL: e.base + path, Params: callbackParams(c, map[string]string{"Digits": "1"})})
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if r.Status < 400 || r.Status >= 500 {
					t.Errorf("%s: %d %s", path, r.Status, r.Body)
				}
				sameRecord(t, e, c.UUID, before, path)
			}
			// Unsigned, with signatures on: refused before anything else.
			resp, err := http.Post(e.base+"/flows/%CB/answer", "application/x-www-form-urlencoded", strings.NewReader("CallUUID=x&a=%zz"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("unsigned bad name: %d", resp.StatusCode)
			}
			resp, err = http.Post(e.base+"/flows/made-up-456/answer", "application/x-www-form-urlencoded", strings.NewReader("CallUUID=x&a=%zz"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("bad form on a made-up flow: %d", resp.StatusCode)
			}
			// A path under a flow that is no webhook's: 404, signed or
			// not; a webhook's path with another method: 405.
			for _, path := range []string{"/flows/ivr/nothing", "/flows/ivr/calls/1/menu", "/flows/ivr", "/flows/ivr/answer/more"} {
				resp, err := http.Post(e.base+path, "application/x-www-form-urlencoded", strings.NewReader("CallUUID=x"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("POST %s: %d, want 404", path, resp.StatusCode)
				}
			}
			req, _ := http.NewRequest(http.MethodPut, e.base+"/flows/ivr/answer", nil)
			if resp, err := http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("PUT answer: %d, want 405", resp.StatusCode)
			}
			m := e.metrics(t)
			if strings.Contains(m, "made-up-") || strings.Contains(m, "\xcb") {
				t.Errorf("a made-up flow name became a series:\n%s", m)
			}
			if metricValue(m, `flowd_errors_total{flow="unknown",kind="not_found"}`) < 1 {
				t.Errorf("unknown flows not counted as such")
			}
			if err := c.Press("1"); err != nil {
				t.Fatalf("the call after the bad requests: %v", err)
			}
		}
	})
}

// TestAnswerWithoutHost: an HTTP/1.0 answer without a Host header (and no
// public URL) gets callback URLs on the address it reached, not a host
// made of the path.
func TestAnswerWithoutHost(t *testing.T) {
	e := startEnv(t, envConfig{store: runtime.NewMemory()})
	u, err := url.Parse(e.base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "CallUUID=nohost-1&From=%2B14155550100"
	fmt.Fprintf(conn, "POST /flows/ivr/answer HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "200 OK") || !strings.Contains(string(b), `action="http://`+u.Host+`/flows/ivr/calls/1/menu/action"`) {
		t.Errorf("answer without Host:\n%s", b)
	}
}
