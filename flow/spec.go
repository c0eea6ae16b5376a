package flow

import (
	"maps"
	"regexp"
	"slices"

	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// Kind declares one node action: a Plivo element or one of flowd's
// lowercase actions. It is the single place that says what an action key
// means: its facts are fields, and what it does in each phase is its
// behavior. The decoder, checker, compiler, walker, schema, reference and
// diagrams all read it.
type Kind struct {
	Name     string
	Element  *xmlgen.Element // nil for flowd's own actions
	Outcomes []string        // the keys allowed under on:
	// Callbacks are the ways Plivo calls back a node of the kind that the
	// walk waits at; none for a kind the walk never waits at.
	Callbacks []Callback
	// Reports are the report events (EventStatus, EventRecording) a node
	// of the kind may ask flowd to receive with events:.
	Reports []string
	// Keeps are the keys a node of a kind the walk does not wait at keeps
	// under nodes.<id> (an http node's status, body, error, outcome); the
	// checker warns of others that expressions read.
	Keeps []string
	// Owned lists the attributes flowd writes itself; writing them is an error.
	Owned []string
	// URLAttr is the owned attribute that carries flowd's callback URL.
	URLAttr  string
	Doc      string
	behavior behavior
	traits   traits // behavior.traits(), read when the table is indexed
}

// Callback is one way Plivo calls back a node the walk waits at: the event
// flowd's URL for it reports, the outcome that stands for, and the
// flow-test events that send it.
type Callback struct {
	Event   string   // the event flowd's URL reports: EventAction, EventNoInput or EventExit
	Outcome string   // the outcome it reports; "" for next, or when Param holds it
	Param   string   // the callback parameter that holds the outcome (Dial's DialStatus)
	Tests   []string // the flow-test step events that send it (EventPress, ...)
	// Params are the parameters Plivo sends with it besides the call's
	// standard ones (StandardParams); the checker warns of input.X and
	// nodes.<id>.X that no callback sends.
	Params []string
}

// The flow-test events: what a step of a flow test (package flowtest) may
// send. A kind's Callbacks say which reach a node of the kind.
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

// behavior is what a kind of node does in each phase, the one interface a
// new kind implements (a family of kinds may share one). Each lives in a
// file of its own (element.go, branch.go, set.go, rest.go) and is named in
// its kinds' rows; the phases call it without asking which kind it is.
type behavior interface {
	// decode reads the action key's value into nd, reporting its problems
	// at their keys and values.
	decode(dc *decoder, nd *NodeDecl, action pair)
	// check reports what else is wrong with nd's action and compiles its
	// expressions; next, on: and events: are checked for every kind.
	check(c *checker, nd *NodeDecl)
	// compile fills n from nd. Every node of g exists, edges are wired.
	compile(n *Node, nd *NodeDecl, g *Graph) error
	// step does the walk's work at n and says where the walk goes.
	step(w *Walker, n *Node) (step, error)
	// schema returns the JSON Schema of the action key's value.
	schema(k *Kind) obj
	// traits returns the facts the checker, diagrams and reference read.
	traits() traits
}

// viewer is implemented by a kind whose nodes' kept parameters (text, in
// the call's state) expressions read as something else: http's answer,
// its status a number and its body parsed JSON.
type viewer interface {
	view(kept map[string]string) any
}

// redactor is implemented by a kind whose kept parameters hold more than
// a call's trace may show: http keeps the remote's answer, which the trace
// shows only by its size.
type redactor interface {
	redact(kept map[string]string) map[string]string
}

// ForTrace returns a call's kept node parameters as its trace may show
// them: nodes of a redactor kind redacted, the others as they are. nodes
// is not changed.
func (g *Graph) ForTrace(nodes map[string]map[string]string) map[string]map[string]string {
	var out map[string]map[string]string
	for id, kept := range nodes {
		n := g.byID[id]
		if n == nil {
			continue
		}
		r, ok := n.Kind.behavior.(redactor)
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]map[string]string, len(nodes))
			for k, v := range nodes {
				out[k] = v
			}
		}
		out[id] = r.redact(kept)
	}
	if out == nil {
		return nodes
	}
	return out
}

// traits are what is known of a kind without running it.
type traits struct {
	control control
	style   nodeStyle // how diagrams draw a node the walk does not wait at
	// nextLabel is how diagrams label next; "" labels it with the outcomes
	// it stands for.
	nextLabel string
	// walkDoc says, after the kind's Doc in the reference's table of
	// actions, what the walk does.
	walkDoc string
	// goesOnWith names the attribute with which a kind that ends the flow
	// takes next instead (Hangup's schedule).
	goesOnWith string
	// openOutcomes: the kind's outcomes are not its own but what another
	// flow gives (a subflow's returns); Link checks on: against them.
	openOutcomes bool
	// refSection is the reference section, heading and introduction, that
	// lists the kind's family with refEntry (REST actions with their
	// arguments); "" for none.
	refSection, refEntry string
}

// control says where the walk goes after a node of a kind.
type control uint8

const (
	controlUnset control = iota // a kind that does not say; TestKinds fails
	goesOn                      // on to next, or the outcome's node, in the same document
	waits                       // the document ends; Plivo calls the node back
	waitsIfNext                 // waits when the node has a next, or is inside a subflow; else the call stays there
	ends                        // the flow ends; the node takes no next
	callsFlow                   // walks a subflow, which may wait for Plivo, then goes on by its outcome
)

// step is where the walk goes after a node.
type step struct {
	to    *Node  // the next node; nil ends the document here (inside a subflow: returns ok)
	label string // the edge taken to it, as Taken names it; "" records none
	wait  bool   // the document ends waiting for Plivo to call this node back
	// end: the flow ends here (Hangup, Redirect), and so does the call,
	// inside a subflow too.
	end bool
}

// nextStep is the step along a node's next edge.
func nextStep(n *Node) step { return step{to: n.Next, label: "next"} }

// Outcome names used by the walker.
const (
	OutcomeInput   = "input"
	OutcomeNoInput = "no_input"
)

// DialStatuses are the values of Plivo's DialStatus, the outcomes of Dial.
var DialStatuses = []string{"completed", "busy", "failed", "timeout", "no-answer"}

var callbackOwned = []string{"action", "method", "redirect"}

// kinds is the table of node actions, in the order the reference lists
// them. A kind is one row here and its behavior in a file of its own.
var kinds = []Kind{
	{Name: "Speak", behavior: verbElement, Doc: "Speaks text to the caller (text to speech)."},
	{Name: "Play", behavior: verbElement, Doc: "Plays an MP3 or WAV file from a URL."},
	{Name: "Wait", behavior: verbElement, Doc: "Waits silently, or for silence or a voicemail beep."},
	{Name: "DTMF", behavior: verbElement, Doc: "Sends DTMF digits on the call."},
	{Name: "GetDigits", behavior: inputElement, Outcomes: inputOutcomes, Callbacks: inputCallbacks([]string{"Digits"}, EventPress), Owned: callbackOwned, URLAttr: "action", Doc: "Collects key presses; input.Digits holds them."},
	{Name: "GetInput", behavior: inputElement, Outcomes: inputOutcomes, Callbacks: inputCallbacks([]string{"InputType", "Digits", "Speech", "SpeechConfidenceScore", "BilledAmount"}, EventPress, EventSay), Owned: callbackOwned, URLAttr: "action", Doc: "Collects key presses or speech; input.Digits or input.Speech holds them."},
	{Name: "Dial", behavior: dialElement, Outcomes: DialStatuses, Callbacks: dialCallbacks, Owned: callbackOwned, URLAttr: "action", Doc: "Calls numbers or SIP users and bridges the first to answer; outcomes are Plivo's DialStatus values."},
	{Name: "Conference", behavior: joinElement, Callbacks: conferenceCallbacks, Owned: callbackOwned, URLAttr: "action", Doc: "Puts the caller in a conference room; next is taken when the caller leaves it."},
	{Name: "MultiPartyCall", behavior: roomElement, Callbacks: mpcCallbacks, Reports: []string{EventStatus, EventRecording}, Owned: []string{"onExitActionUrl", "onExitActionMethod"}, URLAttr: "onExitActionUrl", Doc: "Adds the caller to a multiparty call as agent, customer or supervisor; next is taken when the caller leaves it."},
	{Name: "Record", behavior: recordElement, Callbacks: recordCallbacks, Owned: callbackOwned, URLAttr: "action", Doc: "Records the caller; input.RecordUrl holds the recording."},
	{Name: "Redirect", behavior: endElement, Doc: "Hands the call to another XML application; the flow ends."},
	{Name: "Hangup", behavior: hangupElement, Doc: "Hangs up; the flow ends, unless the hang-up is scheduled."},
	{Name: "PreAnswer", behavior: verbElement, Doc: "Plays early media (Speak, Play, Wait) before the call is answered."},
	{Name: "Stream", behavior: verbElement, Doc: "Streams the call's audio to a WebSocket."},
	{Name: "Message", behavior: verbElement, Doc: "Sends an SMS while the call goes on."},
	{Name: "branch", behavior: branch{}, Doc: "Chooses the next node on the server: the first case whose when is true, else next."},
	{Name: "set", behavior: set{}, Doc: "Assigns per-call variables: set: {name: expression}."},
	{Name: "subflow", behavior: subflowKind{}, Doc: "Runs another flow of the same folder as a step of this one (subflow: NAME), with: initial values of its vars; the walk goes on by the outcome its return gives, on: <outcome>, else next. What it returns is nodes.<id>.outcome and nodes.<id>.<name>."},
	{Name: "return", behavior: returnKind{}, Doc: "Ends a subflow: return: OUTCOME, or return: {outcome: OUTCOME, values: {name: expression}}."},
	{Name: "http", behavior: httpKind{}, Outcomes: restOutcomes, Keeps: []string{"status", "body", "error", "outcome"}, Doc: "Requests another system on the server (a CRM look-up, a ticket); nodes.<id>.status, .body (parsed JSON, else text) and .error hold the answer. Outcomes: ok (a 2xx answer), error (anything else)."},
	{Name: "add_participant", behavior: addParticipant, Outcomes: restOutcomes, Keeps: restKeeps("request_uuid", "call_uuid"), Reports: []string{EventStatus, EventRecording}, Doc: "Adds a participant to a MultiPartyCall through Plivo's REST API: dials agents (several separated by < ring in parallel; the first to answer joins), a supervisor in coach mode, or transfers a call. Arguments are Plivo's Add Participant arguments plus mpc, the MultiPartyCall's name; from defaults to the call's Plivo number."},
	{Name: "update_participant", behavior: updateParticipant, Outcomes: restOutcomes, Keeps: restKeeps(), Doc: "Mutes, unmutes, holds, unholds or sets coach mode of MultiPartyCall members (member: an ID, a comma list or all)."},
	{Name: "kick_participant", behavior: kickParticipant, Outcomes: restOutcomes, Keeps: restKeeps(), Doc: "Disconnects MultiPartyCall members (member: an ID, a comma list or all)."},
	{Name: "start_recording", behavior: startRecording, Outcomes: restOutcomes, Keeps: restKeeps("recording_id", "recording_url"), Doc: "Starts recording a MultiPartyCall (file_format, recording_callback_url)."},
	{Name: "stop_recording", behavior: stopRecording, Outcomes: restOutcomes, Keeps: restKeeps(), Doc: "Stops recording a MultiPartyCall."},
}

var kindByName = func() map[string]*Kind {
	m := make(map[string]*Kind, len(kinds))
	for i := range kinds {
		k := &kinds[i]
		k.traits = k.behavior.traits()
		if _, ok := k.behavior.(element); ok {
			k.Element = xmlgen.Lookup(k.Name)
			if k.Element == nil {
				panic("flow: no Plivo element " + k.Name)
			}
		}
		m[k.Name] = k
	}
	return m
}()

// Kinds returns every node action in reference order.
func Kinds() []*Kind {
	out := make([]*Kind, len(kinds))
	for i := range kinds {
		out[i] = &kinds[i]
	}
	return out
}

// LookupKind returns the action named name, or nil.
func LookupKind(name string) *Kind { return kindByName[name] }

// Owns reports whether flowd writes the attribute itself.
func (k *Kind) Owns(attr string) bool { return slices.Contains(k.Owned, attr) }

// HasOutcome reports whether o may be written under on:.
func (k *Kind) HasOutcome(o string) bool { return slices.Contains(k.Outcomes, o) }

// Accepts reports whether a node of the kind, when the walk waits at it,
// can be called back with event.
func (k *Kind) Accepts(event string) bool {
	return slices.ContainsFunc(k.Callbacks, func(c Callback) bool { return c.Event == event })
}

// TestEvents returns the flow-test step events a call waiting at a node of
// the kind can be sent, in the order of its Callbacks.
func (k *Kind) TestEvents() []string {
	var out []string
	for _, c := range k.Callbacks {
		out = append(out, c.Tests...)
	}
	return out
}

// callback returns the callback a call back with event stands for: the
// kind's callback for event, else its first, the element's own URL. It
// returns false for a kind the walk never waits at.
func (k *Kind) callback(event string) (Callback, bool) {
	for _, c := range k.Callbacks {
		if c.Event == event {
			return c, true
		}
	}
	if len(k.Callbacks) == 0 {
		return Callback{}, false
	}
	return k.Callbacks[0], true
}

// outcome returns the outcome the callback reports with params, "" for next.
func (c Callback) outcome(params map[string]string) string {
	if c.Param != "" {
		return params[c.Param]
	}
	return c.Outcome
}

// contentKeys maps an element name to the YAML key that holds its text
// content in mapping form (see "Nodes" in the package documentation).
// SSML elements use "text".
var contentKeys = map[string]string{
	"Speak": "text", "Message": "text",
	"Play": "url", "Redirect": "url", "Stream": "url",
	"Conference": "name", "MultiPartyCall": "name",
	"DTMF":   "digits",
	"Number": "number",
	"User":   "sip",
}

// ContentKey returns the YAML key of an element's text content, or "" when
// the element has none.
func ContentKey(e *xmlgen.Element) string {
	if e.Text == xmlgen.NoText {
		return ""
	}
	if k, ok := contentKeys[e.Name]; ok {
		return k
	}
	return "text"
}

// The fields of flowd's own YAML structures, declared once: the decoder
// reads them (unknown keys, "did you mean", missing keys, the form of
// names), and the JSON Schema is generated from them. Plivo's elements
// are xmlgen's table, adapted to the same vocabulary by attrField; the
// REST actions' arguments are read from the plivo params structs by
// restFields; a flow test's are flowtest's.

// The forms of names.
var (
	flowNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	nodeIDRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	// VarName is the form of the name of a per-call variable or a param,
	// which expressions read as vars.NAME and params.NAME; VarNameForm
	// says it in words.
	VarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// ParamName is the form of a param's name: a var's, and '-' too, which
	// the environment variable of the param spells '_' (FLOWD_PARAM_RING_TIME
	// for ring-time). Expressions read such a param as params["ring-time"].
	ParamName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// VarNameForm is VarName in words, for messages.
const VarNameForm = "letters, digits and '_', starting with a letter"

// ParamNameForm is ParamName in words, for messages.
const ParamNameForm = "letters, digits, '-' and '_', starting with a letter"

// nodeRef names a node. Node ids start with a letter, so the YAML scalars
// that can name one are strings and the booleans true and false.
var nodeRef = obj{"type": []string{"string", "boolean"}}

// fileFields are the keys of a flow file, in the order the reference
// lists them. Adding one takes its row here; reading it into File, and
// what it means to the checker, compiler or walker, is code.
var fileFields = []yamlpos.Field{
	// A number or boolean is read as its text (flow: 411).
	{Name: "flow", Type: yamlpos.Text, Schema: obj{"anyOf": []any{obj{"type": "string", "pattern": flowNameRE.String()}, obj{"type": []string{"number", "boolean"}}}},
		Doc: "The flow's name; default: the file name without .yaml."},
	{Name: "description", Type: yamlpos.Text},
	{Name: "params", Type: yamlpos.Map, Null: true, Keys: ParamName, KeyName: "param name", KeyForm: ParamNameForm, Value: &paramField,
		Doc: "Deployment values, read as params.<name>; overridable with --param."},
	{Name: "vars", Type: yamlpos.Map, Null: true, Keys: VarName, KeyName: "variable name", KeyForm: VarNameForm,
		Doc: "Initial per-call variables, read as vars.<name> and changed by set."},
	{Name: "start", Type: yamlpos.Text, Schema: nodeRef, Doc: "The first node; default: the first node listed."},
	{Name: "on_error", Type: yamlpos.Text, Schema: nodeRef, Doc: "The node entered when a run-time error occurs."},
	{Name: "nodes", Type: yamlpos.Map, Required: true, MinItems: 1, Keys: nodeIDRE, Value: &yamlpos.Field{Schema: obj{"$ref": "#/$defs/node"}}},
}

// paramField is a param: its default, or a mapping of its fields.
var paramField = yamlpos.Field{Type: yamlpos.Object, Short: "default", Fields: []yamlpos.Field{
	{Name: "default", Type: yamlpos.Text, Doc: "The value when none is given; its YAML type (string, integer, float, boolean) is the param's."},
	{Name: "description", Type: yamlpos.Text},
	{Name: "secret", Type: yamlpos.Bool, Doc: "The value is never written to a session, trace, log or render output; it may be read only in when: conditions."},
}}

// nodeFields are the keys of every node beside its action; nodeFieldsOf
// fits them to a kind.
var nodeFields = []yamlpos.Field{
	{Name: "next", Type: yamlpos.Text, Schema: nodeRef},
	{Name: "on", Type: yamlpos.Map, Null: true},
	{Name: "description", Type: yamlpos.Text},
	{Name: "events", Type: yamlpos.Set, Enum: reportNames(), Doc: eventsDoc()},
	withField,
}

// caseFields are the keys of a branch case.
var caseFields = []yamlpos.Field{
	{Name: "when", Type: yamlpos.String, Required: true, Need: "(a boolean expression)"},
	{Name: "next", Type: yamlpos.Text, Required: true, Schema: nodeRef, Need: "(the node to go to)"},
}

func actionNames() []string { return slices.Sorted(maps.Keys(kindByName)) }
