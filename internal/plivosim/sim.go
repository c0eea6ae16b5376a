package plivosim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/xmlgen"
)

// Sim plays Plivo. The zero value is ready to use: it sends through
// http.DefaultClient, unsigned, with form POSTs.
type Sim struct {
	// Client sends the requests; nil means http.DefaultClient. Use
	// HandlerClient or Transport to serve them with an http.Handler in
	// this process.
	Client *http.Client
	// AuthToken, when set, signs every request: X-Plivo-Signature-V3 and
	// X-Plivo-Signature-V3-Nonce.
	AuthToken string
	// MainAuthToken, when set, also signs every request with
	// X-Plivo-Signature-Ma-V3, as Plivo does with a main account's token.
	MainAuthToken string
	// AnswerMethod is the answer webhook's method: "POST" (default) or
	// "GET" (parameters in the query).
	AnswerMethod string
	// HangupURL is where Hangup posts, unless a Call's own HangupURL is
	// set. Plivo's hangup_url.
	HangupURL string
	// HangupMethod is the hangup webhook's method: "POST" (default) or "GET".
	HangupMethod string
	// Defaults are added to the standard parameters of every new call;
	// the params given to Call override both.
	Defaults map[string]string
	// Header is added to every request (a proxy's X-Forwarded-*, say).
	Header http.Header
	// MaxBody caps the answers read (default 1 MiB, Plivo's own limit is
	// 100 KB).
	MaxBody int64
}

// Request is one request the simulator sends.
type Request struct {
	Method string     // GET or POST
	URL    string     // the URL as requested, without the parameters of a GET
	Params url.Values // form body of a POST, added to the query of a GET
}

// Response is the answer to a Request.
type Response struct {
	Request Request
	// URL is the URL as finally requested (with a GET's parameters): the
	// one signed.
	URL    string
	Status int
	Header http.Header
	Body   []byte
	// Doc is the parsed document when the answer is 200 with XML, else nil.
	Doc *Element
}

// Errors of the event methods; test for them with errors.Is.
var (
	// ErrWrongEvent means the element the call is at cannot send the event.
	ErrWrongEvent = errors.New("plivosim: the call cannot send this event where it is")
	// ErrHungUp means Hangup was already sent.
	ErrHungUp = errors.New("plivosim: the call has hung up")
)

// EventError says why an event cannot be sent where the call is.
type EventError struct {
	Event  string // Press, Say, NoInput, Dial, Record, Exit, FollowRedirect, Callback
	Wait   Wait   // where the call is
	Reason string
}

func (e *EventError) Error() string {
	where := "the call has ended"
	if e.Wait.Element != nil {
		where = "the call is at <" + e.Wait.Kind + ">"
		if e.Wait.URL != "" {
			where += " (" + e.Wait.Method + " " + e.Wait.URL + ")"
		}
	} else if e.Wait.End != "" {
		where += " (" + e.Wait.End + ")"
	}
	msg := "plivosim: cannot send " + e.Event + ": " + where
	if e.Reason != "" {
		msg += "; " + e.Reason
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrWrongEvent) true.
func (e *EventError) Unwrap() error { return ErrWrongEvent }

// StatusError is an answer other than 200 with a <Response> document.
type StatusError struct {
	Method, URL string
	Status      int
	Body        []byte
}

func (e *StatusError) Error() string {
	body := strings.TrimSpace(string(e.Body))
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("plivosim: %s %s: status %d: %s", e.Method, e.URL, e.Status, body)
}

// Wait is where a call's document stands: the element Plivo executes and
// waits at, or the end.
type Wait struct {
	// Kind is the element's name (GetDigits, GetInput, Dial, Record,
	// Conference, MultiPartyCall, Redirect); "" once the call has ended.
	Kind    string
	Element *Element
	// URL and Method are where the element's event goes: the action (or
	// onExitActionUrl, or a Redirect's URL).
	URL, Method string
	// NoInputURL and NoInputMethod are, for GetDigits and GetInput, the
	// Redirect Plivo follows when the caller gives no input ("" when the
	// document does something else then).
	NoInputURL, NoInputMethod string
	// End says how the call ended when Kind is "": "Hangup" or "end of
	// document".
	End string
}

// Ended reports whether the document has nothing more to wait on.
func (w Wait) Ended() bool { return w.Element == nil }

// Call is one call in progress. Its methods send Plivo's events for the
// element the call is at. A Call is not safe for concurrent use.
type Call struct {
	// UUID is the CallUUID.
	UUID string
	// Params are the call's standard parameters, sent with every request.
	Params map[string]string
	// HangupURL overrides the Sim's for this call.
	HangupURL string

	sim     *Sim
	ctx     context.Context
	started time.Time
	last    *Response
	cur     *Response // the response whose document the call is in
	pos     int
	wait    Wait
	hungUp  bool
}

// Call starts a call: it posts the answer webhook to answerURL with the
// standard parameters (a random CallUUID, From, To, Direction=inbound,
// CallStatus=ringing, Event=StartApp, CallerName, ...) overridden by
// params, and reads the document. ctx governs this and every later request
// of the call. On an error the returned Call (when not nil) holds the
// response in Last.
func (s *Sim) Call(ctx context.Context, answerURL string, params map[string]string) (*Call, error) {
	p := s.standard(params)
	c := &Call{UUID: p["CallUUID"], Params: p, sim: s, ctx: ctx, started: time.Now()}
	method := s.AnswerMethod
	if method == "" {
		method = http.MethodPost
	}
	err := c.exchange(method, answerURL, c.with(nil), true)
	return c, err
}

// Resume returns a Call already in progress, at the given document: for a
// call started elsewhere (another simulator, process or replica). params
// are its standard parameters (CallUUID included).
func (s *Sim) Resume(ctx context.Context, params map[string]string, doc []byte) (*Call, error) {
	el, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	p := s.standard(params)
	c := &Call{UUID: p["CallUUID"], Params: p, sim: s, ctx: ctx, started: time.Now()}
	c.cur = &Response{Status: http.StatusOK, Body: bytes.Clone(doc), Doc: el}
	c.last = c.cur
	c.at(0)
	return c, nil
}

// standard returns a new call's standard parameters.
func (s *Sim) standard(params map[string]string) map[string]string {
	id := NewUUID()
	p := map[string]string{
		"CallUUID":     id,
		"RequestUUID":  NewUUID(),
		"From":         "+14155550100",
		"To":           "+14155550199",
		"Direction":    "inbound",
		"CallStatus":   "ringing",
		"Event":        "StartApp",
		"CallerName":   "",
		"BillRate":     "0.0085",
		"SessionStart": time.Now().UTC().Format("2006-01-02 15:04:05.000000"),
	}
	maps.Copy(p, s.Defaults)
	maps.Copy(p, params)
	if p["Direction"] == "outbound" {
		if _, ok := p["ALegUUID"]; !ok {
			p["ALegUUID"] = p["CallUUID"]
		}
		if _, ok := p["ALegRequestUUID"]; !ok {
			p["ALegRequestUUID"] = p["RequestUUID"]
		}
	}
	return p
}

// with returns the call's parameters for a request, with extra on top.
// The answer's Event and CallStatus become those of a call in progress
// unless extra says otherwise.
func (c *Call) with(extra map[string]string) url.Values {
	v := url.Values{}
	for k, x := range c.Params {
		v.Set(k, x)
	}
	for k, x := range extra {
		v.Set(k, x)
	}
	return v
}

// callback returns the parameters of a callback after the answer.
func (c *Call) callback(extra map[string]string) url.Values {
	v := c.with(nil)
	v.Del("Event")
	v.Set("CallStatus", "in-progress")
	for k, x := range extra {
		v.Set(k, x)
	}
	return v
}

// Wait returns where the call's document stands.
func (c *Call) Wait() Wait { return c.wait }

// Ended reports whether the document has nothing more to wait on (Hangup,
// or its end).
func (c *Call) Ended() bool { return c.wait.Element == nil }

// HungUp reports whether Hangup was sent.
func (c *Call) HungUp() bool { return c.hungUp }

// XML returns the document the call is in.
func (c *Call) XML() []byte {
	if c.cur == nil {
		return nil
	}
	return c.cur.Body
}

// Doc returns the parsed document the call is in.
func (c *Call) Doc() *Element {
	if c.cur == nil {
		return nil
	}
	return c.cur.Doc
}

// Status returns the status code of the latest request.
func (c *Call) Status() int {
	if c.last == nil {
		return 0
	}
	return c.last.Status
}

// Last returns the latest exchange, whatever its outcome.
func (c *Call) Last() *Response { return c.last }

// Retry sends the latest request again (signed afresh), as Plivo does
// when an answer is late, and returns the answer without moving the call.
func (c *Call) Retry() (*Response, error) {
	if c.last == nil {
		return nil, errors.New("plivosim: nothing to retry")
	}
	return c.sim.Do(c.ctx, c.last.Request)
}

// Press sends keys as the caller presses them at the GetDigits or
// GetInput the call is at, and posts the Digits Plivo collects from them
// (see Collect): "1234#" posts Digits=1234. When the caller presses a key
// the GetDigits does not take, Plivo posts nothing and, its retries used
// up, goes on as for no input: Press then does what NoInput does.
func (c *Call) Press(keys string) error { return c.PressWith(keys, nil) }

// PressWith is Press with extra (or overriding) parameters. A Digits
// among params is posted as given, whatever keys says; otherwise an
// invalid key takes the no-input path and params are not sent.
func (c *Call) PressWith(keys string, params map[string]string) error {
	w, err := c.need("Press", "GetDigits", "GetInput")
	if err != nil {
		return err
	}
	extra := map[string]string{}
	if w.Kind == "GetInput" {
		if !inputTypeHas(w.Element, "dtmf") {
			return &EventError{Event: "Press", Wait: w, Reason: `its inputType is "` + w.Element.Attr("inputType") + `"`}
		}
		extra["InputType"] = "dtmf"
		extra["Speech"] = ""
	}
	if _, given := params["Digits"]; !given {
		digits, ok := Collect(w.Element, keys)
		if !ok {
			return c.noInput(w)
		}
		extra["Digits"] = digits
	}
	maps.Copy(extra, params)
	return c.event(w, extra)
}

// Collect returns the Digits Plivo posts when the caller presses keys, in
// order, at a GetDigits or GetInput element, as its attributes are
// written (an absent one has Plivo's default, from xmlgen's table):
//
//   - finishOnKey (default "#"; "" or "none" for no such key) ends the
//     collection and is not part of Digits;
//   - numDigits ends it once that many keys are collected (GetDigits'
//     default is 99; GetInput has no confirmed default, so without the
//     attribute it has no limit);
//   - validDigits (GetDigits only, default 1234567890*#): a collected key
//     outside it is invalid, and ok is false. Plivo plays
//     invalidDigitsSound and, its retries used up, posts nothing and goes
//     on as for no input.
//
// Keys after the end of the collection are never collected, so they are
// neither in Digits nor invalid. Nothing collected (no keys, or the
// finishOnKey alone) is no input too, ok false: Plivo waits for at least
// one digit (its GetDigits collects 1 to numDigits).
func Collect(e *Element, keys string) (digits string, ok bool) {
	finish := strings.TrimSpace(attrOrDefault(e, "finishOnKey"))
	if strings.EqualFold(finish, "none") {
		finish = ""
	}
	limit, err := strconv.Atoi(strings.TrimSpace(attrOrDefault(e, "numDigits")))
	if err != nil || limit < 1 {
		limit = 0 // no limit
	}
	valid := "" // every key
	if e.Name == "GetDigits" {
		valid = attrOrDefault(e, "validDigits")
	}
	var b strings.Builder
	n := 0
	for _, k := range keys {
		if finish != "" && string(k) == finish {
			break
		}
		if valid != "" && !strings.ContainsRune(valid, k) {
			return "", false
		}
		b.WriteRune(k)
		if n++; n == limit {
			break
		}
	}
	return b.String(), b.Len() > 0
}

// attrOrDefault returns an attribute of e as written, else Plivo's
// default for it; "" when it has neither.
func attrOrDefault(e *Element, name string) string {
	if v, ok := e.LookupAttr(name); ok {
		return v
	}
	if spec := xmlgen.Lookup(e.Name); spec != nil {
		if a := spec.Attr(name); a != nil {
			return a.Default
		}
	}
	return ""
}

// Say sends text as what the caller said, with a confidence of 0.9, to
// the GetInput the call is at. Use SayWith for another confidence.
func (c *Call) Say(text string) error { return c.SayWith(text, 0.9) }

// SayWith sends speech with the given SpeechConfidenceScore.
func (c *Call) SayWith(text string, confidence float64) error {
	w, err := c.need("Say", "GetInput")
	if err != nil {
		return err
	}
	if !inputTypeHas(w.Element, "speech") {
		return &EventError{Event: "Say", Wait: w, Reason: `its inputType is "` + w.Element.Attr("inputType") + `"`}
	}
	return c.event(w, map[string]string{
		"InputType":             "speech",
		"Speech":                text,
		"SpeechConfidenceScore": strconv.FormatFloat(confidence, 'f', -1, 64),
		"Digits":                "",
	})
}

// NoInput plays a caller who gives no input at the GetDigits or GetInput
// the call is at: Plivo goes on with the elements after it and, when it
// meets a Redirect, requests it with Event=Redirect.
func (c *Call) NoInput() error {
	w, err := c.need("NoInput", "GetDigits", "GetInput")
	if err != nil {
		return err
	}
	return c.noInput(w)
}

// noInput moves the call past the input it is at, w, and follows the
// Redirect found there.
func (c *Call) noInput(w Wait) error {
	c.at(c.pos + 1)
	if c.wait.Kind == "Redirect" {
		if err := c.FollowRedirect(); err != nil {
			// Stay at the input, so the event can be sent again.
			c.at(indexOf(c.cur.Doc, w.Element))
			return err
		}
	}
	return nil
}

// FollowRedirect requests the Redirect the call is at, as Plivo does.
func (c *Call) FollowRedirect() error {
	w, err := c.need("FollowRedirect", "Redirect")
	if err != nil {
		return err
	}
	return c.event(w, map[string]string{"Event": "Redirect"})
}

// Dial reports the end of the Dial the call is at with a DialStatus
// (completed, busy, failed, timeout, no-answer), with the DialRingStatus,
// DialHangupCause and leg UUIDs Plivo sends with it.
func (c *Call) Dial(status string) error {
	return c.DialWith(status, nil)
}

// DialWith is Dial with extra (or overriding) parameters.
func (c *Call) DialWith(status string, params map[string]string) error {
	w, err := c.need("Dial", "Dial")
	if err != nil {
		return err
	}
	ring, cause, bleg := "true", "NORMAL_CLEARING", NewUUID()
	switch status {
	case "busy":
		ring, cause, bleg = "false", "USER_BUSY", ""
	case "failed":
		ring, cause, bleg = "false", "CALL_REJECTED", ""
	case "timeout":
		cause, bleg = "ALLOTTED_TIMEOUT", ""
	case "no-answer":
		cause, bleg = "NO_ANSWER", ""
	}
	extra := map[string]string{
		"DialStatus":      status,
		"DialRingStatus":  ring,
		"DialHangupCause": cause,
		"DialALegUUID":    c.UUID,
		"DialBLegUUID":    bleg,
	}
	maps.Copy(extra, params)
	return c.event(w, extra)
}

// Record reports a finished recording to the Record the call is at:
// RecordUrl, RecordingID, RecordingDuration, RecordingDurationMs,
// RecordingStartMs and RecordingEndMs, overridden by params.
func (c *Call) Record(params map[string]string) error {
	w, err := c.need("Record", "Record")
	if err != nil {
		return err
	}
	id := NewUUID()
	end := time.Now()
	start := end.Add(-7 * time.Second)
	extra := map[string]string{
		"RecordUrl":           "https://media.plivo.com/v1/Account/MAXXXXXXXXXXXXXXXXXX/Recording/" + id + ".mp3",
		"RecordingID":         id,
		"RecordingDuration":   "7",
		"RecordingDurationMs": "7000",
		"RecordingStartMs":    strconv.FormatInt(start.UnixMilli(), 10),
		"RecordingEndMs":      strconv.FormatInt(end.UnixMilli(), 10),
	}
	maps.Copy(extra, params)
	return c.event(w, extra)
}

// Exit reports that the caller left the Conference (its action, with the
// call's parameters and ConferenceName, ConferenceUUID and
// ConferenceMemberID) or the MultiPartyCall the call is at; params are
// added.
//
// A MultiPartyCall's onExitActionUrl gets only the parameters Plivo's
// MultiPartyCall document lists for it: MPCUUID, MPCFriendlyName,
// MemberID, ParticipantCallUUID, ParticipantJoinTime, ParticipantEndTime
// and ParticipantRole. The call is named by ParticipantCallUUID; there is
// no CallUUID.
func (c *Call) Exit(params map[string]string) error {
	w, err := c.need("Exit", "Conference", "MultiPartyCall")
	if err != nil {
		return err
	}
	if w.Kind == "MultiPartyCall" {
		end := time.Now().UTC()
		v := url.Values{}
		for k, x := range map[string]string{
			"MPCUUID":             NewUUID(),
			"MPCFriendlyName":     strings.TrimSpace(w.Element.Text),
			"MemberID":            "1",
			"ParticipantCallUUID": c.UUID,
			"ParticipantJoinTime": end.Add(-time.Minute).Format(mpcTime),
			"ParticipantEndTime":  end.Format(mpcTime),
			"ParticipantRole":     mpcRole(w.Element.Attr("role")),
		} {
			v.Set(k, x)
		}
		for k, x := range params {
			v.Set(k, x)
		}
		return c.exchange(w.Method, w.URL, v, true)
	}
	extra := map[string]string{
		"ConferenceName":     strings.TrimSpace(w.Element.Text),
		"ConferenceUUID":     NewUUID(),
		"ConferenceMemberID": "1",
	}
	maps.Copy(extra, params)
	return c.event(w, extra)
}

// mpcTime is the layout of the timestamps of MultiPartyCall callbacks:
// "YYYY-MM-DD HH:mm:ss+|-hh:mm".
const mpcTime = "2006-01-02 15:04:05-07:00"

// mpcRole spells a MultiPartyCall role as Plivo reports it: Agent,
// Supervisor or Customer, whatever the case in the XML.
func mpcRole(r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	if r == "" {
		return ""
	}
	return strings.ToUpper(r[:1]) + r[1:]
}

// Callback sends params, with the call's standard ones, to whatever the
// call is at: for callbacks the other methods do not shape (a DialStatus
// Plivo does not document, say).
func (c *Call) Callback(params map[string]string) error {
	w, err := c.need("Callback")
	if err != nil {
		return err
	}
	return c.event(w, params)
}

// Notify reports an event to a URL the element the call is at names in
// attribute attr (statusCallbackUrl, recordingCallbackUrl, callbackUrl,
// ...), with the call's standard parameters and params, as Plivo sends
// status and recording callbacks. The method is the element's attribute
// of the same name ending in Method (statusCallbackMethod for
// statusCallbackUrl), POST by default. The call does not move; the answer
// is returned whatever its status (and kept in Last).
func (c *Call) Notify(attr string, params map[string]string) (*Response, error) {
	w, err := c.need("Notify")
	if err != nil {
		return nil, err
	}
	u := strings.TrimSpace(w.Element.Attr(attr))
	if u == "" {
		return nil, &EventError{Event: "Notify", Wait: w, Reason: "the element has no " + attr}
	}
	method := methodOf(w.Element.Attr(strings.TrimSuffix(attr, "Url") + "Method"))
	resp, err := c.sim.Do(c.ctx, Request{Method: method, URL: u, Params: c.callback(params)})
	if resp != nil {
		c.last = resp
	}
	return resp, err
}

// Hangup posts the hangup webhook to the hangup URL with HangupCause
// NORMAL_CLEARING, Duration and BillDuration. Later events are refused.
func (c *Call) Hangup() error { return c.HangupWith(nil) }

// HangupWith is Hangup with extra (or overriding) parameters.
func (c *Call) HangupWith(params map[string]string) error {
	if c.hungUp {
		return ErrHungUp
	}
	u := c.HangupURL
	if u == "" {
		u = c.sim.HangupURL
	}
	if u == "" {
		return errors.New("plivosim: no hangup URL: set Sim.HangupURL or Call.HangupURL")
	}
	end := time.Now()
	secs := int(end.Sub(c.started).Seconds() + 0.999)
	v := c.with(nil)
	for k, x := range map[string]string{
		"Event":           "Hangup",
		"CallStatus":      "completed",
		"HangupCause":     "NORMAL_CLEARING",
		"HangupCauseName": "Normal Hangup",
		"HangupCauseCode": "4000",
		"HangupSource":    "Caller",
		"Duration":        strconv.Itoa(secs),
		"BillDuration":    strconv.Itoa((secs + 59) / 60 * 60),
		"StartTime":       c.started.UTC().Format("2006-01-02 15:04:05"),
		"AnswerTime":      c.started.UTC().Format("2006-01-02 15:04:05"),
		"EndTime":         end.UTC().Format("2006-01-02 15:04:05"),
	} {
		v.Set(k, x)
	}
	for k, x := range params {
		v.Set(k, x)
	}
	method := c.sim.HangupMethod
	if method == "" {
		method = http.MethodPost
	}
	resp, err := c.sim.Do(c.ctx, Request{Method: method, URL: u, Params: v})
	if resp != nil {
		c.last = resp
	}
	if err != nil {
		return err
	}
	if resp.Status/100 != 2 {
		return &StatusError{Method: method, URL: resp.URL, Status: resp.Status, Body: resp.Body}
	}
	c.hungUp = true
	c.wait = Wait{End: "hangup"}
	return nil
}

// need checks that the call is at one of kinds (any when none given).
func (c *Call) need(event string, kinds ...string) (Wait, error) {
	if c.hungUp {
		return c.wait, fmt.Errorf("plivosim: cannot send %s: %w", event, ErrHungUp)
	}
	w := c.wait
	if w.Element == nil {
		return w, &EventError{Event: event, Wait: w}
	}
	if len(kinds) == 0 {
		return w, nil
	}
	for _, k := range kinds {
		if w.Kind == k {
			return w, nil
		}
	}
	return w, &EventError{Event: event, Wait: w, Reason: event + " needs <" + strings.Join(kinds, "> or <") + ">"}
}

// event sends a callback for the element the call is at and moves the
// call to the answer's document (or, with redirect="false", to the next
// element of the same document).
func (c *Call) event(w Wait, extra map[string]string) error {
	v := c.callback(extra)
	notifyOnly := w.Kind != "Redirect" && w.Element.Attr("redirect") == "false"
	return c.exchange(w.Method, w.URL, v, !notifyOnly)
}

// exchange sends a request; with follow the answer's document becomes
// the call's, else the call moves past the element it was at.
func (c *Call) exchange(method, u string, v url.Values, follow bool) error {
	resp, err := c.sim.Do(c.ctx, Request{Method: method, URL: u, Params: v})
	if resp != nil {
		c.last = resp
	}
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return &StatusError{Method: method, URL: resp.URL, Status: resp.Status, Body: resp.Body}
	}
	if !follow {
		c.at(c.pos + 1)
		return nil
	}
	if resp.Doc == nil {
		return fmt.Errorf("plivosim: %s %s: the answer is not a <Response> document: %q", method, resp.URL, clip(resp.Body))
	}
	c.cur = resp
	c.at(0)
	return nil
}

// at moves the call to the first element from i on that waits.
func (c *Call) at(i int) {
	kids := c.cur.Doc.Children
	for ; i < len(kids); i++ {
		e := kids[i]
		w := Wait{Kind: e.Name, Element: e, Method: methodOf(e.Attr("method"))}
		switch e.Name {
		case "Hangup":
			if e.Attr("schedule") != "" {
				// Plivo plays what follows a scheduled Hangup
				// until the time is up.
				continue
			}
			c.pos, c.wait = i, Wait{End: "Hangup"}
			return
		case "Redirect":
			w.URL = strings.TrimSpace(e.Text)
		case "GetDigits", "GetInput", "Dial", "Record", "Conference":
			w.URL = e.Attr("action")
		case "MultiPartyCall":
			w.URL, w.Method = e.Attr("onExitActionUrl"), methodOf(e.Attr("onExitActionMethod"))
		}
		if w.URL == "" {
			continue
		}
		if e.Name == "GetDigits" || e.Name == "GetInput" {
			w.NoInputURL, w.NoInputMethod = noInputRedirect(kids[i+1:])
		}
		c.pos, c.wait = i, w
		return
	}
	c.pos, c.wait = len(kids), Wait{End: "end of document"}
}

// noInputRedirect returns the Redirect Plivo reaches after an input with
// no input, when nothing waits before it.
func noInputRedirect(rest []*Element) (string, string) {
	for _, e := range rest {
		switch e.Name {
		case "Redirect":
			return strings.TrimSpace(e.Text), methodOf(e.Attr("method"))
		case "Hangup", "GetDigits", "GetInput", "Dial", "Record", "Conference", "MultiPartyCall":
			return "", ""
		}
	}
	return "", ""
}

func indexOf(doc *Element, e *Element) int {
	for i, k := range doc.Children {
		if k == e {
			return i
		}
	}
	return 0
}

func methodOf(m string) string {
	if strings.EqualFold(m, http.MethodGet) {
		return http.MethodGet
	}
	return http.MethodPost
}

// inputTypeHas reports whether a GetInput listens for kind ("dtmf" or
// "speech"); without an inputType it takes both.
func inputTypeHas(e *Element, kind string) bool {
	t, ok := e.LookupAttr("inputType")
	if !ok || strings.TrimSpace(t) == "" {
		return true
	}
	for _, f := range strings.Fields(t) {
		if f == kind {
			return true
		}
	}
	return false
}

// Do sends one request as Plivo would: the parameters form-encoded in a
// POST body or added to a GET's query, signed when the Sim has tokens. It
// returns the answer, whatever its status; the error is for a request that
// could not be made or an answer that could not be read, or a 200 whose
// body looks like XML and does not parse (Response.Doc nil).
func (s *Sim) Do(ctx context.Context, req Request) (*Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	u := req.URL
	var body io.Reader
	var params url.Values // what a POST signs beside the URL
	switch method {
	case http.MethodGet:
		if len(req.Params) > 0 {
			pu, err := url.Parse(u)
			if err != nil {
				return nil, fmt.Errorf("plivosim: bad URL %q: %w", u, err)
			}
			q := pu.Query()
			for k, vs := range req.Params {
				for _, x := range vs {
					q.Add(k, x)
				}
			}
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
	case http.MethodPost:
		params = req.Params
		if params == nil {
			params = url.Values{}
		}
		body = strings.NewReader(params.Encode())
	default:
		return nil, fmt.Errorf("plivosim: Plivo sends GET or POST, not %q", method)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("plivosim: %w", err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hr.Header.Set("User-Agent", "PlivoHTTP/plivosim")
	for k, vs := range s.Header {
		for _, x := range vs {
			hr.Header.Add(k, x)
		}
	}
	if s.AuthToken != "" || s.MainAuthToken != "" {
		nonce := newNonce()
		hr.Header.Set(plivo.HeaderNonceV3, nonce)
		for _, h := range []struct{ name, token string }{
			{plivo.HeaderSignatureV3, s.AuthToken},
			{plivo.HeaderSignatureMaV3, s.MainAuthToken},
		} {
			if h.token == "" {
				continue
			}
			sig, err := plivo.SignatureV3(method, u, params, nonce, h.token)
			if err != nil {
				return nil, fmt.Errorf("plivosim: signing %s: %w", u, err)
			}
			hr.Header.Set(h.name, sig)
		}
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	hresp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("plivosim: %s %s: %w", method, u, err)
	}
	defer hresp.Body.Close()
	limit := s.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	b, err := io.ReadAll(io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("plivosim: %s %s: reading the answer: %w", method, u, err)
	}
	resp := &Response{Request: req, URL: u, Status: hresp.StatusCode, Header: hresp.Header, Body: b}
	if int64(len(b)) > limit {
		return resp, fmt.Errorf("plivosim: %s %s: the answer is over %d bytes", method, u, limit)
	}
	if resp.Status == http.StatusOK && looksXML(hresp.Header.Get("Content-Type"), b) {
		doc, err := Parse(b)
		if err != nil {
			return resp, fmt.Errorf("plivosim: %s %s: the answer is not a <Response> document: %s", method, u, strings.TrimPrefix(err.Error(), "plivosim: "))
		}
		resp.Doc = doc
	}
	return resp, nil
}

func looksXML(ctype string, b []byte) bool {
	if strings.Contains(ctype, "xml") {
		return true
	}
	return bytes.HasPrefix(bytes.TrimSpace(b), []byte("<"))
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// NewUUID returns a random (version 4) UUID, as Plivo's CallUUIDs are.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newNonce returns 20 random decimal digits, like Plivo's nonces.
func newNonce() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b[:])
}

// Element is an XML element of a document, as a generic tree.
type Element struct {
	Name     string // with its prefix for a namespaced name: "xml:lang"
	Attrs    []Attr // in document order
	Text     string // the character data directly inside, concatenated
	Children []*Element
}

// Attr is an attribute of an Element.
type Attr struct{ Name, Value string }

// Attr returns the value of an attribute, or "".
func (e *Element) Attr(name string) string {
	v, _ := e.LookupAttr(name)
	return v
}

// LookupAttr returns the value of an attribute and whether it is there.
func (e *Element) LookupAttr(name string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// Find returns the first element named name in e's subtree (e included,
// depth first), or nil.
func (e *Element) Find(name string) *Element {
	if e.Name == name {
		return e
	}
	for _, k := range e.Children {
		if f := k.Find(name); f != nil {
			return f
		}
	}
	return nil
}

// FindAll returns every element named name in e's subtree, depth first.
func (e *Element) FindAll(name string) []*Element {
	var out []*Element
	var walk func(*Element)
	walk = func(x *Element) {
		if x.Name == name {
			out = append(out, x)
		}
		for _, k := range x.Children {
			walk(k)
		}
	}
	walk(e)
	return out
}

// Names returns the names of e's children, in order.
func (e *Element) Names() []string {
	out := make([]string, len(e.Children))
	for i, k := range e.Children {
		out[i] = k.Name
	}
	return out
}

// String writes the element back as compact XML (attributes in order;
// text before children, as Plivo's elements have it).
func (e *Element) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Element) write(b *strings.Builder) {
	b.WriteByte('<')
	b.WriteString(e.Name)
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Name)
		b.WriteString(`="`)
		_ = xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	if e.Text == "" && len(e.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	_ = xml.EscapeText(b, []byte(e.Text))
	for _, k := range e.Children {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(e.Name)
	b.WriteByte('>')
}

const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// Parse reads a Plivo XML document: one <Response> root element, strictly
// well-formed.
func Parse(doc []byte) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*Element
	var root *Element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("plivosim: bad XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("plivosim: bad XML: more than one root element")
			}
			e := &Element{Name: qname(t.Name)}
			for _, a := range t.Attr {
				e.Attrs = append(e.Attrs, Attr{Name: qname(a.Name), Value: a.Value})
			}
			if len(stack) == 0 {
				root = e
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, errors.New("plivosim: bad XML: text outside the root element")
				}
				continue
			}
			stack[len(stack)-1].Text += string(t)
		}
	}
	if root == nil {
		return nil, errors.New("plivosim: bad XML: no root element")
	}
	if root.Name != "Response" {
		return nil, fmt.Errorf("plivosim: the root element is <%s>, not <Response>", root.Name)
	}
	return root, nil
}

func qname(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case xmlNamespace, "xml":
		return "xml:" + n.Local
	}
	return n.Space + ":" + n.Local
}

// Transport returns an http.RoundTripper that serves every request with h
// in this process: no listener, no network. The handler sees the request
// as a server would (RequestURI, Host, RemoteAddr, TLS for https URLs).
func Transport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

// HandlerClient returns an http.Client that serves requests with h in
// this process (see Transport).
func HandlerClient(h http.Handler) *http.Client { return &http.Client{Transport: Transport(h)} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sr := req.Clone(req.Context())
	sr.RequestURI = req.URL.RequestURI()
	sr.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	sr.RemoteAddr = "192.0.2.1:49152"
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	if req.URL.Scheme == "https" {
		sr.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: req.URL.Hostname()}
	}
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sr)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
