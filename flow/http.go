package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// The http kind makes a request to another system on the server, during
// the walk (a CRM look-up, a ticket), and routes the call by its answer:
// ok for a 2xx, error for anything else. The request is a side effect of
// the step: the walk claims the step before it (Walker.Effect), so a
// retried or duplicated webhook never repeats it. Its answer is kept as
// nodes.<id>.status, .body (parsed JSON, else text) and .error; the trace
// keeps the method, the URL without its query, the status and the
// duration (Result.Requests), never headers or bodies, which may carry
// secrets: secret params may be read in an http node's url, headers and
// body, and nowhere else but when: conditions.

// HTTP makes the requests of http nodes. The runtime sends them over the
// network; flow tests and flowd render answer them from mocks. node is
// the http node's id.
type HTTP interface {
	Do(node string, req *http.Request) (*http.Response, error)
}

// The limits of an http node.
const (
	HTTPDefaultTimeout = 3 * time.Second
	// HTTPMaxTimeout leaves time to answer Plivo, who waits for the XML.
	HTTPMaxTimeout = 10 * time.Second
	// HTTPMaxBody is the largest answer kept; a larger one is an error.
	HTTPMaxBody = 64 << 10
)

// httpMethods are the methods an http node may use.
var httpMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// httpFields are the keys of an http node.
var httpFields = []yamlpos.Field{
	{Name: "url", Type: yamlpos.String, Required: true, Template: true, Need: "(the http:// or https:// URL to request)",
		Doc: "The URL to request, http:// or https://; escape values in its query with urlquery()."},
	{Name: "method", Type: yamlpos.Enum, Enum: httpMethods, Default: http.MethodGet, Doc: "The HTTP method."},
	{Name: "headers", Type: yamlpos.Map, Value: &yamlpos.Field{Type: yamlpos.Text, Template: true},
		Doc: "Request headers, name: value; values may be templates (and read secret params)."},
	{Name: "body", Type: yamlpos.Text, Schema: obj{"type": []string{"object", "array", "string"}},
		Doc: "The request body: a mapping or list is sent as JSON (a leaf that is one {{ template }} keeps its value's type), a string as is."},
	{Name: "timeout", Type: yamlpos.String, Default: "3s", Form: "a duration such as 3s or 500ms, at most 10s",
		Pattern: durationRE, Doc: "How long to wait for the answer: at most 10s, as Plivo is waiting for the XML."},
}

var durationRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ms|s)$`)

// httpDecl is an http node as decoded.
type httpDecl struct {
	url     *Str
	method  string
	headers []httpHeader
	body    *jsonTmpl
	timeout time.Duration
}

type httpHeader struct {
	name  string
	value *Str
}

// jsonTmpl is a request body: JSON whose strings may hold templates.
type jsonTmpl struct {
	obj  []jsonMember // a mapping, in order
	arr  []*jsonTmpl  // a list
	str  *Str         // a string (with templates)
	lit  any          // a number, boolean or null, as YAML read it
	kind byte         // 'o', 'a', 's' or 'l'
	// raw: the body is a string sent as is, not JSON.
	raw bool
}

type jsonMember struct {
	key   string
	value *jsonTmpl
}

// httpKind is the behavior of the http kind.
type httpKind struct{}

func (httpKind) decode(dc *decoder, nd *NodeDecl, action pair) {
	m := yamlpos.Mapping{What: "http", Fields: httpFields}
	got, ok := dc.Object(action.Val, m)
	if !ok {
		return
	}
	hd := &httpDecl{method: http.MethodGet, timeout: HTTPDefaultTimeout}
	if p, ok := got["url"]; ok {
		hd.url = dc.value("http url", &httpFields[0], p.Val)
	}
	if p, ok := got["method"]; ok && dc.Value(&httpFields[1], p.Val) {
		hd.method = yamlpos.Resolve(p.Val).Value
	}
	if p, ok := got["headers"]; ok {
		entries, _ := dc.Entries(&httpFields[2], p.Val, "http headers")
		for _, e := range entries {
			if s := dc.value("http header "+e.Key.Value, httpFields[2].Value, e.Val); s != nil {
				hd.headers = append(hd.headers, httpHeader{name: e.Key.Value, value: s})
			}
		}
	}
	if p, ok := got["body"]; ok {
		hd.body = dc.jsonTmpl(p.Val, true)
	}
	if p, ok := got["timeout"]; ok {
		v := yamlpos.Resolve(p.Val)
		d, err := time.ParseDuration(v.Value)
		switch {
		case err != nil:
			dc.Errorf(dc.Pos(v), CodeValue, "http timeout must be a duration such as 3s or 500ms, not %s", yamlpos.QuoteShort(v.Value))
		case d <= 0 || d > HTTPMaxTimeout:
			dc.Errorf(dc.Pos(v), CodeValue, "http timeout must be more than 0 and at most %v (Plivo is waiting for the XML), not %s", HTTPMaxTimeout, v.Value)
		default:
			hd.timeout = d
		}
	}
	nd.action = hd
}

// jsonTmpl decodes a body: at the top, a string is sent as is; inside a
// mapping or list, strings are JSON strings.
func (dc *decoder) jsonTmpl(n *yaml.Node, top bool) *jsonTmpl {
	n = yamlpos.Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		t := &jsonTmpl{kind: 'o'}
		pairs, _ := dc.Mapping(n, "http body")
		for _, p := range pairs {
			t.obj = append(t.obj, jsonMember{key: p.Key.Value, value: dc.jsonTmpl(p.Val, false)})
		}
		return t
	case yaml.SequenceNode:
		t := &jsonTmpl{kind: 'a'}
		for _, item := range n.Content {
			t.arr = append(t.arr, dc.jsonTmpl(item, false))
		}
		return t
	case yaml.ScalarNode:
		if n.Tag == "!!str" || top {
			return &jsonTmpl{kind: 's', str: dc.str(n), raw: top}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			dc.Errorf(dc.Pos(n), CodeType, "http body: %v", err)
		}
		return &jsonTmpl{kind: 'l', lit: yamlpos.Normalize(v)}
	}
	dc.Errorf(dc.Pos(n), CodeShape, "http body must be a mapping, a list or a string, not %s", yamlpos.Describe(n))
	return nil
}

func (httpKind) check(c *checker, nd *NodeDecl) {
	hd, _ := nd.action.(*httpDecl)
	if hd == nil {
		return
	}
	// Secret params may be read here: ctx "http".
	if hd.url != nil {
		if hd.url.Const() {
			c.value(hd.url, checkHTTPURL, "http url")
		}
		c.strExprs(hd.url, "http")
	}
	for _, h := range hd.headers {
		c.strExprs(h.value, "http")
	}
	if hd.body != nil {
		hd.body.walkStrs(func(s *Str) { c.strExprs(s, "http") })
	}
}

// strExprs compiles the templates of a string in context ctx.
func (c *checker) strExprs(s *Str, ctx string) {
	for _, p := range s.Parts {
		if p.Expr != nil && p.Expr.prog == nil {
			c.exprIn(p.Expr, false, ctx)
		}
	}
}

func (t *jsonTmpl) walkStrs(f func(*Str)) {
	if t == nil {
		return
	}
	switch t.kind {
	case 'o':
		for _, m := range t.obj {
			m.value.walkStrs(f)
		}
	case 'a':
		for _, v := range t.arr {
			v.walkStrs(f)
		}
	case 's':
		f(t.str)
	}
}

// checkHTTPURL accepts an absolute http or https URL (xmlgen's rule for
// Plivo's URLs), around spaces.
func checkHTTPURL(v string) string { return xmlgen.CheckURL(strings.TrimSpace(v)) }

func (httpKind) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	n.action = nd.action
	return nil
}

// Request is a request an http node made, as the trace keeps it: never
// its headers or bodies.
type Request struct {
	Node   string `json:"node"`
	Method string `json:"method"`
	URL    string `json:"url"` // without its query
	Status int    `json:"status"`
	Ms     int64  `json:"ms"` // how long it took, in milliseconds
	Error  string `json:"error,omitempty"`
}

func (httpKind) step(w *Walker, n *Node) (step, error) {
	hd := n.action.(*httpDecl)
	req, err := w.httpRequest(n, hd)
	if err != nil {
		return step{}, w.fail(n, err)
	}
	res := map[string]string{}
	outcome, status, errText := OutcomeError, 0, ""
	start := time.Now()
	if req == nil {
		errText = HTTPBadURL
	} else {
		if err := w.effect(); err != nil {
			return step{}, err
		}
		status, res["body"], errText = w.doHTTP(n, req, hd.timeout)
		if errText == "" {
			outcome = OutcomeOK
		}
	}
	res["status"] = strconv.Itoa(status)
	res["error"] = errText
	res["outcome"] = outcome
	w.state.Nodes[n.ID] = res
	w.setNodeView(n.ID, res)
	shown := ""
	method := hd.method
	if req != nil {
		shown = w.shownURL(hd.url, req.URL)
	}
	w.requests = append(w.requests, Request{Node: w.qualify(n.ID), Method: method, URL: shown, Status: status, Ms: time.Since(start).Milliseconds(), Error: errText})
	if t, ok := n.On[outcome]; ok {
		return step{to: t, label: outcome}, nil
	}
	return nextStep(n), nil
}

// hidden stands in the trace for what a secret or a private input wrote
// into an http node's URL.
const hidden = "***"

// shownURL is the URL of a request as the trace keeps it: without its
// query, fragment and user, and with hidden in place of each template
// that read a secret param or, after a log: false input, input. The URL
// is filled again for that, which only a URL with such a template pays.
func (w *Walker) shownURL(s *Str, made *url.URL) string {
	u := *made
	if w.hides(s) {
		var b strings.Builder
		for _, p := range s.Parts {
			switch {
			case p.Expr == nil:
				b.WriteString(p.Lit)
			case p.Expr.readsSecret || (p.Expr.readsInput && w.private):
				b.WriteString(hidden)
			default:
				v, err := w.vm.Run(p.Expr.prog, w.env)
				if err != nil {
					b.WriteString(hidden)
					continue
				}
				b.WriteString(Format(v))
			}
		}
		pu, err := url.Parse(b.String())
		if err != nil {
			return u.Scheme + "://" + hidden
		}
		u = *pu
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// hides reports whether a template of s must not be shown.
func (w *Walker) hides(s *Str) bool {
	for _, p := range s.Parts {
		if p.Expr != nil && (p.Expr.readsSecret || (p.Expr.readsInput && w.private)) {
			return true
		}
	}
	return false
}

// httpRequest fills the node's templates into a request; nil when the URL
// is not one flowd requests.
func (w *Walker) httpRequest(n *Node, hd *httpDecl) (*http.Request, error) {
	raw, err := w.fill(hd.url)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	var body io.Reader
	contentType := ""
	if hd.body != nil {
		if hd.body.raw {
			s, err := w.fill(hd.body.str)
			if err != nil {
				return nil, fmt.Errorf("body: %w", err)
			}
			body = strings.NewReader(s)
		} else {
			v, err := w.jsonValue(hd.body)
			if err != nil {
				return nil, fmt.Errorf("body: %w", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				return nil, fmt.Errorf("body: %w", err)
			}
			body = bytes.NewReader(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			contentType = "application/json"
		}
	}
	if checkHTTPURL(raw) != "" {
		return nil, nil
	}
	ctx := w.Context
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, hd.method, strings.TrimSpace(raw), body)
	if err != nil {
		return nil, nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range hd.headers {
		v, err := w.fill(h.value)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", h.name, err)
		}
		req.Header.Set(h.name, v)
	}
	return req, nil
}

// fill returns a string with its templates filled.
func (w *Walker) fill(s *Str) (string, error) {
	if s.Const() {
		return s.Value, nil
	}
	return w.template(s.Parts)
}

// jsonValue fills a JSON body; a leaf that is one template keeps its
// value's type (a number stays a number).
func (w *Walker) jsonValue(t *jsonTmpl) (any, error) {
	switch t.kind {
	case 'o':
		m := make(map[string]any, len(t.obj))
		for _, kv := range t.obj {
			v, err := w.jsonValue(kv.value)
			if err != nil {
				return nil, err
			}
			m[kv.key] = v
		}
		return m, nil
	case 'a':
		out := make([]any, len(t.arr))
		for i, e := range t.arr {
			v, err := w.jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case 's':
		if len(t.str.Parts) == 1 && t.str.Parts[0].Expr != nil {
			v, err := w.vm.Run(t.str.Parts[0].Expr.prog, w.env)
			if err != nil {
				return nil, fmt.Errorf("{{ %s }}: %w", t.str.Parts[0].Expr.Src, err)
			}
			return v, nil
		}
		return w.fill(t.str)
	}
	return t.lit, nil
}

// doHTTP sends a request within timeout and returns its status, its body
// (at most HTTPMaxBody) and, when the outcome is error, a short reason.
func (w *Walker) doHTTP(n *Node, req *http.Request, timeout time.Duration) (status int, body, errText string) {
	if w.HTTP == nil {
		return 0, "", "no HTTP client"
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	resp, err := w.HTTP.Do(w.qualify(n.ID), req.WithContext(ctx))
	if err != nil {
		return 0, "", httpErrText(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, HTTPMaxBody+1))
	switch {
	case err != nil:
		return resp.StatusCode, "", httpErrText(err)
	case len(b) > HTTPMaxBody:
		return resp.StatusCode, "", HTTPBodyTooLarge
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return resp.StatusCode, string(b), "status " + strconv.Itoa(resp.StatusCode)
	}
	return resp.StatusCode, string(b), ""
}

// The reasons an http node's request fails for, as nodes.<id>.error
// names them (besides "status NNN", an answer's status, and HTTPBadURL,
// a url that is not one flowd requests). flowd test's mocks answer with
// them by these names.
const (
	HTTPTimeout      = "timeout"
	HTTPRefused      = "connection refused"
	HTTPUnknownHost  = "unknown host"
	HTTPBodyTooLarge = "body too large"
	HTTPCanceled     = "canceled"
	HTTPFailed       = "request failed"
	HTTPBadURL       = "bad URL"
)

// HTTPFailures lists the reasons a request that was made fails for.
var HTTPFailures = []string{HTTPTimeout, HTTPRefused, HTTPUnknownHost, HTTPBodyTooLarge, HTTPCanceled, HTTPFailed}

// httpErrText says in a few words why a request failed; never the URL,
// which may carry a secret.
func httpErrText(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return HTTPTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return HTTPRefused
	case errors.Is(err, context.Canceled):
		return HTTPCanceled
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return HTTPUnknownHost
	}
	return HTTPFailed
}

// view is what expressions see of an http node's answer: status a
// number, body parsed when it is JSON.
func (httpKind) view(res map[string]string) any {
	status, _ := strconv.Atoi(res["status"])
	var body any = res["body"]
	s := strings.TrimSpace(res["body"])
	if s == "" {
		body = nil // no answer, or an empty one: nodes.<id>.body?.name is nil
	} else if s[0] == '{' || s[0] == '[' || s[0] == '"' {
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			body = JSONNumbers(v)
		}
	}
	return map[string]any{"status": status, "body": body, "error": res["error"], "outcome": res["outcome"]}
}

// JSONNumbers turns the json.Numbers of a value decoded with UseNumber
// into ints where they are whole, else float64s, as YAML reads numbers
// for vars; maps and slices are changed in place. It returns the value.
func JSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && i == int64(int(i)) {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = JSONNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = JSONNumbers(e)
		}
	}
	return v
}

// redact shows the answer's body only by its size in a call's trace: it
// is the remote's (a CRM's customer record), and the trace keeps no
// bodies.
func (httpKind) redact(kept map[string]string) map[string]string {
	out := make(map[string]string, len(kept))
	for k, v := range kept {
		out[k] = v
	}
	if b, ok := kept["body"]; ok && b != "" {
		out["body"] = "<" + strconv.Itoa(len(b)) + " bytes>"
	}
	return out
}

func (httpKind) schema(k *Kind) obj {
	return yamlpos.FieldSchema(&yamlpos.Field{Type: yamlpos.Object, Fields: httpFields, Doc: k.Doc})
}

func (httpKind) traits() traits {
	return traits{control: goesOn, style: styleVerb,
		walkDoc: "Requested on the server, once per step; the walk goes on by the outcome, ok for a 2xx answer, error for anything else."}
}
