package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
	"github.com/flowd-dev/flowd/internal/wallclock"
	"github.com/flowd-dev/flowd/runtime"
	"github.com/flowd-dev/flowd/yamlpos"
)

// parseClock reads the --clock of render and serve.
func parseClock(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--clock %q: want an RFC 3339 time such as 2026-11-23T10:00:00-05:00", v)
	}
	return t, nil
}

func runRender(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("render", "FLOW [--node ID] [--call Key=Value]... [--var name=value]... [--param name=value]... [--params FILE] [--clock RFC3339] [--public-url URL] [--http node=FILE.json]...", "")
	node := fs.String("node", "", "render entering the node `ID` instead of answering")
	publicURL := fs.String("public-url", "http://127.0.0.1:8080", "the public `URL` callback URLs are built from")
	clock := fs.String("clock", "", "the flow's clock for hours() and now(), an `RFC3339` time such as 2026-11-23T10:00:00-05:00 (default: the time of day)")
	var calls, vars, params multiFlag
	fs.Var(&calls, "call", "an answer parameter, `Key=Value` (repeatable)")
	fs.Var(&vars, "var", "a per-call variable, `name=value`; the value is read as YAML (repeatable)")
	fs.Var(&params, "param", "a deployment value, `name=value` (repeatable); also FLOWD_PARAM_<NAME>")
	paramsFile := fs.String("params", "", "a YAML `FILE` of deployment values (name: value), below --param and FLOWD_PARAM_<NAME>")
	var mocks multiFlag
	fs.Var(&mocks, "http", "answer an http node's requests from a JSON file, `node=FILE.json` (repeatable), as a flow test does: {\"status\": 200, \"json\": {...}}, {\"status\": 503, \"body\": \"...\"} or {\"error\": \"timeout\"}; render never reaches the network")
	if code, ok := parseFlags(fs, interleave(args), stdout, stderr); !ok {
		return code
	}
	if !oneFlow(fs, "render", stderr) {
		return exitUsage
	}
	if msg := checkPublicURL(*publicURL); msg != "" {
		fmt.Fprintf(stderr, "flowd render: --public-url %s: %s\n", *publicURL, msg)
		return exitUsage
	}
	call, err := pairs(calls, "call")
	if err != nil {
		fmt.Fprintf(stderr, "flowd render: %v\n", err)
		return exitUsage
	}
	g, code := loadOne(fs.Arg(0), "render", stderr)
	if g == nil {
		return code
	}
	values, errs := deployParams(params, *paramsFile, os.Environ(), []*flow.Graph{g})
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintf(stderr, "flowd render: %s\n", e)
		}
		return exitUsage
	}
	// --node may name a node inside a subflow (check_pin/ask): the walk
	// then starts there, in that subflow, with its vars and params.
	target := g
	var from *flow.Node
	if *node != "" {
		if target, from = g.Locate(*node); from == nil {
			fmt.Fprintf(stderr, "flowd render: flow %s has no node %q\n", g.Name, *node)
			return exitUsage
		}
	}
	p, _ := target.ResolveParams(values) // deployParams reported what it cannot resolve
	st := target.NewState(withDefaults(call), p)
	given := map[string]any{}
	for _, kv := range vars {
		name, v, err := parseVar(kv)
		if err != nil {
			fmt.Fprintf(stderr, "flowd render: %v\n", err)
			return exitUsage
		}
		given[name] = v
	}
	// As the trigger API: a declared var takes a value of its kind.
	if err := target.CheckVars(given); err != nil {
		fmt.Fprintf(stderr, "flowd render: --var %v\n", err)
		return exitUsage
	}
	maps.Copy(st.Vars, given)
	answers, code := httpAnswers(g, mocks, stderr)
	if answers == nil {
		return code
	}
	// The answer is the call's first step, as serve counts them. The http
	// nodes' requests are answered by --http, never sent.
	mock := flowtest.NewMock(answers)
	w := &flow.Walker{URL: runtime.URLs(*publicURL, g.Name, st.Call["CallUUID"], 1), HTTP: mock}
	if i := strings.LastIndex(*node, flow.NodePathSep); i >= 0 {
		// A walk started inside a subflow names target's nodes; --http,
		// unanswered requests and callback URLs name them from g, through
		// the calling nodes (check_pin/lookup), as serve and flow tests do.
		callers := (*node)[:i+len(flow.NodePathSep)]
		urls := w.URL
		w.URL = func(id, event string) string { return urls(callers+id, event) }
		w.HTTP = qualified{callers, mock}
	}
	w.Now = wallclock.Now()
	if *clock != "" {
		t, err := parseClock(*clock)
		if err != nil {
			fmt.Fprintf(stderr, "flowd render: %v\n", err)
			return exitUsage
		}
		w.Now = t
	}
	var res flow.Result
	if from == nil {
		res = w.Answer(g, st)
	} else {
		res = w.Render(target, st, from)
	}
	if _, unanswered := mock.Take(); len(unanswered) > 0 {
		for _, id := range unanswered {
			fmt.Fprintf(stderr, "flowd render: http node %s made a request that no --http answers: add --http %s=FILE.json, a file such as {\"status\": 200, \"json\": {...}} (render never reaches the network)\n", id, id)
		}
		return exitInvalid
	}
	stdout.Write(res.XML)
	fmt.Fprintln(stdout)
	if res.Err != nil {
		fmt.Fprintf(stderr, "flowd render: run-time error: %v\n", res.Err)
		return exitInvalid
	}
	return exitOK
}

// httpAnswers reads render's --http node=FILE.json flags: each names an
// http node of the flow and a file with its answer. It returns nil and
// the exit code when one is wrong.
func httpAnswers(g *flow.Graph, mocks multiFlag, stderr io.Writer) (map[string]*flowtest.Answer, int) {
	answers := map[string]*flowtest.Answer{}
	ids := flowtest.HTTPNodes(g)
	for _, kv := range mocks {
		id, path, ok := strings.Cut(kv, "=")
		if !ok || id == "" || path == "" {
			fmt.Fprintf(stderr, "flowd render: --http %q: want node=FILE.json\n", kv)
			return nil, exitUsage
		}
		switch n := g.Lookup(id); {
		case n == nil && len(ids) == 0:
			fmt.Fprintf(stderr, "flowd render: --http %s: flow %s has no node %q, and no http nodes\n", kv, g.Name, id)
			return nil, exitUsage
		case n == nil:
			fmt.Fprintf(stderr, "flowd render: --http %s: flow %s has no node %q%s (its http nodes: %s)\n", kv, g.Name, id, yamlpos.DidYouMean(id, ids), strings.Join(ids, ", "))
			return nil, exitUsage
		case !slices.Contains(ids, id):
			fmt.Fprintf(stderr, "flowd render: --http %s: node %s of flow %s is a %s node, which makes no requests\n", kv, id, g.Name, n.Kind.Name)
			return nil, exitUsage
		}
		if _, dup := answers[id]; dup {
			fmt.Fprintf(stderr, "flowd render: --http %s: node %s is answered twice; give one --http per node\n", kv, id)
			return nil, exitUsage
		}
		src, err := flow.ReadFile(path)
		if err != nil {
			// kv names the file: of an *fs.PathError, say only the cause.
			// ReadFile's other errors (a folder, a device, too large) are
			// sentences of their own, with nothing to unwrap.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			fmt.Fprintf(stderr, "flowd render: --http %s: %v\n", kv, err)
			return nil, exitUsage
		}
		a, ds := flowtest.DecodeAnswer(id, path, src)
		if a == nil {
			for _, d := range ds {
				fmt.Fprintln(stderr, d)
			}
			return nil, exitUsage
		}
		answers[id] = a
	}
	return answers, exitOK
}

// qualified names the http nodes of a subflow a walk started in as the
// flow that runs it names them: through the calling nodes, callers
// (check_pin/).
type qualified struct {
	callers string
	http    flow.HTTP
}

// Do implements flow.HTTP.
func (q qualified) Do(node string, req *http.Request) (*http.Response, error) {
	return q.http.Do(q.callers+node, req)
}
