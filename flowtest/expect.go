package flowtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/runtime"
)

// check compares a step's expectations with what the step did; each
// problem names what was expected and what happened.
func check(x *Expect, sess *runtime.Session, path []string, xml string, reqs []stepRequest, hangup bool) []string {
	var out []string
	ended := sess.Status != runtime.StatusLive
	if x.Node != "" && sess.Wait != x.Node {
		if sess.Wait == "" {
			out = append(out, fmt.Sprintf("node: want the call waiting at %s, but the flow has ended", x.Node))
		} else {
			out = append(out, fmt.Sprintf("node: want the call waiting at %s, but it waits at %s", x.Node, sess.Wait))
		}
	}
	if x.HasPath && !slices.Equal(path, x.Path) {
		out = append(out, fmt.Sprintf("path: want %s, but the step walked %s", list(x.Path), list(path)))
	}
	noXML := ""
	if hangup {
		noXML = " (the hangup webhook answers no XML)"
	}
	for _, s := range x.Contains {
		if !strings.Contains(xml, s) {
			out = append(out, fmt.Sprintf("contains: the XML does not contain %q%s", s, noXML))
		}
	}
	for _, s := range x.NotContains {
		if strings.Contains(xml, s) {
			out = append(out, fmt.Sprintf("not_contains: the XML contains %q", s))
		}
	}
	if x.HasXML {
		if d := compareXML(x.xmlTree, xml); d != "" {
			out = append(out, fmt.Sprintf("xml: %s\nwant\n%s\nbut the step answered\n%s", d, x.XML, orNone(xml)+noXML))
		}
	}
	for _, k := range sortedKeys(x.Vars) {
		want := x.Vars[k]
		got, ok := sess.Vars[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("vars.%s: want %s, but the call has no such variable", k, show(want)))
		case !equal(want, got):
			out = append(out, fmt.Sprintf("vars.%s: want %s, got %s", k, show(want), show(got)))
		}
	}
	if x.Ended != nil && *x.Ended != ended {
		if *x.Ended {
			out = append(out, fmt.Sprintf("ended: want the flow ended, but the call waits at %s", sess.Wait))
		} else {
			out = append(out, "ended: want the call still in the flow, but the flow has ended")
		}
	}
	if p := checkRequests(x.Requests, reqs); p != "" {
		out = append(out, p)
	}
	return out
}

// stepRequest is a request an http node made in a step: as the trace
// keeps it (its URL without the query), with the whole URL the mock saw.
type stepRequest struct {
	flow.Request
	FullURL string
}

// stepRequests pairs the requests of a step's trace with those the mock
// saw, in order and by node: a request whose URL was bad never reached
// the mock.
func stepRequests(traced []flow.Request, made []MadeRequest) []stepRequest {
	out := make([]stepRequest, len(traced))
	for i, t := range traced {
		out[i] = stepRequest{Request: t, FullURL: t.URL}
		if t.URL == "" {
			continue
		}
		for j, m := range made {
			if m.Node == t.Node && m.Method == t.Method && withoutQuery(m.URL) == t.URL {
				out[i].FullURL = m.URL
				made = made[j+1:]
				break
			}
		}
	}
	return out
}

// withoutQuery writes a URL as the trace keeps it.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func (x *RequestExpect) matches(r stepRequest) bool {
	return r.Node == x.Node && (x.Method == "" || r.Method == x.Method) &&
		(x.URLContains == "" || strings.Contains(r.FullURL, x.URLContains)) &&
		(!x.HasStatus || r.Status == x.Status)
}

// checkRequests finds the expected requests among those the step made, in
// order; it returns the first that is not there, with the requests made.
func checkRequests(want []*RequestExpect, got []stepRequest) string {
	if want == nil {
		return ""
	}
	if len(want) == 0 {
		if len(got) == 0 {
			return ""
		}
		return "requests: want none, but the step made " + showRequests(got)
	}
	i := 0
	for k, x := range want {
		for i < len(got) && !x.matches(got[i]) {
			i++
		}
		if i == len(got) {
			after := ""
			if k > 0 {
				after = fmt.Sprintf(" after the one that matches item %d", k)
			}
			return fmt.Sprintf("requests: want %s%s, but the step made %s", x, after, showRequests(got))
		}
		i++
	}
	return ""
}

// showRequests lists requests as the trace keeps them, without the query
// of their URLs, which may carry secrets.
func showRequests(rs []stepRequest) string {
	if len(rs) == 0 {
		return "no request"
	}
	var b strings.Builder
	if len(rs) == 1 {
		b.WriteString("1 request")
	} else {
		fmt.Fprintf(&b, "%d requests", len(rs))
	}
	b.WriteString(" (URLs shown without their query):")
	for _, r := range rs {
		b.WriteString("\n")
		b.WriteString(showRequest(r.Request))
	}
	return b.String()
}

func showRequest(r flow.Request) string {
	u, result := r.URL, r.Error
	if u == "" {
		u = "(no URL)"
	}
	if r.Status != 0 {
		result = strconv.Itoa(r.Status)
	}
	return fmt.Sprintf("%s: %s %s → %s", r.Node, r.Method, u, result)
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	return "[" + strings.Join(ids, ", ") + "]"
}

func orNone(xml string) string {
	if xml == "" {
		return "(nothing)"
	}
	return xml
}

// show writes a value as the test file would, with its type where a
// string could be mistaken for a number.
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q (a string)", s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// equal compares an expected YAML value with a call's: numbers by value
// whatever their Go type, strings, booleans, lists and maps deeply.
func equal(want, got any) bool {
	if a, ok := number(want); ok {
		b, ok := number(got)
		return ok && (a == b || math.Abs(a-b) < 1e-9*math.Max(math.Abs(a), math.Abs(b)))
	}
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equal(w[i], g[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !equal(v, g[k]) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(want) == fmt.Sprint(got)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
