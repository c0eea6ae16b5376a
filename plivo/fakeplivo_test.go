package plivo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo/plivotest"
)

const (
	testAuthID = "MAXXXXXXXXXXXXXXXXXX"
	testToken  = "dGVzdHRva2VuMTIzNDU2Nzg5MA"
)

// fakeClock advances only when slept on.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	// Far in the future, so that deadlines on this clock are in the future
	// for the real one too.
	return &fakeClock{now: time.Date(2100, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// newFake starts a fake Plivo closed at the end of the test.
func newFake(t *testing.T) *plivotest.Server {
	t.Helper()
	f := plivotest.New(testAuthID, testToken)
	t.Cleanup(f.Close)
	return f
}

// newTestClient returns a client of fake with a fake clock, no CPS limit,
// 1 ms backoff and jitter pinned to the full delay; mod changes the
// config.
func newTestClient(t *testing.T, fake *plivotest.Server, mod func(*Config)) (*Client, *fakeClock) {
	t.Helper()
	fc := newFakeClock()
	cfg := Config{
		AuthID: testAuthID, AuthToken: testToken, BaseURL: fake.URL, HTTPClient: fake.Client(),
		CPS: -1, Backoff: time.Millisecond, Clock: fc,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.jitter = func() float64 { return 1 }
	return c, fc
}

// lastRequest returns the fake's latest request, checking the headers
// every request must carry.
func lastRequest(t *testing.T, fake *plivotest.Server) plivotest.Request {
	t.Helper()
	reqs := fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	r := reqs[len(reqs)-1]
	checkHeaders(t, r)
	return r
}

func checkHeaders(t *testing.T, r plivotest.Request) {
	t.Helper()
	if !r.BasicAuth || r.User != testAuthID || r.Password != testToken {
		t.Errorf("%s %s: basic auth = %v %q %q", r.Method, r.Path, r.BasicAuth, r.User, r.Password)
	}
	if ua := r.Header.Get("User-Agent"); ua != "flowd" {
		t.Errorf("%s %s: User-Agent = %q", r.Method, r.Path, ua)
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: Content-Type = %q", r.Method, r.Path, r.Header.Get("Content-Type"))
	}
}

// checkRequest checks method, raw path, and the JSON body against want
// (a JSON object text; "" means no body).
func checkRequest(t *testing.T, r plivotest.Request, method, path, wantBody string) {
	t.Helper()
	if r.Method != method || r.RawPath != path {
		t.Errorf("request = %s %s, want %s %s", r.Method, r.RawPath, method, path)
	}
	if wantBody == "" {
		if len(r.RawBody) != 0 {
			t.Errorf("%s %s: body = %s, want none", method, path, r.RawBody)
		}
		return
	}
	var got, want any
	if err := json.Unmarshal(r.RawBody, &got); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, r.RawBody, err)
	}
	if err := json.Unmarshal([]byte(wantBody), &want); err != nil {
		t.Fatalf("bad wantBody %q: %v", wantBody, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s %s: body\n got %s\nwant %s", method, path, r.RawBody, wantBody)
	}
}

const acct = "/v1/Account/" + testAuthID + "/"

func TestFakeMPCLifecycle(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	mpc := MPCByName("room 1")

	// An agent that does not start the MPC: it stays initialized.
	add, err := c.AddParticipant(ctx, mpc, &AddParticipantParams{Role: "agent", From: "14155550100", To: "14155550101", StartMPCOnEnter: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	if add.StatusCode != 201 || add.APIID == "" || len(add.Calls) != 1 || add.Calls[0].To != "14155550101" || add.Message != "add participant action initiated" {
		t.Fatalf("add = %+v", add)
	}
	got, err := c.GetMPC(ctx, mpc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "Initialized" || got.FriendlyName != "room 1" || got.APIID == "" {
		t.Fatalf("MPC = %+v", got)
	}
	if _, err := c.StartMPC(ctx, mpc); err != nil {
		t.Fatal(err)
	}
	// Starting an active MPC is a 404, as documented.
	if _, err := c.StartMPC(ctx, mpc); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second start: %v, want ErrNotFound", err)
	}
	if _, err := c.AddParticipant(ctx, mpc, &AddParticipantParams{Role: "Customer", CallUUID: "c-1"}); err != nil {
		t.Fatal(err)
	}
	ps := fake.Participants("room 1")
	if len(ps) != 2 || ps[0].Role != "agent" || ps[1].Role != "customer" || ps[1].CallUUID != "c-1" {
		t.Fatalf("participants = %+v", ps)
	}
	added := fake.Added()
	if len(added) != 2 || added[0].To != "14155550101" || added[1].CallUUID != "c-1" || added[0].Params["start_mpc_on_enter"] != false {
		t.Fatalf("added = %+v", added)
	}
	list, err := c.ListParticipants(ctx, mpc)
	if err != nil || list.Meta.Count != 2 || len(list.Objects) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if _, err := c.UpdateParticipant(ctx, mpc, "all", &UpdateParticipantParams{Mute: new(true)}); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetParticipant(ctx, mpc, ps[1].MemberID)
	if err != nil || p.Mute == nil || !*p.Mute || p.Role != "customer" {
		t.Fatalf("participant = %+v, %v", p, err)
	}
	// Kicking everybody ends the MPC; it is then found by UUID only.
	if _, err := c.KickParticipant(ctx, mpc, ps[0].MemberID+","+ps[1].MemberID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMPC(ctx, mpc); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get ended MPC by name: %v", err)
	}
	ended, err := c.GetMPC(ctx, MPCByUUID(got.MPCUUID))
	if err != nil || ended.Status != "Ended" || ended.TerminationCauseCode == nil || *ended.TerminationCauseCode != 1000 {
		t.Fatalf("ended = %+v, %v", ended, err)
	}
	// A new participant under the same name starts a new MPC.
	if _, err := c.AddParticipant(ctx, mpc, &AddParticipantParams{Role: "agent", From: "1", To: "2"}); err != nil {
		t.Fatal(err)
	}
	if all := fake.MPCs(); len(all) != 2 || all[1].Status != "Active" || all[0].UUID == all[1].UUID {
		t.Fatalf("MPCs = %+v", all)
	}
	l, err := c.ListMPCs(ctx, &ListMPCsParams{FriendlyName: "room 1", Status: "ended"})
	if err != nil || l.Meta.Count != 1 || l.Objects[0].MPCUUID != got.MPCUUID {
		t.Fatalf("ListMPCs = %+v, %v", l, err)
	}
}

func TestFakeRejects(t *testing.T) {
	fake := newFake(t)
	ctx := context.Background()

	bad, err := NewClient(Config{AuthID: testAuthID, AuthToken: "wrong", BaseURL: fake.URL, CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.HangupCall(ctx, "abc")
	var apiErr *APIError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.APIID == "" {
		t.Fatalf("wrong token: %v", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("401 was retried: %d requests", n)
	}

	raw := func(method, path, ctype, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, fake.URL+path, strings.NewReader(body))
		req.SetBasicAuth(testAuthID, testToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"DELETE", acct + "Call/abc", "", "", 404},                                 // no trailing slash
		{"POST", acct + "Call/", "application/x-www-form-urlencoded", "a=b", 400},  // JSON only
		{"POST", acct + "Call/", "application/json", "[1]", 400},                   // not an object
		{"POST", acct + "Call/", "application/json", `{"from":"1","to":"2"}`, 400}, // answer_url missing
		{"PUT", acct + "Call/", "application/json", "{}", 405},
		{"GET", acct + "Nothing/", "", "", 404},
		{"GET", acct + "MultiPartyCall/x_y/", "", "", 404},
		{"POST", "/v1/Account/OTHER/Call/", "application/json", "{}", 401},
	} {
		if got := raw(tc.method, tc.path, tc.ctype, tc.body); got != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}

	c, _ := newTestClient(t, fake, nil)
	// The fake checks the documented rules itself: bypass the client's
	// validation with Override-free raw JSON through the client's do.
	_, err = send[AddParticipantResponse](ctx, c, &request{
		op: "raw", method: "POST", path: "MultiPartyCall/name_x/Participant/",
		body: map[string]any{"role": "customer", "from": "1", "to": "2<3"},
	})
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "Agent") {
		t.Fatalf("parallel dial of a customer: %v", err)
	}
	_, err = send[Response](ctx, c, &request{op: "raw", method: "POST", path: "MultiPartyCall/name_x/Participant/all/", body: map[string]any{"coach_mode": true}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("update in a missing MPC: %v", err)
	}
}

func TestFakeFaultsAndOverride(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, func(c *Config) { c.MaxRetries = -1 })
	ctx := context.Background()

	fake.Inject(plivotest.Fault{Method: "DELETE", Path: "/Call/", Status: 500, Times: 2})
	if _, err := c.GetMPC(ctx, MPCByName("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GET matched the DELETE fault: %v", err)
	}
	for range 2 {
		if _, err := c.HangupCall(ctx, "u"); !errors.Is(err, ErrServer) {
			t.Fatalf("fault not applied: %v", err)
		}
	}
	if _, err := c.HangupCall(ctx, "u"); err != nil {
		t.Fatalf("fault outlived Times: %v", err)
	}
	if h := fake.Hangups(); len(h) != 1 || h[0] != "u" {
		t.Fatalf("hangups = %v (faulted requests must not change state)", h)
	}

	fake.Override = func(r plivotest.Request) *plivotest.Reply {
		if r.Method == "GET" {
			return &plivotest.Reply{Status: 200, Body: `{"api_id":"over","status":"Active","friendly_name":"o"}`}
		}
		return nil
	}
	got, err := c.GetMPC(ctx, MPCByName("o"))
	if err != nil || got.APIID != "over" || got.Status != "Active" {
		t.Fatalf("override: %+v, %v", got, err)
	}
	reqs := fake.Requests()
	if reqs[len(reqs)-1].Status != 200 || reqs[1].Status != 500 {
		t.Fatalf("recorded statuses: %d %d", reqs[1].Status, reqs[len(reqs)-1].Status)
	}
	fake.Reset()
	if len(fake.Requests()) != 0 || len(fake.Hangups()) != 0 {
		t.Fatal("Reset kept state")
	}
}
