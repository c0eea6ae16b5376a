package flow

import (
	"sort"

	"github.com/flowd-dev/flowd/xmlgen"
)

// Walk says what the walker does when it reaches a node of a kind.
type Walk uint8

// The walk behaviours of SPEC section 4.
const (
	WalkAppend   Walk = iota // the element is appended; the walk continues to next
	WalkInput                // GetDigits/GetInput: action URL, no_input Redirect, the document ends
	WalkDial                 // Dial: action URL, outcome from DialStatus, the document ends
	WalkRecord               // Record: action URL, the document ends
	WalkJoin                 // Conference/MultiPartyCall: action URL only when there is a next; the document ends
	WalkTerminal             // Hangup/Redirect: appended, the flow ends
	WalkBranch               // branch: evaluated on the server
	WalkSet                  // set: assigns vars on the server
	WalkREST                 // add_participant, ...: calls Plivo's REST API on the server
)

// Callback reports whether the walk waits for Plivo after a node of this behaviour.
func (w Walk) Callback() bool {
	return w == WalkInput || w == WalkDial || w == WalkRecord || w == WalkJoin
}

// Kind declares one node action: a Plivo element or one of flowd's
// lowercase actions. It is the single place that says what an action key
// means; the decoder, checker, compiler, walker, schema and reference all
// read it.
type Kind struct {
	Name     string
	Element  *xmlgen.Element // nil for flowd's own actions
	Walk     Walk
	Outcomes []string // the keys allowed under on:
	// Owned lists the attributes flowd writes itself; writing them is an error.
	Owned []string
	// URLAttr is the owned attribute that carries flowd's callback URL.
	URLAttr string
	Doc     string
}

// Outcome names used by the walker.
const (
	OutcomeInput   = "input"
	OutcomeNoInput = "no_input"
)

// DialStatuses are the values of Plivo's DialStatus, the outcomes of Dial.
var DialStatuses = []string{"completed", "busy", "failed", "timeout", "no-answer"}

var callbackOwned = []string{"action", "method", "redirect"}

// kinds is the table of node actions, in the order the reference lists them.
var kinds = []Kind{
	{Name: "Speak", Walk: WalkAppend, Doc: "Speaks text to the caller (text to speech)."},
	{Name: "Play", Walk: WalkAppend, Doc: "Plays an MP3 or WAV file from a URL."},
	{Name: "Wait", Walk: WalkAppend, Doc: "Waits silently, or for silence or a voicemail beep."},
	{Name: "DTMF", Walk: WalkAppend, Doc: "Sends DTMF digits on the call."},
	{Name: "GetDigits", Walk: WalkInput, Outcomes: []string{OutcomeInput, OutcomeNoInput}, Owned: callbackOwned, URLAttr: "action", Doc: "Collects key presses; input.Digits holds them."},
	{Name: "GetInput", Walk: WalkInput, Outcomes: []string{OutcomeInput, OutcomeNoInput}, Owned: callbackOwned, URLAttr: "action", Doc: "Collects key presses or speech; input.Digits or input.Speech holds them."},
	{Name: "Dial", Walk: WalkDial, Outcomes: DialStatuses, Owned: callbackOwned, URLAttr: "action", Doc: "Calls numbers or SIP users and bridges the first to answer; outcomes are Plivo's DialStatus values."},
	{Name: "Conference", Walk: WalkJoin, Owned: callbackOwned, URLAttr: "action", Doc: "Puts the caller in a conference room; next is taken when the caller leaves it."},
	{Name: "MultiPartyCall", Walk: WalkJoin, Owned: []string{"onExitActionUrl", "onExitActionMethod"}, URLAttr: "onExitActionUrl", Doc: "Adds the caller to a multiparty call as agent, customer or supervisor; next is taken when the caller leaves it."},
	{Name: "Record", Walk: WalkRecord, Owned: callbackOwned, URLAttr: "action", Doc: "Records the caller; input.RecordUrl holds the recording."},
	{Name: "Redirect", Walk: WalkTerminal, Doc: "Hands the call to another XML application; the flow ends."},
	{Name: "Hangup", Walk: WalkTerminal, Doc: "Hangs up; the flow ends."},
	{Name: "PreAnswer", Walk: WalkAppend, Doc: "Plays early media (Speak, Play, Wait) before the call is answered."},
	{Name: "Stream", Walk: WalkAppend, Doc: "Streams the call's audio to a WebSocket."},
	{Name: "Message", Walk: WalkAppend, Doc: "Sends an SMS while the call goes on."},
	{Name: "branch", Walk: WalkBranch, Doc: "Chooses the next node on the server: the first case whose when is true, else next."},
	{Name: "set", Walk: WalkSet, Doc: "Assigns per-call variables: set: {name: expression}."},
	{Name: "add_participant", Walk: WalkREST, Outcomes: restOutcomes, Doc: "Adds a participant to a MultiPartyCall through Plivo's REST API: dials agents (several separated by < ring in parallel; the first to answer joins), a supervisor in coach mode, or transfers a call. Arguments are Plivo's Add Participant arguments plus mpc, the MultiPartyCall's name; from defaults to the call's Plivo number."},
	{Name: "update_participant", Walk: WalkREST, Outcomes: restOutcomes, Doc: "Mutes, unmutes, holds, unholds or sets coach mode of MultiPartyCall members (member: an ID, a comma list or all)."},
	{Name: "kick_participant", Walk: WalkREST, Outcomes: restOutcomes, Doc: "Disconnects MultiPartyCall members (member: an ID, a comma list or all)."},
	{Name: "start_recording", Walk: WalkREST, Outcomes: restOutcomes, Doc: "Starts recording a MultiPartyCall (file_format, recording_callback_url)."},
	{Name: "stop_recording", Walk: WalkREST, Outcomes: restOutcomes, Doc: "Stops recording a MultiPartyCall."},
}

var restOutcomes = []string{OutcomeOK, OutcomeError}

var kindByName = func() map[string]*Kind {
	m := make(map[string]*Kind, len(kinds))
	for i := range kinds {
		k := &kinds[i]
		if k.Walk != WalkBranch && k.Walk != WalkSet && k.Walk != WalkREST {
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
func (k *Kind) Owns(attr string) bool {
	for _, o := range k.Owned {
		if o == attr {
			return true
		}
	}
	return false
}

// HasOutcome reports whether o may be written under on:.
func (k *Kind) HasOutcome(o string) bool {
	for _, x := range k.Outcomes {
		if x == o {
			return true
		}
	}
	return false
}

// contentKeys maps an element name to the YAML key that holds its text
// content in mapping form (SPEC section 2). SSML elements use "text".
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

// Reserved node keys beside the action key.
var nodeKeys = []string{"next", "on", "description", "events"}

// topKeys are the keys of a flow file.
var topKeys = []string{"flow", "description", "params", "vars", "start", "on_error", "nodes"}

func actionNames() []string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.Name)
	}
	sort.Strings(names)
	return names
}
