package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/plivo"
)

// flowd's REST actions call Plivo's API from inside a flow, on the server,
// as branch and set do: dial agents into the MultiPartyCall the caller
// waits in, add a supervisor in coach mode, mute, hold or kick members,
// record. Their arguments are Plivo's REST argument names, checked when
// the flow loads by the same code that checks them before a request is
// sent. Each has the outcomes ok and error; nodes.<id> holds the result
// (api_id, message, request_uuid, error).

// REST is the part of Plivo's API flows use. *plivo.Client implements it;
// flow tests point a real client at a fake Plivo.
type REST interface {
	AddParticipant(ctx context.Context, mpc plivo.MPCRef, p *plivo.AddParticipantParams) (*plivo.AddParticipantResponse, error)
	UpdateParticipant(ctx context.Context, mpc plivo.MPCRef, memberID string, p *plivo.UpdateParticipantParams) (*plivo.UpdateParticipantResponse, error)
	KickParticipant(ctx context.Context, mpc plivo.MPCRef, memberID string) (*plivo.Response, error)
	StartMPCRecording(ctx context.Context, mpc plivo.MPCRef, p *plivo.MPCRecordingParams) (*plivo.RecordingResponse, error)
	StopMPCRecording(ctx context.Context, mpc plivo.MPCRef) (*plivo.Response, error)
}

// The outcomes of REST actions.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

var restOutcomes = []string{OutcomeOK, OutcomeError}

// restAction declares one REST action: flowd's own arguments (mpc,
// member) and the struct whose JSON names are Plivo's arguments. It is
// the behavior of its kind: the REST actions are one family, each a value
// below named in its row of kinds.
type restAction struct {
	params func() any // a pointer to the Plivo params struct, or nil
	member bool       // takes member: one ID, a comma list or all
	// fromCall defaults from, when neither from nor call_uuid is given,
	// to the call's Plivo number.
	fromCall bool
	// validate checks the params (and member) with the plivo package's
	// rules; run calls the API and returns the result nodes.<id> holds.
	validate func(p any, member string) error
	run      func(ctx context.Context, api REST, mpc plivo.MPCRef, member string, p any) (map[string]string, error)
}

// The REST actions.
var (
	addParticipant = &restAction{
		params:   func() any { return &plivo.AddParticipantParams{} },
		fromCall: true,
		validate: func(p any, _ string) error { return p.(*plivo.AddParticipantParams).Validate() },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, _ string, p any) (map[string]string, error) {
			r, err := api.AddParticipant(ctx, mpc, p.(*plivo.AddParticipantParams))
			if err != nil {
				return nil, err
			}
			out := result(&r.Response)
			out["request_uuid"] = r.RequestUUID
			if len(r.Calls) > 0 {
				out["call_uuid"] = r.Calls[0].CallUUID
			}
			return out, nil
		},
	}
	updateParticipant = &restAction{
		params: func() any { return &plivo.UpdateParticipantParams{} },
		member: true,
		validate: func(p any, member string) error {
			return p.(*plivo.UpdateParticipantParams).Validate(member)
		},
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, member string, p any) (map[string]string, error) {
			r, err := api.UpdateParticipant(ctx, mpc, member, p.(*plivo.UpdateParticipantParams))
			if err != nil {
				return nil, err
			}
			return result(&r.Response), nil
		},
	}
	kickParticipant = &restAction{
		member:   true,
		validate: func(_ any, member string) error { return plivo.ValidateMembers("kick participant", member) },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, member string, _ any) (map[string]string, error) {
			r, err := api.KickParticipant(ctx, mpc, member)
			if err != nil {
				return nil, err
			}
			return result(r), nil
		},
	}
	startRecording = &restAction{
		params:   func() any { return &plivo.MPCRecordingParams{} },
		validate: func(p any, _ string) error { return p.(*plivo.MPCRecordingParams).Validate() },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, _ string, p any) (map[string]string, error) {
			r, err := api.StartMPCRecording(ctx, mpc, p.(*plivo.MPCRecordingParams))
			if err != nil {
				return nil, err
			}
			out := result(&r.Response)
			out["recording_id"], out["recording_url"] = r.RecordingID, r.RecordingURL
			return out, nil
		},
	}
	stopRecording = &restAction{
		validate: func(any, string) error { return nil },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, _ string, _ any) (map[string]string, error) {
			r, err := api.StopMPCRecording(ctx, mpc)
			if err != nil {
				return nil, err
			}
			return result(r), nil
		},
	}
)

// restActionNames returns the names of the REST actions, sorted.
func restActionNames() []string {
	var out []string
	for _, k := range kinds {
		if _, ok := k.behavior.(*restAction); ok {
			out = append(out, k.Name)
		}
	}
	slices.Sort(out)
	return out
}

func result(r *plivo.Response) map[string]string {
	return map[string]string{"api_id": r.APIID, "message": r.Message, "error": ""}
}

// argKind is the type of one REST argument, read from the params struct.
type argKind uint8

const (
	argString argKind = iota
	argInt
	argBool
	argDelays // delay_dial: a number, or numbers separated by "<"
)

// restArgs lists an action's arguments: mpc, member, then Plivo's.
func restArgs(a *restAction) map[string]argKind {
	out := map[string]argKind{"mpc": argString}
	if a.member {
		out["member"] = argString
	}
	if a.params == nil {
		return out
	}
	t := reflect.TypeOf(a.params()).Elem()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		switch {
		case f.Type == reflect.TypeOf(plivo.DelayDial{}):
			out[name] = argDelays
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Int:
			out[name] = argInt
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool:
			out[name] = argBool
		default:
			out[name] = argString
		}
	}
	return out
}

// argDecl is one argument of a REST action, as decoded.
type argDecl struct {
	Name    string
	NamePos Pos
	Kind    argKind
	Value   *Str
}

func (a *restAction) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.action = dc.restArgsDecl(a, nd.Kind, action.val)
}

// restArgsDecl decodes a REST action's mapping of arguments.
func (dc *decoder) restArgsDecl(a *restAction, kind *Kind, n *yaml.Node) []*argDecl {
	known := restArgs(a)
	pairs, _ := dc.mapping(n, kind.Name)
	var out []*argDecl
	for _, p := range pairs {
		k, ok := known[p.key.Value]
		if !ok {
			dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "%s has no argument %q%s", kind.Name, p.key.Value, didYouMean(p.key.Value, slices.Sorted(maps.Keys(known))))
			continue
		}
		val := resolve(p.val)
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			dc.d.errorf(dc.pos(val), CodeShape, "%s %s must be a value, not %s", kind.Name, p.key.Value, describe(val))
			continue
		}
		s := dc.str(val)
		if s.Const() {
			switch k {
			case argInt:
				if val.Tag != "!!int" {
					dc.d.errorf(dc.pos(val), CodeType, "%s %s must be an integer, not %s", kind.Name, p.key.Value, describe(val))
					continue
				}
			case argBool:
				if val.Tag != "!!bool" {
					dc.d.errorf(dc.pos(val), CodeType, "%s %s must be true or false, not %s", kind.Name, p.key.Value, describe(val))
					continue
				}
				s.Value = strings.ToLower(val.Value)
			}
		}
		out = append(out, &argDecl{Name: p.key.Value, NamePos: dc.pos(p.key), Kind: k, Value: s})
	}
	if _, ok := pairs2map(pairs)["mpc"]; !ok {
		dc.d.errorf(dc.pos(n), CodeMissingKey, "%s needs mpc: the MultiPartyCall's name (the name of its MultiPartyCall node)", kind.Name)
	}
	if a.member {
		if _, ok := pairs2map(pairs)["member"]; !ok {
			dc.d.errorf(dc.pos(n), CodeMissingKey, "%s needs member: a member ID, a comma-separated list, or all", kind.Name)
		}
	}
	return out
}

func pairs2map(ps []pair) map[string]bool {
	m := make(map[string]bool, len(ps))
	for _, p := range ps {
		m[p.key.Value] = true
	}
	return m
}

// check compiles an action's templates and checks its constant arguments
// with Plivo's rules. An argument given as a template is checked when the
// call runs.
func (a *restAction) check(c *checker, n *NodeDecl) {
	consts := map[string]string{}
	templated := map[string]bool{}
	byName := map[string]*argDecl{}
	args, _ := n.action.([]*argDecl)
	for _, ad := range args {
		byName[ad.Name] = ad
		if ad.Value.Const() {
			consts[ad.Name] = ad.Value.Value
			continue
		}
		templated[ad.Name] = true
		for _, p := range ad.Value.Parts {
			if p.Expr != nil {
				c.expr(p.Expr, false)
			}
		}
	}
	// Placeholders stand in for templated arguments so the rules about
	// the constant ones can run; errors about templated ones are dropped.
	for name := range templated {
		switch name {
		case "role":
			consts[name] = "Agent"
		case "to", "from":
			consts[name] = "+14155550100"
		case "member":
			consts[name] = "all"
		default:
			delete(consts, name)
		}
	}
	if _, ok := consts["from"]; !ok && a.fromCall && consts["call_uuid"] == "" && !templated["call_uuid"] {
		consts["from"] = "+14155550100" // the call's own number, filled when it runs
	}
	p, err := buildParams(a, consts, byNameKinds(byName))
	if err != nil {
		c.d.errorf(n.KindPos, CodeValue, "%s: %v", n.Kind.Name, err)
		return
	}
	err = a.validate(p, consts["member"])
	for _, e := range unjoin(err) {
		ve, ok := e.(*plivo.ValidationError)
		if !ok {
			c.d.errorf(n.KindPos, CodeValue, "%s: %v", n.Kind.Name, e)
			continue
		}
		arg := ve.Arg
		if arg == "member_id" {
			arg = "member"
		}
		if templated[arg] || (arg == "member" && byName["member"] == nil) {
			// Templated arguments are checked when the call runs; a
			// missing member was reported where it is missing.
			continue
		}
		pos := n.KindPos
		if ad := byName[arg]; ad != nil {
			pos = ad.Value.Pos
		}
		c.d.errorf(pos, CodeValue, "%s %s %s", n.Kind.Name, arg, ve.Msg)
	}
}

func byNameKinds(m map[string]*argDecl) map[string]argKind {
	out := make(map[string]argKind, len(m))
	for k, v := range m {
		out[k] = v.Kind
	}
	return out
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// buildParams turns argument strings into the Plivo params struct.
func buildParams(a *restAction, vals map[string]string, kinds map[string]argKind) (any, error) {
	if a.params == nil {
		return nil, nil
	}
	m := map[string]any{}
	for name, v := range vals {
		if name == "mpc" || name == "member" {
			continue
		}
		switch kinds[name] {
		case argInt:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%s must be an integer, got %q", name, v)
			}
			m[name] = n
		case argBool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s must be true or false, got %q", name, v)
			}
			m[name] = b
		case argDelays:
			if n, err := strconv.Atoi(v); err == nil {
				m[name] = n
			} else {
				m[name] = v
			}
		default:
			m[name] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	p := a.params()
	if err := json.Unmarshal(b, p); err != nil {
		return nil, err
	}
	return p, nil
}

// restCall is a compiled REST action.
type restCall struct {
	action *restAction
	args   []restArg
}

type restArg struct {
	name  string
	kind  argKind
	value *Str
}

func (a *restAction) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	rc := &restCall{action: a}
	args, _ := nd.action.([]*argDecl)
	for _, ad := range args {
		rc.args = append(rc.args, restArg{name: ad.Name, kind: ad.Kind, value: ad.Value})
	}
	n.action = rc
	return nil
}

// PlivoNumber returns the Plivo number of a call: the number called when
// inbound, the caller ID when outbound. flowd dials agents from it.
func PlivoNumber(call map[string]string) string {
	if call["Direction"] == "outbound" {
		return call["From"]
	}
	return call["To"]
}

// step performs the action and takes the edge of its outcome. A failure is
// an outcome (error), not a run-time error: flows route around Plivo
// saying no.
func (a *restAction) step(w *Walker, n *Node) (step, error) {
	outcome, err := w.runREST(n)
	if err != nil {
		return step{}, err
	}
	if t, ok := n.On[outcome]; ok {
		return step{to: t, label: outcome}, nil
	}
	return nextStep(n), nil
}

// runREST performs a REST action and returns its outcome.
func (w *Walker) runREST(n *Node) (string, error) {
	rc := n.action.(*restCall)
	vals := make(map[string]string, len(rc.args)+1)
	kinds := make(map[string]argKind, len(rc.args))
	for _, a := range rc.args {
		v := a.value.Value
		if !a.value.Const() {
			s, err := w.template(a.value.Parts)
			if err != nil {
				return "", w.fail(n, fmt.Errorf("%s: %w", a.name, err))
			}
			v = s
		}
		vals[a.name], kinds[a.name] = v, a.kind
	}
	if rc.action.fromCall && vals["from"] == "" && vals["call_uuid"] == "" {
		vals["from"] = PlivoNumber(w.state.Call)
	}
	res := map[string]string{}
	outcome := OutcomeOK
	p, err := buildParams(rc.action, vals, kinds)
	if err == nil && w.REST == nil {
		err = fmt.Errorf("flowd has no Plivo REST credentials (set PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN)")
	}
	if err == nil {
		if err := w.effect(); err != nil {
			return "", err
		}
		ctx := w.Context
		if ctx == nil {
			ctx = context.Background()
		}
		res, err = rc.action.run(ctx, w.REST, plivo.MPCByName(vals["mpc"]), vals["member"], p)
	}
	if err != nil {
		outcome = OutcomeError
		res = map[string]string{"error": err.Error()}
		w.restErr = err
	}
	res["outcome"] = outcome
	w.state.Nodes[n.ID] = res
	return outcome, nil
}

func (a *restAction) schema(k *Kind) obj {
	args := obj{}
	required := []string{"mpc"}
	if a.member {
		required = append(required, "member")
	}
	for name, kind := range restArgs(a) {
		var c obj
		switch kind {
		case argInt:
			c = obj{"type": "integer"}
		case argBool:
			c = obj{"type": "boolean"}
		default:
			c = obj{"type": scalarTypes}
		}
		args[name] = obj{"anyOf": []any{c, obj{"$ref": "#/$defs/template"}}}
	}
	return obj{
		"type": "object", "additionalProperties": false,
		"required": required, "properties": args, "description": k.Doc,
	}
}

// restSection is the reference's section of REST actions.
const restSection = "## REST actions\n\nArguments are Plivo's REST argument names, checked with the rules of Plivo's API documentation; `mpc` is the MultiPartyCall's name. Outcomes: `ok`, `error`.\n"

func (a *restAction) traits() traits {
	return traits{control: goesOn, style: styleVerb, refSection: restSection, refEntry: a.argsDoc()}
}

// argsDoc lists the action's arguments and their types for the reference.
func (a *restAction) argsDoc() string {
	var b strings.Builder
	args := restArgs(a)
	names := slices.Sorted(maps.Keys(args))
	for i, n := range names {
		kind := "string"
		switch args[n] {
		case argInt:
			kind = "integer"
		case argBool:
			kind = "boolean"
		case argDelays:
			kind = "seconds, or several separated by <"
		}
		req := ""
		if n == "mpc" || (n == "member" && a.member) {
			req = " (required)"
		}
		sep := ", "
		if i == len(names)-1 {
			sep = ".\n"
		}
		fmt.Fprintf(&b, "`%s`%s: %s%s", n, req, kind, sep)
	}
	return b.String()
}
