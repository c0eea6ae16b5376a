package plivo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. An *APIError matches the sentinel of its HTTP status
// with errors.Is; a *ValidationError matches ErrInvalidArgument.
var (
	// ErrInvalidArgument is a request this package refused to send because
	// an argument breaks a rule of Plivo's documentation (client-side
	// validation; nothing reached Plivo).
	ErrInvalidArgument = errors.New("plivo: invalid argument")
	// ErrInvalidRequest is Plivo's 400: a parameter is missing or invalid.
	ErrInvalidRequest = errors.New("plivo: invalid request")
	// ErrUnauthorized is Plivo's 401: authentication failed.
	ErrUnauthorized = errors.New("plivo: authentication failed")
	// ErrNotFound is Plivo's 404: the resource cannot be found (an ended
	// call, an MPC that is not live, a member that left).
	ErrNotFound = errors.New("plivo: resource not found")
	// ErrMethodNotAllowed is Plivo's 405: HTTP method not allowed.
	ErrMethodNotAllowed = errors.New("plivo: method not allowed")
	// ErrRateLimited is Plivo's 429: too many requests.
	ErrRateLimited = errors.New("plivo: rate limited")
	// ErrServer is any 5xx answer from Plivo.
	ErrServer = errors.New("plivo: server error")
)

// APIError is a non-2xx answer from Plivo. Plivo answers errors as
// {"api_id": "...", "error": "..."}; the "error" member is usually a
// string but can be an object (field name to message or list of
// messages), which is flattened into Message and kept in Detail.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// APIID is Plivo's api_id for the failed request ("" when the body
	// carried none, e.g. an HTML page from a proxy).
	APIID string
	// Message is the error text: the "error" string, the flattened
	// "error" object, the "message" member, or the HTTP status text.
	Message string
	// Detail is the "error" member when it is an object, else nil.
	Detail map[string]any
	// Body is the raw response body (at most 64 KiB of it).
	Body []byte
	// Method and Path are those of the request (Path without the query).
	Method, Path string
	// RetryAfter is the delay asked for by a Retry-After header (0 if none).
	RetryAfter time.Duration
	// Attempts is how many times the request was sent.
	Attempts int
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("plivo: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" && e.Message != http.StatusText(e.Status) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.APIID != "" {
		b.WriteString(" (api_id ")
		b.WriteString(e.APIID)
		b.WriteByte(')')
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's status: 400
// ErrInvalidRequest, 401 ErrUnauthorized, 404 ErrNotFound, 405
// ErrMethodNotAllowed, 429 ErrRateLimited, 5xx ErrServer.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidRequest:
		return e.Status == http.StatusBadRequest
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrMethodNotAllowed:
		return e.Status == http.StatusMethodNotAllowed
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500 && e.Status <= 599
	}
	return false
}

// maxErrorBody caps APIError.Body.
const maxErrorBody = 64 << 10

// decodeAPIError builds the *APIError of a non-2xx answer.
func decodeAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	if len(body) > maxErrorBody {
		e.Body = slices.Clone(body[:maxErrorBody])
	} else {
		e.Body = slices.Clone(body)
	}
	var env struct {
		APIID   json.RawMessage `json:"api_id"`
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err == nil {
		e.APIID = rawString(env.APIID)
		e.Message = errorText(env.Error, &e.Detail)
		if e.Message == "" {
			e.Message = rawString(env.Message)
		}
	} else if text := strings.TrimSpace(string(body)); text != "" && utf8.ValidString(text) && !strings.HasPrefix(text, "<") {
		// A plain-text answer (not an HTML page): keep its start.
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		e.Message = text
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// rawString returns a JSON string's value, a number's or boolean's text,
// and "" for null, objects and arrays.
func rawString(raw json.RawMessage) string {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	switch raw[0] {
	case '{', '[':
		return ""
	}
	return string(raw)
}

// errorText flattens Plivo's "error" member: a string as is; an object
// {"message": ...} or {"error": ...} to that text; any other object to
// "key: text; key: text" in key order (a list value joined with ", "),
// and stored in *detail.
func errorText(raw json.RawMessage, detail *map[string]any) string {
	if s := rawString(raw); s != "" {
		return s
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		*detail = obj
		for _, k := range []string{"message", "error", "detail"} {
			if s, ok := obj[k].(string); ok && s != "" {
				return s
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+valueText(obj[k]))
		}
		return strings.Join(parts, "; ")
	}
	var list []any
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return valueText(list)
	}
	return ""
}

func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, valueText(x))
		}
		return strings.Join(parts, ", ")
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// ValidationError is an argument that breaks a documented rule; the
// request was not sent. It matches ErrInvalidArgument with errors.Is.
// Validation reports every broken rule, joined with errors.Join.
type ValidationError struct {
	// Op is the operation ("make call", "add participant", ...).
	Op string
	// Arg is the argument's name as Plivo documents it ("ring_timeout").
	Arg string
	// Msg says what is wrong.
	Msg string
}

func (e *ValidationError) Error() string {
	return "plivo: " + e.Op + ": " + e.Arg + ": " + e.Msg
}

// Is reports whether target is ErrInvalidArgument.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArgument }
