package plivo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MakeCallParams are the arguments of Make a call (POST
// /v1/Account/{auth_id}/Call/). From, To and AnswerURL are required; a
// zero optional field is not sent, so Plivo applies its default.
type MakeCallParams struct {
	// From is the caller ID: country code and number (14157654321).
	From string `json:"from"`
	// To is the destination number or SIP URI; several destinations
	// (bulk call, at most 1000 distinct) are separated by "<".
	To string `json:"to"`
	// AnswerURL returns the call's Plivo XML when the call is answered.
	AnswerURL    string `json:"answer_url"`
	AnswerMethod string `json:"answer_method,omitempty"` // GET or POST (default POST)
	RingURL      string `json:"ring_url,omitempty"`
	RingMethod   string `json:"ring_method,omitempty"`
	HangupURL    string `json:"hangup_url,omitempty"`
	HangupMethod string `json:"hangup_method,omitempty"`
	// FallbackURL is tried when answer_url fails.
	FallbackURL    string `json:"fallback_url,omitempty"`
	FallbackMethod string `json:"fallback_method,omitempty"`
	// CallerName is at most 50 characters.
	CallerName string `json:"caller_name,omitempty"`
	// SendDigits are DTMF digits sent once the call is connected: 0-9, *,
	// #, A-D, w (wait 0.5 s), W (wait 1 s), optionally "@" and a tone
	// duration in milliseconds ("123@1000").
	SendDigits string `json:"send_digits,omitempty"`
	// SendOnPreanswer sends SendDigits at the preanswer stage; only with
	// SendDigits.
	SendOnPreanswer *bool `json:"send_on_preanswer,omitempty"`
	// TimeLimit caps the call's duration in seconds from answer (> 0;
	// default 14400).
	TimeLimit *int `json:"time_limit,omitempty"`
	// HangupOnRing caps the call's duration in seconds from ringing (> 0).
	HangupOnRing *int `json:"hangup_on_ring,omitempty"`
	// MachineDetection is "true" or "hangup".
	MachineDetection string `json:"machine_detection,omitempty"`
	// MachineDetectionTime is in milliseconds, 2000 to 10000 (default 5000).
	MachineDetectionTime   *int   `json:"machine_detection_time,omitempty"`
	MachineDetectionURL    string `json:"machine_detection_url,omitempty"`
	MachineDetectionMethod string `json:"machine_detection_method,omitempty"`
	// MachineDetectionMaximumSpeechLength is in ms, 1000 to 6000.
	MachineDetectionMaximumSpeechLength *int `json:"machine_detection_maximum_speech_length,omitempty"`
	// MachineDetectionInitialSilence is in ms, 2000 to 10000.
	MachineDetectionInitialSilence *int `json:"machine_detection_initial_silence,omitempty"`
	// MachineDetectionMaximumWords is 2 to 10.
	MachineDetectionMaximumWords *int `json:"machine_detection_maximum_words,omitempty"`
	// MachineDetectionInitialGreeting is in ms, 1000 to 5000.
	MachineDetectionInitialGreeting *int `json:"machine_detection_initial_greeting,omitempty"`
	// MachineDetectionSilence is in ms, 500 to 5000.
	MachineDetectionSilence *int `json:"machine_detection_silence,omitempty"`
	// SIPHeaders is "key=value,key=value" with keys and values of letters
	// and digits only (Plivo prefixes them with X-PH-). See SIPHeaders.
	SIPHeaders string `json:"sip_headers,omitempty"`
	// RingTimeout is how long an unanswered call rings, in seconds (> 0;
	// default 120).
	RingTimeout *int `json:"ring_timeout,omitempty"`
	// ParentCallUUID is the A leg of an ongoing conference (single
	// destination only).
	ParentCallUUID string `json:"parent_call_uuid,omitempty"`
	// ErrorIfParentNotFound fails the call when ParentCallUUID is not
	// found; only with ParentCallUUID.
	ErrorIfParentNotFound *bool `json:"error_if_parent_not_found,omitempty"`
}

// MakeCallResponse is Plivo's answer to Make a call.
type MakeCallResponse struct {
	Response
	// RequestUUID identifies the call request; a bulk call (several
	// destinations) has one per destination. Plivo sends a string for a
	// single call and may send a list for a bulk call; both decode here.
	RequestUUID StringList `json:"request_uuid"`
}

// StringList decodes a JSON string (as a one-element list) or a list of
// strings.
type StringList []string

// UnmarshalJSON accepts a string, a list of strings or null.
func (l *StringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if string(b) == "null" {
			*l = nil
		} else {
			*l = StringList{s}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = list
	return nil
}

// First returns the first string, or "".
func (l StringList) First() string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// MakeCall starts an outbound call (or a bulk call). It waits for the
// calls-per-second limiter (one token per destination) and is retried only
// on 429, 503 and connection failures (see the package comment).
func (c *Client) MakeCall(ctx context.Context, p *MakeCallParams) (*MakeCallResponse, error) {
	if p == nil {
		p = &MakeCallParams{}
	}
	dests, err := p.validate()
	if err != nil {
		return nil, err
	}
	return send[MakeCallResponse](ctx, c, &request{
		op: "make call", method: http.MethodPost, path: "Call/",
		body: p, kind: nonIdempotent, calls: dests,
	})
}

// Validate checks p against Plivo's documented rules without sending it.
func (p *MakeCallParams) Validate() error {
	_, err := p.validate()
	return err
}

var sendDigitsRE = regexp.MustCompile(`^[0-9*#A-Da-dwW]+(@[0-9]+)?$`)

func (p *MakeCallParams) validate() (int, error) {
	v := &validator{op: "make call"}
	v.required("from", p.From)
	v.noneOf("from", p.From, "<")
	dests := v.destinations("to", p.To)
	if uniq := len(uniqueStrings(dests)); uniq > 1000 {
		v.add("to", "at most 1000 distinct destinations, got %d", uniq)
	}
	v.required("answer_url", p.AnswerURL)
	v.url("answer_url", p.AnswerURL)
	v.method("answer_method", p.AnswerMethod)
	v.url("ring_url", p.RingURL)
	v.method("ring_method", p.RingMethod)
	v.url("hangup_url", p.HangupURL)
	v.method("hangup_method", p.HangupMethod)
	v.url("fallback_url", p.FallbackURL)
	v.method("fallback_method", p.FallbackMethod)
	v.maxRunes("caller_name", p.CallerName, 50)
	if p.SendDigits != "" && !sendDigitsRE.MatchString(p.SendDigits) {
		v.add("send_digits", "must be digits 0-9, *, #, A-D, w or W, optionally followed by @ and a duration in ms, got %q", p.SendDigits)
	}
	if p.SendOnPreanswer != nil && *p.SendOnPreanswer && p.SendDigits == "" {
		v.add("send_on_preanswer", "applies only when send_digits is set")
	}
	v.positive("time_limit", p.TimeLimit)
	v.positive("hangup_on_ring", p.HangupOnRing)
	v.oneOf("machine_detection", p.MachineDetection, "true", "hangup")
	v.intRange("machine_detection_time", p.MachineDetectionTime, 2000, 10000)
	v.url("machine_detection_url", p.MachineDetectionURL)
	v.method("machine_detection_method", p.MachineDetectionMethod)
	v.intRange("machine_detection_maximum_speech_length", p.MachineDetectionMaximumSpeechLength, 1000, 6000)
	v.intRange("machine_detection_initial_silence", p.MachineDetectionInitialSilence, 2000, 10000)
	v.intRange("machine_detection_maximum_words", p.MachineDetectionMaximumWords, 2, 10)
	v.intRange("machine_detection_initial_greeting", p.MachineDetectionInitialGreeting, 1000, 5000)
	v.intRange("machine_detection_silence", p.MachineDetectionSilence, 500, 5000)
	v.sipHeaders("sip_headers", p.SIPHeaders, 1)
	v.positive("ring_timeout", p.RingTimeout)
	if p.ParentCallUUID != "" && len(dests) > 1 {
		v.add("parent_call_uuid", "is honoured only for a single destination, not for a bulk call")
	}
	if p.ErrorIfParentNotFound != nil && *p.ErrorIfParentNotFound && p.ParentCallUUID == "" {
		v.add("error_if_parent_not_found", "applies only when parent_call_uuid is set")
	}
	return len(dests), v.err()
}

// TransferCallParams are the arguments of Transfer a call (POST
// /v1/Account/{auth_id}/Call/{call_uuid}/).
type TransferCallParams struct {
	// Legs is aleg (the call), bleg (the leg bridged to it) or both.
	Legs string `json:"legs,omitempty"`
	// AlegURL is required when Legs is aleg or both.
	AlegURL    string `json:"aleg_url,omitempty"`
	AlegMethod string `json:"aleg_method,omitempty"`
	// BlegURL is required when Legs is bleg or both.
	BlegURL    string `json:"bleg_url,omitempty"`
	BlegMethod string `json:"bleg_method,omitempty"`
}

// Validate checks p against Plivo's documented rules.
func (p *TransferCallParams) Validate() error {
	v := &validator{op: "transfer call"}
	v.oneOf("legs", p.Legs, "aleg", "bleg", "both")
	switch p.Legs {
	case "aleg":
		v.required("aleg_url", p.AlegURL)
	case "bleg":
		v.required("bleg_url", p.BlegURL)
	case "both":
		v.required("aleg_url", p.AlegURL)
		v.required("bleg_url", p.BlegURL)
	case "":
		if p.AlegURL == "" && p.BlegURL == "" {
			v.add("aleg_url", "aleg_url or bleg_url is required")
		}
	}
	v.url("aleg_url", p.AlegURL)
	v.method("aleg_method", p.AlegMethod)
	v.url("bleg_url", p.BlegURL)
	v.method("bleg_method", p.BlegMethod)
	return v.err()
}

// TransferCall makes a live call fetch and run XML from another URL (202
// "call transferred"). It is not retried after Plivo may have acted on it.
func (c *Client) TransferCall(ctx context.Context, callUUID string, p *TransferCallParams) (*Response, error) {
	if p == nil {
		p = &TransferCallParams{}
	}
	v := &validator{op: "transfer call"}
	v.pathID("call_uuid", callUUID)
	err := errors.Join(v.err(), p.Validate())
	if err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{
		op: "transfer call", method: http.MethodPost, path: "Call/" + url.PathEscape(callUUID) + "/",
		body: p, kind: nonIdempotent,
	})
}

// HangupCall hangs up a live call or cancels a queued one (DELETE
// /v1/Account/{auth_id}/Call/{call_uuid}/, 204). callUUID is required:
// Plivo hangs up every call of the account when it is missing.
func (c *Client) HangupCall(ctx context.Context, callUUID string) (*Response, error) {
	v := &validator{op: "hang up call"}
	v.pathID("call_uuid", callUUID)
	if err := v.err(); err != nil {
		return nil, err
	}
	return send[Response](ctx, c, &request{
		op: "hang up call", method: http.MethodDelete, path: "Call/" + url.PathEscape(callUUID) + "/",
		kind: idempotent,
	})
}

// SIPHeaders formats headers as Plivo's sip_headers argument
// ("key=value,key=value", keys sorted). Keys and values must be letters
// and digits; the Validate methods check them.
func SIPHeaders(headers map[string]string) string {
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+headers[k])
	}
	return strings.Join(parts, ",")
}

// validator collects broken rules.
type validator struct {
	op   string
	errs []error
}

func (v *validator) add(arg, format string, a ...any) {
	v.errs = append(v.errs, &ValidationError{Op: v.op, Arg: arg, Msg: fmt.Sprintf(format, a...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) required(arg, val string) {
	if strings.TrimSpace(val) == "" {
		v.add(arg, "is required")
	}
}

func (v *validator) noneOf(arg, val, chars string) {
	if strings.ContainsAny(val, chars) {
		v.add(arg, "must not contain any of %q, got %q", chars, val)
	}
}

// url checks an optional absolute http(s) URL.
func (v *validator) url(arg, val string) {
	if val == "" {
		return
	}
	if !isHTTPURL(val) {
		v.add(arg, "must be an absolute http or https URL, got %q", val)
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.ContainsFunc(s, unicode.IsSpace)
}

// method checks an optional HTTP verb: GET or POST, as documented.
func (v *validator) method(arg, val string) {
	if val != "" && val != http.MethodGet && val != http.MethodPost {
		v.add(arg, "must be GET or POST, got %q", val)
	}
}

func (v *validator) oneOf(arg, val string, allowed ...string) {
	if val != "" && !slices.Contains(allowed, val) {
		v.add(arg, "must be one of %s, got %q", strings.Join(allowed, ", "), val)
	}
}

func (v *validator) intRange(arg string, p *int, lo, hi int) {
	if p != nil && (*p < lo || *p > hi) {
		v.add(arg, "must be between %d and %d, got %d", lo, hi, *p)
	}
}

func (v *validator) positive(arg string, p *int) {
	if p != nil && *p <= 0 {
		v.add(arg, "must be a positive integer, got %d", *p)
	}
}

func (v *validator) maxRunes(arg, val string, n int) {
	if !utf8.ValidString(val) {
		v.add(arg, "must be valid UTF-8")
	} else if c := utf8.RuneCountInString(val); c > n {
		v.add(arg, "must be at most %d characters, got %d", n, c)
	}
}

// pathID checks an identifier that goes into the URL path.
func (v *validator) pathID(arg, val string) {
	switch {
	case strings.TrimSpace(val) == "":
		v.add(arg, "is required")
	case strings.ContainsAny(val, "/?#") || strings.ContainsFunc(val, unicode.IsSpace) || val == "." || val == "..":
		v.add(arg, "must not contain '/', '?', '#' or spaces, got %q", val)
	}
}

// destinations splits a required "<"-separated destination list.
func (v *validator) destinations(arg, val string) []string {
	if strings.TrimSpace(val) == "" {
		v.add(arg, "is required")
		return nil
	}
	dests := strings.Split(val, "<")
	for i, d := range dests {
		if d == "" || strings.ContainsFunc(d, unicode.IsSpace) {
			v.add(arg, "destination %d of %q is empty or contains spaces (separate destinations with \"<\" only)", i+1, val)
			break
		}
	}
	return dests
}

var sipTokenRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// sipHeaders checks a "k=v,k=v" list, or with dests > 1 destinations
// one such list per destination separated by "<" (a single list is
// accepted too).
func (v *validator) sipHeaders(arg, val string, dests int) {
	if val == "" {
		return
	}
	segs := strings.Split(val, "<")
	if len(segs) > 1 && len(segs) != dests {
		if dests <= 1 {
			v.add(arg, "may be separated by \"<\" only for several \"to\" destinations, got %q", val)
		} else {
			v.add(arg, "has %d \"<\"-separated lists but \"to\" has %d destinations", len(segs), dests)
		}
		return
	}
	for _, seg := range segs {
		for pair := range strings.SplitSeq(seg, ",") {
			k, val, ok := strings.Cut(pair, "=")
			if !ok || !sipTokenRE.MatchString(k) || !sipTokenRE.MatchString(val) {
				v.add(arg, "must be key=value pairs separated by commas, keys and values of letters A-Z, a-z and digits 0-9 only; bad pair %q", pair)
				return
			}
		}
	}
}

func uniqueStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
