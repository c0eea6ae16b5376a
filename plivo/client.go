package plivo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is Plivo's API host.
const DefaultBaseURL = "https://api.plivo.com"

// Environment variables NewClient falls back on.
const (
	EnvAuthID    = "PLIVO_AUTH_ID"
	EnvAuthToken = "PLIVO_AUTH_TOKEN"
	EnvAPIURL    = "PLIVO_API_URL"
)

// UserAgent is sent with every request.
const UserAgent = "flowd"

// Defaults of Config.
const (
	DefaultCPS           = 2
	DefaultMaxRetries    = 3
	DefaultBackoff       = 500 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
	DefaultTimeout       = 30 * time.Second
)

// maxResponseBody caps what is read of an answer.
const maxResponseBody = 4 << 20

// Config configures a Client. The zero value of each field means its
// default.
type Config struct {
	// AuthID and AuthToken are the account's credentials; empty means
	// $PLIVO_AUTH_ID and $PLIVO_AUTH_TOKEN.
	AuthID, AuthToken string
	// BaseURL is the API's scheme://host[:port][/prefix]; empty means
	// $PLIVO_API_URL, else https://api.plivo.com.
	BaseURL string
	// HTTPClient sends the requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// CPS is the account's outbound calls per second (default 2; negative:
	// no limit). Burst is the number of calls that may leave at once
	// (default 1). Limiter, when set, is used instead, so that clients of
	// one account can share it.
	CPS     float64
	Burst   int
	Limiter *Limiter
	// MaxRetries is how many times a failed request may be sent again
	// (default 3; negative: never).
	MaxRetries int
	// Backoff is the first retry delay (default 500 ms), doubled at each
	// retry up to MaxBackoff (default 10 s), with jitter.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits (default
	// 60 s); a longer one returns the error instead.
	MaxRetryAfter time.Duration
	// Clock times backoffs, Retry-After and the limiter (default
	// SystemClock); tests use a fake clock.
	Clock Clock
}

// Client calls Plivo's Voice REST API, https://api.plivo.com/v1/Account/{auth_id}/...,
// with HTTP Basic auth (auth id, auth token), JSON request bodies on POST,
// arguments of GET and DELETE in the query string; the JSON answers all
// carry an api_id (except 204 No Content). Every method takes a context
// and checks its arguments against Plivo's documented rules before sending
// (a *ValidationError, errors.Is ErrInvalidArgument); Plivo's errors come
// back as *APIError. A Client is safe for concurrent use.
//
// # Retries
//
// Requests are sorted by what a second copy would do at Plivo:
//
//   - idempotent: GET, DELETE (hang up, end an MPC, kick, stop a recording
//     or a play; a repeat finds nothing left to do) and the POSTs that set
//     a state (update participant mute/hold/coach_mode, start an MPC with
//     status=active, pause/resume a recording). These are retried on 429,
//     500, 502, 503, 504 and on transport errors (connection reset,
//     timeout).
//   - not idempotent: make call, add participant, transfer call, start a
//     recording, start playing audio. A repeat after Plivo accepted the
//     first copy would ring a destination twice, fetch the transfer XML
//     twice or start a second recording. These are retried only when
//     Plivo surely did not act on the request: 429 (rejected by the rate
//     limiter before processing), 503 (service unavailable, nothing was
//     processed) and a connection that could not be established. A 500,
//     502, 504, a timeout or a connection cut after the request was sent
//     are returned to the caller, who can look at the live calls before
//     trying again.
//
// No 4xx other than 429 is ever retried. Delays grow exponentially from
// Config.Backoff (doubling, capped at Config.MaxBackoff) with jitter (each
// delay is drawn from [d/2, d]). A retried answer carrying Retry-After
// (429, 503) waits what the header asks (seconds or an HTTP date) instead,
// unless that is more than Config.MaxRetryAfter or past the context's
// deadline, in which case the error is returned at once.
//
// # Calls per second
//
// Make call and add participant with "to" dial out, and Plivo dequeues an
// account's outbound calls at its CPS. Those requests go through a
// Limiter (Config.CPS, default 2): one token per destination, so that
// flowd's requests leave at the pace Plivo dials them; every retry takes
// tokens again. Other requests are not limited.
type Client struct {
	authID, authToken string
	base              string // without trailing slash
	hc                *http.Client
	limiter           *Limiter
	maxRetries        int
	backoff, maxBack  time.Duration
	maxRetryAfter     time.Duration
	clock             Clock
	jitter            func() float64 // in [0, 1)
}

// NewClient returns a client for cfg. It fails when no auth id or token
// is configured (in cfg or the environment) or the base URL is not an
// absolute http(s) URL.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{
		authID:        firstNonEmpty(cfg.AuthID, os.Getenv(EnvAuthID)),
		authToken:     firstNonEmpty(cfg.AuthToken, os.Getenv(EnvAuthToken)),
		hc:            cfg.HTTPClient,
		maxRetries:    cfg.MaxRetries,
		backoff:       cfg.Backoff,
		maxBack:       cfg.MaxBackoff,
		maxRetryAfter: cfg.MaxRetryAfter,
		clock:         cfg.Clock,
		jitter:        rand.Float64,
	}
	if c.authID == "" {
		return nil, errors.New("plivo: no auth id (Config.AuthID or $" + EnvAuthID + ")")
	}
	if c.authToken == "" {
		return nil, errors.New("plivo: no auth token (Config.AuthToken or $" + EnvAuthToken + ")")
	}
	base := firstNonEmpty(cfg.BaseURL, os.Getenv(EnvAPIURL), DefaultBaseURL)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("plivo: base URL %q is not an absolute http(s) URL without query", base)
	}
	c.base = strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/")
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if c.clock == nil {
		c.clock = SystemClock
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.backoff <= 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxBack <= 0 {
		c.maxBack = DefaultMaxBackoff
	}
	if c.maxBack < c.backoff {
		c.maxBack = c.backoff
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	switch {
	case cfg.Limiter != nil:
		c.limiter = cfg.Limiter
	case cfg.CPS == 0:
		c.limiter = NewLimiter(DefaultCPS, cfg.Burst, c.clock)
	case cfg.CPS > 0:
		c.limiter = NewLimiter(cfg.CPS, cfg.Burst, c.clock)
	}
	return c, nil
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// AuthID returns the account the client acts for.
func (c *Client) AuthID() string { return c.authID }

// BaseURL returns the API base URL in use.
func (c *Client) BaseURL() string { return c.base }

// Limiter returns the client's calls-per-second limiter (nil: none).
func (c *Client) Limiter() *Limiter { return c.limiter }

// Response is what every answer carries. Typed answers embed it.
type Response struct {
	// StatusCode is the HTTP status (200, 201, 202 or 204).
	StatusCode int `json:"-"`
	// APIID is Plivo's identifier of the request; "" on 204 No Content,
	// which has no body.
	APIID string `json:"api_id"`
	// Message is Plivo's "message" ("call fired", "call transferred", ...)
	// when the answer has one.
	Message string `json:"message,omitempty"`
}

func (r *Response) setStatus(code int) { r.StatusCode = code }

// retryKind says when a request may be sent again.
type retryKind int

const (
	idempotent    retryKind = iota // 429, 5xx (but 501, 505), transport errors
	nonIdempotent                  // 429, 503, dial errors only
)

// request is one API call. path is relative to /v1/Account/{auth_id}/ and
// already escaped, with its trailing slash.
type request struct {
	op     string
	method string
	path   string
	query  url.Values
	body   any // JSON-encoded; POST without body sends {}
	kind   retryKind
	calls  int // outbound calls it creates (limiter tokens)
}

// send runs r and decodes the answer into a new T.
func send[T any, PT interface {
	*T
	setStatus(int)
}](ctx context.Context, c *Client, r *request) (*T, error) {
	v := new(T)
	status, err := c.do(ctx, r, v)
	if err != nil {
		return nil, err
	}
	PT(v).setStatus(status)
	return v, nil
}

// do sends r, retrying as the package comment says, and decodes a 2xx
// JSON answer into out. It returns the final status.
func (c *Client) do(ctx context.Context, r *request, out any) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	path := "/v1/Account/" + url.PathEscape(c.authID) + "/" + r.path
	target := c.base + path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body []byte
	if r.body != nil || r.method == http.MethodPost {
		b := r.body
		if b == nil {
			b = struct{}{}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // send "<" in to, delay_dial, sip_headers as is
		if err := enc.Encode(b); err != nil {
			return 0, fmt.Errorf("plivo: %s: encoding the request: %w", r.op, err)
		}
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	for attempt := 1; ; attempt++ {
		if r.calls > 0 {
			if err := c.limiter.WaitN(ctx, r.calls); err != nil {
				return 0, fmt.Errorf("plivo: %s: %w", r.op, err)
			}
		}
		status, hdr, data, err := c.roundTrip(ctx, r.method, target, body)
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("plivo: %s: %s %s: %w", r.op, r.method, path, ctx.Err())
			}
			if attempt <= c.maxRetries && (r.kind == idempotent || notSent(err)) {
				if c.clock.Sleep(ctx, c.backoffDelay(attempt)) == nil {
					continue
				}
			}
			return 0, fmt.Errorf("plivo: %s: %s %s: %w", r.op, r.method, path, err)
		}
		if status >= 200 && status <= 299 {
			if out != nil && status != http.StatusNoContent && len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return status, fmt.Errorf("plivo: %s: %s %s: decoding the %d answer: %w", r.op, r.method, path, status, err)
				}
			}
			return status, nil
		}
		apiErr := decodeAPIError(status, data)
		apiErr.Method, apiErr.Path, apiErr.Attempts = r.method, path, attempt
		ra, hasRA := parseRetryAfter(hdr.Get("Retry-After"), c.clock.Now())
		apiErr.RetryAfter = ra
		if attempt > c.maxRetries || !retryableStatus(r.kind, status) {
			return status, apiErr
		}
		wait := c.backoffDelay(attempt)
		if hasRA {
			if ra > c.maxRetryAfter {
				return status, apiErr
			}
			wait = ra
		}
		if dl, ok := ctx.Deadline(); ok && c.clock.Now().Add(wait).After(dl) {
			return status, apiErr
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return status, apiErr
		}
	}
}

// roundTrip sends one HTTP request and reads the answer.
func (c *Client) roundTrip(ctx context.Context, method, target string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth(c.authID, c.authToken)
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// retryableStatus says whether an answer with status may be retried.
func retryableStatus(k retryKind, status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return k == idempotent
	}
	return false
}

// notSent reports whether err shows that the request never reached the
// server (the connection could not be established).
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoffDelay is the delay before retry number attempt (1-based):
// Backoff * 2^(attempt-1), capped at MaxBackoff, drawn from [d/2, d].
func (c *Client) backoffDelay(attempt int) time.Duration {
	d := c.backoff
	for i := 1; i < attempt && d < c.maxBack; i++ {
		d *= 2
	}
	d = min(d, c.maxBack)
	half := d / 2
	return half + time.Duration(c.jitter()*float64(d-half))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. ok is false when the header is absent or invalid.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
