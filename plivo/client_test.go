package plivo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/plivo/plivotest"
)

func TestNewClient(t *testing.T) {
	t.Setenv(EnvAuthID, "")
	t.Setenv(EnvAuthToken, "")
	t.Setenv(EnvAPIURL, "")
	if _, err := NewClient(Config{AuthToken: "t"}); err == nil || !strings.Contains(err.Error(), "auth id") {
		t.Errorf("no auth id: %v", err)
	}
	if _, err := NewClient(Config{AuthID: "a"}); err == nil || !strings.Contains(err.Error(), "auth token") {
		t.Errorf("no auth token: %v", err)
	}
	c, err := NewClient(Config{AuthID: "a", AuthToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != DefaultBaseURL || c.maxRetries != 3 || c.backoff != DefaultBackoff ||
		c.Limiter().Interval() != 500*time.Millisecond || c.hc == nil || c.clock != SystemClock {
		t.Errorf("defaults: base %q retries %d backoff %v cps interval %v", c.BaseURL(), c.maxRetries, c.backoff, c.Limiter().Interval())
	}

	t.Setenv(EnvAuthID, "MAENV")
	t.Setenv(EnvAuthToken, "tokenv")
	t.Setenv(EnvAPIURL, "http://127.0.0.1:9/prefix/")
	c, err = NewClient(Config{MaxRetries: -1, CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthID() != "MAENV" || c.authToken != "tokenv" || c.BaseURL() != "http://127.0.0.1:9/prefix" || c.maxRetries != 0 || c.Limiter() != nil {
		t.Errorf("env: %q %q %q retries %d limiter %v", c.AuthID(), c.authToken, c.BaseURL(), c.maxRetries, c.Limiter())
	}
	for _, base := range []string{"ftp://x", "api.plivo.com", "http://x/?q=1", "://"} {
		if _, err := NewClient(Config{BaseURL: base}); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
	shared := NewLimiter(7, 1, nil)
	c, _ = NewClient(Config{Limiter: shared})
	if c.Limiter() != shared {
		t.Error("Config.Limiter not used")
	}
}

// The base URL's path prefix is kept and every path is /v1/Account/{auth_id}/...
func TestBaseURLPrefix(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c, err := NewClient(Config{AuthID: "MA1", AuthToken: "t", BaseURL: srv.URL + "/plivo/", CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.HangupCall(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if got != "/plivo/v1/Account/MA1/Call/u1/" {
		t.Errorf("path = %q", got)
	}
}

func TestMakeCall(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	p := &MakeCallParams{
		From: "+12025550000", To: "+12025551111", AnswerURL: "https://flowd.example/flows/ivr/answer",
		AnswerMethod: "GET", RingURL: "https://x.example/ring", RingMethod: "POST",
		HangupURL: "https://x.example/hangup", HangupMethod: "POST", FallbackURL: "https://x.example/fb", FallbackMethod: "GET",
		CallerName: "flowd", SendDigits: "1w2W3@1000", SendOnPreanswer: new(true), TimeLimit: new(600), HangupOnRing: new(30),
		MachineDetection: "hangup", MachineDetectionTime: new(5000), MachineDetectionURL: "https://x.example/amd", MachineDetectionMethod: "POST",
		MachineDetectionMaximumSpeechLength: new(5000), MachineDetectionInitialSilence: new(4500), MachineDetectionMaximumWords: new(3),
		MachineDetectionInitialGreeting: new(1500), MachineDetectionSilence: new(800),
		SIPHeaders: "head1=val1,head2=val2", RingTimeout: new(60), ParentCallUUID: "p-1", ErrorIfParentNotFound: new(false),
	}
	resp, err := c.MakeCall(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"Call/", `{
		"from": "+12025550000", "to": "+12025551111", "answer_url": "https://flowd.example/flows/ivr/answer",
		"answer_method": "GET", "ring_url": "https://x.example/ring", "ring_method": "POST",
		"hangup_url": "https://x.example/hangup", "hangup_method": "POST", "fallback_url": "https://x.example/fb", "fallback_method": "GET",
		"caller_name": "flowd", "send_digits": "1w2W3@1000", "send_on_preanswer": true, "time_limit": 600, "hangup_on_ring": 30,
		"machine_detection": "hangup", "machine_detection_time": 5000, "machine_detection_url": "https://x.example/amd", "machine_detection_method": "POST",
		"machine_detection_maximum_speech_length": 5000, "machine_detection_initial_silence": 4500, "machine_detection_maximum_words": 3,
		"machine_detection_initial_greeting": 1500, "machine_detection_silence": 800,
		"sip_headers": "head1=val1,head2=val2", "ring_timeout": 60, "parent_call_uuid": "p-1", "error_if_parent_not_found": false}`)
	if resp.StatusCode != 201 || resp.APIID == "" || resp.Message != "call fired" || len(resp.RequestUUID) != 1 || resp.RequestUUID.First() == "" {
		t.Errorf("response = %+v", resp)
	}
	calls := fake.Calls()
	if len(calls) != 1 || calls[0].RequestUUID != resp.RequestUUID.First() || calls[0].AnswerURL != p.AnswerURL {
		t.Errorf("fake calls = %+v", calls)
	}

	// Only the required arguments: nothing else is sent.
	_, err = c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2<sip:john1234@phone.plivo.com", AnswerURL: "http://a.example/x"})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"Call/", `{"from":"1","to":"2<sip:john1234@phone.plivo.com","answer_url":"http://a.example/x"}`)
	if calls := fake.Calls(); len(calls) != 3 {
		t.Errorf("bulk call made %d calls", len(calls)-1)
	}
}

func TestMakeCallBulkRequestUUIDs(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	resp, err := c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2<3<4", AnswerURL: "http://a.example/x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.RequestUUID) != 3 || slices.Contains(resp.RequestUUID, "") {
		t.Errorf("request_uuid = %v", resp.RequestUUID)
	}
}

func TestTransferAndHangup(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	ctx := context.Background()
	resp, err := c.TransferCall(ctx, "1ed7fd89-df77", &TransferCallParams{Legs: "both", AlegURL: "https://a.example/a", AlegMethod: "GET", BlegURL: "https://a.example/b", BlegMethod: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "POST", acct+"Call/1ed7fd89-df77/",
		`{"legs":"both","aleg_url":"https://a.example/a","aleg_method":"GET","bleg_url":"https://a.example/b","bleg_method":"POST"}`)
	if resp.StatusCode != 202 || resp.Message != "call transferred" || resp.APIID == "" {
		t.Errorf("transfer response = %+v", resp)
	}
	resp, err = c.HangupCall(ctx, "3a2e4c90")
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, lastRequest(t, fake), "DELETE", acct+"Call/3a2e4c90/", "")
	if resp.StatusCode != 204 || resp.APIID != "" {
		t.Errorf("hangup response = %+v", resp)
	}
	n := len(fake.Requests())
	// An empty call UUID would hang up every call of the account.
	for _, id := range []string{"", " ", "a/b", "a?b"} {
		if _, err := c.HangupCall(ctx, id); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "call_uuid") {
			t.Errorf("HangupCall(%q): %v", id, err)
		}
	}
	if _, err := c.TransferCall(ctx, "", &TransferCallParams{Legs: "aleg", AlegURL: "https://a.example/"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("transfer without uuid: %v", err)
	}
	if len(fake.Requests()) != n {
		t.Error("an invalid request was sent")
	}
}

// validationCase is an argument set and the argument named in the error
// ("" when valid).
type validationCase[P any] struct {
	name string
	mod  func(*P)
	arg  string
}

func runValidation[P any](t *testing.T, base func() *P, validate func(*P) error, cases []validationCase[P]) {
	t.Helper()
	for _, tc := range cases {
		p := base()
		tc.mod(p)
		err := validate(p)
		if tc.arg == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &ve) {
			t.Errorf("%s: error %v, want a ValidationError on %s", tc.name, err, tc.arg)
			continue
		}
		if ve.Arg != tc.arg || !strings.Contains(err.Error(), tc.arg) {
			t.Errorf("%s: error on %q (%v), want %q", tc.name, ve.Arg, err, tc.arg)
		}
	}
}

func TestMakeCallValidation(t *testing.T) {
	base := func() *MakeCallParams {
		return &MakeCallParams{From: "14155550100", To: "14155550101", AnswerURL: "https://a.example/answer"}
	}
	n := func(v int) *int { return &v }
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint(1000 + i)
	}
	type C = validationCase[MakeCallParams]
	cases := []C{
		{"valid", func(p *MakeCallParams) {}, ""},
		{"from missing", func(p *MakeCallParams) { p.From = "" }, "from"},
		{"to missing", func(p *MakeCallParams) { p.To = "" }, "to"},
		{"to empty destination", func(p *MakeCallParams) { p.To = "1<<2" }, "to"},
		{"to with spaces", func(p *MakeCallParams) { p.To = "1 < 2" }, "to"},
		{"1000 destinations", func(p *MakeCallParams) { p.To = strings.Join(many[:1000], "<") }, ""},
		{"1001 destinations", func(p *MakeCallParams) { p.To = strings.Join(many, "<") }, "to"},
		{"1001 with duplicates", func(p *MakeCallParams) { p.To = strings.Join(append(many[:1000:1000], many[0]), "<") }, ""},
		{"answer_url missing", func(p *MakeCallParams) { p.AnswerURL = "" }, "answer_url"},
		{"answer_url relative", func(p *MakeCallParams) { p.AnswerURL = "/answer" }, "answer_url"},
		{"answer_url ftp", func(p *MakeCallParams) { p.AnswerURL = "ftp://a.example/x" }, "answer_url"},
		{"answer_method PUT", func(p *MakeCallParams) { p.AnswerMethod = "PUT" }, "answer_method"},
		{"answer_method lower", func(p *MakeCallParams) { p.AnswerMethod = "get" }, "answer_method"},
		{"ring_url", func(p *MakeCallParams) { p.RingURL = "x" }, "ring_url"},
		{"ring_method", func(p *MakeCallParams) { p.RingMethod = "DELETE" }, "ring_method"},
		{"hangup_url", func(p *MakeCallParams) { p.HangupURL = "x" }, "hangup_url"},
		{"hangup_method", func(p *MakeCallParams) { p.HangupMethod = "x" }, "hangup_method"},
		{"fallback_url", func(p *MakeCallParams) { p.FallbackURL = "x" }, "fallback_url"},
		{"fallback_method", func(p *MakeCallParams) { p.FallbackMethod = "x" }, "fallback_method"},
		{"caller_name 50", func(p *MakeCallParams) { p.CallerName = strings.Repeat("é", 50) }, ""},
		{"caller_name 51", func(p *MakeCallParams) { p.CallerName = strings.Repeat("a", 51) }, "caller_name"},
		{"send_digits ok", func(p *MakeCallParams) { p.SendDigits = "123@1000" }, ""},
		{"send_digits bad", func(p *MakeCallParams) { p.SendDigits = "12x" }, "send_digits"},
		{"send_on_preanswer alone", func(p *MakeCallParams) { p.SendOnPreanswer = new(true) }, "send_on_preanswer"},
		{"time_limit 0", func(p *MakeCallParams) { p.TimeLimit = n(0) }, "time_limit"},
		{"time_limit 1", func(p *MakeCallParams) { p.TimeLimit = n(1) }, ""},
		{"hangup_on_ring 0", func(p *MakeCallParams) { p.HangupOnRing = n(0) }, "hangup_on_ring"},
		{"hangup_on_ring 1", func(p *MakeCallParams) { p.HangupOnRing = n(1) }, ""},
		{"machine_detection true", func(p *MakeCallParams) { p.MachineDetection = "true" }, ""},
		{"machine_detection false", func(p *MakeCallParams) { p.MachineDetection = "false" }, "machine_detection"},
		{"amd time 1999", func(p *MakeCallParams) { p.MachineDetectionTime = n(1999) }, "machine_detection_time"},
		{"amd time 2000", func(p *MakeCallParams) { p.MachineDetectionTime = n(2000) }, ""},
		{"amd time 10000", func(p *MakeCallParams) { p.MachineDetectionTime = n(10000) }, ""},
		{"amd time 10001", func(p *MakeCallParams) { p.MachineDetectionTime = n(10001) }, "machine_detection_time"},
		{"amd url", func(p *MakeCallParams) { p.MachineDetectionURL = "x" }, "machine_detection_url"},
		{"amd method", func(p *MakeCallParams) { p.MachineDetectionMethod = "x" }, "machine_detection_method"},
		{"speech 999", func(p *MakeCallParams) { p.MachineDetectionMaximumSpeechLength = n(999) }, "machine_detection_maximum_speech_length"},
		{"speech 1000", func(p *MakeCallParams) { p.MachineDetectionMaximumSpeechLength = n(1000) }, ""},
		{"speech 6000", func(p *MakeCallParams) { p.MachineDetectionMaximumSpeechLength = n(6000) }, ""},
		{"speech 6001", func(p *MakeCallParams) { p.MachineDetectionMaximumSpeechLength = n(6001) }, "machine_detection_maximum_speech_length"},
		{"silence0 1999", func(p *MakeCallParams) { p.MachineDetectionInitialSilence = n(1999) }, "machine_detection_initial_silence"},
		{"silence0 2000", func(p *MakeCallParams) { p.MachineDetectionInitialSilence = n(2000) }, ""},
		{"silence0 10000", func(p *MakeCallParams) { p.MachineDetectionInitialSilence = n(10000) }, ""},
		{"silence0 10001", func(p *MakeCallParams) { p.MachineDetectionInitialSilence = n(10001) }, "machine_detection_initial_silence"},
		{"words 1", func(p *MakeCallParams) { p.MachineDetectionMaximumWords = n(1) }, "machine_detection_maximum_words"},
		{"words 2", func(p *MakeCallParams) { p.MachineDetectionMaximumWords = n(2) }, ""},
		{"words 10", func(p *MakeCallParams) { p.MachineDetectionMaximumWords = n(10) }, ""},
		{"words 11", func(p *MakeCallParams) { p.MachineDetectionMaximumWords = n(11) }, "machine_detection_maximum_words"},
		{"greeting 999", func(p *MakeCallParams) { p.MachineDetectionInitialGreeting = n(999) }, "machine_detection_initial_greeting"},
		{"greeting 1000", func(p *MakeCallParams) { p.MachineDetectionInitialGreeting = n(1000) }, ""},
		{"greeting 5000", func(p *MakeCallParams) { p.MachineDetectionInitialGreeting = n(5000) }, ""},
		{"greeting 5001", func(p *MakeCallParams) { p.MachineDetectionInitialGreeting = n(5001) }, "machine_detection_initial_greeting"},
		{"silence 499", func(p *MakeCallParams) { p.MachineDetectionSilence = n(499) }, "machine_detection_silence"},
		{"silence 500", func(p *MakeCallParams) { p.MachineDetectionSilence = n(500) }, ""},
		{"silence 5000", func(p *MakeCallParams) { p.MachineDetectionSilence = n(5000) }, ""},
		{"silence 5001", func(p *MakeCallParams) { p.MachineDetectionSilence = n(5001) }, "machine_detection_silence"},
		{"sip_headers ok", func(p *MakeCallParams) { p.SIPHeaders = "a=1,B2=c3" }, ""},
		{"sip_headers dash", func(p *MakeCallParams) { p.SIPHeaders = "a-b=1" }, "sip_headers"},
		{"sip_headers no value", func(p *MakeCallParams) { p.SIPHeaders = "a" }, "sip_headers"},
		{"sip_headers empty pair", func(p *MakeCallParams) { p.SIPHeaders = "a=1," }, "sip_headers"},
		{"sip_headers <", func(p *MakeCallParams) { p.SIPHeaders = "a=1<b=2" }, "sip_headers"},
		{"ring_timeout 0", func(p *MakeCallParams) { p.RingTimeout = n(0) }, "ring_timeout"},
		{"ring_timeout 1", func(p *MakeCallParams) { p.RingTimeout = n(1) }, ""},
		{"parent single", func(p *MakeCallParams) { p.ParentCallUUID = "x" }, ""},
		{"parent bulk", func(p *MakeCallParams) { p.ParentCallUUID = "x"; p.To = "1<2" }, "parent_call_uuid"},
		{"error_if_parent alone", func(p *MakeCallParams) { p.ErrorIfParentNotFound = new(true) }, "error_if_parent_not_found"},
	}
	runValidation(t, base, (*MakeCallParams).Validate, cases)

	// Every broken rule is reported, and nothing is sent.
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	_, err := c.MakeCall(context.Background(), &MakeCallParams{AnswerMethod: "PUT", RingTimeout: n(0)})
	for _, arg := range []string{"from", "to", "answer_url", "answer_method", "ring_timeout"} {
		if !strings.Contains(err.Error(), "make call: "+arg+": ") {
			t.Errorf("error does not name %s: %v", arg, err)
		}
	}
	if len(fake.Requests()) != 0 {
		t.Error("invalid call sent")
	}
}

func TestTransferValidation(t *testing.T) {
	base := func() *TransferCallParams { return &TransferCallParams{Legs: "aleg", AlegURL: "https://a.example/a"} }
	type C = validationCase[TransferCallParams]
	runValidation(t, base, (*TransferCallParams).Validate, []C{
		{"valid", func(p *TransferCallParams) {}, ""},
		{"legs bad", func(p *TransferCallParams) { p.Legs = "cleg" }, "legs"},
		{"aleg without url", func(p *TransferCallParams) { p.AlegURL = "" }, "aleg_url"},
		{"bleg without url", func(p *TransferCallParams) { p.Legs = "bleg" }, "bleg_url"},
		{"both without bleg", func(p *TransferCallParams) { p.Legs = "both" }, "bleg_url"},
		{"both", func(p *TransferCallParams) { p.Legs = "both"; p.BlegURL = "http://b.example/" }, ""},
		{"no legs no url", func(p *TransferCallParams) { p.Legs = ""; p.AlegURL = "" }, "aleg_url"},
		{"no legs, bleg url", func(p *TransferCallParams) { p.Legs = ""; p.AlegURL = ""; p.BlegURL = "http://b.example/" }, ""},
		{"aleg_url bad", func(p *TransferCallParams) { p.AlegURL = "nope" }, "aleg_url"},
		{"aleg_method", func(p *TransferCallParams) { p.AlegMethod = "PUT" }, "aleg_method"},
		{"bleg_url bad", func(p *TransferCallParams) { p.BlegURL = "nope" }, "bleg_url"},
		{"bleg_method", func(p *TransferCallParams) { p.BlegMethod = "PUT" }, "bleg_method"},
	})
}

func TestRetryIdempotentOn5xx(t *testing.T) {
	fake := newFake(t)
	c, fc := newTestClient(t, fake, func(c *Config) { c.Backoff = 100 * time.Millisecond })
	fake.Inject(plivotest.Fault{Status: 500})
	fake.Inject(plivotest.Fault{Status: 502})
	fake.Inject(plivotest.Fault{Status: 504})
	if _, err := c.HangupCall(context.Background(), "u"); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	// Exponential: 100, 200, 400 ms (jitter pinned to the full delay).
	if got, want := fc.Sleeps(), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("sleeps = %v, want %v", got, want)
	}
	for _, r := range fake.Requests() {
		checkRequest(t, r, "DELETE", acct+"Call/u/", "")
		checkHeaders(t, r)
	}
}

func TestRetryGivesUp(t *testing.T) {
	fake := newFake(t)
	c, fc := newTestClient(t, fake, nil)
	fake.Inject(plivotest.Fault{Status: 503, Times: -1, Body: `{"api_id":"a-503","error":"try later"}`})
	_, err := c.GetMPC(context.Background(), MPCByName("x"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrServer) || apiErr.Attempts != 4 || apiErr.APIID != "a-503" || apiErr.Message != "try later" {
		t.Fatalf("err = %#v", err)
	}
	if n := len(fake.Requests()); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}
	if len(fc.Sleeps()) != 3 {
		t.Errorf("sleeps = %v", fc.Sleeps())
	}
	if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("message: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "2", 2 * time.Second},
		{"zero", "0", 0},
		{"http date", newFakeClock().Now().Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{"past date", "Mon, 01 Jan 2001 00:00:00 GMT", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			c, fc := newTestClient(t, fake, nil)
			fake.Inject(plivotest.Fault{Status: 429, RetryAfter: tc.header})
			// Make call is not idempotent, but a 429 was refused before
			// Plivo acted: it is retried.
			if _, err := c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"}); err != nil {
				t.Fatal(err)
			}
			if got := fc.Sleeps(); !slices.Equal(got, []time.Duration{tc.want}) {
				t.Errorf("sleeps = %v, want [%v]", got, tc.want)
			}
			if n := len(fake.Calls()); n != 1 {
				t.Errorf("%d calls made", n)
			}
		})
	}
}

func TestRetryAfterTooLongOrPastDeadline(t *testing.T) {
	fake := newFake(t)
	c, fc := newTestClient(t, fake, nil)
	fake.Inject(plivotest.Fault{Status: 429, RetryAfter: "3600"})
	_, err := c.ListMPCs(context.Background(), nil)
	var apiErr *APIError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Hour || apiErr.Attempts != 1 {
		t.Fatalf("err = %v", err)
	}
	if len(fc.Sleeps()) != 0 || len(fake.Requests()) != 1 {
		t.Errorf("waited %v, %d requests", fc.Sleeps(), len(fake.Requests()))
	}

	fake.Inject(plivotest.Fault{Status: 429, RetryAfter: "10"})
	ctx, cancel := context.WithDeadline(context.Background(), fc.Now().Add(5*time.Second))
	defer cancel()
	if _, err := c.ListMPCs(ctx, nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("deadline: %v", err)
	}
	if len(fc.Sleeps()) != 0 {
		t.Errorf("slept past the deadline: %v", fc.Sleeps())
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 405, 409, 422} {
		fake := newFake(t)
		c, fc := newTestClient(t, fake, nil)
		fake.Inject(plivotest.Fault{Status: status, Times: -1})
		_, err := c.GetMPC(context.Background(), MPCByName("x"))
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != status {
			t.Errorf("%d: err = %v", status, err)
		}
		if len(fake.Requests()) != 1 || len(fc.Sleeps()) != 0 {
			t.Errorf("%d retried: %d requests", status, len(fake.Requests()))
		}
	}
}

// Requests that create something are retried only when Plivo surely did
// not act: 429 and 503, not 500/502/504.
func TestNonIdempotentRetries(t *testing.T) {
	ctx := context.Background()
	ops := map[string]func(*Client) error{
		"make call": func(c *Client) error {
			_, err := c.MakeCall(ctx, &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"})
			return err
		},
		"add participant": func(c *Client) error {
			_, err := c.AddParticipant(ctx, MPCByName("m"), &AddParticipantParams{Role: "agent", From: "1", To: "2"})
			return err
		},
		"transfer": func(c *Client) error {
			_, err := c.TransferCall(ctx, "u", &TransferCallParams{Legs: "aleg", AlegURL: "http://a.example/"})
			return err
		},
		"start recording": func(c *Client) error {
			_, err := c.StartMPCRecording(ctx, MPCByName("m"), nil)
			return err
		},
		"play": func(c *Client) error {
			_, err := c.StartPlayAudio(ctx, MPCByName("m"), "all", "https://a.example/a.mp3")
			return err
		},
	}
	for name, op := range ops {
		for _, tc := range []struct {
			status int
			want   int // requests
		}{{500, 1}, {502, 1}, {504, 1}, {503, 2}, {429, 2}} {
			fake := newFake(t)
			c, _ := newTestClient(t, fake, nil)
			// Set up an MPC for the operations that need one.
			if _, err := c.AddParticipant(ctx, MPCByName("m"), &AddParticipantParams{Role: "agent", From: "1", To: "2"}); err != nil {
				t.Fatal(err)
			}
			before := len(fake.Requests())
			fake.Inject(plivotest.Fault{Status: tc.status})
			err := op(c)
			got := len(fake.Requests()) - before
			if got != tc.want {
				t.Errorf("%s, %d: %d requests, want %d", name, tc.status, got, tc.want)
			}
			if (tc.want == 1) != (err != nil) {
				t.Errorf("%s, %d: err = %v", name, tc.status, err)
			}
		}
	}
}

// A connection that cannot be made is retried for every request; one cut
// after the request was sent only for idempotent requests.
func TestTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	fc := newFakeClock()
	c, err := NewClient(Config{AuthID: "a", AuthToken: "t", BaseURL: dead, CPS: -1, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"})
	if err == nil || len(fc.Sleeps()) != 3 {
		t.Errorf("dial error: %v after %d retries", err, len(fc.Sleeps()))
	}

	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close() // cut after the request arrived
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"api_id":"ok","message":"call fired","request_uuid":"r"}`)
	}))
	defer srv.Close()
	c, _ = NewClient(Config{AuthID: "a", AuthToken: "t", BaseURL: srv.URL, CPS: -1, Clock: newFakeClock()})
	if _, err := c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"}); err == nil || hits.Load() != 1 {
		t.Errorf("make call after a cut connection: err %v, %d requests", err, hits.Load())
	}
	hits.Store(0)
	if _, err := c.GetMPC(context.Background(), MPCByName("x")); err != nil || hits.Load() != 2 {
		t.Errorf("get after a cut connection: err %v, %d requests", err, hits.Load())
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	fake := newFake(t)
	fake.Inject(plivotest.Fault{Status: 500, Times: -1})
	c, err := NewClient(Config{AuthID: testAuthID, AuthToken: testToken, BaseURL: fake.URL, CPS: -1, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetMPC(ctx, MPCByName("x"))
	if !errors.Is(err, ErrServer) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func TestErrorDecoding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		sentinel error
		apiID    string
		message  string
		detail   bool
	}{
		{"string", 400, `{"api_id":"97ce","error":"answer_url parameter is missing","request_uuid":"56hf"}`, ErrInvalidRequest, "97ce", "answer_url parameter is missing", false},
		{"object of fields", 400, `{"api_id":"a1","error":{"to":["This field is required."],"from":"invalid number"}}`, ErrInvalidRequest, "a1", "from: invalid number; to: This field is required.", true},
		{"object with message", 404, `{"api_id":"a2","error":{"message":"MPC not found","code":404}}`, ErrNotFound, "a2", "MPC not found", true},
		{"message only", 405, `{"api_id":"a3","message":"method not allowed"}`, ErrMethodNotAllowed, "a3", "method not allowed", false},
		{"401 plain text", 401, `Could not verify your access level for that URL.`, ErrUnauthorized, "", "Could not verify your access level for that URL.", false},
		{"html 502", 502, `<html><body>Bad gateway</body></html>`, ErrServer, "", "Bad Gateway", false},
		{"empty 500", 500, ``, ErrServer, "", "Internal Server Error", false},
		{"429", 429, `{"api_id":"a4","error":"too many requests"}`, ErrRateLimited, "a4", "too many requests", false},
		{"null error", 400, `{"api_id":"a5","error":null}`, ErrInvalidRequest, "a5", "Bad Request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			c, _ := newTestClient(t, fake, func(c *Config) { c.MaxRetries = -1 })
			fake.Override = func(plivotest.Request) *plivotest.Reply { return &plivotest.Reply{Status: tc.status, Body: tc.body} }
			_, err := c.GetParticipant(context.Background(), MPCByName("m"), "12")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, tc.sentinel) || apiErr.Status != tc.status || apiErr.APIID != tc.apiID || apiErr.Message != tc.message || (apiErr.Detail != nil) != tc.detail {
				t.Errorf("got %+v", apiErr)
			}
			if string(apiErr.Body) != tc.body || apiErr.Method != "GET" || apiErr.Path != acct+"MultiPartyCall/name_m/Participant/12/" {
				t.Errorf("body/method/path = %q %s %s", apiErr.Body, apiErr.Method, apiErr.Path)
			}
			for _, other := range []error{ErrInvalidRequest, ErrUnauthorized, ErrNotFound, ErrMethodNotAllowed, ErrRateLimited, ErrServer, ErrInvalidArgument} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("also matches %v", other)
				}
			}
		})
	}
}

func TestBadSuccessBody(t *testing.T) {
	fake := newFake(t)
	c, _ := newTestClient(t, fake, nil)
	fake.Override = func(plivotest.Request) *plivotest.Reply { return &plivotest.Reply{Status: 200, Body: "not json"} }
	if _, err := c.GetMPC(context.Background(), MPCByName("x")); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("err = %v", err)
	}
}

// recordingTransport notes the fake clock's time when each request leaves.
type recordingTransport struct {
	mu    sync.Mutex
	clock Clock
	times []time.Time
	next  http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.times = append(rt.times, rt.clock.Now())
	rt.mu.Unlock()
	return rt.next.RoundTrip(r)
}

// 10 calls at CPS 5 leave 200 ms apart: 1.8 s from the first to the last,
// measured on a fake clock.
func TestLimiterSpacesCalls(t *testing.T) {
	fake := newFake(t)
	fc := newFakeClock()
	rt := &recordingTransport{clock: fc, next: fake.Client().Transport}
	c, _ := newTestClient(t, fake, func(c *Config) {
		c.CPS, c.Clock, c.HTTPClient = 5, fc, &http.Client{Transport: rt}
	})
	start := fc.Now()
	ctx := context.Background()
	for i := range 10 {
		if i%2 == 0 {
			_, err := c.MakeCall(ctx, &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"})
			if err != nil {
				t.Fatal(err)
			}
		} else {
			_, err := c.AddParticipant(ctx, MPCByName(fmt.Sprint("m", i)), &AddParticipantParams{Role: "agent", From: "1", To: "2"})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(rt.times) != 10 {
		t.Fatalf("%d requests", len(rt.times))
	}
	for i, at := range rt.times {
		if want := time.Duration(i) * 200 * time.Millisecond; at.Sub(start) != want {
			t.Errorf("call %d left at +%v, want +%v", i, at.Sub(start), want)
		}
	}
	if total := fc.Now().Sub(start); total < 1800*time.Millisecond {
		t.Errorf("10 calls at CPS 5 took %v", total)
	}

	// Requests that create no outbound call do not wait.
	before := len(fc.Sleeps())
	for range 5 {
		if _, err := c.AddParticipant(ctx, MPCByName("m"), &AddParticipantParams{Role: "customer", CallUUID: "u"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.HangupCall(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	if len(fc.Sleeps()) != before {
		t.Errorf("non-dialing requests waited: %v", fc.Sleeps()[before:])
	}

	// A parallel dial of 3 takes 3 tokens: the next call waits 3 intervals.
	fc.Sleep(ctx, time.Hour) // refill
	rt.times = nil
	at0 := fc.Now()
	if _, err := c.AddParticipant(ctx, MPCByName("m"), &AddParticipantParams{Role: "agent", From: "1", To: "2<3<4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MakeCall(ctx, &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"}); err != nil {
		t.Fatal(err)
	}
	if d := rt.times[1].Sub(at0); d != 600*time.Millisecond || rt.times[0] != at0 {
		t.Errorf("after a 3-way dial the next call left at +%v", d)
	}
}

// The same with the real clock and concurrent callers (CPS 50 to keep the
// test short): 10 calls span at least 180 ms.
func TestLimiterRealClockConcurrent(t *testing.T) {
	fake := newFake(t)
	c, err := NewClient(Config{AuthID: testAuthID, AuthToken: testToken, BaseURL: fake.URL, CPS: 50})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range 10 {
		wg.Go(func() {
			if _, err := c.MakeCall(context.Background(), &MakeCallParams{From: "1", To: "2", AnswerURL: "http://a.example/"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The 10th token is available 9 intervals after the first is taken.
	if elapsed := time.Since(start); elapsed < 180*time.Millisecond {
		t.Errorf("10 calls at CPS 50 took %v, want >= 180ms", elapsed)
	}
	if n := len(fake.Calls()); n != 10 {
		t.Errorf("%d calls made", n)
	}
}

func TestLimiter(t *testing.T) {
	if NewLimiter(0, 1, nil) != nil || NewLimiter(-1, 1, nil) != nil {
		t.Error("a non-positive rate must mean no limiter")
	}
	var nilLimiter *Limiter
	if err := nilLimiter.Wait(context.Background()); err != nil {
		t.Error(err)
	}
	fc := newFakeClock()
	l := NewLimiter(2, 3, fc)
	ctx := context.Background()
	start := fc.Now()
	var at []time.Duration
	for range 6 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		at = append(at, fc.Now().Sub(start))
	}
	// A burst of 3, then one every 500 ms.
	want := []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	if !slices.Equal(at, want) {
		t.Errorf("times = %v, want %v", at, want)
	}

	// A deadline before the wait ends fails at once and gives the token back.
	l = NewLimiter(1, 1, fc)
	l.Wait(ctx)
	dctx, cancel := context.WithDeadline(ctx, fc.Now().Add(500*time.Millisecond))
	defer cancel()
	if err := l.Wait(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	t0 := fc.Now()
	if err := l.Wait(ctx); err != nil || fc.Now().Sub(t0) != time.Second {
		t.Errorf("after a refused wait the next one waited %v", fc.Now().Sub(t0))
	}
	// A canceled context gives the tokens back.
	cctx, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := l.WaitN(cctx, 5); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	t0 = fc.Now()
	l.Wait(ctx)
	if d := fc.Now().Sub(t0); d != time.Second {
		t.Errorf("canceled tokens kept: next wait %v", d)
	}
}

func TestBackoffDelay(t *testing.T) {
	c := &Client{backoff: 100 * time.Millisecond, maxBack: time.Second}
	for _, j := range []float64{0, 0.5, 0.999} {
		c.jitter = func() float64 { return j }
		for attempt, full := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
			full *= time.Millisecond
			d := c.backoffDelay(attempt + 1)
			if d < full/2 || d > full {
				t.Errorf("attempt %d jitter %v: %v not in [%v, %v]", attempt+1, j, d, full/2, full)
			}
		}
	}
}

func TestStringList(t *testing.T) {
	var r MakeCallResponse
	for body, want := range map[string][]string{
		`{"request_uuid":"a"}`:       {"a"},
		`{"request_uuid":["a","b"]}`: {"a", "b"},
		`{"request_uuid":null}`:      nil,
	} {
		r = MakeCallResponse{}
		if err := jsonUnmarshal(body, &r); err != nil || !slices.Equal(r.RequestUUID, want) {
			t.Errorf("%s: %v %v", body, r.RequestUUID, err)
		}
	}
}
