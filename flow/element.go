package flow

import (
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// The Plivo element kinds: a node whose action is one of Plivo's verbs
// (Speak, GetDigits, Dial, ...) appends that element to the document. The
// element, its attributes and its children are decoded and checked against
// xmlgen's table (dc.element in decode.go, c.element in check.go);
// compiling prepares its XML once, with holes for templates and flowd's
// callback URL. The kinds differ in what the walk does once the element is
// appended: go on, wait for the callbacks their rows declare, or end the
// flow.

// element is the behavior of the Plivo element kinds.
type element struct {
	control   control
	walkDoc   string
	nextLabel string
	// room is set for MultiPartyCall: its content names the room the walk
	// reports in Result.Rooms, which the trigger API adds participants to.
	room bool
	// goesOnWith names the attribute with which an element that ends the
	// flow goes on to next instead: Hangup's schedule, after which Plivo
	// plays what follows until the time is up.
	goesOnWith string
}

const joinDoc = "With `next`, the document ends and `next` is taken when the caller leaves."

// The element behaviors, by what the walk does after the element.
var (
	verbElement   = element{control: goesOn}
	inputElement  = element{control: waits, walkDoc: "The document ends; Plivo posts the input to flowd, or follows flowd's Redirect for `no_input`."}
	dialElement   = element{control: waits, walkDoc: "The document ends; the outcome is Plivo's DialStatus."}
	recordElement = element{control: waits, walkDoc: "The document ends; `next` is taken when the recording is done.", nextLabel: "next (recorded)"}
	joinElement   = element{control: waitsIfNext, walkDoc: joinDoc, nextLabel: "next (exit)"}
	roomElement   = element{control: waitsIfNext, walkDoc: joinDoc, nextLabel: "next (exit)", room: true}
	endElement    = element{control: ends, walkDoc: "No `next`: the flow ends here."}
	hangupElement = element{control: ends, goesOnWith: "schedule", walkDoc: "No `next`: the flow ends here. With `schedule`, the walk goes on to `next`: Plivo plays what follows until the scheduled hang-up."}
)

var inputOutcomes = []string{OutcomeInput, OutcomeNoInput}

// The callbacks of the element kinds the walk waits at, with the
// parameters Plivo documents for each (its XML reference's callback
// tables; for MultiPartyCall's onExitActionUrl, its MultiPartyCall page).
var (
	dialCallbacks = []Callback{{Event: EventAction, Param: "DialStatus", Tests: []string{EventDial},
		Params: []string{"DialRingStatus", "DialHangupCause", "DialStatus", "DialALegUUID", "DialBLegUUID"}}}
	recordCallbacks = []Callback{{Event: EventAction, Tests: []string{EventRecord},
		Params: []string{"RecordUrl", "RecordingID", "RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs"}}}
	conferenceCallbacks = []Callback{{Event: EventExit, Tests: []string{EventLeave},
		Params: []string{"ConferenceName", "ConferenceUUID", "ConferenceMemberID", "RecordUrl", "RecordingID"}}}
	mpcCallbacks = []Callback{{Event: EventExit, Tests: []string{EventLeave},
		Params: []string{"MPCUUID", "MPCFriendlyName", "MemberID", "ParticipantCallUUID", "ParticipantJoinTime", "ParticipantEndTime", "ParticipantRole"}}}
)

// inputCallbacks are the callbacks of GetDigits and GetInput: the action
// URL, which the test events given send with params, and flowd's no-input
// Redirect.
func inputCallbacks(params []string, tests ...string) []Callback {
	return []Callback{
		{Event: EventAction, Outcome: OutcomeInput, Tests: tests, Params: params},
		{Event: EventNoInput, Outcome: OutcomeNoInput, Tests: []string{EventSilence}},
	}
}

// StandardParams are the parameters Plivo sends with every request for a
// call (answer, callbacks, Redirect), besides X-PH-* and SIP-H-* headers.
var StandardParams = []string{
	"CallUUID", "From", "To", "ForwardedFrom", "CallStatus", "Direction", "ALegUUID", "ALegRequestUUID",
	"CallerName", "Event", "RequestUUID", "SessionStart", "ParentAuthID", "BillRate", "STIRVerification",
}

// isStandardParam reports a parameter any request for a call may carry.
func isStandardParam(name string) bool {
	return slices.Contains(StandardParams, name) || strings.HasPrefix(name, "X-PH-") || strings.HasPrefix(name, "SIP-H-")
}

// collectsInput reports the kinds whose element is followed by flowd's
// no-input Redirect: GetDigits and GetInput. What the caller enters there
// is kept out of the call's state and trace when the node says log: false.
func collectsInput(k *Kind) bool { return k.Accepts(EventNoInput) }

func (el element) decode(dc *decoder, nd *NodeDecl, action pair) {
	dc.stray = dc.stray[:0]
	nd.Elem = dc.element(nd.Kind.Element, nd.Kind, action.Key, action.Val)
	for _, p := range dc.stray {
		switch {
		case p.Key.Value == "next" && nd.Next == nil:
			nd.Next = dc.ref(p.Val, "next")
		case p.Key.Value == "on" && nd.On == nil:
			nd.On = dc.on(p.Val, "node "+nd.ID)
		}
	}
}

func (el element) check(c *checker, nd *NodeDecl) {
	if nd.Elem != nil {
		c.element(nd.Elem)
		if n := literalSize(nd.Elem); n > xmlgen.MaxDocument {
			c.d.Errorf(nd.Elem.Pos, CodeValue, "node %s writes %d KB of XML before any template is filled, over the %d KB Plivo takes in a whole document; shorten it, or Play a recording",
				nd.ID, n/1024, xmlgen.MaxDocument/1024)
		}
	}
}

// literalSize is the least an element's XML takes: its names, and the
// literal parts of its attributes and text, before escaping.
func literalSize(e *ElemDecl) int {
	n := 2*len(e.Spec.Name) + 5
	lit := func(s *Str) int {
		if s.Const() {
			return len(s.Value)
		}
		l := 0
		for _, p := range s.Parts {
			l += len(p.Lit)
		}
		return l
	}
	for _, a := range e.Attrs {
		n += len(a.Spec.Name) + 4 + lit(a.Value)
	}
	if e.Text != nil {
		n += lit(e.Text)
	}
	for _, c := range e.Children {
		n += literalSize(c)
	}
	return n
}

func (el element) compile(n *Node, nd *NodeDecl, _ *Graph) error {
	if nd.Elem == nil {
		return nil
	}
	n.Private = nd.private()
	n.goesOn = el.goesOnWith != "" && nd.hasAttr(el.goesOnWith)
	if el.room {
		n.room = nd.Elem.Text
	}
	return prepare(n, nd.Elem, nd.Events)
}

func (el element) step(w *Walker, n *Node) (step, error) {
	if err := w.emit(n); err != nil {
		return step{}, err
	}
	switch {
	case el.control == ends && n.goesOn:
		return nextStep(n), nil
	case el.control == ends:
		return step{end: true}, nil
	case n.Callback():
		if collectsInput(n.Kind) {
			if err := w.doc.Add(noInput, []string{w.URL(w.qualify(n.ID), EventNoInput)}); err != nil {
				return step{}, w.fail(n, err)
			}
		}
		return step{wait: true}, nil
	case el.control == waitsIfNext && len(w.top.Frames) > 0:
		// No next inside a subflow: when the caller leaves the room, the
		// subflow returns ok (emit wrote the callback URL).
		return step{wait: true}, nil
	case el.control == waitsIfNext:
		// No next: the caller stays until the MultiPartyCall or
		// conference ends, then Plivo hangs up.
		return step{end: true}, nil
	}
	return nextStep(n), nil
}

func (el element) schema(k *Kind) obj { return obj{"$ref": "#/$defs/action." + k.Name} }

func (el element) traits() traits {
	style := styleVerb
	if el.control == ends {
		style = styleEnd
	}
	return traits{control: el.control, style: style, nextLabel: el.nextLabel, walkDoc: el.walkDoc, goesOnWith: el.goesOnWith}
}

// attrField adapts an attribute of xmlgen's table of Plivo's dialect to
// the field vocabulary of flowd's own keys, so that decoding, the schema
// and the reference read attributes and flowd's keys alike. Its value may
// be a {{ template }}, checked when the call runs.
func attrField(a *xmlgen.Attr) yamlpos.Field {
	f := yamlpos.Field{
		Name: a.Name, Doc: a.Doc, Default: a.Default, Required: a.Required, Template: true,
		Min: a.Min, Max: a.Max, HasMin: a.HasMin, HasMax: a.HasMax, MaxLen: a.MaxLen,
		Fold: a.Fold, OrURL: a.OrURL, Check: a.Check,
	}
	switch a.Kind {
	case xmlgen.Int:
		f.Type = yamlpos.Int
	case xmlgen.Bool:
		f.Type = yamlpos.Bool
	case xmlgen.URL:
		f.Type = yamlpos.URL
	case xmlgen.Method:
		f.Type = yamlpos.Method
	case xmlgen.Enum:
		f.Type, f.Enum = yamlpos.Enum, a.Values
	case xmlgen.List:
		f.Type, f.Enum = yamlpos.CommaList, a.Values
	default:
		f.Type, f.Examples = yamlpos.String, a.Values
	}
	return f
}

// noInput is flowd's Redirect after GetDigits/GetInput: Plivo follows it
// when the caller gave no input.
var noInput = mustPrepare(&xmlgen.El{Name: "Redirect", Text: ptr(xmlgen.Hole(0))})

// prepare builds the node's element description with holes for templates
// and the callback URL, and lets xmlgen write the constant parts once.
func prepare(n *Node, e *ElemDecl, events []string) error {
	el := toEl(e, &n.fills)
	for _, ev := range events {
		el.Attrs = append(el.Attrs, xmlgen.AttrValue{Name: reportAttr(ev), Value: xmlgen.Hole(len(n.fills))})
		n.fills = append(n.fills, fillFunc{event: ev})
	}
	if n.Callback() {
		// The element's own URL reports its kind's first callback; GetDigits
		// and GetInput's no-input Redirect, the walk adds after it.
		el.Attrs = append(el.Attrs, xmlgen.AttrValue{Name: n.Kind.URLAttr, Value: xmlgen.Hole(len(n.fills))})
		n.fills = append(n.fills, fillFunc{event: n.Kind.Callbacks[0].Event})
	}
	t, err := xmlgen.Prepare(el)
	if err != nil {
		return err
	}
	n.tmpl, n.el = t, el
	if n.Kind.traits.control == waitsIfNext && n.Next == nil {
		sub := *el
		sub.Attrs = append(slices.Clip(el.Attrs), xmlgen.AttrValue{Name: n.Kind.URLAttr, Value: xmlgen.Hole(len(n.fills))})
		if n.subTmpl, err = xmlgen.Prepare(&sub); err != nil {
			return err
		}
	}
	return nil
}

func toEl(e *ElemDecl, fills *[]fillFunc) *xmlgen.El {
	el := &xmlgen.El{Name: e.Spec.Name}
	for _, a := range e.Attrs {
		el.Attrs = append(el.Attrs, xmlgen.AttrValue{Name: a.Spec.Name, Value: strValue(a.Value, fills)})
	}
	if e.Text != nil {
		v := strValue(e.Text, fills)
		el.Text = &v
	}
	for _, c := range e.Children {
		el.Children = append(el.Children, toEl(c, fills))
	}
	return el
}

func strValue(s *Str, fills *[]fillFunc) xmlgen.Value {
	if s.Const() {
		return xmlgen.Const(s.Value)
	}
	*fills = append(*fills, fillFunc{parts: s.Parts})
	return xmlgen.Hole(len(*fills) - 1)
}

// emit appends the node's element, filling its holes.
func (w *Walker) emit(n *Node) error {
	w.vals = w.vals[:0]
	for i := range n.fills {
		f := &n.fills[i]
		if f.parts == nil {
			w.vals = append(w.vals, w.URL(w.qualify(n.ID), f.event))
			continue
		}
		s, err := w.template(f.parts)
		if err != nil {
			return w.fail(n, err)
		}
		w.vals = append(w.vals, s)
	}
	tmpl := n.tmpl
	if n.subTmpl != nil && len(w.top.Frames) > 0 {
		tmpl = n.subTmpl
		w.vals = append(w.vals, w.URL(w.qualify(n.ID), n.Kind.Callbacks[0].Event))
	}
	if err := w.doc.Add(tmpl, w.vals); err != nil {
		return w.fail(n, err)
	}
	if n.room != nil {
		name := n.room.Value
		if !n.room.Const() {
			s, err := w.template(n.room.Parts)
			if err != nil {
				return w.fail(n, err)
			}
			name = s
		}
		w.rooms = append(w.rooms, Room{Node: w.qualify(n.ID), Name: name})
	}
	return nil
}
