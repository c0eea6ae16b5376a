package flow

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Flow tests (*_test.yaml, described in the README's "Testing flows") are
// decoded with the same machinery as flows: positions on every case, step
// and value, every problem reported in one run as file:line:col with a
// stable code and a "did you mean". Their keys are declared once, in
// testFields; the decoder and TestSchema both read that table.

// TestSchemaID is the $id of the flow-test schema.
const TestSchemaID = "https://flowd.dev/schema/flowtest.schema.json"

// IsTestFile reports whether a path names a flow test: *_test.yaml or
// *_test.yml.
func IsTestFile(path string) bool {
	ext := filepath.Ext(path)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return strings.HasSuffix(strings.TrimSuffix(path, ext), "_test")
}

// TestFile is one decoded flow test file.
type TestFile struct {
	Path string
	// Flow names the flow under test: a flow name found beside the test
	// file, or a path relative to it. Without flow: it is the file name
	// without _test.yaml.
	Flow    string
	FlowPos Pos
	Cases   []*TestCase
}

// FlowIsPath reports whether Flow is a path rather than a flow name.
func (tf *TestFile) FlowIsPath() bool {
	return strings.ContainsAny(tf.Flow, `/\`) || IsFlowFile(tf.Flow)
}

// TestCase is one case: a call, answered and driven step by step.
type TestCase struct {
	Name string
	Pos  Pos // the case's item in cases:
	// Call holds the answer request's parameters the case sets; Plivo's
	// usual ones (CallUUID, From, To, ...) are filled in for the rest.
	Call map[string]string
	// Clock fixes the flow's clock for hours() and now(); zero means a
	// fixed default (flowtest.DefaultClock), never the real time.
	Clock    time.Time
	ClockPos Pos
	Params   map[string]string // deployment values for this call
	Vars     map[string]any    // initial per-call variables
	// KeyPos holds the position of every key under params: and vars:,
	// as "params.NAME" and "vars.NAME".
	KeyPos map[string]Pos
	// Rooms are MultiPartyCalls live on the simulated Plivo from the start.
	Rooms []string
	// RESTErrors are REST actions the simulated Plivo refuses.
	RESTErrors []string
	Steps      []*TestStep
}

// TestStep is one step of a case: an event sent to the flow (none for a
// first step, which checks the answer) and what must hold after it.
type TestStep struct {
	Pos    Pos
	Event  *TestEvent // nil: the step checks the answer
	Expect *TestExpect
}

// The events a step may send; a kind's Callbacks say which reach it.
const (
	EventPress   = "press"    // digits typed at GetDigits/GetInput
	EventSay     = "say"      // speech at GetInput
	EventSilence = "no_input" // nothing: Plivo follows flowd's Redirect
	EventDial    = "dial"     // the Dial ended with a DialStatus
	EventRecord  = "record"   // the Record ended
	EventLeave   = "exit"     // the caller left the Conference or MultiPartyCall
	EventHangup  = "hangup"   // the caller hung up
	EventRaw     = "params"   // raw parameters to the callback the document waits on
)

// TestEvent is what a step sends.
type TestEvent struct {
	Kind  string // one of the Event* names above
	Pos   Pos    // the event's key
	Value string // the digits, speech or DialStatus
	// Params are sent with the event, over what Plivo would send: the
	// record: or exit: mapping, merged with the step's params:.
	Params map[string]string
}

// String describes the event as the test file writes it.
func (e *TestEvent) String() string {
	if e == nil {
		return "answer"
	}
	switch e.Kind {
	case EventPress, EventSay, EventDial:
		return fmt.Sprintf("%s %q", e.Kind, e.Value)
	}
	return e.Kind
}

// TestExpect is what must hold after a step. Unset fields are not checked.
type TestExpect struct {
	Pos         Pos
	Node        string // where the call now waits
	NodePos     Pos
	Path        []string // the nodes walked in this step, in order
	PathPos     []Pos
	HasPath     bool
	Contains    []string // substrings of the XML
	NotContains []string
	XML         string // the whole document
	HasXML      bool
	Vars        map[string]any // a subset of the call's vars
	VarPos      map[string]Pos
	Ended       *bool // whether the flow has nowhere more to go
}

// fieldType is the YAML shape of one key of a flow test file.
type fieldType uint8

const (
	ftString    fieldType = iota // a scalar, read as text
	ftStrings                    // a list of scalars, or one
	ftStringMap                  // names to scalars
	ftValueMap                   // names to YAML values
	ftTrue                       // true
	ftBool                       // true or false
	ftTime                       // an RFC 3339 time
	ftObject                     // a mapping with its own fields
	ftList                       // a list of mappings with their own fields
)

// testField declares one key of a flow test file: its shape, its rules
// and its documentation. The decoder checks against it and TestSchema is
// generated from it.
type testField struct {
	Name     string
	Type     fieldType
	Doc      string
	Required bool
	Enum     []string       // allowed values of a string
	Pattern  *regexp.Regexp // the form of a string
	Form     string         // the form in words, for messages
	Event    bool           // a step key that sends an event
	Fields   []testField    // of an object, or of each item of a list
	MinItems int
}

var (
	digitsRE = regexp.MustCompile(`^[0-9*#]+$`)
	// callKeyRE is the form of Plivo's request parameter names (CallUUID,
	// X-PH-Tenant, SIP-H-To).
	callKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
)

// testFields is the table of a flow test file's keys, in the order the
// reference lists them.
var testFields = []testField{
	{Name: "flow", Type: ftString, Doc: "The flow under test: a flow name found beside this file, or a path relative to it. Default: this file's name without _test.yaml."},
	{Name: "cases", Type: ftList, Required: true, MinItems: 1, Doc: "The test cases; each is one call.", Fields: []testField{
		{Name: "name", Type: ftString, Required: true, Doc: "The case's name, unique in the file; --run selects cases by it."},
		{Name: "call", Type: ftStringMap, Doc: "The answer request's parameters (From, To, CallerName, X-PH-* headers...); CallUUID, Direction and the rest default to a typical inbound call."},
		{Name: "clock", Type: ftTime, Doc: "The flow's clock as an RFC 3339 time (2026-11-23T10:00:00-05:00): hours() and now() read it. Default: 2026-01-05T12:00:00Z (a Monday, noon UTC), never the real time, so a case gives the same result on any day."},
		{Name: "params", Type: ftStringMap, Doc: "Deployment values for this call, over the flow's defaults."},
		{Name: "vars", Type: ftValueMap, Doc: "Initial per-call variables, over the flow's vars: (sent in the answer URL, as the trigger API does)."},
		{Name: "rooms", Type: ftStrings, Doc: "MultiPartyCalls already live on the simulated Plivo when the case starts, each with a customer and an agent in it, for REST actions on rooms the flow did not create."},
		{Name: "rest_errors", Type: ftStrings, Doc: "REST actions (add_participant, update_participant, kick_participant, start_recording, stop_recording) that the simulated Plivo API refuses with a 400 in this case, to test their error outcome. Every other REST call succeeds."},
		{Name: "steps", Type: ftList, Required: true, MinItems: 1, Doc: "What happens on the call, in order. A first step without an event checks the answer; otherwise the call is answered before the first event.", Fields: stepFields},
	}},
}

var stepFields = []testField{
	{Name: EventPress, Type: ftString, Event: true, Pattern: digitsRE, Form: "digits, * and # only", Doc: "Type digits at the GetDigits or GetInput the call waits at (0-9, * and #)."},
	{Name: EventSay, Type: ftString, Event: true, Doc: "Say something at a GetInput that listens for speech."},
	{Name: EventSilence, Type: ftTrue, Event: true, Doc: "Give no input at a GetDigits or GetInput: Plivo follows flowd's no-input Redirect."},
	{Name: EventDial, Type: ftString, Event: true, Enum: DialStatuses, Doc: "End the Dial the call waits at with this DialStatus."},
	{Name: EventRecord, Type: ftStringMap, Event: true, Doc: "End the Record the call waits at; the mapping holds parameters over Plivo's usual ones (RecordUrl, RecordingDuration...). {} sends the usual ones."},
	{Name: EventLeave, Type: ftStringMap, Event: true, Doc: "Leave the Conference or MultiPartyCall the call waits in; the mapping holds parameters over Plivo's usual ones. {} sends the usual ones."},
	{Name: EventHangup, Type: ftTrue, Event: true, Doc: "The caller hangs up: Plivo calls the hangup URL."},
	{Name: EventRaw, Type: ftStringMap, Doc: "Callback parameters. With an event, they are sent with it, over Plivo's; alone, they are sent as they are to the callback the document waits on (the action URL, or MultiPartyCall's onExitActionUrl)."},
	{Name: "expect", Type: ftObject, Doc: "What must hold after the step.", Fields: []testField{
		{Name: "node", Type: ftString, Doc: "The node whose callback the call now waits for."},
		{Name: "path", Type: ftStrings, Doc: "The nodes walked in this step, in order."},
		{Name: "contains", Type: ftStrings, Doc: "Strings the XML answered in this step must contain."},
		{Name: "not_contains", Type: ftStrings, Doc: "Strings the XML answered in this step must not contain."},
		{Name: "xml", Type: ftString, Doc: "The whole XML document answered in this step."},
		{Name: "vars", Type: ftValueMap, Doc: "Per-call variables and their values after the step (the others are not checked)."},
		{Name: "ended", Type: ftBool, Doc: "Whether the flow has nowhere more to go (true after Hangup, Redirect, the end of the document or a hangup)."},
	}},
}

func testFieldNames(fs []testField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func testEventNames() []string {
	var out []string
	for _, f := range stepFields {
		if f.Event {
			out = append(out, f.Name)
		}
	}
	return out
}

// DecodeTest parses one flow test file. It returns the file (nil when the
// YAML itself is broken) and every problem found; problems that need the
// flow are CheckTest's.
func DecodeTest(path string, src []byte) (*TestFile, Diagnostics) {
	dc := &decoder{path: path, src: src, d: &diags{}}
	tf := dc.tFile()
	ds := dc.d.list
	ds.Sort()
	return tf, ds
}

// tFields reads a mapping declared by a field table: unknown keys (with
// did you mean), shapes, allowed values and missing required keys are
// reported; the keys whose values have the right shape are returned.
func (dc *decoder) tFields(n *yaml.Node, what string, table []testField) (map[string]pair, bool) {
	n = resolve(n)
	if isNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	}
	pairs, ok := dc.mapping(n, what)
	if !ok {
		return nil, false
	}
	out := make(map[string]pair, len(pairs))
	meant := map[string]bool{} // keys that unknown keys are typos of
	for _, p := range pairs {
		i := slices.IndexFunc(table, func(f testField) bool { return f.Name == p.key.Value })
		if i < 0 {
			dc.unknownKey(p.key, what, testFieldNames(table))
			meant[closest(p.key.Value, testFieldNames(table))] = true
			continue
		}
		if dc.tValue(&table[i], p.val) {
			out[p.key.Value] = p
		}
	}
	for _, f := range table {
		if _, ok := out[f.Name]; ok || !f.Required {
			continue
		}
		if meant[f.Name] || slices.ContainsFunc(pairs, func(p pair) bool { return p.key.Value == f.Name }) {
			continue // misspelt or malformed: already reported
		}
		dc.d.errorf(dc.pos(n), CodeMissingKey, "%s needs %s: (%s)", what, f.Name, testSummary(f.Doc))
	}
	return out, true
}

// tValue checks a value's shape against its field and reports what
// is wrong at the value.
func (dc *decoder) tValue(f *testField, v *yaml.Node) bool {
	v = resolve(v)
	what := f.Name
	switch f.Type {
	case ftString:
		if v.Kind != yaml.ScalarNode || isNull(v) {
			dc.d.errorf(dc.pos(v), CodeShape, "%s must be a single value, not %s", what, describe(v))
			return false
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, v.Value) {
			dc.d.errorf(dc.pos(v), CodeValue, "%s %q is not one of %s%s", what, v.Value, strings.Join(f.Enum, ", "), didYouMean(v.Value, f.Enum))
			return false
		}
		if f.Pattern != nil && !f.Pattern.MatchString(v.Value) {
			dc.d.errorf(dc.pos(v), CodeValue, "%s %q must be %s", what, v.Value, f.Form)
			return false
		}
	case ftStrings:
		if v.Kind == yaml.ScalarNode && !isNull(v) {
			return true
		}
		if v.Kind != yaml.SequenceNode {
			dc.d.errorf(dc.pos(v), CodeShape, "%s must be a list of values, not %s", what, describe(v))
			return false
		}
		ok := true
		for _, item := range v.Content {
			if item = resolve(item); item.Kind != yaml.ScalarNode || isNull(item) {
				dc.d.errorf(dc.pos(item), CodeShape, "each item of %s must be a single value, not %s", what, describe(item))
				ok = false
			}
		}
		return ok
	case ftStringMap, ftValueMap:
		pairs, ok := dc.mapping(v, what)
		if !ok {
			return false
		}
		for _, p := range pairs {
			if f.Type == ftStringMap && resolve(p.val).Kind != yaml.ScalarNode {
				dc.d.errorf(dc.pos(p.val), CodeShape, "%s.%s must be a single value, not %s", what, p.key.Value, describe(resolve(p.val)))
				ok = false
			}
		}
		return ok
	case ftTrue:
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || strings.ToLower(v.Value) != "true" {
			dc.d.errorf(dc.pos(v), CodeType, "%s must be true, not %s", what, describe(v))
			return false
		}
	case ftBool:
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			dc.d.errorf(dc.pos(v), CodeType, "%s must be true or false, not %s", what, describe(v))
			return false
		}
	case ftTime:
		if v.Kind != yaml.ScalarNode || isNull(v) {
			dc.d.errorf(dc.pos(v), CodeShape, "%s must be a time, not %s", what, describe(v))
			return false
		}
		if _, err := time.Parse(time.RFC3339, v.Value); err != nil {
			dc.d.errorf(dc.pos(v), CodeValue, "%s %q must be an RFC 3339 time with its UTC offset, like 2026-11-23T10:00:00-05:00", what, v.Value)
			return false
		}
	case ftObject:
		if v.Kind != yaml.MappingNode && !isNull(v) {
			dc.d.errorf(dc.pos(v), CodeShape, "%s must be a mapping (key: value lines), not %s", what, describe(v))
			return false
		}
	case ftList:
		if v.Kind != yaml.SequenceNode {
			dc.d.errorf(dc.pos(v), CodeShape, "%s must be a list (- ...), not %s", what, describe(v))
			return false
		}
		if len(v.Content) < f.MinItems {
			dc.d.errorf(dc.pos(v), CodeMissingKey, "%s is empty: it needs at least one item (%s)", what, testSummary(f.Doc))
			return false
		}
	}
	return true
}

// testSummary is a field's doc up to its first full stop, lowercased:
// short enough for a message.
func testSummary(doc string) string {
	if i := strings.Index(doc, ". "); i >= 0 {
		doc = doc[:i]
	}
	doc = strings.TrimSuffix(doc, ".")
	if i := strings.Index(doc, "; "); i >= 0 {
		doc = doc[:i]
	}
	if doc == "" {
		return doc
	}
	return strings.ToLower(doc[:1]) + doc[1:]
}

func (dc *decoder) tFile() *TestFile {
	root := dc.parse(CodeMissingKey, "a flow test needs cases:",
		"a test file holds one list of cases, and flowd would ignore this one: move its cases under the first cases:")
	if root == nil {
		return nil
	}
	base := strings.TrimSuffix(filepath.Base(dc.path), filepath.Ext(dc.path))
	tf := &TestFile{Path: dc.path, Flow: strings.TrimSuffix(base, "_test"), FlowPos: Pos{File: dc.path, Line: 1, Col: 1}}
	top, ok := dc.tFields(root, "a flow test file", testFields)
	if !ok {
		return tf
	}
	if p, ok := top["flow"]; ok {
		tf.Flow, tf.FlowPos = resolve(p.val).Value, dc.pos(p.val)
	}
	p, ok := top["cases"]
	if !ok {
		return tf
	}
	names := map[string]Pos{}
	for _, item := range resolve(p.val).Content {
		c := dc.tCase(item)
		if c == nil {
			continue
		}
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				dc.d.errorf(c.Pos, CodeDuplicateKey, "case %q is defined twice (first defined at %d:%d); give each case its own name", c.Name, first.Line, first.Col)
			} else {
				names[c.Name] = c.Pos
			}
		}
		tf.Cases = append(tf.Cases, c)
	}
	return tf
}

func (dc *decoder) tCase(n *yaml.Node) *TestCase {
	c := &TestCase{Pos: dc.pos(resolve(n)), KeyPos: map[string]Pos{}}
	fs, ok := dc.tFields(n, "a case", testFields[1].Fields)
	if !ok {
		return nil
	}
	if p, ok := fs["name"]; ok {
		c.Name = resolve(p.val).Value
	}
	what := "case"
	if c.Name != "" {
		what = fmt.Sprintf("case %q", c.Name)
	}
	if p, ok := fs["call"]; ok {
		c.Call = dc.tStringMap(p.val, "", nil)
		for _, kp := range dc.tKeys(p.val) {
			if !callKeyRE.MatchString(kp.key.Value) {
				dc.d.errorf(dc.pos(kp.key), CodeShape, "call parameter name %q must be letters, digits, '-' and '_', like Plivo's (CallerName, X-PH-Tenant)", kp.key.Value)
			}
		}
	}
	if p, ok := fs["clock"]; ok {
		c.Clock, _ = time.Parse(time.RFC3339, resolve(p.val).Value)
		c.ClockPos = dc.pos(p.val)
	}
	if p, ok := fs["params"]; ok {
		c.Params = dc.tStringMap(p.val, "params.", c.KeyPos)
	}
	if p, ok := fs["vars"]; ok {
		c.Vars = dc.tValueMap(p.val, "vars.", c.KeyPos)
	}
	if p, ok := fs["rooms"]; ok {
		c.Rooms, _ = dc.tScalars(p.val)
	}
	if p, ok := fs["rest_errors"]; ok {
		names, at := dc.tScalars(p.val)
		for i, name := range names {
			if names := restActionNames(); !slices.Contains(names, name) {
				dc.d.errorf(at[i], CodeValue, "rest_errors: %q is not a REST action; use %s%s", name, strings.Join(names, ", "), didYouMean(name, names))
				continue
			}
			c.RESTErrors = append(c.RESTErrors, name)
		}
	}
	if p, ok := fs["steps"]; ok {
		for i, item := range resolve(p.val).Content {
			if s := dc.tStep(item, i, what); s != nil {
				c.Steps = append(c.Steps, s)
			}
		}
	}
	return c
}

// tKeys returns the pairs of a mapping that has been checked already.
func (dc *decoder) tKeys(n *yaml.Node) []pair {
	sub := &decoder{path: dc.path, src: dc.src, d: &diags{}}
	pairs, _ := sub.mapping(n, "")
	return pairs
}

// tStringMap reads a checked mapping of scalars; with at set, it records
// each key's position as prefix+key.
func (dc *decoder) tStringMap(n *yaml.Node, prefix string, at map[string]Pos) map[string]string {
	out := map[string]string{}
	for _, p := range dc.tKeys(n) {
		v := resolve(p.val)
		if isNull(v) {
			out[p.key.Value] = ""
		} else {
			out[p.key.Value] = v.Value
		}
		if at != nil {
			at[prefix+p.key.Value] = dc.pos(p.key)
		}
	}
	return out
}

// tValueMap reads a checked mapping of YAML values as expressions see them.
func (dc *decoder) tValueMap(n *yaml.Node, prefix string, at map[string]Pos) map[string]any {
	out := map[string]any{}
	for _, p := range dc.tKeys(n) {
		if !identRE.MatchString(p.key.Value) {
			dc.d.errorf(dc.pos(p.key), CodeShape, "variable name %q must be letters, digits and '_', starting with a letter", p.key.Value)
			continue
		}
		var v any
		if err := p.val.Decode(&v); err != nil {
			dc.d.errorf(dc.pos(p.val), CodeShape, "%s%s: %v", prefix, p.key.Value, err)
			continue
		}
		out[p.key.Value] = normalize(v)
		if at != nil {
			at[prefix+p.key.Value] = dc.pos(p.key)
		}
	}
	return out
}

func (dc *decoder) tScalars(n *yaml.Node) ([]string, []Pos) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []Pos{dc.pos(n)}
	}
	var out []string
	var at []Pos
	for _, item := range n.Content {
		out = append(out, resolve(item).Value)
		at = append(at, dc.pos(item))
	}
	return out, at
}

func (dc *decoder) tStep(n *yaml.Node, i int, inCase string) *TestStep {
	s := &TestStep{Pos: dc.pos(resolve(n))}
	what := fmt.Sprintf("step %d of %s", i+1, inCase)
	fs, ok := dc.tFields(n, what, stepFields)
	if !ok {
		return nil
	}
	var events []pair
	for _, f := range stepFields {
		if p, ok := fs[f.Name]; ok && f.Event {
			events = append(events, p)
		}
	}
	if len(events) > 1 {
		dc.d.errorf(dc.pos(events[1].key), CodeShape, "%s sends two events, %s (at %d:%d) and %s; a step sends one: split it in two steps", what, events[0].key.Value, events[0].key.Line, events[0].key.Column, events[1].key.Value)
	}
	var raw map[string]string
	if p, ok := fs[EventRaw]; ok {
		raw = dc.tStringMap(p.val, "", nil)
	}
	switch {
	case len(events) > 0:
		p := events[0]
		e := &TestEvent{Kind: p.key.Value, Pos: dc.pos(p.key)}
		v := resolve(p.val)
		switch e.Kind {
		case EventPress, EventSay, EventDial:
			e.Value = v.Value
		case EventRecord, EventLeave:
			e.Params = dc.tStringMap(v, "", nil)
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
		s.Event = &TestEvent{Kind: EventRaw, Pos: dc.pos(fs[EventRaw].key), Params: raw}
	case i > 0 && !dc.writesEvent(n):
		dc.d.errorf(s.Pos, CodeMissingKey, "%s sends no event; only a first step may (it checks the answer): add one of %s", what, strings.Join(testEventNames(), ", "))
	}
	if p, ok := fs["expect"]; ok {
		s.Expect = dc.tExpect(p.val, what)
	}
	return s
}

// writesEvent reports whether a step names an event key, well formed,
// malformed or misspelt: those are reported on their own.
func (dc *decoder) writesEvent(n *yaml.Node) bool {
	for _, p := range dc.tKeys(n) {
		names := append(testEventNames(), EventRaw)
		if slices.Contains(names, p.key.Value) || slices.Contains(names, closest(p.key.Value, testFieldNames(stepFields))) {
			return true
		}
	}
	return false
}

func (dc *decoder) tExpect(n *yaml.Node, what string) *TestExpect {
	x := &TestExpect{Pos: dc.pos(resolve(n))}
	fs, ok := dc.tFields(n, "expect of "+what, stepFields[len(stepFields)-1].Fields)
	if !ok {
		return x
	}
	if p, ok := fs["node"]; ok {
		x.Node, x.NodePos = resolve(p.val).Value, dc.pos(p.val)
	}
	if p, ok := fs["path"]; ok {
		x.Path, x.PathPos = dc.tScalars(p.val)
		x.HasPath = true
	}
	if p, ok := fs["contains"]; ok {
		x.Contains, _ = dc.tScalars(p.val)
	}
	if p, ok := fs["not_contains"]; ok {
		x.NotContains, _ = dc.tScalars(p.val)
	}
	for _, s := range append(slices.Clone(x.Contains), x.NotContains...) {
		if s == "" {
			dc.d.errorf(x.Pos, CodeValue, "contains and not_contains cannot hold an empty string")
			break
		}
	}
	if p, ok := fs["xml"]; ok {
		x.XML, x.HasXML = strings.TrimSpace(resolve(p.val).Value), true
	}
	if p, ok := fs["vars"]; ok {
		x.VarPos = map[string]Pos{}
		x.Vars = dc.tValueMap(p.val, "", x.VarPos)
	}
	if p, ok := fs["ended"]; ok {
		b := strings.ToLower(resolve(p.val).Value) == "true"
		x.Ended = &b
		if b && x.Node != "" {
			dc.d.errorf(dc.pos(p.key), CodeValue, "expect has node: %s and ended: true; a call that waits at a node has not ended", x.Node)
		}
	}
	return x
}

// LoadFlow finds, compiles and checks the flow a test file names: a path
// relative to the test file, or the name of a flow in a file beside it
// (NAME.yaml first, then every flow file of the folder). It returns the
// graph, or nil with the problems that keep the tests from running; the
// test file's own problems against the flow (CheckTest) come with it.
func (tf *TestFile) LoadFlow() (*Graph, Diagnostics) {
	var d diags
	fail := func(ds Diagnostics) (*Graph, Diagnostics) {
		var errs Diagnostics
		for _, x := range ds {
			if x.Severity == Error {
				errs = append(errs, x)
			}
		}
		d.errorf(tf.FlowPos, CodeValue, "flow %s does not compile (%d error(s) below); flowd validate lists them", tf.Flow, len(errs))
		return nil, append(d.list, errs...)
	}
	dir := filepath.Dir(tf.Path)
	if tf.FlowIsPath() {
		path := tf.Flow
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			d.errorf(tf.FlowPos, CodeValue, "flow %s: %v", tf.Flow, errors.Unwrap(err))
			return nil, d.list
		}
		g, ds := Compile(filepath.Clean(path), src)
		if g == nil {
			return fail(ds)
		}
		return g, CheckTest(tf, g)
	}
	// A flow name: the file named after it first, then the others.
	var names []string
	try := func(path string, named bool) (*Graph, Diagnostics, bool) {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, false
		}
		f, _ := Decode(path, src)
		if f == nil && !named {
			return nil, nil, false
		}
		if f != nil && f.Name != tf.Flow {
			names = append(names, f.Name)
			return nil, nil, false
		}
		g, ds := Compile(filepath.Clean(path), src)
		return g, ds, true
	}
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && IsFlowFile(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	for _, ext := range []string{".yaml", ".yml"} {
		own := filepath.Join(dir, tf.Flow+ext)
		files = slices.DeleteFunc(files, func(p string) bool { return p == own })
		if g, ds, ok := try(own, true); ok {
			if g == nil {
				return fail(ds)
			}
			return g, CheckTest(tf, g)
		}
	}
	for _, path := range files {
		if g, ds, ok := try(path, false); ok {
			if g == nil {
				return fail(ds)
			}
			return g, CheckTest(tf, g)
		}
	}
	here := "there are no flows there"
	if len(names) > 0 {
		slices.Sort(names)
		here = "the flows there: " + strings.Join(names, ", ")
	}
	d.errorf(tf.FlowPos, CodeValue, "no flow named %q in %s, beside this file%s (%s); flow: takes a flow name or a path relative to this file", tf.Flow, dir, didYouMean(tf.Flow, names), here)
	return nil, d.list
}

// CheckTest reports the problems of a test file that need its flow:
// nodes, params and vars that the flow does not have.
func CheckTest(tf *TestFile, g *Graph) Diagnostics {
	d := &diags{}
	ids := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[i] = n.ID
	}
	params := make([]string, len(g.Params))
	for i, p := range g.Params {
		params[i] = p.Name
	}
	vars := g.VarNames()
	node := func(id string, at Pos, what string) {
		if g.Node(id) == nil {
			d.errorf(at, CodeUnknownNode, "%s names node %q, which flow %s does not have%s", what, id, g.Name, didYouMean(id, ids))
		}
	}
	variable := func(name string, at Pos, what string) {
		if !slices.Contains(vars, name) {
			d.errorf(at, CodeUndeclaredVar, "%s sets vars.%s, which flow %s neither declares under vars: nor assigns with set%s", what, name, g.Name, didYouMean(name, vars))
		}
	}
	for _, c := range tf.Cases {
		for _, k := range slices.Sorted(maps.Keys(c.Params)) {
			if !slices.Contains(params, k) {
				d.errorf(c.KeyPos["params."+k], CodeUndeclaredParam, "params.%s is not a param of flow %s%s", k, g.Name, didYouMean(k, params))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
			variable(k, c.KeyPos["vars."+k], "the case")
		}
		for _, s := range c.Steps {
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
			for _, k := range slices.Sorted(maps.Keys(x.Vars)) {
				if !slices.Contains(vars, k) {
					d.errorf(x.VarPos[k], CodeUndeclaredVar, "expect vars.%s: flow %s has no such variable%s", k, g.Name, didYouMean(k, vars))
				}
			}
		}
	}
	d.list.Sort()
	return d.list
}

// VarNames returns the per-call variables of the flow, declared under
// vars: or assigned by set, sorted.
func (g *Graph) VarNames() []string {
	seen := map[string]bool{}
	for k := range g.vars {
		seen[k] = true
	}
	for _, n := range g.Nodes {
		for _, a := range n.Sets {
			seen[a.Name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// TestSchema returns the JSON Schema of flow test files, indented, with a
// final newline. It is generated from the same table the decoder checks.
func TestSchema() ([]byte, error) {
	s := fieldsSchema(testFields)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = TestSchemaID
	s["title"] = "flowd flow test"
	s["description"] = "Test cases for a flowd flow (<name>_test.yaml), run by flowd test."
	return marshalSchema(s)
}

func fieldsSchema(fs []testField) obj {
	props := obj{}
	var required []string
	var events []string
	for i := range fs {
		f := &fs[i]
		props[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
		if f.Event {
			events = append(events, f.Name)
		}
	}
	s := obj{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(events) > 1 {
		// A step sends at most one event.
		var pairs []any
		for i := range events {
			for j := i + 1; j < len(events); j++ {
				pairs = append(pairs, obj{"required": []string{events[i], events[j]}})
			}
		}
		s["not"] = obj{"anyOf": pairs}
	}
	return s
}

func fieldSchema(f *testField) obj {
	var s obj
	switch f.Type {
	case ftString:
		s = obj{"type": scalarTypes}
		if len(f.Enum) > 0 {
			s = obj{"enum": f.Enum}
		}
		if f.Pattern != nil {
			s = obj{"type": []string{"string", "integer"}, "pattern": f.Pattern.String()}
		}
	case ftStrings:
		s = obj{"anyOf": []any{obj{"type": scalarTypes}, obj{"type": "array", "items": obj{"type": scalarTypes}}}}
	case ftStringMap:
		s = obj{"type": []string{"object", "null"}, "additionalProperties": obj{"type": append(slices.Clone(scalarTypes), "null")}}
	case ftValueMap:
		s = obj{"type": "object", "propertyNames": obj{"pattern": identRE.String()}}
	case ftTrue:
		s = obj{"const": true}
	case ftBool:
		s = obj{"type": "boolean"}
	case ftTime:
		s = obj{"type": "string", "format": "date-time"}
	case ftObject:
		s = fieldsSchema(f.Fields)
	case ftList:
		s = obj{"type": "array", "items": fieldsSchema(f.Fields)}
		if f.MinItems > 0 {
			s["minItems"] = f.MinItems
		}
	}
	if f.Doc != "" {
		s["description"] = f.Doc
	}
	return s
}
