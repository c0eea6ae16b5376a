package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/yamlpos"
)

// An http node never reaches the network in a flow test, nor in flowd
// render: each request is answered by a mock (Answer), given per case or
// per step in a test file (http: {lookup: {status: 200, json: {...}}}),
// or with render's --http node=FILE.json. A request that nothing answers
// fails the case (or render), naming the node.

// Answer is how a mock answers an http node's requests.
type Answer struct {
	Node   string   // the http node's id
	Pos    flow.Pos // the node's key under http: (or the file, for render)
	Status int      // the answer's status; 0 with Error
	Body   string   // the answer's body: json: as JSON, or body: as written
	JSON   bool     // Body came from json: (sent as application/json)
	// Error makes the request fail instead, as the network would:
	// "timeout" fails as the node's timeout running out does, at once.
	// With flow.HTTPBodyTooLarge, Status is the status the answer came with.
	Error string
}

// The errors a mock can answer with, as the http node names them in
// nodes.<id>.error: every reason a real request can fail for
// (flow.HTTPFailures), but "status NNN", which an answer's status gives,
// and "bad URL", which the flow's url gives before any request. The mock
// does not produce the reasons itself: it fails as the network would (a
// refused dial, a DNS miss, a body over flow.HTTPMaxBody) and the http
// node names the failure as it does in production, so the status, error
// and outcome a test sees are production's. TestMockErrorsAreProductions
// checks that each makes the node give its name.
var answerErrors = flow.HTTPFailures

// httpMethods are the methods an http node may use.
var httpMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// answerFields are the keys of a mock answer; json, body and error
// exclude each other.
var answerFields = []yamlpos.Field{
	{Name: "status", Type: yamlpos.Int, Min: 100, Max: 599, HasMin: true, HasMax: true, Default: "200",
		Doc: "The answer's HTTP status: a 2xx takes the node's ok outcome, anything else its error outcome (nodes.<id>.error is \"status 503\"). With error: body too large, the status the oversized answer came with."},
	{Name: "json", Type: yamlpos.Text, Exclusive: true, Schema: yamlpos.Obj{},
		Doc: "The answer's body, any YAML value, sent as JSON: nodes.<id>.body reads it parsed."},
	{Name: "body", Type: yamlpos.Text, Exclusive: true,
		Doc: "The answer's body as text, sent as written (nodes.<id>.body parses it when it is JSON)."},
	{Name: "error", Type: yamlpos.Enum, Exclusive: true, Enum: answerErrors,
		Doc: "Fail the request instead of answering, as the network would: timeout (as if the node's timeout ran out; the test does not wait it), connection refused, unknown host, body too large (an answer over 64 KiB, with status, default 200, as nodes.<id>.status), canceled (Plivo gave up on the webhook) or request failed; nodes.<id>.error says the same, and the node takes its error outcome."},
}

// httpField is the http: mapping of a case or a step.
func httpField(doc string) yamlpos.Field {
	return yamlpos.Field{Name: "http", Type: yamlpos.Map, Keys: flow.NodeName, KeyName: "http node", KeyForm: flow.NodeNameForm,
		Value: &yamlpos.Field{Type: yamlpos.Object, Fields: answerFields}, Doc: doc}
}

// RequestExpect is one item of an expectation's requests:.
type RequestExpect struct {
	Pos         flow.Pos
	Node        string
	NodePos     flow.Pos
	Method      string // "" matches any
	URLContains string // "" matches any; matched against the whole URL, query included
	Status      int
	HasStatus   bool
}

var requestFields = []yamlpos.Field{
	{Name: "node", Type: yamlpos.String, Required: true, Doc: "The http node that made the request."},
	{Name: "method", Type: yamlpos.Enum, Enum: httpMethods, Doc: "The request's method."},
	{Name: "url_contains", Type: yamlpos.String, Doc: "A string the request's URL contains, query included (failure messages show URLs without their query, which may carry secrets)."},
	{Name: "status", Type: yamlpos.Int, Min: 0, Max: 599, HasMin: true, HasMax: true, Doc: "The status the request was answered with; 0 when it got no answer (an error such as timeout)."},
}

// String describes the expected request in words.
func (x *RequestExpect) String() string {
	parts := []string{"from http node " + x.Node}
	if x.Method != "" {
		parts = append(parts, "method "+x.Method)
	}
	if x.URLContains != "" {
		parts = append(parts, fmt.Sprintf("a URL containing %q", x.URLContains))
	}
	if x.HasStatus {
		parts = append(parts, "status "+strconv.Itoa(x.Status))
	}
	return "a request " + strings.Join(parts, ", ")
}

// intValue reads an Int field's value, checking its type and range.
func (dc *decoder) intValue(f *yamlpos.Field, n *yaml.Node, what string) (int, bool) {
	v := yamlpos.Resolve(n)
	i, err := strconv.Atoi(strings.ReplaceAll(v.Value, "_", ""))
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil {
		dc.Errorf(dc.Pos(v), flow.CodeType, "%s must be an integer, not %s", what, yamlpos.DescribeTyped(v))
		return 0, false
	}
	if (f.HasMin && int64(i) < f.Min) || (f.HasMax && int64(i) > f.Max) {
		dc.Errorf(dc.Pos(v), flow.CodeValue, "%s %d must be from %d to %d", what, i, f.Min, f.Max)
		return 0, false
	}
	return i, true
}

// answers reads an http: mapping of node ids to answers.
func (dc *decoder) answers(n *yaml.Node, where string) map[string]*Answer {
	out := map[string]*Answer{}
	for _, p := range dc.keys(n) {
		if !flow.NodeName.MatchString(p.Key.Value) {
			continue // reported by fields
		}
		if a := dc.answer(p.Val, "http."+p.Key.Value+" of "+where); a != nil {
			a.Node, a.Pos = p.Key.Value, dc.Pos(p.Key)
			out[p.Key.Value] = a
		}
	}
	return out
}

// answer reads one mock answer.
func (dc *decoder) answer(n *yaml.Node, what string) *Answer {
	got, ok := dc.Object(yamlpos.Resolve(n), yamlpos.Mapping{What: what, Fields: answerFields})
	if !ok {
		return nil
	}
	a := &Answer{Status: http.StatusOK}
	if excl := yamlpos.ExclusiveGiven(answerFields, got); len(excl) > 1 {
		dc.Errorf(dc.Pos(excl[1].Key), flow.CodeShape, "%s has %s (at %d:%d) and %s; an answer has one of json, body and error", what, excl[0].Key.Value, excl[0].Key.Line, excl[0].Key.Column, excl[1].Key.Value)
		return nil
	}
	ok = true
	if p, has := got["status"]; has {
		a.Status, ok = dc.intValue(&answerFields[0], p.Val, "status")
	}
	if p, has := got["json"]; has {
		var v any
		if err := p.Val.Decode(&v); err != nil {
			dc.Errorf(dc.Pos(p.Val), flow.CodeShape, "json: %v", err)
			return nil
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(yamlpos.Normalize(v)); err != nil {
			dc.Errorf(dc.Pos(p.Val), flow.CodeShape, "json cannot be written as JSON: %v", err)
			return nil
		}
		a.Body, a.JSON = strings.TrimSuffix(b.String(), "\n"), true
	}
	if p, has := got["body"]; has {
		if !dc.Value(&answerFields[2], p.Val) {
			return nil
		}
		if v := yamlpos.Resolve(p.Val); !yamlpos.IsNull(v) {
			a.Body = v.Value
		}
	}
	if p, has := got["error"]; has {
		if !dc.Value(&answerFields[3], p.Val) {
			return nil
		}
		a.Error = yamlpos.Resolve(p.Val).Value
		// An answer too large came with a status, which the node keeps;
		// the other failures got no answer at all.
		if a.Error != flow.HTTPBodyTooLarge {
			if s, set := got["status"]; set {
				dc.Errorf(dc.Pos(s.Key), flow.CodeShape, "%s has status and error %s; a request that fails so gets no answer, so no status: remove status (of the errors, only body too large takes one)", what, a.Error)
				return nil
			}
			a.Status = 0
		}
	}
	if !ok {
		return nil
	}
	return a
}

// requests reads an expectation's requests: list.
func (dc *decoder) requests(n *yaml.Node, what string) []*RequestExpect {
	out := []*RequestExpect{}
	for i, item := range yamlpos.Resolve(n).Content {
		fs, ok := dc.fields(item, fmt.Sprintf("requests item %d of %s", i+1, what), requestFields)
		if !ok {
			continue
		}
		r := &RequestExpect{Pos: dc.Pos(yamlpos.Resolve(item))}
		if p, ok := fs["node"]; ok {
			r.Node, r.NodePos = yamlpos.Resolve(p.Val).Value, dc.Pos(p.Val)
		}
		if p, ok := fs["method"]; ok {
			r.Method = yamlpos.Resolve(p.Val).Value
		}
		if p, ok := fs["url_contains"]; ok {
			r.URLContains = yamlpos.Resolve(p.Val).Value
		}
		if p, ok := fs["status"]; ok {
			r.Status, r.HasStatus = dc.intValue(&requestFields[3], p.Val, "status")
		}
		if r.Node == "" {
			continue // reported by fields
		}
		out = append(out, r)
	}
	return out
}

// DecodeAnswer reads a mock answer for an http node from a file, as
// flowd render's --http node=FILE takes it: JSON (or YAML) in the shape
// of a test file's, {"status": 200, "json": {...}}, {"status": 503,
// "body": "..."} or {"error": "timeout"}.
func DecodeAnswer(node, path string, src []byte) (*Answer, flow.Diagnostics) {
	dc := &decoder{yamlpos.NewDecoder(path, src)}
	root := dc.Parse(flow.CodeMissingKey, `an answer needs status and json or body, or error: {"status": 200, "json": {...}}`, "an answer file holds one answer")
	var a *Answer
	if root != nil {
		a = dc.answer(root, "the answer for http node "+node)
	}
	ds := dc.Diagnostics()
	ds.Sort()
	if ds.HasErrors(false) {
		return nil, ds
	}
	if a != nil {
		a.Node, a.Pos = node, flow.Pos{File: path, Line: 1, Col: 1}
	}
	return a, ds
}

// HTTPNodes returns the ids of a flow's http nodes, in file order.
func HTTPNodes(g *flow.Graph) []string {
	var out []string
	g.Walk(func(id string, n *flow.Node) {
		if isHTTP(n) {
			out = append(out, id)
		}
	})
	return out
}

func isHTTP(n *flow.Node) bool { return n != nil && n.Kind != nil && n.Kind.Name == "http" }

// MadeRequest is a request an http node made to a Mock: the URL whole,
// query included. It stays in the test's process: what it shows
// (url_contains) is what the test file wrote.
type MadeRequest struct {
	Node, Method, URL string
}

// Mock answers http nodes' requests from Answers and never reaches the
// network: a flow.HTTP for runtime.Config.HTTP and flow.Walker.HTTP. Its
// answers come in layers: the case's, then the current step's, which
// override them node by node. It keeps the requests made and the nodes
// whose requests nothing answered, until Take. It is safe for concurrent
// use.
type Mock struct {
	mu         sync.Mutex
	base, over map[string]*Answer
	made       []MadeRequest
	unanswered []string
}

// NewMock returns a Mock that answers from answers.
func NewMock(answers map[string]*Answer) *Mock { return &Mock{base: answers} }

// Override sets answers that take precedence over the Mock's own, node by
// node (a step's over its case's); nil removes them.
func (m *Mock) Override(answers map[string]*Answer) {
	m.mu.Lock()
	m.over = answers
	m.mu.Unlock()
}

// Take returns the requests made since the last Take, and the nodes, in
// order and once each, whose requests had no answer.
func (m *Mock) Take() (made []MadeRequest, unanswered []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	made, unanswered = m.made, m.unanswered
	m.made, m.unanswered = nil, nil
	return made, unanswered
}

// errUnanswered is the error an unanswered request gets: the node takes
// its error outcome ("request failed"), and the caller of the Mock fails.
var errUnanswered = errors.New("no answer for this http node (the request is not sent)")

// Do implements flow.HTTP.
func (m *Mock) Do(node string, req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	m.mu.Lock()
	m.made = append(m.made, MadeRequest{Node: node, Method: req.Method, URL: req.URL.String()})
	a := m.over[node]
	if a == nil {
		a = m.base[node]
	}
	if a == nil && !slices.Contains(m.unanswered, node) {
		m.unanswered = append(m.unanswered, node)
	}
	m.mu.Unlock()
	if a == nil {
		return nil, errUnanswered
	}
	return a.respond(req)
}

// respond answers a request as the answer says.
func (a *Answer) respond(req *http.Request) (*http.Response, error) {
	switch a.Error {
	case "":
	case flow.HTTPTimeout:
		// The node's timeout ran out, at once: a test does not wait it.
		return nil, context.DeadlineExceeded
	case flow.HTTPRefused:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	case flow.HTTPUnknownHost:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: req.URL.Hostname(), IsNotFound: true}}
	case flow.HTTPCanceled:
		return nil, context.Canceled
	case flow.HTTPBodyTooLarge:
		// One byte over what the node keeps: the node reads it and fails
		// as it does in production, keeping the status.
		a = &Answer{Status: a.Status, Body: strings.Repeat(" ", flow.HTTPMaxBody+1)}
	default:
		return nil, errors.New(flow.HTTPFailed)
	}
	h := http.Header{}
	if a.JSON {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status)), StatusCode: a.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(strings.NewReader(a.Body)), ContentLength: int64(len(a.Body)), Request: req,
	}, nil
}

// Unanswered is the problem of a request that nothing answered, in the
// words of a test file.
func Unanswered(node string) string {
	return fmt.Sprintf("http node %s made a request that the case does not answer: add http: {%s: {status: 200, json: ...}} to the case or the step (a flow test never reaches the network)", node, node)
}
