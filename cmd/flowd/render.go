package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/wallclock"
	"github.com/flowd-dev/flowd/runtime"
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
	fs := newFlags("render", "FLOW [--node ID] [--call Key=Value]... [--var name=value]... [--param name=value]... [--params FILE] [--clock RFC3339] [--public-url URL]", "")
	node := fs.String("node", "", "render entering the node `ID` instead of answering")
	publicURL := fs.String("public-url", "http://127.0.0.1:8080", "the public `URL` callback URLs are built from")
	clock := fs.String("clock", "", "the flow's clock for hours() and now(), an `RFC3339` time such as 2026-11-23T10:00:00-05:00 (default: the time of day)")
	var calls, vars, params multiFlag
	fs.Var(&calls, "call", "an answer parameter, `Key=Value` (repeatable)")
	fs.Var(&vars, "var", "a per-call variable, `name=value`; the value is read as YAML (repeatable)")
	fs.Var(&params, "param", "a deployment value, `name=value` (repeatable); also FLOWD_PARAM_<NAME>")
	paramsFile := fs.String("params", "", "a YAML `FILE` of deployment values (name: value), below --param and FLOWD_PARAM_<NAME>")
	if code, ok := parseFlags(fs, interleave(args), stdout, stderr); !ok {
		return code
	}
	if !oneFlow(fs, "render", stderr) {
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
	p, _ := g.ResolveParams(values) // deployParams reported what it cannot resolve
	st := g.NewState(withDefaults(call), p)
	for _, kv := range vars {
		name, v, err := parseVar(kv)
		if err != nil {
			fmt.Fprintf(stderr, "flowd render: %v\n", err)
			return exitUsage
		}
		st.Vars[name] = v
	}
	// The answer is the call's first step, as serve counts them.
	w := &flow.Walker{URL: runtime.URLs(*publicURL, g.Name, st.Call["CallUUID"], 1)}
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
	if *node == "" {
		res = w.Answer(g, st)
	} else {
		n := g.Node(*node)
		if n == nil {
			fmt.Fprintf(stderr, "flowd render: flow %s has no node %q\n", g.Name, *node)
			return exitUsage
		}
		res = w.Render(g, st, n)
	}
	stdout.Write(res.XML)
	fmt.Fprintln(stdout)
	if res.Err != nil {
		fmt.Fprintf(stderr, "flowd render: run-time error: %v\n", res.Err)
		return exitInvalid
	}
	return exitOK
}
