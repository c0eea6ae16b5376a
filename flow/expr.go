package flow

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/flowd-dev/flowd/internal/hours"
)

// program is a compiled expression.
type program = *vm.Program

// exprEnv declares the names and types expressions compile against
// ("Expressions" in the package documentation). The function values here
// are never called: at run time the Walker supplies ones bound to the
// webhook's clock.
var exprEnv = map[string]any{
	"call":     map[string]string{},
	"input":    map[string]string{},
	"nodes":    map[string]any{},
	"vars":     map[string]any{},
	"params":   map[string]any{},
	"hours":    func(spec, tz string) bool { return false },
	"now":      func() time.Time { return time.Time{} },
	"urlquery": urlQuery,
}

// urlQuery is urlquery(v): v, written as a template writes it, escaped for
// a URL query ("+1 415" → "%2B1+415").
func urlQuery(v any) string { return url.QueryEscape(Format(v)) }

// EnvNames are the top-level names expressions may use.
var EnvNames = []string{"call", "input", "nodes", "vars", "params", "hours", "now", "urlquery"}

var scheduleCache sync.Map // spec → *hours.Schedule

// hoursAt evaluates hours(spec, tz) at t, caching parsed specs: flows
// almost always pass a literal, parsed once per process.
func hoursAt(spec, tz string, t time.Time) (bool, error) {
	var s *hours.Schedule
	if v, ok := scheduleCache.Load(spec); ok {
		s = v.(*hours.Schedule)
	} else {
		var err error
		if s, err = hours.Parse(spec); err != nil {
			return false, err
		}
		scheduleCache.Store(spec, s)
	}
	loc, err := hours.LoadLocation(tz)
	if err != nil {
		return false, err
	}
	return s.Open(t, loc), nil
}

// flowEnv returns the environment a flow's expressions compile against:
// exprEnv with params typed as the flow declares them (a param's type is
// its default's), so params.ring_seconds == "20" is a load error when
// ring_seconds is an integer. Params the flow does not declare stay
// unknown to expr; the checker reports them itself.
func flowEnv(f *File) map[string]any {
	env := make(map[string]any, len(exprEnv))
	for k, v := range exprEnv {
		env[k] = v
	}
	env["nodes"] = nodesType(f.Nodes)
	env["vars"] = varsType(f)
	typed := types.Map{types.Extra: types.Any}
	for _, p := range f.Params {
		switch p.Type {
		case ParamInt:
			typed[p.Name] = types.Int
		case ParamFloat:
			typed[p.Name] = types.Float64
		case ParamBool:
			typed[p.Name] = types.Bool
		default:
			typed[p.Name] = types.String
		}
	}
	env["params"] = typed
	return env
}

// nodesType types nodes.<id> as each node's kind keeps it, so that a
// non-boolean when: reading one (when: nodes.menu.Digits) is a load error
// as one reading input is: a callback's and a REST action's parameters are
// text; an http node's status a number, its body any value; a subflow's
// outcome text, its values any. Other nodes keep nothing of their own.
func nodesType(nodes []*NodeDecl) types.Map {
	out := types.Map{types.Extra: types.Any}
	for _, nd := range nodes {
		if nd.Kind == nil {
			continue
		}
		switch nd.Kind.behavior.(type) {
		case httpKind:
			out[nd.ID] = types.Map{"status": types.Int, "body": types.Any, "error": types.String, "outcome": types.String, types.Extra: types.Any}
		case subflowKind:
			out[nd.ID] = types.Map{"outcome": types.String, types.Extra: types.Any}
		default:
			if len(nd.Kind.Callbacks) > 0 || len(nd.Kind.Keeps) > 0 {
				out[nd.ID] = types.Map{types.Extra: types.String}
			}
		}
	}
	return out
}

// varsType types vars.<name> by its initial value when no set: of the
// file assigns it, so that when: vars.attempts (a number) is a load error;
// a var some set: assigns may change its type, and stays any.
func varsType(f *File) types.Map {
	out := types.Map{types.Extra: types.Any}
	set := map[string]bool{}
	for _, nd := range f.Nodes {
		for _, s := range nd.Sets {
			set[s.Name] = true
		}
	}
	for _, v := range f.Vars {
		if set[v.Name] {
			continue
		}
		switch v.Value.(type) {
		case bool:
			out[v.Name] = types.Bool
		case string:
			out[v.Name] = types.String
		case int:
			out[v.Name] = types.Int
		case float64:
			out[v.Name] = types.Float64
		}
	}
	return out
}

// compileExpr compiles src against env (flowEnv). The error, if any,
// carries the rune offset inside src where it was found.
func compileExpr(env map[string]any, src string, asBool bool) (program, *exprError) {
	opts := []expr.Option{expr.Env(env)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	if off, ok := nestsTooDeep(src); !ok {
		return nil, &exprError{code: CodeExpr, offset: off, msg: fmt.Sprintf("the expression nests brackets more than %d deep here; split it with set:", maxExprDepth)}
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		msg, off := err.Error(), 0
		var fe *file.Error
		if errors.As(err, &fe) {
			msg, off = fe.Message, fe.From
		}
		if asBool && strings.Contains(msg, "expected bool") {
			return nil, &exprError{code: CodeNotBool, msg: "when must be a boolean expression (" + msg + "); compare the value, e.g. input.Digits == \"1\""}
		}
		return nil, &exprError{code: CodeExpr, offset: off, msg: msg}
	}
	return p, nil
}

// maxExprDepth bounds how deep an expression nests brackets. expr's
// parser descends once per level, and a file with half a million "(" ran
// it out of stack, which no recover catches: the whole server died on the
// reload of one broken file.
const maxExprDepth = 100

// nestsTooDeep scans src for brackets nested more than maxExprDepth deep,
// outside string literals, and returns the rune offset where they do.
func nestsTooDeep(src string) (int, bool) {
	depth, quote, escaped, off := 0, rune(0), false, 0
	for _, c := range src {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == quote:
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			if depth++; depth > maxExprDepth {
				return off, false
			}
		case c == ')' || c == ']' || c == '}':
			depth--
		}
		off++
	}
	return 0, true
}

type exprError struct {
	code   Code
	offset int
	msg    string
}

// ref is a use of params.x, nodes.x, vars.x or input.x, or a call of
// hours with literal arguments, found in an expression.
type ref struct {
	root, name string
	offset     int
	args       []string // literal arguments of hours()
	// param and paramOffset name the parameter of nodes.x.param.
	param       string
	paramOffset int
}

// refs lists the names an expression reads from params, nodes and vars.
// A read of params or input as a whole (params, toJSON(input)) or by a
// name computed when the call runs (params[vars.x]) is a ref with an
// empty name: what it reads cannot be known when the flow loads.
func refs(p program) []ref {
	v := refVisitor{named: map[*ast.IdentifierNode]bool{}}
	root := p.Node()
	ast.Walk(&root, &v)
	for _, id := range v.idents {
		if !v.named[id] {
			v.out = append(v.out, ref{root: id.Value, offset: id.Location().From})
		}
	}
	return v.out
}

// refVisitor collects refs. ast.Walk visits a node after its children, so
// the identifiers params and input are collected first, and a member
// access with a constant name then marks its identifier as named.
type refVisitor struct {
	out    []ref
	idents []*ast.IdentifierNode
	named  map[*ast.IdentifierNode]bool
}

func (v *refVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "params" || x.Value == "input" {
			v.idents = append(v.idents, x)
		}
	case *ast.MemberNode:
		prop, ok := x.Property.(*ast.StringNode)
		if !ok {
			return
		}
		if inner, ok := x.Node.(*ast.MemberNode); ok {
			// nodes.x.param
			id, ok := inner.Node.(*ast.IdentifierNode)
			node, ok2 := inner.Property.(*ast.StringNode)
			if ok && ok2 && id.Value == "nodes" {
				v.out = append(v.out, ref{root: "nodes.param", name: node.Value, offset: node.Location().From, param: prop.Value, paramOffset: prop.Location().From})
			}
			return
		}
		id, ok := x.Node.(*ast.IdentifierNode)
		if !ok {
			return
		}
		switch id.Value {
		case "params", "nodes", "vars", "input":
			v.named[id] = true
			v.out = append(v.out, ref{root: id.Value, name: prop.Value, offset: prop.Location().From})
		}
	case *ast.CallNode:
		id, ok := x.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "hours" || len(x.Arguments) != 2 {
			return
		}
		r := ref{root: "hours", offset: x.Location().From}
		for _, a := range x.Arguments {
			s, ok := a.(*ast.StringNode)
			if !ok {
				return
			}
			r.args = append(r.args, s.Value)
		}
		v.out = append(v.out, r)
	}
}

// appendFormat appends Format(v) without an intermediate string for the
// common kinds.
func appendFormat(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case bool:
		return strconv.AppendBool(b, x)
	}
	return append(b, Format(v)...)
}

// Format turns an expression result into the text written to XML.
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
