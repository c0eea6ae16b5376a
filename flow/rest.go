package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
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

// restAction declares one REST action: flowd's own arguments (mpc,
// member) and the struct whose JSON names are Plivo's arguments.
type restAction struct {
	params func() any // a pointer to the Plivo params struct, or nil
	member bool       // takes member: one ID, a comma list or all
	// validate checks the params (and member) with the plivo package's
	// rules; run calls the API and returns the result nodes.<id> holds.
	validate func(p any, member string) error
	run      func(ctx context.Context, api REST, mpc plivo.MPCRef, member string, p any) (map[string]string, error)
}

var restActions = map[string]*restAction{
	"add_participant": {
		params:   func() any { return &plivo.AddParticipantParams{} },
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
	},
	"update_participant": {
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
	},
	"kick_participant": {
		member:   true,
		validate: func(_ any, member string) error { return plivo.ValidateMembers("kick participant", member) },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, member string, _ any) (map[string]string, error) {
			r, err := api.KickParticipant(ctx, mpc, member)
			if err != nil {
				return nil, err
			}
			return result(r), nil
		},
	},
	"start_recording": {
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
	},
	"stop_recording": {
		validate: func(any, string) error { return nil },
		run: func(ctx context.Context, api REST, mpc plivo.MPCRef, _ string, _ any) (map[string]string, error) {
			r, err := api.StopMPCRecording(ctx, mpc)
			if err != nil {
				return nil, err
			}
			return result(r), nil
		},
	},
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ArgDecl is one argument of a REST action.
type ArgDecl struct {
	Name    string
	NamePos Pos
	Kind    argKind
	Value   *Str
}

// restArgsDecl decodes a REST action's mapping of arguments.
func (dc *decoder) restArgsDecl(kind *Kind, n *yaml.Node) []*ArgDecl {
	a := restActions[kind.Name]
	known := restArgs(a)
	pairs, _ := dc.mapping(n, kind.Name)
	var out []*ArgDecl
	for _, p := range pairs {
		k, ok := known[p.key.Value]
		if !ok {
			dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "%s has no argument %q%s", kind.Name, p.key.Value, didYouMean(p.key.Value, sortedKeys(known)))
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
		out = append(out, &ArgDecl{Name: p.key.Value, NamePos: dc.pos(p.key), Kind: k, Value: s})
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

// checkREST compiles an action's templates and checks its constant
// arguments with Plivo's rules. An argument given as a template is
// checked when the call runs.
func (c *checker) checkREST(n *NodeDecl) {
	a := restActions[n.Kind.Name]
	consts := map[string]string{}
	templated := map[string]bool{}
	byName := map[string]*ArgDecl{}
	for _, ad := range n.Args {
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
	if _, ok := consts["from"]; !ok && n.Kind.Name == "add_participant" && consts["call_uuid"] == "" && !templated["call_uuid"] {
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

func byNameKinds(m map[string]*ArgDecl) map[string]argKind {
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

func compileREST(n *Node, nd *NodeDecl) {
	rc := &restCall{action: restActions[nd.Kind.Name]}
	for _, ad := range nd.Args {
		rc.args = append(rc.args, restArg{name: ad.Name, kind: ad.Kind, value: ad.Value})
	}
	n.rest = rc
}

// PlivoNumber returns the Plivo number of a call: the number called when
// inbound, the caller ID when outbound. flowd dials agents from it.
func PlivoNumber(call map[string]string) string {
	if call["Direction"] == "outbound" {
		return call["From"]
	}
	return call["To"]
}

// runREST performs a REST action and returns its outcome. A failure is an
// outcome (error), not a run-time error: flows route around Plivo saying no.
func (w *Walker) runREST(n *Node) (string, error) {
	rc := n.rest
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
	if n.Kind.Name == "add_participant" && vals["from"] == "" && vals["call_uuid"] == "" {
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
