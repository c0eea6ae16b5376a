package plivosim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/flowd-dev/flowd/plivo"
)

// fakeApp is a small XML application that records what it receives.
type fakeApp struct {
	t      *testing.T
	token  string // verify signatures when set
	base   string // filled once the server runs
	mu     sync.Mutex
	got    []got
	status int // answer with this status when not 0
}

type got struct {
	Method, Path string
	Params       url.Values
}

func (a *fakeApp) last() got {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.got[len(a.got)-1]
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if a.token != "" {
		var form url.Values
		if r.Method == http.MethodPost {
			form = r.PostForm
		}
		public := "http://" + r.Host + r.URL.RequestURI()
		if err := plivo.VerifyRequest(r, public, form, a.token); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	a.mu.Lock()
	a.got = append(a.got, got{r.Method, r.URL.Path, r.Form})
	status := a.status
	a.mu.Unlock()
	if status != 0 {
		http.Error(w, "refused", status)
		return
	}
	b := a.base
	var doc string
	switch r.URL.Path {
	case "/answer":
		doc = `<Response><Speak>Hi</Speak><GetDigits action="` + b + `/digits" numDigits="1"><Speak>Press</Speak></GetDigits><Redirect>` + b + `/noinput</Redirect></Response>`
	case "/noinput":
		doc = `<Response><Speak>Bye</Speak><Hangup/></Response>`
	case "/digits", "/speech":
		switch r.Form.Get("Digits") + r.Form.Get("Speech") {
		case "1":
			doc = `<Response><Dial action="` + b + `/dial" method="GET"><Number>1415</Number></Dial></Response>`
		case "2":
			doc = `<Response><GetInput action="` + b + `/speech" inputType="speech"><Speak>Say</Speak></GetInput><Speak>nothing</Speak><Redirect method="GET">` + b + `/noinput</Redirect></Response>`
		case "3":
			doc = `<Response><Record action="` + b + `/record"/></Response>`
		case "4":
			doc = `<Response><Conference action="` + b + `/left">room &amp; co</Conference></Response>`
		case "5":
			doc = `<Response><MultiPartyCall role="customer" onExitActionUrl="` + b + `/left" onExitActionMethod="GET" statusCallbackUrl="` + b + `/status" recordingCallbackUrl="` + b + `/rec" recordingCallbackMethod="GET">mpc</MultiPartyCall></Response>`
		case "6":
			doc = `<Response><GetDigits action="` + b + `/notify" redirect="false"/><Dial action="` + b + `/dial"><Number>1</Number></Dial></Response>`
		case "7":
			doc = `<Response><Speak>no callbacks</Speak></Response>`
		case "8":
			doc = `not xml`
		default:
			doc = `<Response><Speak voice="Polly.Joanna">x<break time="1s"/><lang xml:lang="fr-FR">oui</lang></Speak><Hangup/></Response>`
		}
	case "/notify":
		doc = `<Response><Speak>ignored</Speak></Response>`
	case "/dial", "/record", "/left":
		doc = `<Response><Speak>after ` + r.URL.Path[1:] + `</Speak><Hangup/></Response>`
	case "/hangup", "/status", "/rec":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, doc)
}

func newFake(t *testing.T, token string) (*fakeApp, *httptest.Server) {
	a := &fakeApp{t: t, token: token}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	a.base = srv.URL
	return a, srv
}

func TestCallPressDialHangup(t *testing.T) {
	a, srv := newFake(t, "")
	sim := &Sim{HangupURL: srv.URL + "/hangup"}
	c, err := sim.Call(context.Background(), srv.URL+"/answer", map[string]string{"From": "+15550001", "X-PH-Tenant": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	ans := a.last()
	if ans.Method != http.MethodPost || ans.Params.Get("Event") != "StartApp" || ans.Params.Get("CallStatus") != "ringing" ||
		ans.Params.Get("From") != "+15550001" || ans.Params.Get("X-PH-Tenant") != "acme" || ans.Params.Get("Direction") != "inbound" {
		t.Fatalf("answer params: %v", ans.Params)
	}
	if c.UUID == "" || ans.Params.Get("CallUUID") != c.UUID || len(c.UUID) != 36 {
		t.Fatalf("CallUUID %q, sent %q", c.UUID, ans.Params.Get("CallUUID"))
	}
	w := c.Wait()
	if w.Kind != "GetDigits" || w.URL != srv.URL+"/digits" || w.Method != "POST" || w.NoInputURL != srv.URL+"/noinput" {
		t.Fatalf("wait: %+v", w)
	}
	if c.Status() != 200 || !strings.Contains(string(c.XML()), "<GetDigits") || c.Doc().Find("GetDigits") == nil {
		t.Fatalf("status %d, xml %s", c.Status(), c.XML())
	}
	// Events the GetDigits cannot send.
	for name, f := range map[string]func() error{
		"Say":    func() error { return c.Say("hello") },
		"Dial":   func() error { return c.Dial("completed") },
		"Record": func() error { return c.Record(nil) },
		"Exit":   func() error { return c.Exit(nil) },
	} {
		err := f()
		if !errors.Is(err, ErrWrongEvent) || !strings.Contains(err.Error(), "cannot send "+name) || !strings.Contains(err.Error(), "<GetDigits>") {
			t.Errorf("%s at GetDigits: %v", name, err)
		}
	}
	if err := c.Press("1"); err != nil {
		t.Fatal(err)
	}
	p := a.last()
	if p.Path != "/digits" || p.Params.Get("Digits") != "1" || p.Params.Get("CallStatus") != "in-progress" || p.Params.Get("Event") != "" || p.Params.Get("CallUUID") != c.UUID {
		t.Fatalf("press sent %v", p)
	}
	if w := c.Wait(); w.Kind != "Dial" || w.Method != "GET" {
		t.Fatalf("wait: %+v", w)
	}
	err = c.Press("2")
	var ee *EventError
	if !errors.As(err, &ee) || ee.Wait.Kind != "Dial" || !strings.Contains(err.Error(), "Press needs <GetDigits> or <GetInput>") {
		t.Fatalf("press at Dial: %v", err)
	}
	if err := c.Dial("busy"); err != nil {
		t.Fatal(err)
	}
	d := a.last()
	if d.Method != "GET" || d.Params.Get("DialStatus") != "busy" || d.Params.Get("DialRingStatus") != "false" ||
		d.Params.Get("DialALegUUID") != c.UUID || d.Params.Get("DialHangupCause") != "USER_BUSY" {
		t.Fatalf("dial sent %v %v", d.Method, d.Params)
	}
	if !c.Ended() || c.Wait().End != "Hangup" {
		t.Fatalf("want ended at Hangup, wait %+v", c.Wait())
	}
	if err := c.Press("1"); !errors.Is(err, ErrWrongEvent) || !strings.Contains(err.Error(), "the call has ended (Hangup)") {
		t.Fatalf("press after the end: %v", err)
	}
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	h := a.last()
	if h.Path != "/hangup" || h.Params.Get("HangupCause") != "NORMAL_CLEARING" || h.Params.Get("Duration") == "" ||
		h.Params.Get("BillDuration") == "" || h.Params.Get("CallStatus") != "completed" || h.Params.Get("Event") != "Hangup" {
		t.Fatalf("hangup sent %v", h.Params)
	}
	if err := c.Hangup(); !errors.Is(err, ErrHungUp) {
		t.Fatalf("second hangup: %v", err)
	}
	if err := c.Dial("completed"); !errors.Is(err, ErrHungUp) {
		t.Fatalf("dial after hangup: %v", err)
	}
}

func TestNoInputFollowsRedirect(t *testing.T) {
	a, srv := newFake(t, "")
	c, err := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NoInput(); err != nil {
		t.Fatal(err)
	}
	r := a.last()
	if r.Path != "/noinput" || r.Params.Get("Event") != "Redirect" || r.Params.Get("CallUUID") != c.UUID {
		t.Fatalf("no input sent %v", r)
	}
	if !c.Ended() {
		t.Fatalf("want ended: %+v", c.Wait())
	}
}

func TestSpeechAndGetRedirect(t *testing.T) {
	a, srv := newFake(t, "")
	c, err := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Press("2"); err != nil {
		t.Fatal(err)
	}
	if w := c.Wait(); w.Kind != "GetInput" || w.NoInputMethod != "GET" {
		t.Fatalf("wait %+v", w)
	}
	if err := c.Press("5"); !errors.Is(err, ErrWrongEvent) || !strings.Contains(err.Error(), `inputType is "speech"`) {
		t.Fatalf("press at speech-only GetInput: %v", err)
	}
	if err := c.SayWith("yes please", 0.5); err != nil {
		t.Fatal(err)
	}
	s := a.last()
	if s.Params.Get("InputType") != "speech" || s.Params.Get("Speech") != "yes please" || s.Params.Get("SpeechConfidenceScore") != "0.5" {
		t.Fatalf("say sent %v", s.Params)
	}
	// "yes please" is no known answer: the default document hangs up.
	if !c.Ended() {
		t.Fatalf("wait %+v", c.Wait())
	}

	c, _ = (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	_ = c.Press("2")
	if err := c.NoInput(); err != nil {
		t.Fatal(err)
	}
	if r := a.last(); r.Method != "GET" || r.Path != "/noinput" || r.Params.Get("Event") != "Redirect" {
		t.Fatalf("no input sent %v", r)
	}
}

func TestRecordConferenceMPC(t *testing.T) {
	a, srv := newFake(t, "")
	sim := &Sim{}
	for _, tc := range []struct {
		digits, kind, path, method string
		send                       func(c *Call) error
		check                      func(p url.Values) bool
	}{
		{"3", "Record", "/record", "POST", func(c *Call) error { return c.Record(map[string]string{"RecordingDuration": "12"}) },
			func(p url.Values) bool {
				return p.Get("RecordingDuration") == "12" && strings.HasPrefix(p.Get("RecordUrl"), "https://") && p.Get("RecordingID") != ""
			}},
		{"4", "Conference", "/left", "POST", func(c *Call) error { return c.Exit(nil) },
			func(p url.Values) bool {
				return p.Get("ConferenceName") == "room & co" && p.Get("ConferenceUUID") != ""
			}},
		{"5", "MultiPartyCall", "/left", "GET", func(c *Call) error { return c.Exit(map[string]string{"Reason": "kicked"}) },
			func(p url.Values) bool { return p.Get("Reason") == "kicked" }},
	} {
		c, err := sim.Call(context.Background(), srv.URL+"/answer", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Press(tc.digits); err != nil {
			t.Fatal(err)
		}
		if c.Wait().Kind != tc.kind {
			t.Fatalf("%s: wait %+v", tc.kind, c.Wait())
		}
		if err := tc.send(c); err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		r := a.last()
		if r.Path != tc.path || r.Method != tc.method || !tc.check(r.Params) {
			t.Fatalf("%s sent %s %s %v", tc.kind, r.Method, r.Path, r.Params)
		}
		if !c.Ended() || !strings.Contains(string(c.XML()), "after") {
			t.Fatalf("%s: %s", tc.kind, c.XML())
		}
	}
}

func TestRedirectFalseNotifiesAndGoesOn(t *testing.T) {
	a, srv := newFake(t, "")
	c, _ := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if err := c.Press("6"); err != nil {
		t.Fatal(err)
	}
	if err := c.Press("42"); err != nil {
		t.Fatal(err)
	}
	if r := a.last(); r.Path != "/notify" || r.Params.Get("Digits") != "42" {
		t.Fatalf("sent %v", r)
	}
	// The answer of /notify is ignored: the call goes on to the Dial.
	if w := c.Wait(); w.Kind != "Dial" {
		t.Fatalf("wait %+v", w)
	}
}

func TestEndOfDocumentAndBadXML(t *testing.T) {
	_, srv := newFake(t, "")
	c, _ := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if err := c.Press("7"); err != nil {
		t.Fatal(err)
	}
	if !c.Ended() || c.Wait().End != "end of document" {
		t.Fatalf("wait %+v", c.Wait())
	}
	c, _ = (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	err := c.Press("8")
	if err == nil || !strings.Contains(err.Error(), "not a <Response> document") {
		t.Fatalf("bad answer: %v", err)
	}
	// The call stays where it was; Last has the bad answer.
	if c.Wait().Kind != "GetDigits" || string(c.Last().Body) != "not xml" || c.Status() != 200 {
		t.Fatalf("wait %+v last %q", c.Wait(), c.Last().Body)
	}
	if err := c.Press("9"); err != nil {
		t.Fatal(err)
	}
	d := c.Doc()
	sp := d.Find("Speak")
	if sp.Attr("voice") != "Polly.Joanna" || sp.Text != "x" || d.Find("lang").Attr("xml:lang") != "fr-FR" {
		t.Fatalf("parsed %s", d)
	}
	if got := strings.Join(d.Names(), ","); got != "Speak,Hangup" {
		t.Fatalf("names %s", got)
	}
}

func TestStatusError(t *testing.T) {
	a, srv := newFake(t, "")
	c, err := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.status = http.StatusConflict
	a.mu.Unlock()
	err = c.Press("1")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 409 || !strings.Contains(se.Error(), "refused") {
		t.Fatalf("press: %v", err)
	}
	if c.Status() != 409 || c.Wait().Kind != "GetDigits" {
		t.Fatalf("status %d wait %+v", c.Status(), c.Wait())
	}
	a.mu.Lock()
	a.status = 0
	a.mu.Unlock()
	if err := c.Press("1"); err != nil || c.Wait().Kind != "Dial" {
		t.Fatalf("press again: %v %+v", err, c.Wait())
	}
	// Retry sends the same request again and leaves the call alone.
	r, err := c.Retry()
	if err != nil || r.Status != 200 || r.Request.Params.Get("Digits") != "1" || c.Wait().Kind != "Dial" {
		t.Fatalf("retry: %v %+v", err, r)
	}
}

func TestSignatures(t *testing.T) {
	const token = "MzQ5ZTdkZjFhYjQ4NmRmMTQ0NzUwYmQ5ZDFlZTVi"
	_, srv := newFake(t, token)
	for _, method := range []string{"POST", "GET"} {
		sim := &Sim{AuthToken: token, AnswerMethod: method, HangupURL: srv.URL + "/hangup"}
		c, err := sim.Call(context.Background(), srv.URL+"/answer?tenant=a%20b", map[string]string{"CallerName": "Zoë & Co"})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if err := c.Press("1"); err != nil { // POST
			t.Fatal(err)
		}
		if err := c.Dial("completed"); err != nil { // GET
			t.Fatal(err)
		}
		if err := c.Hangup(); err != nil {
			t.Fatal(err)
		}
	}
	// Unsigned and wrongly signed requests are refused by the fake.
	for _, sim := range []*Sim{{}, {AuthToken: "wrong"}} {
		_, err := sim.Call(context.Background(), srv.URL+"/answer", nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusForbidden {
			t.Fatalf("want 403, got %v", err)
		}
	}
}

func TestMainAccountSignature(t *testing.T) {
	const main = "main-account-token"
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		hdr = r.Header.Clone()
		if err := plivo.VerifyRequest(r, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, "sub-token", main); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `<Response><Hangup/></Response>`)
	}))
	defer srv.Close()
	c, err := (&Sim{MainAuthToken: main}).Call(context.Background(), srv.URL+"/answer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Get(plivo.HeaderSignatureMaV3) == "" || hdr.Get(plivo.HeaderSignatureV3) != "" || len(hdr.Get(plivo.HeaderNonceV3)) != 20 || !c.Ended() {
		t.Fatalf("headers %v", hdr)
	}
}

func TestTransportInProcess(t *testing.T) {
	a := &fakeApp{t: t, base: "https://app.example.com"}
	sim := &Sim{AuthToken: "tok", HangupURL: "https://app.example.com/hangup"}
	var sawTLS bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS = r.TLS != nil && r.Host == "app.example.com" && r.RequestURI == "/answer?x=1"
		// Verify the signature against the URL as the handler sees it.
		_ = r.ParseForm()
		if err := plivo.VerifyRequest(r, "https://"+r.Host+r.URL.RequestURI(), r.PostForm, "tok"); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		a.ServeHTTP(w, r)
	})
	sim.Client = HandlerClient(h)
	c, err := sim.Call(context.Background(), "https://app.example.com/answer?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sawTLS {
		t.Fatal("the handler did not see the request as a server would")
	}
	if err := c.Press("3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Record(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
}

func TestResumeAndCallback(t *testing.T) {
	a, srv := newFake(t, "")
	doc := []byte(`<Response><Dial action="` + srv.URL + `/dial"><Number>1</Number></Dial></Response>`)
	c, err := (&Sim{}).Resume(context.Background(), map[string]string{"CallUUID": "abc"}, doc)
	if err != nil {
		t.Fatal(err)
	}
	if c.UUID != "abc" || c.Wait().Kind != "Dial" {
		t.Fatalf("%+v", c.Wait())
	}
	if err := c.Callback(map[string]string{"DialStatus": ""}); err != nil {
		t.Fatal(err)
	}
	if p := a.last().Params; p.Get("CallUUID") != "abc" || !p.Has("DialStatus") || p.Get("DialRingStatus") != "" {
		t.Fatalf("callback sent %v", p)
	}
	if _, err := (&Sim{}).Resume(context.Background(), nil, []byte("<Foo/>")); err == nil {
		t.Fatal("want an error for a non-Response document")
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", "<Response>", "<Response/><Response/>", "<Response></Speak>", "text<Response/>", "<Other/>"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
	e, err := Parse([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Response><GetDigits action="https://x/y?a=1&amp;b=2"><Speak>1 &lt; 2</Speak><Wait length="2"/></GetDigits></Response>`))
	if err != nil {
		t.Fatal(err)
	}
	g := e.Find("GetDigits")
	if g.Attr("action") != "https://x/y?a=1&b=2" || g.Children[0].Text != "1 < 2" || len(e.FindAll("Wait")) != 1 {
		t.Fatalf("%s", e)
	}
	if got := e.String(); got != `<Response><GetDigits action="https://x/y?a=1&amp;b=2"><Speak>1 &lt; 2</Speak><Wait length="2"/></GetDigits></Response>` {
		t.Fatalf("String: %s", got)
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := NewUUID()
		if len(u) != 36 || u[14] != '4' || seen[u] {
			t.Fatalf("bad uuid %q", u)
		}
		seen[u] = true
	}
}

func TestNotify(t *testing.T) {
	a, srv := newFake(t, "")
	c, _ := (&Sim{}).Call(context.Background(), srv.URL+"/answer", nil)
	if _, err := c.Notify("statusCallbackUrl", nil); !errors.Is(err, ErrWrongEvent) || !strings.Contains(err.Error(), "no statusCallbackUrl") {
		t.Fatalf("notify without the attribute: %v", err)
	}
	if err := c.Press("5"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Notify("statusCallbackUrl", map[string]string{"EventName": "MPCInitialized"})
	if err != nil || r.Status != 204 {
		t.Fatalf("notify: %v %+v", err, r)
	}
	if g := a.last(); g.Path != "/status" || g.Method != "POST" || g.Params.Get("EventName") != "MPCInitialized" || g.Params.Get("CallUUID") != c.UUID {
		t.Fatalf("sent %+v", g)
	}
	if _, err := c.Notify("recordingCallbackUrl", map[string]string{"RecordUrl": "https://x/r.mp3"}); err != nil {
		t.Fatal(err)
	}
	if g := a.last(); g.Path != "/rec" || g.Method != "GET" {
		t.Fatalf("sent %+v", g)
	}
	// The call has not moved.
	if c.Wait().Kind != "MultiPartyCall" || c.Status() != 204 {
		t.Fatalf("wait %+v status %d", c.Wait(), c.Status())
	}
}

// TestCollect: the Digits Plivo posts for the keys a caller presses, by
// the element's finishOnKey, numDigits and validDigits as written, else
// Plivo's defaults.
func TestCollect(t *testing.T) {
	long := strings.Repeat("1", 120)
	for _, tc := range []struct {
		name, el, keys string
		digits         string
		invalid        bool
	}{
		{"finishOnKey # by default", `<GetDigits/>`, "1234#", "1234", false},
		{"the finishOnKey alone: no input", `<GetDigits/>`, "#", "", true},
		{"keys after the finishOnKey", `<GetDigits/>`, "12#34", "12", false},
		{"numDigits", `<GetDigits numDigits="4"/>`, "123456", "1234", false},
		{"numDigits 99 by default", `<GetDigits/>`, long, long[:99], false},
		{"finishOnKey none", `<GetDigits finishOnKey="none"/>`, "12#", "12#", false},
		{"finishOnKey empty", `<GetDigits finishOnKey=""/>`, "12#", "12#", false},
		{"finishOnKey *", `<GetDigits finishOnKey="*"/>`, "1#2*3", "1#2", false},
		{"every key valid by default", `<GetDigits/>`, "1*0", "1*0", false},
		{"an invalid key", `<GetDigits validDigits="12"/>`, "13", "", true},
		{"an invalid key alone", `<GetDigits validDigits="12"/>`, "3", "", true},
		{"an invalid key after the finishOnKey", `<GetDigits validDigits="12"/>`, "12#3", "12", false},
		{"an invalid key past numDigits", `<GetDigits numDigits="1" validDigits="12"/>`, "13", "1", false},
		{"# not valid once it is no finishOnKey", `<GetDigits finishOnKey="none" validDigits="12"/>`, "1#", "", true},
		{"the finishOnKey is never invalid", `<GetDigits finishOnKey="*" validDigits="12"/>`, "1*", "1", false},
		{"GetInput: finishOnKey # by default", `<GetInput inputType="dtmf"/>`, "1234#", "1234", false},
		{"GetInput: no numDigits, no limit", `<GetInput inputType="dtmf"/>`, long, long, false},
		{"GetInput: numDigits", `<GetInput inputType="dtmf" numDigits="3"/>`, "12345", "123", false},
		{"GetInput: finishOnKey *", `<GetInput inputType="dtmf speech" finishOnKey="*"/>`, "12*#", "12", false},
		{"GetInput: finishOnKey none", `<GetInput finishOnKey="none"/>`, "12#", "12#", false},
		{"GetInput has no validDigits", `<GetInput validDigits="1"/>`, "5", "5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse([]byte("<Response>" + tc.el + "</Response>"))
			if err != nil {
				t.Fatal(err)
			}
			digits, ok := Collect(doc.Children[0], tc.keys)
			if digits != tc.digits || ok == tc.invalid {
				t.Errorf("Collect(%s, %q) = %q, %v; want %q, %v", tc.el, tc.keys, digits, ok, tc.digits, !tc.invalid)
			}
		})
	}
}

// keysApp answers with one input element, then a Redirect for no input,
// and records what it receives.
func keysApp(t *testing.T, input string) (*fakeApp, *Sim) {
	a := &fakeApp{t: t}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a.mu.Lock()
		a.got = append(a.got, got{r.Method, r.URL.Path, r.Form})
		a.mu.Unlock()
		doc := `<Response><Hangup/></Response>`
		if r.URL.Path == "/answer" {
			doc = `<Response>` + input + `<Redirect>http://app/noinput</Redirect></Response>`
		}
		fmt.Fprint(w, doc)
	})
	return a, &Sim{Client: HandlerClient(h)}
}

// TestPressCollects: Press and PressWith post the Digits Plivo collects;
// a key the GetDigits does not take goes on as for no input; a Digits
// given in PressWith's params is posted as given.
func TestPressCollects(t *testing.T) {
	for _, tc := range []struct {
		name, input, keys string
		params            map[string]string
		path, digits      string // where the request went and its Digits
	}{
		{"finishOnKey", `<GetDigits action="http://app/digits"/>`, "1234#", nil, "/digits", "1234"},
		{"the finishOnKey alone is no input", `<GetDigits action="http://app/digits"/>`, "#", nil, "/noinput", ""},
		{"numDigits", `<GetDigits action="http://app/digits" numDigits="4"/>`, "123456", nil, "/digits", "1234"},
		{"finishOnKey none", `<GetDigits action="http://app/digits" finishOnKey="none"/>`, "12#", nil, "/digits", "12#"},
		{"an invalid key is no input", `<GetDigits action="http://app/digits" validDigits="12"/>`, "19", nil, "/noinput", ""},
		{"an invalid key after #", `<GetDigits action="http://app/digits" validDigits="12"/>`, "12#9", nil, "/digits", "12"},
		{"GetInput", `<GetInput action="http://app/digits" inputType="dtmf" finishOnKey="*" numDigits="3"/>`, "12*3", nil, "/digits", "12"},
		{"params", `<GetDigits action="http://app/digits"/>`, "77#", map[string]string{"X": "y"}, "/digits", "77"},
		{"params with an invalid key", `<GetDigits action="http://app/digits" validDigits="12"/>`, "9", map[string]string{"X": "y"}, "/noinput", ""},
		{"Digits in params", `<GetDigits action="http://app/digits" validDigits="12"/>`, "9#", map[string]string{"Digits": "9#"}, "/digits", "9#"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sim := keysApp(t, tc.input)
			c, err := sim.Call(context.Background(), "http://app/answer", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.PressWith(tc.keys, tc.params); err != nil {
				t.Fatal(err)
			}
			r := a.last()
			if r.Path != tc.path || r.Params.Get("Digits") != tc.digits {
				t.Fatalf("sent %s with Digits=%q, want %s with Digits=%q", r.Path, r.Params.Get("Digits"), tc.path, tc.digits)
			}
			switch {
			case tc.path == "/noinput":
				if r.Params.Get("Event") != "Redirect" || r.Params.Has("X") {
					t.Errorf("no input sent %v", r.Params)
				}
			case strings.Contains(tc.input, "GetInput"):
				if r.Params.Get("InputType") != "dtmf" {
					t.Errorf("sent %v", r.Params)
				}
			case tc.params["X"] != "" && r.Params.Get("X") != tc.params["X"]:
				t.Errorf("params not sent: %v", r.Params)
			}
			if !c.Ended() {
				t.Errorf("wait %+v", c.Wait())
			}
			if tc.params == nil {
				// Press is PressWith without params.
				a, sim := keysApp(t, tc.input)
				c, _ := sim.Call(context.Background(), "http://app/answer", nil)
				if err := c.Press(tc.keys); err != nil {
					t.Fatal(err)
				}
				if r := a.last(); r.Path != tc.path || r.Params.Get("Digits") != tc.digits {
					t.Errorf("Press sent %s with Digits=%q", r.Path, r.Params.Get("Digits"))
				}
			}
		})
	}
}
