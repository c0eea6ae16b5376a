package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/yamlpos"
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
	// reads says, for an argument whose rules in validate also read other
	// arguments, which (plivo's Validate methods): an error about the
	// argument is known when the flow loads only when they are known too.
	reads map[string][]string
	// reports maps the report events a node may ask for (events:) to the
	// argument that carries flowd's URL for each: an MPC that Add
	// Participant creates takes its status and recording callbacks from
	// the request.
	reports map[string]string

	argsOnce sync.Once
	args     []yamlpos.Field // restFields, read once
}

// fields returns the action's arguments, which callers must not change.
func (a *restAction) fields() []yamlpos.Field {
	a.argsOnce.Do(func() { a.args = restFields(a) })
	return a.args
}

// The REST actions.
var (
	addParticipant = &restAction{
		params:   func() any { return &plivo.AddParticipantParams{} },
		fromCall: true,
		reads: map[string][]string{
			"from":        {"to", "call_uuid"},   // from and to, or call_uuid
			"to":          {"call_uuid", "role"}, // not with call_uuid; several for role Agent only
			"call_uuid":   {"from", "to"},        // not with from or to
			"delay_dial":  {"to"},                // one value, or one per destination
			"sip_headers": {"to"},                // one list, or one per destination
		},
		reports:  map[string]string{EventStatus: "status_callback_url", EventRecording: "recording_callback_url"},
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
		reads: map[string][]string{
			"mute":       {"hold", "coach_mode"}, // at least one of the three
			"coach_mode": {"member"},             // a single member only
		},
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

// RESTActions returns the names of the REST actions, sorted.
func RESTActions() []string {
	var out []string
	for _, k := range kinds {
		if _, ok := k.behavior.(*restAction); ok {
			out = append(out, k.Name)
		}
	}
	slices.Sort(out)
	return out
}

// restKeeps lists what a REST action keeps under nodes.<id>: result's
// keys, the outcome and the action's own.
func restKeeps(own ...string) []string {
	return append([]string{"api_id", "message", "error", "outcome"}, own...)
}

func result(r *plivo.Response) map[string]string {
	return map[string]string{"api_id": r.APIID, "message": r.Message, "error": ""}
}

// restFields returns an action's arguments: mpc, member, then Plivo's,
// read from the params struct, sorted. A template may stand for any.
func restFields(a *restAction) []yamlpos.Field {
	out := []yamlpos.Field{{Name: "mpc", Type: yamlpos.String, Required: true, Template: true,
		Need: "the MultiPartyCall's name (the name of its MultiPartyCall node)"}}
	if a.member {
		out = append(out, yamlpos.Field{Name: "member", Type: yamlpos.String, Required: true, Template: true,
			Need: "a member ID, a comma-separated list, or all"})
	}
	if a.params == nil {
		return out
	}
	var args []yamlpos.Field
	t := reflect.TypeOf(a.params()).Elem()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := yamlpos.Field{Name: name, Type: yamlpos.String, Template: true}
		switch {
		case sf.Type == reflect.TypeOf(plivo.DelayDial{}):
			f.Form = "seconds, or several separated by <"
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Int:
			f.Type = yamlpos.Int
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Bool:
			f.Type = yamlpos.Bool
		}
		args = append(args, f)
	}
	slices.SortFunc(args, func(x, y yamlpos.Field) int { return strings.Compare(x.Name, y.Name) })
	return append(out, args...)
}

// argDecl is one argument of a REST action, as decoded.
type argDecl struct {
	Name    string
	NamePos Pos
	Value   *Str
}

func (a *restAction) decode(dc *decoder, nd *NodeDecl, action pair) {
	nd.action = dc.restArgsDecl(a, nd.Kind, action.Val)
}

// restArgsDecl decodes a REST action's mapping of arguments.
func (dc *decoder) restArgsDecl(a *restAction, kind *Kind, n *yaml.Node) []*argDecl {
	fields := a.fields()
	names := slices.Sorted(slices.Values(yamlpos.Names(fields)))
	m := yamlpos.Mapping{What: kind.Name, Fields: fields}
	m.Unknown = func(p pair, _ map[string]pair) {
		dc.Errorf(dc.Pos(p.Key), CodeUnknownKey, "%s has no argument %q%s", kind.Name, p.Key.Value, yamlpos.DidYouMean(p.Key.Value, names))
	}
	m.Missing = func(f *yamlpos.Field, _ bool) { dc.Errorf(dc.Pos(n), CodeMissingKey, "%s", m.Needs(f)) }
	got, ok := dc.Object(n, m)
	if !ok {
		for i := range fields {
			if fields[i].Required {
				m.Missing(&fields[i], false)
			}
		}
	}
	var out []*argDecl
	for i := range fields {
		f := &fields[i]
		p, ok := got[f.Name]
		if !ok {
			continue
		}
		if s := dc.value(kind.Name+" "+f.Name, f, p.Val); s != nil {
			out = append(out, &argDecl{Name: f.Name, NamePos: dc.Pos(p.Key), Value: s})
		}
	}
	return out
}

// check compiles an action's templates and checks its arguments through
// the validation the REST client runs before a request, with what is
// known when the flow loads: the constants. An error is reported when the
// argument it is about, and every argument its rule reads, is known — a
// constant, or left out with nothing to fill it when the call runs. The
// rest is checked when the call runs, and a failure is the error outcome.
func (a *restAction) check(c *checker, n *NodeDecl) {
	args, _ := n.action.([]*argDecl)
	consts := map[string]string{}
	byName := map[string]*argDecl{}
	for _, ad := range args {
		byName[ad.Name] = ad
		if ad.Value.Const() {
			consts[ad.Name] = ad.Value.Value
			continue
		}
		for _, p := range ad.Value.Parts {
			if p.Expr != nil {
				c.expr(p.Expr, false)
			}
		}
	}
	// constant reports an argument written as a constant, or left out.
	constant := func(name string) bool {
		ad := byName[name]
		return ad == nil || ad.Value.Const()
	}
	fields := a.fields()
	known := func(name string) bool {
		switch f := yamlpos.Lookup(fields, name); {
		case !constant(name):
			return false // a template
		case byName[name] == nil && f != nil && f.Required:
			return false // missing, and reported so
		case name == "from" && a.fromCall && consts["from"] == "":
			// Left empty, from is the call's Plivo number when the call
			// runs, unless call_uuid is given.
			return consts["call_uuid"] != ""
		}
		return true
	}
	p, err := buildParams(a, consts)
	if err != nil {
		c.d.Errorf(n.KindPos, CodeValue, "%s: %v", n.Kind.Name, err)
		return
	}
	member := ""
	if known("member") {
		member = consts["member"]
	}
	for _, e := range unjoin(a.validate(p, member)) {
		ve, ok := e.(*plivo.ValidationError)
		if !ok {
			c.d.Errorf(n.KindPos, CodeValue, "%s: %v", n.Kind.Name, e)
			continue
		}
		arg := ve.Arg
		if arg == "member_id" {
			arg = "member"
		}
		if !known(arg) || !all(a.reads[arg], known) {
			continue
		}
		pos := n.KindPos
		if ad := byName[arg]; ad != nil {
			pos = ad.Value.Pos
		}
		c.d.Errorf(pos, CodeValue, "%s %s %s", n.Kind.Name, arg, ve.Msg)
	}
	if a.fromCall && !known("from") && constant("from") && constant("call_uuid") && constant("to") && strings.TrimSpace(consts["to"]) == "" {
		// from will be given, so to is needed: what the validation says
		// of to once from is filled.
		pos := n.KindPos
		if ad := byName["to"]; ad != nil {
			pos = ad.Value.Pos
		}
		c.d.Errorf(pos, CodeValue, "%s to is required", n.Kind.Name)
	}
}

func all(names []string, ok func(string) bool) bool {
	for _, n := range names {
		if !ok(n) {
			return false
		}
	}
	return true
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
func buildParams(a *restAction, vals map[string]string) (any, error) {
	if a.params == nil {
		return nil, nil
	}
	m := map[string]any{}
	for _, f := range a.fields() {
		v, ok := vals[f.Name]
		if !ok || f.Name == "mpc" || f.Name == "member" {
			continue
		}
		switch f.Type {
		case yamlpos.Int:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%s must be an integer, got %q", f.Name, v)
			}
			m[f.Name] = n
		case yamlpos.Bool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s must be true or false, got %q", f.Name, v)
			}
			m[f.Name] = b
		default:
			m[f.Name] = v
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
	value *Str
}

func (a *restAction) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	rc := &restCall{action: a}
	args, _ := nd.action.([]*argDecl)
	for _, ad := range args {
		rc.args = append(rc.args, restArg{name: ad.Name, value: ad.Value})
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
	for _, a := range rc.args {
		v := a.value.Value
		if !a.value.Const() {
			s, err := w.template(a.value.Parts)
			if err != nil {
				return "", w.fail(n, fmt.Errorf("%s: %w", a.name, err))
			}
			v = s
		}
		vals[a.name] = v
	}
	if rc.action.fromCall && vals["from"] == "" && vals["call_uuid"] == "" {
		vals["from"] = PlivoNumber(w.state.Call)
	}
	for _, ev := range n.Events {
		vals[rc.action.reports[ev]] = w.URL(w.qualify(n.ID), ev)
	}
	res := map[string]string{}
	outcome := OutcomeOK
	p, err := buildParams(rc.action, vals)
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
		if w.RESTTimeout > 0 {
			if w.restDeadline.IsZero() {
				// A deadline in real time, not the flow's clock.
				w.restDeadline = time.Now().Add(w.RESTTimeout)
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, w.restDeadline)
			defer cancel()
		}
		res, err = rc.action.run(ctx, w.REST, plivo.MPCByName(vals["mpc"]), vals["member"], p)
		if err != nil && errors.Is(err, context.DeadlineExceeded) && w.RESTTimeout > 0 {
			err = fmt.Errorf("no answer from Plivo within %v, the time the webhook can wait: %w", w.RESTTimeout, err)
		}
	}
	if err != nil {
		outcome = OutcomeError
		res = map[string]string{"error": err.Error()}
		w.restErr = err
	}
	res["outcome"] = outcome
	w.state.Nodes[n.ID] = res
	w.setNodeView(n.ID, res)
	return outcome, nil
}

func (a *restAction) schema(k *Kind) obj {
	return yamlpos.FieldSchema(&yamlpos.Field{Type: yamlpos.Object, Fields: a.fields(), Doc: k.Doc})
}

// restSection is the reference's section of REST actions.
const restSection = "## REST actions\n\nArguments are Plivo's REST argument names, checked with the rules of Plivo's API documentation; `mpc` is the MultiPartyCall's name. Outcomes: `ok`, `error`.\n"

func (a *restAction) traits() traits {
	return traits{control: goesOn, style: styleVerb, refSection: restSection, refEntry: a.argsDoc()}
}

// argsDoc lists the action's arguments and their types for the reference.
func (a *restAction) argsDoc() string {
	fields := slices.SortedFunc(slices.Values(a.fields()), func(x, y yamlpos.Field) int { return strings.Compare(x.Name, y.Name) })
	var b strings.Builder
	for i, f := range fields {
		kind := f.Form
		if kind == "" {
			kind = f.Type.String()
		}
		req := ""
		if f.Required {
			req = " (required)"
		}
		sep := ", "
		if i == len(fields)-1 {
			sep = ".\n"
		}
		fmt.Fprintf(&b, "`%s`%s: %s%s", f.Name, req, kind, sep)
	}
	return b.String()
}
