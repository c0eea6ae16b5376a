package runtime

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flowd-dev/flowd/flow"
)

// Callback URLs are flowd's own and their shape is internal: Plivo, tests
// and users only follow them. Each names the node the call waits at, the
// event it reports and the step of the call it was issued on, so a retried
// or forged callback can be told from a fresh one.
//
//	{public}/flows/{flow}/calls/{step}/{node}/{event}
//
// A node inside a subflow is named by its calling nodes and its id
// (check_pin/ask); its URL writes the "/" as ".", which no node id holds,
// so the name stays one path segment whatever a proxy does with %2F.

// CallbackURL returns the absolute URL Plivo calls back for a node.
func CallbackURL(base, flowName string, step int, node, event string) string {
	var b strings.Builder
	b.Grow(len(base) + len(flowName) + len(node) + len(event) + 24)
	b.WriteString(strings.TrimSuffix(base, "/"))
	b.WriteString("/flows/")
	b.WriteString(url.PathEscape(flowName))
	b.WriteString("/calls/")
	b.WriteString(strconv.Itoa(step))
	b.WriteByte('/')
	b.WriteString(url.PathEscape(URLNode(node)))
	b.WriteByte('/')
	b.WriteString(event)
	return b.String()
}

// EventURL returns the URL Plivo posts a MultiPartyCall's status or
// recording events to, for a node of a call:
//
//	{public}/flows/{flow}/events/{CallUUID}/{node}/{kind}
func EventURL(base, flowName, callUUID, node, kind string) string {
	return strings.TrimSuffix(base, "/") + "/flows/" + url.PathEscape(flowName) + "/events/" +
		url.PathEscape(callUUID) + "/" + url.PathEscape(URLNode(node)) + "/" + kind
}

// URLs returns the URLs the XML of one webhook's walk names: for a
// call's step, its callback URLs, and its event URLs for status and
// recording reports. The server and flowd render both use it, so render
// prints what serve would answer.
func URLs(base, flowName, callUUID string, step int) func(node, event string) string {
	u := &callURLs{base: base, flowName: flowName, callUUID: callUUID, step: step}
	return u.url
}

// callURLs are what URLs' function builds a call's step's URLs from; a
// pooled walker keeps its own, and its URL function, between webhooks.
type callURLs struct {
	base, flowName, callUUID string
	step                     int
	// made are the last callback URLs made, kept between webhooks: a
	// callback URL names no call, so the next calls' webhooks at the same
	// step of the same flow name the same URLs, made again on every
	// answer before (a sixth of its garbage). Event URLs name the call.
	made [4]madeURL
	next int // the entry of made to replace next
}

// madeURL is a callback URL and what it was made from.
type madeURL struct {
	base, flowName, node, event, url string
	step                             int
}

func (u *callURLs) url(node, event string) string {
	if flow.IsReport(event) {
		return EventURL(u.base, u.flowName, u.callUUID, node, event)
	}
	for i := range u.made {
		m := &u.made[i]
		if m.url != "" && m.step == u.step && m.node == node && m.event == event && m.flowName == u.flowName && m.base == u.base {
			return m.url
		}
	}
	url := CallbackURL(u.base, u.flowName, u.step, node, event)
	u.made[u.next] = madeURL{base: u.base, flowName: u.flowName, node: node, event: event, url: url, step: u.step}
	u.next = (u.next + 1) % len(u.made)
	return url
}

// set makes u the URLs of a call's step, keeping the URLs made before.
func (u *callURLs) set(base, flowName, callUUID string, step int) {
	u.base, u.flowName, u.callUUID, u.step = base, flowName, callUUID, step
}

// URLNode writes a node's name as a URL path segment; NodeOfURL reads
// it back.
func URLNode(node string) string { return strings.ReplaceAll(node, flow.NodePathSep, ".") }

// NodeOfURL returns the node's name a URL path segment written by URLNode
// stands for.
func NodeOfURL(segment string) string { return strings.ReplaceAll(segment, ".", flow.NodePathSep) }

// nodeParam returns the node a callback or event URL names.
func nodeParam(r *http.Request) string { return NodeOfURL(pathParam(r, "node")) }

// AnswerURL returns a flow's answer URL. Initial vars, when given, ride in
// the URL's vars query parameter: the trigger API and flow tests start
// calls with them. Plivo signs the whole answer URL, so with signatures on
// they cannot be forged.
func AnswerURL(base, flowName string, vars map[string]any) (string, error) {
	u := strings.TrimSuffix(base, "/") + "/flows/" + url.PathEscape(flowName) + "/answer"
	if len(vars) == 0 {
		return u, nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return "", err
	}
	return u + "?vars=" + base64.RawURLEncoding.EncodeToString(b), nil
}

// DecodeVars reads the vars query parameter of an answer URL.
func DecodeVars(raw string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var vars map[string]any
	if err := dec.Decode(&vars); err != nil {
		return nil, err
	}
	for k, v := range vars {
		vars[k] = flow.JSONNumbers(v)
	}
	return vars, nil
}

// pathParam returns a URL parameter as the client meant it. chi matches
// the escaped path when the request's path was escaped in a way of its
// own (RawPath set: %2B1415... for +1415...), and then its parameters are
// escaped: unescape them, once. Otherwise chi matched the decoded path.
func pathParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
