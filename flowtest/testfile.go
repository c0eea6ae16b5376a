package flowtest

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/yamlpos"
)

// Flow tests (*_test.yaml, described in the README's "Testing flows") are
// decoded with yamlpos, as flows are: positions on every case, step and
// value, every problem reported in one run as file:line:col with a stable
// code and a "did you mean". Their keys are declared once, in the field
// tables below (fileFields); the decoder and Schema both read them.

// SchemaID is the $id of the flow-test schema.
const SchemaID = "https://flowd.dev/schema/flowtest.schema.json"

// IsTestFile reports whether a path names a flow test: *_test.yaml or
// *_test.yml.
func IsTestFile(path string) bool {
	ext := filepath.Ext(path)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return strings.HasSuffix(strings.TrimSuffix(path, ext), "_test")
}

// File is one decoded flow test file.
type File struct {
	Path string
	// Flow names the flow under test: a flow name found beside the test
	// file, or a path relative to it. Without flow: it is the file name
	// without _test.yaml.
	Flow    string
	FlowPos flow.Pos
	// HasFlow reports that the file gives flow:. Without it, x_test.yaml
	// tests the flow in x.yaml beside it, whatever that flow's name.
	HasFlow bool
	Cases   []*Case
}

// FlowIsPath reports whether Flow is a path rather than a flow name.
func (tf *File) FlowIsPath() bool { return IsFlowPath(tf.Flow) }

// IsFlowPath reports whether a flow: value (or the FLOW of flowd render
// and graph) is a path rather than a flow name: it has a folder in it, or
// ends in .yaml or .yml. Flow names have neither.
func IsFlowPath(s string) bool {
	ext := filepath.Ext(s)
	return strings.ContainsAny(s, `/\`) || ext == ".yaml" || ext == ".yml"
}

// Case is one case: a call, answered and driven step by step.
type Case struct {
	Name string
	Pos  flow.Pos // the case's item in cases:
	// Call holds the answer request's parameters the case sets; Plivo's
	// usual ones (CallUUID, From, To, ...) are filled in for the rest.
	Call map[string]string
	// Clock fixes the flow's clock for hours() and now(); zero means a
	// fixed default (DefaultClock), never the real time.
	Clock    time.Time
	ClockPos flow.Pos
	Params   map[string]string // deployment values for this call
	Vars     map[string]any    // initial per-call variables
	// KeyPos holds the position of every key under params: and vars:,
	// as "params.NAME" and "vars.NAME".
	KeyPos map[string]flow.Pos
	// Rooms are MultiPartyCalls live on the simulated Plivo from the start.
	Rooms []string
	// RESTErrors are REST actions the simulated Plivo refuses.
	RESTErrors []string
	// HTTP answers the requests of http nodes, by node id, for the whole
	// case; a step's answers override them for its webhooks.
	HTTP  map[string]*Answer
	Steps []*Step
}

// Step is one step of a case: an event sent to the flow (none for a first
// step, which checks the answer) and what must hold after it.
type Step struct {
	Pos    flow.Pos
	Event  *Event // nil: the step checks the answer
	Expect *Expect
	// HTTP answers the requests of http nodes during the step's webhooks,
	// over the case's answers.
	HTTP map[string]*Answer
}

// Event is what a step sends.
type Event struct {
	Kind  string   // one of flow's test events (flow.EventPress, ...)
	Pos   flow.Pos // the event's key
	Value string   // the digits, speech or DialStatus
	// Params are sent with the event, over what Plivo would send: the
	// record: or exit: mapping, merged with the step's params:.
	Params map[string]string
}

// String describes the event as the test file writes it.
func (e *Event) String() string {
	if e == nil {
		return "answer"
	}
	switch e.Kind {
	case flow.EventPress, flow.EventSay, flow.EventDial:
		return fmt.Sprintf("%s %q", e.Kind, e.Value)
	}
	return e.Kind
}

// Expect is what must hold after a step. Unset fields are not checked.
type Expect struct {
	Pos         flow.Pos
	Node        string // where the call now waits
	NodePos     flow.Pos
	Path        []string // the nodes walked in this step, in order
	PathPos     []flow.Pos
	HasPath     bool
	Contains    []string // substrings of the XML
	NotContains []string
	XML         string // the whole document
	HasXML      bool
	xmlTree     *xmlNode       // XML parsed: it is compared as XML (xmlcmp.go)
	Vars        map[string]any // a subset of the call's vars
	VarPos      map[string]flow.Pos
	Ended       *bool // whether the flow has nowhere more to go
	// Requests are requests of http nodes the step must make, in order
	// (others may come between them); empty but not nil: none at all.
	Requests []*RequestExpect
}

var (
	digitsRE = regexp.MustCompile(`^[0-9*#]+$`)
	// callKeyRE is the form of Plivo's request parameter names (CallUUID,
	// X-PH-Tenant, SIP-H-To).
	callKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
)

// varsField is a mapping of per-call variables to YAML values.
func varsField(name, doc string) yamlpos.Field {
	return yamlpos.Field{Name: name, Type: yamlpos.Map, Keys: flow.VarName, KeyName: "variable name", KeyForm: flow.VarNameForm, Doc: doc}
}

// paramsField is a mapping of parameter names to single values, or
// nothing.
func paramsField(name, doc string, exclusive bool) yamlpos.Field {
	return yamlpos.Field{Name: name, Type: yamlpos.Map, Null: true, Value: &yamlpos.Field{Type: yamlpos.Text}, Doc: doc, Exclusive: exclusive}
}

// fileFields is the table of a flow test file's keys, in the order the
// reference lists them; caseFields, stepFields and expectFields are its
// mappings'.
var fileFields = []yamlpos.Field{
	{Name: "flow", Type: yamlpos.String, Doc: "The flow under test: a flow name found beside this file, or a path relative to it. Default: the flow in the file beside this one named as it is without _test (x.yaml for x_test.yaml), whatever that flow's name; without such a file, the flow of that name."},
	{Name: "cases", Type: yamlpos.List, Required: true, MinItems: 1, Doc: "The test cases; each is one call.", Fields: caseFields},
}

var caseFields = []yamlpos.Field{
	{Name: "name", Type: yamlpos.String, Required: true, Doc: "The case's name, unique in the file; --run selects cases by it."},
	paramsField("call", "The answer request's parameters (From, To, CallerName, X-PH-* headers...); CallUUID, Direction and the rest default to a typical inbound call.", false),
	{Name: "clock", Type: yamlpos.Time, Doc: "The flow's clock as an RFC 3339 time (2026-11-23T10:00:00-05:00): hours() and now() read it. Default: 2026-01-05T12:00:00Z (a Monday, noon UTC), never the real time, so a case gives the same result on any day."},
	paramsField("params", "Deployment values for this call, over the flow's defaults.", false),
	varsField("vars", "Initial per-call variables, over the flow's vars: (sent in the answer URL, as the trigger API does)."),
	{Name: "rooms", Type: yamlpos.Strings, Doc: "MultiPartyCalls already live on the simulated Plivo when the case starts, each with a customer and an agent in it, for REST actions on rooms the flow did not create."},
	{Name: "rest_errors", Type: yamlpos.Strings, Doc: "REST actions (add_participant, update_participant, kick_participant, start_recording, stop_recording) that the simulated Plivo API refuses with a 400 in this case, to test their error outcome. Every other REST call succeeds."},
	httpField("Answers for the requests of http nodes, by node id, for the whole case: {status: 200, json: {...}}, {status: 503, body: down} or {error: timeout}. A flow test never reaches the network: a request that neither the case nor its step answers fails the case."),
	{Name: "steps", Type: yamlpos.List, Required: true, MinItems: 1, Doc: "What happens on the call, in order. A first step without an event checks the answer; otherwise the call is answered before the first event.", Fields: stepFields},
}

// stepFields are a step's keys: the events it may send (Exclusive: a
// step sends one), its parameters and what it expects. A kind's Callbacks in
// flow's table say which events reach a node of the kind.
var stepFields = []yamlpos.Field{
	{Name: flow.EventPress, Type: yamlpos.String, Exclusive: true, Pattern: digitsRE, Form: "digits, * and # only", Doc: "The keys the caller presses at the GetDigits or GetInput the call waits at (0-9, * and #); the callback posts the Digits Plivo collects from them: finishOnKey ends them and is left out, keys past numDigits are dropped, and a key outside validDigits is no input."},
	{Name: flow.EventSay, Type: yamlpos.String, Exclusive: true, Doc: "Say something at a GetInput that listens for speech."},
	{Name: flow.EventSilence, Type: yamlpos.True, Exclusive: true, Doc: "Give no input at a GetDigits or GetInput: Plivo follows flowd's no-input Redirect."},
	{Name: flow.EventDial, Type: yamlpos.Enum, Exclusive: true, Enum: flow.DialStatuses, Doc: "End the Dial the call waits at with this DialStatus."},
	paramsField(flow.EventRecord, "End the Record the call waits at; the mapping holds parameters over Plivo's usual ones (RecordUrl, RecordingDuration...). {} sends the usual ones.", true),
	paramsField(flow.EventLeave, "Leave the Conference or MultiPartyCall the call waits in; the mapping holds parameters over Plivo's usual ones. {} sends the usual ones.", true),
	{Name: flow.EventHangup, Type: yamlpos.True, Exclusive: true, Doc: "The caller hangs up: Plivo calls the hangup URL."},
	paramsField(flow.EventRaw, "Callback parameters. With an event, they are sent with it, over Plivo's; alone, they are sent as they are to the callback the document waits on (the action URL, or MultiPartyCall's onExitActionUrl).", false),
	httpField("Answers for the requests of http nodes during this step (in a first step without an event, during the answer), by node id, over the case's http: answers."),
	{Name: "expect", Type: yamlpos.Object, Doc: "What must hold after the step.", Fields: expectFields},
}

var expectFields = []yamlpos.Field{
	{Name: "node", Type: yamlpos.String, Doc: "The node whose callback the call now waits for."},
	{Name: "path", Type: yamlpos.Strings, Doc: "The nodes walked in this step, in order."},
	{Name: "contains", Type: yamlpos.Strings, Doc: "Strings the XML answered in this step must contain."},
	{Name: "not_contains", Type: yamlpos.Strings, Doc: "Strings the XML answered in this step must not contain."},
	{Name: "xml", Type: yamlpos.String, Doc: "The whole XML document answered in this step, compared as XML: the XML declaration, comments and indentation do not matter, nor the order of attributes, nor <Hangup></Hangup> for <Hangup/>; text is compared with the whitespace around it trimmed."},
	varsField("vars", "Per-call variables and their values after the step (the others are not checked)."),
	{Name: "ended", Type: yamlpos.Bool, Doc: "Whether the flow has nowhere more to go (true after Hangup, Redirect, the end of the document or a hangup)."},
	{Name: "requests", Type: yamlpos.List, Fields: requestFields, Doc: "Requests the http nodes made in this step, in order (others may come between them); [] expects none."},
}

// eventNames returns the events a step may send, in table order.
func eventNames() []string {
	var out []string
	for _, f := range stepFields {
		if f.Exclusive {
			out = append(out, f.Name)
		}
	}
	return out
}

type decoder struct{ *yamlpos.Decoder }

type pair = yamlpos.Pair

// Decode parses one flow test file. It returns the file (nil when the
// YAML itself is broken) and every problem found; problems that need the
// flow are Check's.
func Decode(path string, src []byte) (*File, flow.Diagnostics) {
	dc := &decoder{yamlpos.NewDecoder(path, src)}
	tf := dc.file()
	ds := dc.Diagnostics()
	ds.Sort()
	return tf, ds
}

// fields reads a mapping declared by a field table: unknown keys (with
// did you mean), shapes, allowed values and missing required keys are
// reported; the keys whose values have the right shape are returned.
func (dc *decoder) fields(n *yaml.Node, what string, table []yamlpos.Field) (map[string]pair, bool) {
	got, ok := dc.Object(yamlpos.Resolve(n), yamlpos.Mapping{What: what, Fields: table})
	if !ok {
		return nil, false
	}
	for i := range table {
		if p, ok := got[table[i].Name]; ok && !dc.Value(&table[i], p.Val) {
			delete(got, table[i].Name)
		}
	}
	return got, true
}

func (dc *decoder) file() *File {
	root := dc.Parse(flow.CodeMissingKey, "a flow test needs cases:",
		"a test file holds one list of cases, and flowd would ignore this one: move its cases under the first cases:")
	if root == nil {
		return nil
	}
	base := strings.TrimSuffix(filepath.Base(dc.Path), filepath.Ext(dc.Path))
	tf := &File{Path: dc.Path, Flow: strings.TrimSuffix(base, "_test"), FlowPos: flow.Pos{File: dc.Path, Line: 1, Col: 1}}
	top, ok := dc.fields(root, "a flow test file", fileFields)
	if !ok {
		return tf
	}
	if p, ok := top["flow"]; ok {
		tf.Flow, tf.FlowPos, tf.HasFlow = yamlpos.Resolve(p.Val).Value, dc.Pos(p.Val), true
	}
	p, ok := top["cases"]
	if !ok {
		return tf
	}
	names := map[string]flow.Pos{}
	for _, item := range yamlpos.Resolve(p.Val).Content {
		c := dc.oneCase(item)
		if c == nil {
			continue
		}
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				dc.Errorf(c.Pos, flow.CodeDuplicateKey, "case %q is defined twice (first defined at %d:%d); give each case its own name", c.Name, first.Line, first.Col)
			} else {
				names[c.Name] = c.Pos
			}
		}
		tf.Cases = append(tf.Cases, c)
	}
	return tf
}

func (dc *decoder) oneCase(n *yaml.Node) *Case {
	c := &Case{Pos: dc.Pos(yamlpos.Resolve(n)), KeyPos: map[string]flow.Pos{}}
	fs, ok := dc.fields(n, "a case", caseFields)
	if !ok {
		return nil
	}
	if p, ok := fs["name"]; ok {
		c.Name = yamlpos.Resolve(p.Val).Value
	}
	what := "case"
	if c.Name != "" {
		what = fmt.Sprintf("case %q", c.Name)
	}
	if p, ok := fs["call"]; ok {
		c.Call = dc.stringMap(p.Val, "", nil)
		for _, kp := range dc.keys(p.Val) {
			if !callKeyRE.MatchString(kp.Key.Value) {
				dc.Errorf(dc.Pos(kp.Key), flow.CodeShape, "call parameter name %q must be letters, digits, '-' and '_', like Plivo's (CallerName, X-PH-Tenant)", kp.Key.Value)
			}
		}
	}
	if p, ok := fs["clock"]; ok {
		c.Clock, _ = time.Parse(time.RFC3339, yamlpos.Resolve(p.Val).Value)
		c.ClockPos = dc.Pos(p.Val)
	}
	if p, ok := fs["params"]; ok {
		c.Params = dc.stringMap(p.Val, "params.", c.KeyPos)
	}
	if p, ok := fs["vars"]; ok {
		c.Vars = dc.valueMap(p.Val, "vars.", c.KeyPos)
	}
	if p, ok := fs["rooms"]; ok {
		c.Rooms, _ = dc.scalars(p.Val)
	}
	if p, ok := fs["rest_errors"]; ok {
		names, at := dc.scalars(p.Val)
		for i, name := range names {
			if names := flow.RESTActions(); !slices.Contains(names, name) {
				dc.Errorf(at[i], flow.CodeValue, "rest_errors: %q is not a REST action; use %s%s", name, strings.Join(names, ", "), yamlpos.DidYouMean(name, names))
				continue
			}
			c.RESTErrors = append(c.RESTErrors, name)
		}
	}
	if p, ok := fs["http"]; ok {
		c.HTTP = dc.answers(p.Val, what)
	}
	if p, ok := fs["steps"]; ok {
		for i, item := range yamlpos.Resolve(p.Val).Content {
			if s := dc.step(item, i, what); s != nil {
				c.Steps = append(c.Steps, s)
			}
		}
	}
	return c
}

// keys returns the pairs of a mapping that has been checked already.
func (dc *decoder) keys(n *yaml.Node) []pair {
	sub := yamlpos.NewDecoder(dc.Path, dc.Src)
	pairs, _ := sub.Mapping(n, "")
	return pairs
}

// stringMap reads a checked mapping of scalars; with at set, it records
// each key's position as prefix+key.
func (dc *decoder) stringMap(n *yaml.Node, prefix string, at map[string]flow.Pos) map[string]string {
	out := map[string]string{}
	for _, p := range dc.keys(n) {
		v := yamlpos.Resolve(p.Val)
		if yamlpos.IsNull(v) {
			out[p.Key.Value] = ""
		} else {
			out[p.Key.Value] = v.Value
		}
		if at != nil {
			at[prefix+p.Key.Value] = dc.Pos(p.Key)
		}
	}
	return out
}

// valueMap reads a checked mapping of YAML values as expressions see them.
func (dc *decoder) valueMap(n *yaml.Node, prefix string, at map[string]flow.Pos) map[string]any {
	out := map[string]any{}
	for _, p := range dc.keys(n) {
		if !flow.VarName.MatchString(p.Key.Value) {
			continue // reported by fields
		}
		var v any
		if err := p.Val.Decode(&v); err != nil {
			dc.Errorf(dc.Pos(p.Val), flow.CodeShape, "%s%s: %v", prefix, p.Key.Value, err)
			continue
		}
		out[p.Key.Value] = yamlpos.Normalize(v)
		if at != nil {
			at[prefix+p.Key.Value] = dc.Pos(p.Key)
		}
	}
	return out
}

func (dc *decoder) scalars(n *yaml.Node) ([]string, []flow.Pos) {
	n = yamlpos.Resolve(n)
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []flow.Pos{dc.Pos(n)}
	}
	var out []string
	var at []flow.Pos
	for _, item := range n.Content {
		out = append(out, yamlpos.Resolve(item).Value)
		at = append(at, dc.Pos(item))
	}
	return out, at
}

func (dc *decoder) step(n *yaml.Node, i int, inCase string) *Step {
	s := &Step{Pos: dc.Pos(yamlpos.Resolve(n))}
	what := fmt.Sprintf("step %d of %s", i+1, inCase)
	fs, ok := dc.fields(n, what, stepFields)
	if !ok {
		return nil
	}
	events := yamlpos.ExclusiveGiven(stepFields, fs)
	if len(events) > 1 {
		dc.Errorf(dc.Pos(events[1].Key), flow.CodeShape, "%s sends two events, %s (at %d:%d) and %s; a step sends one: split it in two steps", what, events[0].Key.Value, events[0].Key.Line, events[0].Key.Column, events[1].Key.Value)
	}
	var raw map[string]string
	if p, ok := fs[flow.EventRaw]; ok {
		raw = dc.stringMap(p.Val, "", nil)
	}
	switch {
	case len(events) > 0:
		p := events[0]
		e := &Event{Kind: p.Key.Value, Pos: dc.Pos(p.Key)}
		v := yamlpos.Resolve(p.Val)
		switch e.Kind {
		case flow.EventPress, flow.EventSay, flow.EventDial:
			e.Value = v.Value
		case flow.EventRecord, flow.EventLeave:
			e.Params = dc.stringMap(v, "", nil)
		}
		if raw != nil {
			if e.Params == nil {
				e.Params = map[string]string{}
			}
			for k, v := range raw {
				e.Params[k] = v
			}
		}
		s.Event = e
	case raw != nil:
		s.Event = &Event{Kind: flow.EventRaw, Pos: dc.Pos(fs[flow.EventRaw].Key), Params: raw}
	case i > 0 && !dc.writesEvent(n):
		dc.Errorf(s.Pos, flow.CodeMissingKey, "%s sends no event; only a first step may (it checks the answer): add one of %s", what, strings.Join(eventNames(), ", "))
	}
	if p, ok := fs["http"]; ok {
		s.HTTP = dc.answers(p.Val, what)
	}
	if p, ok := fs["expect"]; ok {
		s.Expect = dc.expect(p.Val, what)
	}
	return s
}

// writesEvent reports whether a step names an event key, well formed,
// malformed or misspelt: those are reported on their own.
func (dc *decoder) writesEvent(n *yaml.Node) bool {
	for _, p := range dc.keys(n) {
		names := append(eventNames(), flow.EventRaw)
		if slices.Contains(names, p.Key.Value) || slices.Contains(names, yamlpos.Closest(p.Key.Value, yamlpos.Names(stepFields))) {
			return true
		}
	}
	return false
}

func (dc *decoder) expect(n *yaml.Node, what string) *Expect {
	x := &Expect{Pos: dc.Pos(yamlpos.Resolve(n))}
	fs, ok := dc.fields(n, "expect of "+what, expectFields)
	if !ok {
		return x
	}
	if p, ok := fs["node"]; ok {
		x.Node, x.NodePos = yamlpos.Resolve(p.Val).Value, dc.Pos(p.Val)
	}
	if p, ok := fs["path"]; ok {
		x.Path, x.PathPos = dc.scalars(p.Val)
		x.HasPath = true
	}
	if p, ok := fs["contains"]; ok {
		x.Contains, _ = dc.scalars(p.Val)
	}
	if p, ok := fs["not_contains"]; ok {
		x.NotContains, _ = dc.scalars(p.Val)
	}
	for _, s := range append(slices.Clone(x.Contains), x.NotContains...) {
		if s == "" {
			dc.Errorf(x.Pos, flow.CodeValue, "contains and not_contains cannot hold an empty string")
			break
		}
	}
	if p, ok := fs["xml"]; ok {
		x.XML = strings.TrimSpace(yamlpos.Resolve(p.Val).Value)
		// A document that is not XML could never match: it is the test
		// file's mistake, reported where it is written.
		tree, err := parseXML(x.XML)
		if err != nil {
			dc.Errorf(dc.Pos(p.Val), flow.CodeValue, "xml is not a well-formed XML document: %v", strings.TrimPrefix(err.Error(), "XML syntax error on "))
		} else {
			x.xmlTree, x.HasXML = tree, true
		}
	}
	if p, ok := fs["vars"]; ok {
		x.VarPos = map[string]flow.Pos{}
		x.Vars = dc.valueMap(p.Val, "", x.VarPos)
	}
	if p, ok := fs["ended"]; ok {
		b := strings.ToLower(yamlpos.Resolve(p.Val).Value) == "true"
		x.Ended = &b
		if b && x.Node != "" {
			dc.Errorf(dc.Pos(p.Key), flow.CodeValue, "expect has node: %s and ended: true; a call that waits at a node has not ended", x.Node)
		}
	}
	if p, ok := fs["requests"]; ok {
		x.Requests = dc.requests(p.Val, "expect of "+what)
	}
	return x
}

// LoadFlow finds, compiles and checks the flow a test file names: a path
// relative to the test file, or the name of a flow in a file beside it
// (FindFlow). A file without flow: tests the flow of the file beside it
// with its name less _test (x.yaml for x_test.yaml), whatever that
// flow's name, and only without such a file the flow of that name. It
// returns the graph, or nil with the problems that keep the tests from
// running; the test file's own problems against the flow (Check) come
// with it.
func (tf *File) LoadFlow() (*flow.Graph, flow.Diagnostics) {
	var d yamlpos.Collector
	dir := filepath.Dir(tf.Path)
	path := ""
	switch {
	case tf.FlowIsPath():
		path = tf.Flow
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
	case !tf.HasFlow:
		for _, ext := range []string{".yaml", ".yml"} {
			own := filepath.Join(dir, tf.Flow+ext)
			if info, err := os.Stat(own); err == nil && !info.IsDir() {
				path = own
				break
			}
		}
	}
	if path == "" {
		found, names := FindFlow(dir, tf.Flow)
		if found == "" {
			d.Errorf(tf.FlowPos, flow.CodeValue, "no flow named %q in %s, beside this file%s (%s); flow: takes a flow name or a path relative to this file", tf.Flow, dir, yamlpos.DidYouMean(tf.Flow, names), flowsThere(names))
			return nil, d.Diagnostics()
		}
		path = found
	}
	src, err := flow.ReadFile(path)
	if err != nil {
		// flow: names the file: of an *fs.PathError, say only the cause.
		// ReadFile's other errors (a folder, a device, too large) are
		// sentences of their own, with nothing to unwrap.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.Errorf(tf.FlowPos, flow.CodeValue, "flow %s: %v", tf.Flow, err)
		return nil, d.Diagnostics()
	}
	g, ds := flow.CompileInFolder(filepath.Clean(path), src)
	if g == nil {
		var errs flow.Diagnostics
		for _, x := range ds {
			if x.Severity == flow.Error {
				errs = append(errs, x)
			}
		}
		d.Errorf(tf.FlowPos, flow.CodeValue, "flow %s does not compile (%d error(s) below); flowd validate lists them", tf.Flow, len(errs))
		return nil, append(d.Diagnostics(), errs...)
	}
	return g, Check(tf, g)
}

// FindFlow finds the file of the flow named name among the flow files of
// dir (not below it), as a test file's flow: and the FLOW of flowd render
// and graph find it: NAME.yaml (or .yml) first, whose flow it is unless
// it declares another name — or cannot be read as a flow at all, so that
// its errors are reported rather than "no such flow" — then every other
// flow file of dir, in name order. It returns "" when no flow has the
// name, with the names of the flows there, sorted.
func FindFlow(dir, name string) (path string, names []string) {
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && flow.IsFlowFile(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	first := 0
	for _, ext := range []string{".yaml", ".yml"} {
		own := filepath.Join(dir, name+ext)
		if i := slices.Index(files, own); i >= first {
			files = slices.Insert(slices.Delete(files, i, i+1), first, own)
			first++
		}
	}
	for _, p := range files {
		src, err := flow.ReadFile(p)
		if err != nil {
			continue
		}
		f, _ := flow.Decode(p, src)
		own := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)) == name
		switch {
		case f == nil && own:
			return p, nil
		case f == nil:
		case f.Name == name:
			return p, nil
		default:
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return "", names
}

// flowsThere words the flows of a folder where a name was not found.
func flowsThere(names []string) string {
	if len(names) == 0 {
		return "there are no flows there"
	}
	return "the flows there: " + strings.Join(names, ", ")
}

// Check reports the problems of a test file that need its flow:
// nodes, params and vars that the flow does not have, and http: answers
// and requests: expectations for nodes that are not its http nodes.
func Check(tf *File, g *flow.Graph) flow.Diagnostics {
	d := &yamlpos.Collector{}
	var ids []string
	g.Walk(func(id string, _ *flow.Node) { ids = append(ids, id) })
	// A case's params are the deployment's: they reach the subflows the
	// flow runs too, each taking those it declares.
	var params []string
	for _, fg := range append([]*flow.Graph{g}, g.Subflows()...) {
		for _, p := range fg.Params {
			if !slices.Contains(params, p.Name) {
				params = append(params, p.Name)
			}
		}
	}
	vars := g.VarNames()
	httpIDs := HTTPNodes(g)
	// httpNode reports an id that is no http node of the flow.
	httpNode := func(id string, at flow.Pos, what string) {
		n := g.Lookup(id)
		switch {
		case isHTTP(n):
		case len(httpIDs) == 0:
			d.Errorf(at, flow.CodeUnknownNode, "%s names node %q, but flow %s has no http nodes", what, id, g.Name)
		case n == nil:
			d.Errorf(at, flow.CodeUnknownNode, "%s names node %q, which flow %s does not have%s (its http nodes: %s)", what, id, g.Name, yamlpos.DidYouMean(id, httpIDs), strings.Join(httpIDs, ", "))
		default:
			kind := "node"
			if n.Kind != nil {
				kind = n.Kind.Name + " node"
			}
			d.Errorf(at, flow.CodeUnknownNode, "%s names node %q, a %s of flow %s, which makes no requests; its http nodes: %s", what, id, kind, g.Name, strings.Join(httpIDs, ", "))
		}
	}
	answers := func(m map[string]*Answer) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			httpNode(k, m[k].Pos, "http:")
		}
	}
	node := func(id string, at flow.Pos, what string) {
		if g.Lookup(id) == nil {
			d.Errorf(at, flow.CodeUnknownNode, "%s names node %q, which flow %s does not have%s", what, id, g.Name, yamlpos.DidYouMean(id, ids))
		}
	}
	variable := func(name string, at flow.Pos, what string) {
		if !slices.Contains(vars, name) {
			d.Errorf(at, flow.CodeUndeclaredVar, "%s sets vars.%s, which flow %s neither declares under vars: nor assigns with set%s", what, name, g.Name, yamlpos.DidYouMean(name, vars))
		}
	}
	for _, c := range tf.Cases {
		for _, k := range slices.Sorted(maps.Keys(c.Params)) {
			if !slices.Contains(params, k) {
				where := "flow " + g.Name
				if len(g.Subflows()) > 0 {
					where += " or its subflows"
				}
				d.Errorf(c.KeyPos["params."+k], flow.CodeUndeclaredParam, "params.%s is not a param of %s%s", k, where, yamlpos.DidYouMean(k, params))
			}
		}
		// The values a case gives are converted as flowd serve converts
		// --param values; a param without a default needs one.
		_, perrs := g.ResolveParams(c.Params)
		for _, e := range perrs {
			if at, ok := c.KeyPos["params."+e.Param]; ok {
				d.Errorf(at, flow.CodeType, "params.%s: %v", e.Param, e.Err)
			} else {
				d.Errorf(c.Pos, flow.CodeMissingKey, "flow %s's param %s has no default: the case must give it under params:", g.Name, e.Param)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
			variable(k, c.KeyPos["vars."+k], "the case")
		}
		answers(c.HTTP)
		for _, s := range c.Steps {
			answers(s.HTTP)
			x := s.Expect
			if x == nil {
				continue
			}
			if x.Node != "" {
				node(x.Node, x.NodePos, "expect node")
			}
			for i, id := range x.Path {
				node(id, x.PathPos[i], "expect path")
			}
			for _, r := range x.Requests {
				httpNode(r.Node, r.NodePos, "expect requests")
			}
			for _, k := range slices.Sorted(maps.Keys(x.Vars)) {
				if !slices.Contains(vars, k) {
					d.Errorf(x.VarPos[k], flow.CodeUndeclaredVar, "expect vars.%s: flow %s has no such variable%s", k, g.Name, yamlpos.DidYouMean(k, vars))
				}
			}
		}
	}
	d.Diagnostics().Sort()
	return d.Diagnostics()
}

// Schema returns the JSON Schema of flow test files, indented, with a
// final newline. It is generated from the tables the decoder reads.
func Schema() ([]byte, error) {
	s := yamlpos.ObjectSchema(fileFields)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "flowd flow test"
	s["description"] = "Test cases for a flowd flow (<name>_test.yaml), run by flowd test."
	return yamlpos.MarshalSchema(s)
}
