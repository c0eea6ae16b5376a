package flow

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"

	"github.com/flowd-dev/flowd/internal/hours"
	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// Checking reads a decoded File and reports every semantic problem:
// references, outcomes, values, nesting, expressions and the shape of the
// graph. It also compiles every expression, so the compiler only wires.

type checker struct {
	f      *File
	d      *yamlpos.Collector
	params map[string]bool
	vars   map[string]bool // declared under vars: or assigned by set
	// progs memoizes compiled expressions: flows repeat the same ones
	// (input.Digits == "1", call.CallerName), and a program is immutable,
	// so nodes can share it.
	progs map[exprKey]compiled
	idx   *yamlpos.SrcIndex // places expression errors; built on the first one
	near  map[string]string // a missing node id → the node it most likely means
	// budget bounds the work spent on suggestions (edit-distance cells);
	// gaveUp records that it ran out.
	budget int
	gaveUp bool
	// cur is the node being checked; reads are the input.X and
	// nodes.<id>.X its expressions read, checked against the callbacks
	// that can send them once the graph is known (inputs).
	cur   *NodeDecl
	reads []paramRead
	// env is what the file's expressions compile against (flowEnv).
	env map[string]any
}

// paramRead is a read of a callback parameter in a node's expression.
type paramRead struct {
	node  *NodeDecl // where the expression is
	from  string    // the node whose callback it reads (nodes.<from>.X); "" for input
	param string    // "" when input is read as a whole or by a computed name
	pos   Pos
	ctx   string // where the expression is, as exprIn's ctx
}

// secretsReadable reports whether an expression in place ctx (exprIn's)
// may read a secret param or a log: false input: a when: condition keeps
// only its truth, and an http node's url, headers and body go only to the
// system asked (the trace keeps no headers, no body, no query).
func secretsReadable(ctx string) bool { return ctx == "when" || ctx == "http" }

// secretPlace names place ctx (exprIn's) in a message.
func secretPlace(ctx string) string {
	return map[string]string{"template": "a {{ template }}", "set": "a set: value", "with": "a subflow's with: value",
		"return": "a return value", "": "a REST argument"}[ctx]
}

// secretParams lists the file's secret params by name.
func (c *checker) secretParams() []string {
	var out []string
	for _, p := range c.f.Params {
		if p.Secret {
			out = append(out, p.Name)
		}
	}
	return out
}

type exprKey struct {
	src    string
	asBool bool
}

type compiled struct {
	p   program
	err *exprError
}

// paramEnv is the name a param's environment variable ends in:
// FLOWD_PARAM_RING_TIME for ring-time.
func paramEnv(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// Check reports the problems of a decoded file and compiles its
// expressions in place.
func Check(f *File) Diagnostics {
	c := &checker{f: f, d: &yamlpos.Collector{}, params: map[string]bool{}, vars: map[string]bool{}, progs: map[exprKey]compiled{},
		near: map[string]string{}, budget: 50_000_000}
	c.check()
	return c.d.Diagnostics()
}

func (c *checker) check() {
	f := c.f
	env := map[string]*ParamDecl{}
	for _, p := range f.Params {
		c.params[p.Name] = true
		// A param's environment variable upper-cases its name and spells
		// '-' as '_': two names that give one variable could not both be
		// set from the environment.
		e := paramEnv(p.Name)
		if first, ok := env[e]; ok {
			c.d.Errorf(p.Pos, CodeDuplicateKey, "params %s and %s are both set by the environment variable FLOWD_PARAM_%s; rename one", first.Name, p.Name, e)
			continue
		}
		env[e] = p
	}
	for _, v := range f.Vars {
		c.vars[v.Name] = true
	}
	for _, n := range f.Nodes {
		for _, s := range n.Sets {
			c.vars[s.Name] = true
		}
	}
	if len(f.Nodes) > 0 {
		// Without nodes, every reference would be reported as well.
		c.target(f.Start, "start")
		c.target(f.OnError, "on_error")
	}
	for _, n := range f.Nodes {
		c.node(n)
	}
	if len(f.Nodes) > 0 {
		c.graph()
		c.chains()
		c.paramReads()
		c.mpcSettings()
	}
}

// chains reports a run of nodes, none waiting for Plivo, longer than a
// webhook may walk (MaxSteps): every call through it would end in a
// run-time error. Loops are the graph check's; here they count once.
func (c *checker) chains() {
	f := c.f
	long := map[*NodeDecl]int{}
	var length func(n *NodeDecl) int
	length = func(n *NodeDecl) int {
		if l, ok := long[n]; ok {
			return l
		}
		long[n] = 1 // on a loop, reported elsewhere
		l := 1
		if n.passes() {
			for _, r := range n.edges() {
				if t := f.nodeByID[r.Name]; t != nil {
					l = max(l, 1+length(t))
				}
			}
		}
		long[n] = l
		return l
	}
	for _, n := range f.Nodes {
		if l := length(n); l > MaxSteps {
			c.d.Errorf(n.Pos, CodeLoop, "from node %s the walk goes through %d nodes without waiting for Plivo, more than the %d one webhook may walk; put a callback (GetDigits, Dial, Record, ...) on the way, or shorten the chain", n.ID, l, MaxSteps)
			return
		}
	}
}

func (c *checker) nodeIDs() []string {
	ids := make([]string, len(c.f.Nodes))
	for i, n := range c.f.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// nearNode returns the node id a missing one most likely means, or "".
func (c *checker) nearNode(name string) string {
	return c.nearest("nodes", name, c.nodeIDs)
}

// nearest returns the candidate a missing name most likely means, or "".
// Answers are kept, and the work is bounded, so that a file with thousands
// of dangling references is still checked quickly; past the budget, no
// more suggestions are made.
func (c *checker) nearest(kind, name string, candidates func() []string) string {
	key := kind + "." + name
	if s, ok := c.near[key]; ok {
		return s
	}
	s := ""
	c.gaveUp = c.gaveUp || c.budget <= 0
	if c.budget > 0 {
		cands := candidates()
		for _, id := range cands {
			c.budget -= (len(id) + 1) * (len(name) + 1)
		}
		s = yamlpos.Closest(name, cands)
	}
	c.near[key] = s
	return s
}

// hint is didYouMean through nearest.
func (c *checker) hint(kind, name string, candidates func() []string) string {
	if s := c.nearest(kind, name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// nodeHint is didYouMean for node ids.
func (c *checker) nodeHint(name string) string { return c.hint("nodes", name, c.nodeIDs) }

// target reports a reference to a node that does not exist.
func (c *checker) target(r *Ref, what string) {
	if r == nil {
		return
	}
	if _, ok := c.f.nodeByID[r.Name]; !ok {
		c.d.Errorf(r.Pos, CodeUnknownNode, "%s names node %q, which does not exist%s", what, r.Name, c.nodeHint(r.Name))
	}
}

func (c *checker) node(n *NodeDecl) {
	c.cur = n
	defer func() { c.cur = nil }()
	c.target(n.Next, "next")
	if n.Kind == nil {
		return
	}
	if tr := n.Kind.traits; tr.control == ends && !n.hasAttr(tr.goesOnWith) {
		if n.Next != nil {
			hint := "remove it"
			if tr.goesOnWith != "" {
				hint += ", or give " + n.Kind.Name + " a " + tr.goesOnWith + " (then the walk goes on to next)"
			}
			c.d.Errorf(n.Next.Pos, CodeTerminal, "%s ends the flow, so node %s cannot have next; %s", n.Kind.Name, n.ID, hint)
		}
		if len(n.On) > 0 {
			c.d.Errorf(n.On[0].Pos, CodeTerminal, "%s ends the flow, so node %s cannot have on:; remove it", n.Kind.Name, n.ID)
		}
	} else {
		for _, o := range n.On {
			if !n.Kind.HasOutcome(o.Outcome) && !n.Kind.traits.openOutcomes {
				if len(n.Kind.Outcomes) == 0 {
					c.d.Errorf(o.Pos, CodeOutcome, "%s has no outcomes, so on: %s can never be taken; use next", n.Kind.Name, o.Outcome)
				} else {
					c.d.Errorf(o.Pos, CodeOutcome, "%q is not an outcome of %s; outcomes are %s%s", o.Outcome, n.Kind.Name, strings.Join(n.Kind.Outcomes, ", "), yamlpos.DidYouMean(o.Outcome, n.Kind.Outcomes))
				}
			}
			c.target(&o.Target, "on: "+o.Outcome)
		}
	}
	n.Kind.behavior.check(c, n)
	c.checkEvents(n)
}

func (c *checker) element(e *ElemDecl) {
	spec := e.Spec
	for _, a := range e.Attrs {
		c.value(a.Value, func(v string) string { return a.Spec.Validate(v) }, spec.Name+" "+a.Spec.Name)
	}
	if e.Text != nil {
		c.value(e.Text, spec.ValidateText, spec.Name+" "+ContentKey(spec))
	} else if spec.Text == xmlgen.RequiredText && len(e.Children) == 0 {
		c.d.Errorf(e.Pos, CodeContent, "%s needs its %s (write %s: <%s> or %s: {%s: ...})", spec.Name, ContentKey(spec), spec.Name, ContentKey(spec), spec.Name, ContentKey(spec))
	}
	for i := range spec.Attrs {
		a := &spec.Attrs[i]
		if !a.Required {
			continue
		}
		found := false
		for _, ad := range e.Attrs {
			found = found || ad.Spec == a
		}
		if !found {
			doc := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(a.Doc), "."), " (required)")
			c.d.Errorf(e.Pos, CodeMissingKey, "%s needs %s; add %s: under %s (%s)", spec.Name, a.Name, a.Name, spec.Name, doc)
		}
	}
	// Rules between attributes (Stream audioTrack with bidirectional):
	// checked here over constants; a rule that reads a template is
	// checked by xmlgen when the walk fills it.
	if len(spec.Rules) > 0 {
		attr := func(name string) *AttrDecl {
			for _, a := range e.Attrs {
				if a.Spec.Name == name {
					return a
				}
			}
			return nil
		}
		broken := spec.CheckRules(func(name string) (xmlgen.RuleArg, bool) {
			if a := attr(name); a != nil {
				return xmlgen.RuleArg{Value: a.Value.Value, Set: true}, a.Value.Const()
			}
			return xmlgen.RuleArg{}, true
		})
		for _, ve := range broken {
			a := attr(ve.Attr)
			switch {
			case a == nil:
				c.d.Errorf(e.Pos, CodeValue, "%s must %s", spec.Name, ve.Want)
			case strings.HasPrefix(ve.Want, "not "):
				c.d.Errorf(a.Value.Pos, CodeValue, "%s %s must %s", spec.Name, ve.Attr, ve.Want)
			default:
				c.d.Errorf(a.Value.Pos, CodeValue, "%s %s must %s, not %s", spec.Name, ve.Attr, ve.Want, yamlpos.QuoteShort(a.Value.Value))
			}
		}
	}
	if len(e.Children) < spec.MinChildren {
		c.d.Errorf(e.Pos, CodeNesting, "%s needs at least %d child element (one of %s) under children:", spec.Name, spec.MinChildren, strings.Join(spec.Children, ", "))
	}
	if spec.ChildrenNeed != "" && len(e.Children) > 0 {
		var need *AttrDecl
		for _, a := range e.Attrs {
			if a.Spec.Name == spec.ChildrenNeed {
				need = a
			}
		}
		switch {
		case need == nil:
			c.d.Errorf(e.Children[0].Pos, CodeNesting, "%s cannot have children without %s: %s", spec.Name, spec.ChildrenNeed, spec.ChildrenWhy)
		case need.Value.Const() && !spec.ChildrenWhen(need.Value.Value):
			c.d.Errorf(e.Children[0].Pos, CodeNesting, "%s cannot have children with %s %q: %s", spec.Name, spec.ChildrenNeed, need.Value.Value, spec.ChildrenWhy)
		}
	}
	for _, ch := range e.Children {
		c.element(ch)
	}
}

// value checks a constant against Plivo's rules, or compiles a template.
func (c *checker) value(s *Str, validate func(string) string, what string) {
	if s.Const() {
		if msg := validate(s.Value); msg != "" {
			if strings.HasPrefix(msg, "not ") {
				c.d.Errorf(s.Pos, CodeValue, "%s must %s", what, msg)
			} else {
				c.d.Errorf(s.Pos, CodeValue, "%s must %s, not %s", what, msg, yamlpos.QuoteShort(s.Value))
			}
		}
		return
	}
	for _, p := range s.Parts {
		if p.Expr != nil {
			c.exprIn(p.Expr, false, "template")
		}
	}
}

// dashedRead finds a parameter with '-' read as a field (call.X-PH-Queue),
// which expr reads as a subtraction.
var dashedRead = regexp.MustCompile(`\b(call|input|nodes\.[A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+)`)

// bare reports a when: or set: expression written as a {{ template }}:
// those are expressions already. It returns false when it reported.
func (c *checker) bare(e *Expr, what string) bool {
	i := strings.Index(e.Src, "{{")
	if i < 0 {
		return true
	}
	inner := strings.Join(strings.Fields(strings.NewReplacer("{{", " ", "}}", " ").Replace(e.Src)), " ")
	c.d.Errorf(c.exprPos(e, utf8.RuneCountInString(e.Src[:i])), CodeExpr, "%s: takes an expression, not a {{ template }}: write %s", what, inner)
	return false
}

// expr compiles an expression and checks the names it reads.
func (c *checker) expr(e *Expr, asBool bool) { c.exprIn(e, asBool, "") }

// exprIn is expr for an expression in a known place: "when", "set" or
// "template", which some messages depend on.
func (c *checker) exprIn(e *Expr, asBool bool, ctx string) {
	key := exprKey{e.Src, asBool}
	m, ok := c.progs[key]
	if !ok {
		if c.env == nil {
			c.env = flowEnv(c.f)
		}
		m.p, m.err = compileExpr(c.env, e.Src, asBool)
		c.progs[key] = m
	}
	p, err := m.p, m.err
	if err != nil {
		msg, off := exprMessage(e.Src, err.msg, err.offset, ctx)
		if err.code == CodeNotBool {
			msg, off = err.msg, 0
		}
		for name := range c.params {
			if strings.Contains(name, "-") && strings.Contains(e.Src, "params."+name) {
				msg += fmt.Sprintf(`; a param whose name has '-' is read by index: params["%s"]`, name)
				break
			}
		}
		if m := dashedRead.FindStringSubmatch(e.Src); m != nil {
			msg += fmt.Sprintf(`; a name with '-' is read by index: %s["%s"]`, m[1], m[2])
		}
		c.d.Errorf(c.exprPos(e, off), err.code, "%s", msg)
		return
	}
	e.prog = p
	for _, r := range refs(p) {
		switch r.root {
		case "params":
			if pd := c.paramDecl(r.name); (r.name == "" && len(c.secretParams()) > 0) || (pd != nil && pd.Secret) {
				e.readsSecret = true
			}
			if r.name == "" {
				// params as a whole, or by a computed name: it may read a
				// secret, so only where a secret may be read.
				if secrets := c.secretParams(); len(secrets) > 0 && !secretsReadable(ctx) {
					c.d.Errorf(c.exprPos(e, r.offset), CodeSecret, "params is read as a whole or by a computed name in %s, and the flow has secret params (%s): read each param by its name here (params.name), so that no secret is written to the XML, the call's state or Plivo",
						secretPlace(ctx), strings.Join(secrets, ", "))
				}
				continue
			}
			if pd := c.paramDecl(r.name); pd != nil && pd.Secret && !secretsReadable(ctx) {
				c.d.Errorf(c.exprPos(e, r.offset), CodeSecret, "params.%s is secret: it may be read only in a when: condition (input.Digits == params.%s) or an http node's url, headers and body, not in %s, where its value would be written to the XML, the call's state or Plivo", r.name, r.name, secretPlace(ctx))
			}
			if !c.params[r.name] {
				hint := c.hint("params", r.name, func() []string { return slices.Sorted(maps.Keys(c.params)) })
				if hint == "" {
					hint = fmt.Sprintf("; add it: params: {%s: {default: ...}}", r.name)
				}
				c.d.Errorf(c.exprPos(e, r.offset), CodeUndeclaredParam, "params.%s is not declared under params:%s", r.name, hint)
			}
		case "nodes":
			if n, ok := c.f.nodeByID[r.name]; !ok {
				c.d.Errorf(c.exprPos(e, r.offset), CodeUnknownNode, "nodes.%s names a node that does not exist%s", r.name, c.nodeHint(r.name))
			} else if n.private() {
				c.d.Errorf(c.exprPos(e, r.offset), CodeSecret, "nodes.%s is never kept: %s %s says log: false, so what the caller entered is not stored; read input.* in the node its callback leads to", r.name, n.Kind.Name, r.name)
			}
		case "nodes.param":
			if c.cur != nil {
				c.reads = append(c.reads, paramRead{node: c.cur, from: r.name, param: r.param, pos: c.exprPos(e, r.paramOffset)})
			}
		case "input":
			e.readsInput = true
			if c.cur != nil && !secretsReadable(ctx) {
				c.cur.writesInput = true
			}
			if c.cur != nil {
				c.reads = append(c.reads, paramRead{node: c.cur, param: r.name, pos: c.exprPos(e, r.offset), ctx: ctx})
			}
		case "vars":
			if !c.vars[r.name] {
				hint := c.hint("vars", r.name, func() []string { return slices.Sorted(maps.Keys(c.vars)) })
				if hint == "" {
					hint = fmt.Sprintf("; declare it: vars: {%s: <initial value>}", r.name)
				}
				c.d.Warnf(c.exprPos(e, r.offset), CodeUndeclaredVar, "vars.%s is never declared under vars: nor assigned by set, so it reads as nil%s", r.name, hint)
			}
		}
	}
	for _, h := range hoursCalls(p) {
		if _, err := hours.Parse(h.spec); err != nil {
			off, msg := h.specOff, err.Error()
			var se *hours.SyntaxError
			if errors.As(err, &se) {
				msg = se.Msg
				off += 1 + utf8.RuneCountInString(h.spec[:min(max(se.Offset, 0), len(h.spec))])
			}
			c.d.Errorf(c.exprPos(e, off), CodeExpr, "hours(): %s", msg)
		}
		if _, err := hours.LoadLocation(h.tz); err != nil {
			c.d.Errorf(c.exprPos(e, h.tzOff), CodeExpr, "hours(): %v", err)
		}
	}
}

// hoursCall is a call of hours() with literal arguments and the rune
// offsets of their opening quotes.
type hoursCall struct {
	spec, tz       string
	specOff, tzOff int
}

func hoursCalls(p program) []hoursCall {
	var v hoursVisitor
	root := p.Node()
	ast.Walk(&root, &v)
	return v.out
}

type hoursVisitor struct{ out []hoursCall }

func (v *hoursVisitor) Visit(n *ast.Node) {
	x, ok := (*n).(*ast.CallNode)
	if !ok || len(x.Arguments) != 2 {
		return
	}
	if id, ok := x.Callee.(*ast.IdentifierNode); !ok || id.Value != "hours" {
		return
	}
	spec, ok1 := x.Arguments[0].(*ast.StringNode)
	tz, ok2 := x.Arguments[1].(*ast.StringNode)
	if ok1 && ok2 {
		v.out = append(v.out, hoursCall{spec.Value, tz.Value, spec.Location().From, tz.Location().From})
	}
}

var (
	unexpectedRE = regexp.MustCompile(`^unexpected token (?:\w+)\("?(.*?)"?\)$`)
	unknownRE    = regexp.MustCompile(`^unknown name (\S+)$`)
	argsRE       = regexp.MustCompile(`^(not enough|too many) arguments to call hours$`)
	identOnlyRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_ ]*$`)
)

// exprMessage rewrites expr-lang's message for a flow author, with the
// rune offset where the problem starts.
func exprMessage(src, msg string, off int, ctx string) (string, int) {
	switch {
	case msg == "unexpected token EOF":
		return "the expression ends too early: something is missing after the last operator", off
	case msg == "literal not terminated":
		if q := openQuote(src); q >= 0 {
			off = q
		}
		return "the string starting here is not closed with its quote", off
	case strings.HasPrefix(msg, "invalid operation: == (mismatched types string and int") || strings.HasPrefix(msg, "invalid operation: != (mismatched types string and int"):
		return msg + `; call, input and nodes values are text: compare with a quoted value such as "1"`, off
	case strings.HasPrefix(msg, "invalid operation: ") && strings.Contains(msg, "(mismatched types string and int)"):
		return msg + `; call, input and nodes values are text: convert with int(), e.g. int(input.Digits) > 5`, off
	}
	if m := unexpectedRE.FindStringSubmatch(msg); m != nil {
		tok := m[1]
		switch tok {
		case "=":
			return `unexpected "=": to compare, write ==`, off
		case "{", "}":
			return `unexpected "` + tok + `": expressions are written without {{ }}`, off
		case "+", "*", "/", "%", "**", "^", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "??", "?", ":", "..", "in", "matches", "contains":
			return fmt.Sprintf("unexpected %q: a value is missing before it", tok), off
		}
		return fmt.Sprintf("unexpected %q", tok), off
	}
	if m := unknownRE.FindStringSubmatch(msg); m != nil {
		hint := yamlpos.DidYouMean(m[1], EnvNames)
		if root, ok := wellKnownParams[m[1]]; ok && hint == "" {
			hint = fmt.Sprintf(" (did you mean %q?)", root+"."+m[1])
		}
		if hint == "" && ctx == "set" && identOnlyRE.MatchString(strings.TrimSpace(src)) {
			hint = fmt.Sprintf(`; to use the text %s, quote it: "'%s'"`, strings.TrimSpace(src), strings.TrimSpace(src))
		}
		if hint == "" {
			hint = "; names are call, input, nodes, vars, params, hours(), now(), urlquery()"
		}
		return "unknown name " + m[1] + hint, off
	}
	if argsRE.MatchString(msg) {
		return msg + `: it takes a spec and a time zone, hours("Mon-Fri 09:00-17:00", "America/New_York")`, off
	}
	return msg, off
}

// wellKnownParams are Plivo request parameters that newcomers write
// without the name of the map that holds them.
var wellKnownParams = map[string]string{
	"From": "call", "To": "call", "CallUUID": "call", "CallerName": "call", "Direction": "call", "CallStatus": "call",
	"Digits": "input", "Speech": "input", "InputType": "input", "DialStatus": "input", "RecordUrl": "input", "RecordingDuration": "input",
}

// openQuote returns the rune offset of the quote that opens an
// unterminated string literal in src, or -1.
func openQuote(src string) int {
	var quote rune
	at, i := -1, 0
	esc := false
	for _, r := range src {
		switch {
		case esc:
			esc = false
		case quote != 0 && r == '\\':
			esc = true
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\'' || r == '`'):
			quote, at = r, i
		}
		i++
	}
	if quote == 0 {
		return -1
	}
	return at
}

// exprPos places a rune offset inside an expression on the file.
func (c *checker) exprPos(e *Expr, off int) Pos {
	if e.node == nil {
		return e.Pos
	}
	if c.idx == nil {
		c.idx = yamlpos.NewSrcIndex(c.f.Src)
	}
	return c.idx.ScalarPos(c.f.Path, e.node, e.offset+off)
}

// edges returns a node's outgoing edges, in file order.
func (n *NodeDecl) edges() []*Ref {
	var out []*Ref
	for _, cs := range n.Cases {
		if cs.Next != nil {
			out = append(out, cs.Next)
		}
	}
	for _, o := range n.On {
		out = append(out, &o.Target)
	}
	if n.Next != nil {
		out = append(out, n.Next)
	}
	return out
}

// paramDecl returns the declared param name, or nil.
func (c *checker) paramDecl(name string) *ParamDecl {
	for _, p := range c.f.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// private reports a GetDigits or GetInput written with log: false: what
// the caller enters there is kept nowhere.
func (n *NodeDecl) private() bool {
	if n.Kind == nil || n.Elem == nil || !collectsInput(n.Kind) {
		return false
	}
	for _, a := range n.Elem.Attrs {
		// A templated log may yield false on any call: flowd keeps such
		// input private on every call, whatever Plivo is told.
		if a.Spec.Name == "log" && a.Value != nil && (!a.Value.Const() || a.Value.Value == "false") {
			return true
		}
	}
	return false
}

// saysPrivate says, for a diagnostic, why node n's input is private.
func (n *NodeDecl) saysPrivate() string {
	for _, a := range n.Elem.Attrs {
		if a.Spec.Name == "log" && a.Value != nil && !a.Value.Const() {
			return "whose log: is a template (flowd takes it as log: false)"
		}
	}
	return "which says log: false"
}

// reach returns the nodes reached along the edges of from and, for each
// node reached where through says so, along its edges too. Edges to
// missing nodes (reported elsewhere) are not followed.
func (f *File) reach(from *NodeDecl, through func(*NodeDecl) bool) map[*NodeDecl]bool {
	seen := map[*NodeDecl]bool{}
	var visit func(n *NodeDecl)
	visit = func(n *NodeDecl) {
		for _, r := range n.edges() {
			if t := f.nodeByID[r.Name]; t != nil && !seen[t] {
				seen[t] = true
				if through(t) {
					visit(t)
				}
			}
		}
	}
	visit(from)
	return seen
}

// passes reports whether the walk goes on from the node within the same
// document: it neither waits for Plivo nor ends the flow.
func (n *NodeDecl) passes() bool {
	if n.Kind == nil {
		return false
	}
	tr := n.Kind.traits
	return tr.control == goesOn || tr.control == ends && n.hasAttr(tr.goesOnWith)
}

// graph reports unreachable nodes and cycles that no callback breaks.
func (c *checker) graph() {
	f := c.f
	// A reference to a missing node was reported with the node it most
	// likely means; reachability follows that guess, so one typo does not
	// also make every node after it unreachable.
	lookup := func(name string) *NodeDecl {
		if n, ok := f.nodeByID[name]; ok {
			return n
		}
		return f.nodeByID[c.nearNode(name)]
	}
	start := f.Nodes[0]
	if f.Start != nil {
		if n := lookup(f.Start.Name); n != nil {
			start = n
		}
	}
	seen := map[*NodeDecl]bool{}
	var visit func(n *NodeDecl)
	visit = func(n *NodeDecl) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, r := range n.edges() {
			if t := lookup(r.Name); t != nil {
				visit(t)
			}
		}
	}
	visit(start)
	if f.OnError != nil {
		if n := lookup(f.OnError.Name); n != nil {
			visit(n)
		}
	}
	for _, n := range f.Nodes {
		if !seen[n] && !c.gaveUp && !n.stray {
			// Without suggestions for every missing node, reachability is
			// not known well enough to warn.
			c.d.Warnf(n.Pos, CodeUnreachable, "node %s is never reached from start (%s); go to it with next or on: from another node, or delete it", n.ID, start.ID)
		}
	}
	c.loops()
}

// loops finds cycles among nodes the walk passes through without waiting
// for Plivo (Tarjan's strongly connected components over those nodes).
func (c *checker) loops() {
	f := c.f
	index := map[*NodeDecl]int{}
	low := map[*NodeDecl]int{}
	on := map[*NodeDecl]bool{}
	var stack []*NodeDecl
	next := 0
	passes := (*NodeDecl).passes
	var strong func(n *NodeDecl)
	strong = func(n *NodeDecl) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		on[n] = true
		for _, r := range n.edges() {
			t, ok := f.nodeByID[r.Name]
			if !ok || !passes(t) {
				continue
			}
			if _, done := index[t]; !done {
				strong(t)
				low[n] = min(low[n], low[t])
			} else if on[t] {
				low[n] = min(low[n], index[t])
			}
		}
		if low[n] != index[n] {
			return
		}
		var comp []*NodeDecl
		for {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			on[t] = false
			comp = append(comp, t)
			if t == n {
				break
			}
		}
		if len(comp) > 1 || selfLoop(n) {
			c.reportLoop(comp)
		}
	}
	for _, n := range f.Nodes {
		if _, done := index[n]; !done && passes(n) {
			strong(n)
		}
	}
}

func selfLoop(n *NodeDecl) bool {
	for _, r := range n.edges() {
		if r.Name == n.ID {
			return true
		}
	}
	return false
}

// reportLoop names a whole cycle of the component, the shortest through
// its first node in the file, and reports it at that node.
func (c *checker) reportLoop(comp []*NodeDecl) {
	in := map[string]bool{}
	for _, n := range comp {
		in[n.ID] = true
	}
	first := comp[0]
	for _, n := range c.f.Nodes {
		if in[n.ID] {
			first = n
			break
		}
	}
	// Breadth first from the first node back to it, inside the component.
	from := map[string]string{}
	queue := []*NodeDecl{first}
	last := ""
	for len(queue) > 0 && last == "" {
		cur := queue[0]
		queue = queue[1:]
		for _, r := range cur.edges() {
			if r.Name == first.ID {
				last = cur.ID
				break
			}
			if _, seen := from[r.Name]; in[r.Name] && !seen {
				from[r.Name] = cur.ID
				queue = append(queue, c.f.nodeByID[r.Name])
			}
		}
	}
	path := []string{first.ID}
	for id := last; id != "" && id != first.ID; id = from[id] {
		path = append(path, id)
	}
	// path is first, then the cycle backwards: reverse all but the first.
	for i, j := 1, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	path = append(path, first.ID)
	if len(path) == 2 {
		c.d.Errorf(first.Pos, CodeLoop, "node %s goes back to itself without waiting for the caller, so one webhook would never end; give it another next, or put a GetDigits, GetInput, Dial, Record, Conference or MultiPartyCall on the loop", first.ID)
		return
	}
	c.d.Errorf(first.Pos, CodeLoop, "nodes %s loop without waiting for the caller, so one webhook would never end; put a GetDigits, GetInput, Dial, Record, Conference or MultiPartyCall on the loop", strings.Join(path, " → "))
}

// Pos returns where the expression starts.
func (e *Expr) String() string { return fmt.Sprintf("%s (%s)", e.Src, e.Pos) }
