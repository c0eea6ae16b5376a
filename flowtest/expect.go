package flowtest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/runtime"
)

// check compares a step's expectations with what the step did; each
// problem names what was expected and what happened.
func check(x *Expect, sess *runtime.Session, path []string, xml string, hangup bool) []string {
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
	if x.HasXML && !sameXML(x.XML, xml) {
		out = append(out, fmt.Sprintf("xml: want\n%s\nbut the step answered\n%s", x.XML, orNone(xml)+noXML))
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
	return out
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

var betweenTags = regexp.MustCompile(`>\s+<`)

// sameXML compares documents, ignoring whitespace between elements that a
// multi-line YAML block scalar adds.
func sameXML(want, got string) bool {
	want, got = strings.TrimSpace(want), strings.TrimSpace(got)
	return want == got || betweenTags.ReplaceAllString(want, "><") == betweenTags.ReplaceAllString(got, "><")
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
