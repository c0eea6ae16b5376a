package xmlgen

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/internal/testenv"
)

// The oracle: Plivo's official Node SDK (tools/sdk, installed by
// `npm ci --prefix tools/sdk`) builds the same documents as flowd, and the
// two are compared as parsed XML trees. Every difference the SDK is known
// to have is handled below by name, scoped to its element and attribute.

// oracleEl is an element as testdata/oracle.js reads it.
type oracleEl struct {
	Name     string       `json:"name"`
	Attrs    []oracleAttr `json:"attrs,omitempty"`
	Text     *string      `json:"text,omitempty"`
	Children []*oracleEl  `json:"children,omitempty"`
}

type oracleAttr struct {
	Name  string `json:"name"`
	Value any    `json:"value"` // string, int64 or bool, as a Node user passes it
}

type oracleResult struct {
	XML   string `json:"xml"`
	Error string `json:"error"`
}

// expectation says how a case's two outputs relate.
type expectation uint8

const (
	bothAccept    expectation = iota // compared as trees
	bothReject                       // flowd's Prepare and the SDK both refuse
	onlySDKAccept                    // SDK-only attribute or nesting flowd leaves out, or a documented rule the SDK does not check (not comparable)
	onlySDKReject                    // documented attribute or nesting the SDK lacks (not comparable)
)

type oracleCase struct {
	name   string
	el     *El // flowd's element, constants only
	doc    []*oracleEl
	expect expectation
	why    string // for the not-comparable and rejecting cases: which defect or choice
}

// Attributes flowd writes from Plivo's documentation that the Node SDK
// 4.79.0 refuses ("Not a valid attribute"). Not comparable; the test checks
// that the SDK still refuses them, so this list cannot go stale.
var sdkLacksAttr = map[string]map[string]string{
	"MultiPartyCall": {
		"waitForAgent":     "documented on the MultiPartyCall XML page only (plivo-xml.md 5 #16)",
		"recordCoachVoice": "documented on the MultiPartyCall XML page only (plivo-xml.md 5 #16)",
	},
	"User": {
		"sipAuthUsername": "documented on the voice-agents page only (plivo-xml.md 5 #16)",
		"sipAuthPassword": "documented on the voice-agents page only (plivo-xml.md 5 #16)",
	},
}

// Nestings flowd allows that the Node SDK refuses.
var sdkLacksChild = map[[2]string]string{
	{"p", "phoneme"}: "Ruby/PHP SDKs and Polly allow phoneme in p; Node's P nestables omit it (elements.go Choice)",
}

// Attributes the Node SDK accepts that flowd leaves out of its table. The
// test checks that flowd refuses them and the SDK accepts them.
var sdkOnlyAttr = []struct {
	elem, attr string
	value      any
	why        string
}{
	{"Wait", "min_silence", int64(2000), "Node accepts min_silence as an alias of minSilence (plivo-xml.md 5 #7)"},
	{"DTMF", "digits", "123", "Node lists digits as an attribute; Plivo documents the digits as text"},
	{"Conference", "beep", true, "legacy attribute of Node/Ruby/PHP, not documented (plivo-xml.md 5 #15)"},
	{"Conference", "recordWhenAlone", true, "SDK-only, undocumented (plivo-xml.md 5 #15)"},
	{"Number", "sendDigitsMode", "inband", "Node/Python/PHP only, values undocumented (plivo-xml.md 2.9)"},
}

// MultiPartyCall: Node's addMultiPartyCall replaces every falsy value by
// its default (plivo-xml.md 5 #1), so these booleans given as false come
// out true. For MultiPartyCall only these attributes, only when flowd wrote
// "false", are not compared; the test checks the SDK still writes "true".
var mpcForcedTrue = map[string]bool{"coachMode": true, "startMpcOnEnter": true}

// MultiPartyCall: Node also writes every defaulted attribute flowd left
// out (plivo-xml.md 5 #1). Only the attributes flowd wrote are compared;
// each extra one the SDK writes must be flowd's table default, except
// these, where the table chose another default.
var mpcDefaultDiffers = map[string]string{
	"recordingCallbackMethod": "Node/Ruby default GET, Python/Java and the Add Participant API POST; flowd's table says POST (plivo-xml.md 5 #5)",
}

// jsValue turns a string flowd writes into the JS value a Node user passes
// for attribute a: numbers for integers, booleans for booleans (Node's
// MultiPartyCall refuses "true" as a string, plivo-xml.md 5 #2).
func jsValue(a *Attr, v string) any {
	if a != nil {
		switch a.Kind {
		case Int:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		case Bool:
			if v == "true" || v == "false" {
				return v == "true"
			}
		}
	}
	return v
}

// toOracle converts a constants-only El.
func toOracle(e *El) *oracleEl {
	spec := Lookup(e.Name)
	o := &oracleEl{Name: e.Name}
	for _, a := range e.Attrs {
		var sa *Attr
		if spec != nil {
			sa = spec.Attr(a.Name)
		}
		o.Attrs = append(o.Attrs, oracleAttr{Name: a.Name, Value: jsValue(sa, a.Value.Const)})
	}
	if e.Text != nil {
		s := e.Text.Const
		o.Text = &s
	}
	for _, c := range e.Children {
		o.Children = append(o.Children, toOracle(c))
	}
	return o
}

// holify turns every constant of e into a hole, so flowd's side goes
// through Append like a run-time value.
func holify(e *El, vals *[]string) *El {
	h := func(v Value) Value {
		*vals = append(*vals, v.Const)
		return Hole(len(*vals) - 1)
	}
	out := &El{Name: e.Name}
	for _, a := range e.Attrs {
		out.Attrs = append(out.Attrs, AttrValue{Name: a.Name, Value: h(a.Value)})
	}
	if e.Text != nil {
		v := h(*e.Text)
		out.Text = &v
	}
	for _, c := range e.Children {
		out.Children = append(out.Children, holify(c, vals))
	}
	return out
}

// withAttr returns a copy of the minimal element of e with attribute name
// set to v (replacing a required one), the other attributes mended to keep
// e's rules, wrapped in its parent.
func withAttr(e *Element, name, v string) *El {
	el := minimalEl(e)
	el.Attrs = slices.DeleteFunc(el.Attrs, func(x AttrValue) bool { return x.Name == name })
	el.Attrs = append(el.Attrs, av(name, Const(v)))
	keepRules(e, el, name, nil)
	return wrap(el)
}

// comparable reports whether the SDK is expected to take attribute a of e.
func comparableAttr(e, a string) bool { _, lacks := sdkLacksAttr[e][a]; return !lacks }

// oracleCases generates the cases from the table.
func oracleCases() []oracleCase {
	var cases []oracleCase
	addEl := func(name string, el *El, expect expectation, why string) {
		cases = append(cases, oracleCase{name: name, el: el, doc: []*oracleEl{toOracle(el)}, expect: expect, why: why})
	}
	escText := "Tom & Jerry <b>bold</b> > é ü 你好 😀 tab\there 'apos'"
	escAttr := "A&B <x> é\t'y'"
	for _, e := range Elements() {
		if e.Name == "Response" {
			continue
		}
		// The smallest element, and one with every attribute the SDK takes.
		addEl(e.Name+" minimal", wrap(minimalEl(e)), bothAccept, "")
		full, _ := fullEl(e, false)
		full.Attrs = slices.DeleteFunc(full.Attrs, func(a AttrValue) bool { return !comparableAttr(e.Name, a.Name) })
		addEl(e.Name+" all attributes", wrap(full), bothAccept, "")

		// Every attribute with every sample value: both ends of Int
		// ranges, every Enum/List value, both booleans and methods.
		for i := range e.Attrs {
			a := &e.Attrs[i]
			expect, why := bothAccept, ""
			if !comparableAttr(e.Name, a.Name) {
				expect, why = onlySDKReject, sdkLacksAttr[e.Name][a.Name]
			}
			for _, v := range sampleValues(e, a) {
				addEl(fmt.Sprintf("%s %s=%q", e.Name, a.Name, v), withAttr(e, a.Name, v), expect, why)
			}
			// Escaping in free-text attributes (no quotes: see below).
			if a.Kind == String && a.Validate(escAttr) == "" && expect == bothAccept {
				addEl(fmt.Sprintf("%s %s escaped", e.Name, a.Name), withAttr(e, a.Name, escAttr), bothAccept, "")
			}
		}
		// Text with characters to escape, where the element takes it.
		if e.Text != NoText && e.ValidateText(escText) == "" {
			el := minimalEl(e)
			el.Text = cv(escText)
			addEl(e.Name+" escaped text", wrap(el), bothAccept, "")
		}
		// Every allowed child.
		for _, c := range e.Children {
			parent := minimalEl(e)
			if e.ChildrenNeed != "" {
				parent.Attrs = append(parent.Attrs, av(e.ChildrenNeed, Const(sampleChildrenValue(e))))
			}
			parent.Children = []*El{minimalEl(Lookup(c))}
			expect, why := bothAccept, ""
			if w, ok := sdkLacksChild[[2]string{e.Name, c}]; ok {
				expect, why = onlySDKReject, w
			}
			addEl(e.Name+" > "+c, wrap(parent), expect, why)
		}
		// An attribute neither knows.
		addEl(e.Name+" unknown attribute", withAttr(e, "bogusAttr", "1"), bothReject, "no such attribute")
	}

	// Mixed SSML: text then elements, nested.
	addEl("Speak SSML mixed", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Joanna")), av("language", Const("en-US"))}, Text: cv("Hello "), Children: []*El{
		{Name: "break", Attrs: []AttrValue{av("strength", Const("strong")), av("time", Const("1s"))}},
		{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Const("date")), av("format", Const("ymd"))}, Text: cv("2024-01-02")},
		{Name: "prosody", Attrs: []AttrValue{av("rate", Const("slow"))}, Text: cv("slowly "), Children: []*El{
			{Name: "emphasis", Attrs: []AttrValue{av("level", Const("strong"))}, Text: cv("now")},
		}},
	}}, bothAccept, "")
	// A GetDigits with every prompt, and a Dial with both destinations.
	addEl("GetDigits prompts", &El{Name: "GetDigits", Attrs: []AttrValue{av("action", Const("https://x.example/d?a=1&b=2")), av("numDigits", Const("4"))}, Children: []*El{
		minimalEl(Lookup("Speak")), minimalEl(Lookup("Play")), {Name: "Wait", Attrs: []AttrValue{av("length", Const("3"))}},
	}}, bothAccept, "")
	addEl("Dial both", &El{Name: "Dial", Attrs: []AttrValue{av("callerId", Const("+14155550100"))}, Children: []*El{
		minimalEl(Lookup("Number")), minimalEl(Lookup("User")), {Name: "Number", Attrs: []AttrValue{av("sendDigits", Const("1w2"))}, Text: cv("+442079460000")},
	}}, bothAccept, "")

	// Values both refuse. Node validates only MultiPartyCall values and
	// the Speak voice.
	mpc := Lookup("MultiPartyCall")
	for _, c := range []struct{ attr, v string }{
		{"maxDuration", "299"}, {"maxDuration", "28801"}, {"maxParticipants", "1"}, {"maxParticipants", "11"},
		{"recordMinMemberCount", "3"}, // not 0: Node turns the falsy 0 into the default (plivo-xml.md 5 #1)
		{"role", "Manager"}, {"enterSound", "ding"}, {"exitSound", "ding"}, {"recordFileFormat", "ogg"},
		{"statusCallbackEvents", "bogus-events"}, {"waitMusicMethod", "PUT"}, {"statusCallbackMethod", "DELETE"},
	} {
		addEl(fmt.Sprintf("MultiPartyCall %s=%q", c.attr, c.v), withAttr(mpc, c.attr, c.v), bothReject, "invalid value")
	}
	// Node's voice check crashes with a TypeError instead of its validation
	// error (plivo-xml.md 5 #8); a throw is a refusal all the same.
	addEl(`Speak voice="Robot"`, withAttr(Lookup("Speak"), "voice", "Robot"), bothReject, "invalid voice (the SDK crashes)")
	// Node's JSDoc spells Dial callerID; its validator, like flowd, takes
	// only callerId (plivo-xml.md 5 #6).
	addEl("Dial callerID", withAttr(Lookup("Dial"), "callerID", "+14155550100"), bothReject, "callerID is not callerId")
	addEl("GetDigits > Dial", &El{Name: "GetDigits", Children: []*El{wrap(minimalEl(Lookup("Number")))}}, bothReject, "bad nesting")
	addEl("Speak > Speak", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Amy")), av("language", Const("en-GB"))}, Children: []*El{minimalEl(Lookup("Speak"))}}, bothReject, "bad nesting")

	// Rules between attributes (elements.go Rules, Record's finishOnKey):
	// documented by Plivo, not checked by Node, so flowd refuses and the
	// SDK writes them. Beside each, a combination both accept.
	stream := func(attrs ...AttrValue) *El {
		return &El{Name: "Stream", Attrs: attrs, Text: cv("wss://example.com/audio")}
	}
	wait := func(attrs ...AttrValue) *El { return &El{Name: "Wait", Attrs: attrs} }
	for _, c := range []struct {
		name   string
		el     *El
		expect expectation
	}{
		{"Stream bidirectional audioTrack=both", stream(av("bidirectional", Const("true")), av("audioTrack", Const("both"))), onlySDKAccept},
		{"Stream bidirectional audioTrack=outbound", stream(av("bidirectional", Const("true")), av("audioTrack", Const("outbound"))), onlySDKAccept},
		{"Stream bidirectional audioTrack=inbound", stream(av("bidirectional", Const("true")), av("audioTrack", Const("inbound"))), bothAccept},
		{"Stream one-way audioTrack=both", stream(av("bidirectional", Const("false")), av("audioTrack", Const("both"))), bothAccept},
		{"Wait minSilence=length", wait(av("length", Const("2")), av("silence", Const("true")), av("minSilence", Const("2000"))), onlySDKAccept},
		{"Wait minSilence over the default length", wait(av("silence", Const("true")), av("minSilence", Const("1500"))), onlySDKAccept},
		{"Wait minSilence below length", wait(av("length", Const("3")), av("silence", Const("true")), av("minSilence", Const("2999"))), bothAccept},
		{"Wait beep with silence", wait(av("length", Const("10")), av("silence", Const("true")), av("beep", Const("true"))), onlySDKAccept},
		{"Wait beep with minSilence", wait(av("length", Const("10")), av("minSilence", Const("500")), av("beep", Const("true"))), onlySDKAccept},
		{"Wait beep alone", wait(av("length", Const("10")), av("silence", Const("false")), av("beep", Const("true"))), bothAccept},
		{"prosody without attributes", wrap(&El{Name: "prosody", Text: cv("hi")}), onlySDKAccept},
		{"say-as format with digits", wrap(&El{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Const("digits")), av("format", Const("ymd"))}, Text: cv("20240102")}), onlySDKAccept},
		{"Record finishOnKey empty", &El{Name: "Record", Attrs: []AttrValue{av("finishOnKey", Const(""))}}, onlySDKAccept},
		{"GetDigits finishOnKey empty", &El{Name: "GetDigits", Attrs: []AttrValue{av("finishOnKey", Const(""))}}, bothAccept},
	} {
		addEl(c.name, c.el, c.expect, "a rule Plivo documents and the Node SDK does not check (elements.go Choice)")
	}

	// Speak's voices and languages (plivo-xml.md 2.2): the Node SDK checks
	// only the shape WOMAN, MAN or Polly.X (the Go and Java SDKs check the
	// table); GetInput's DTMF-only and speech-only attributes (2.7).
	speak := func(attrs ...AttrValue) *El { return &El{Name: "Speak", Attrs: attrs, Text: cv("Hej")} }
	getInput := func(attrs ...AttrValue) *El { return &El{Name: "GetInput", Attrs: attrs} }
	for _, c := range []struct {
		name   string
		el     *El
		expect expectation
	}{
		{"Speak MAN da-DK", speak(av("voice", Const("MAN")), av("language", Const("da-DK"))), onlySDKAccept},
		{"Speak WOMAN da-DK", speak(av("voice", Const("WOMAN")), av("language", Const("da-DK"))), bothAccept},
		{"Speak pt-PT without voice", speak(av("language", Const("pt-PT"))), onlySDKAccept},
		{"Speak MAN pt-PT", speak(av("voice", Const("MAN")), av("language", Const("pt-PT"))), bothAccept},
		{"Speak MAN arb", speak(av("voice", Const("MAN")), av("language", Const("arb"))), onlySDKAccept},
		{"Speak Polly.Zeina arb", speak(av("voice", Const("Polly.Zeina")), av("language", Const("arb"))), bothAccept},
		{"Speak Polly.Naja en-US", speak(av("voice", Const("Polly.Naja")), av("language", Const("en-US"))), onlySDKAccept},
		{"Speak Polly.Naja da-DK", speak(av("voice", Const("Polly.Naja")), av("language", Const("da-DK"))), bothAccept},
		{"Speak Polly.Foo", speak(av("voice", Const("Polly.Foo"))), onlySDKAccept},
		{"Speak language xx-YY", speak(av("language", Const("xx-YY"))), onlySDKAccept},
		{"Speak language en-us", speak(av("language", Const("en-us"))), onlySDKAccept},
		{"GetInput speech numDigits", getInput(av("inputType", Const("speech")), av("numDigits", Const("4"))), onlySDKAccept},
		{"GetInput dtmf numDigits", getInput(av("inputType", Const("dtmf")), av("numDigits", Const("4"))), bothAccept},
		{"GetInput dtmf speechEndTimeout", getInput(av("inputType", Const("dtmf")), av("speechEndTimeout", Const("3"))), onlySDKAccept},
		{"GetInput speech speechEndTimeout", getInput(av("inputType", Const("speech")), av("speechEndTimeout", Const("3"))), bothAccept},
	} {
		addEl(c.name, c.el, c.expect, "a rule of plivo-xml.md the Node SDK does not check (elements.go Choice)")
	}

	// SDK-only attributes: flowd refuses, the SDK takes.
	for _, s := range sdkOnlyAttr {
		el := minimalEl(Lookup(s.elem))
		o := toOracle(el)
		o.Attrs = append(o.Attrs, oracleAttr{Name: s.attr, Value: s.value})
		flowdEl := minimalEl(Lookup(s.elem))
		flowdEl.Attrs = append(flowdEl.Attrs, av(s.attr, Const(fmt.Sprint(s.value))))
		top := wrap(flowdEl)
		doc := toOracle(top)
		if top != flowdEl {
			doc.Children = []*oracleEl{o}
		} else {
			doc = o
		}
		cases = append(cases, oracleCase{name: s.elem + " " + s.attr + " (SDK only)", el: top, doc: []*oracleEl{doc}, expect: onlySDKAccept, why: s.why})
	}
	return cases
}

// sampleChildrenValue returns a value of e.ChildrenNeed that allows children.
func sampleChildrenValue(e *Element) string {
	for _, v := range namedSamples[e.ChildrenNeed] {
		if e.ChildrenWhen(v) {
			return v
		}
	}
	panic("no value of " + e.ChildrenNeed + " allows children of " + e.Name)
}

// xnode is a parsed element: name, attributes, and content in order
// (adjacent text merged).
type xnode struct {
	name  string
	attrs map[string]string
	kids  []any // string or *xnode
}

func xname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func parseTree(s string) (*xnode, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: xname(x.Name), attrs: map[string]string{}}
			for _, a := range x.Attr {
				n.attrs[xname(a.Name)] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				return nil, fmt.Errorf("text outside the root")
			}
			p := stack[len(stack)-1]
			if k := len(p.kids); k > 0 {
				if s, ok := p.kids[k-1].(string); ok {
					p.kids[k-1] = s + string(x)
					continue
				}
			}
			p.kids = append(p.kids, string(x))
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	return root, nil
}

// dump writes the tree canonically: attributes sorted, one node a line.
func (n *xnode) dump(w *strings.Builder, indent string) {
	names := make([]string, 0, len(n.attrs))
	for k := range n.attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%s<%s", indent, n.name)
	for _, k := range names {
		fmt.Fprintf(w, " %s=%q", k, n.attrs[k])
	}
	w.WriteString(">\n")
	for _, k := range n.kids {
		switch x := k.(type) {
		case string:
			fmt.Fprintf(w, "%s  text %q\n", indent, x)
		case *xnode:
			x.dump(w, indent+"  ")
		}
	}
}

func (n *xnode) String() string {
	var b strings.Builder
	n.dump(&b, "")
	return b.String()
}

// walkPairs calls f on each pair of elements at the same place in a and b
// while their shapes agree.
func walkPairs(a, b *xnode, f func(a, b *xnode)) {
	f(a, b)
	if len(a.kids) != len(b.kids) {
		return
	}
	for i := range a.kids {
		x, ok1 := a.kids[i].(*xnode)
		y, ok2 := b.kids[i].(*xnode)
		if ok1 && ok2 && x.name == y.name {
			walkPairs(x, y, f)
		}
	}
}

// applySDKDefects removes from the SDK's tree (and flowd's) exactly what
// the known MultiPartyCall defect makes incomparable, after checking that
// the defect is still there. It returns problems found.
func applySDKDefects(flowd, sdk *xnode) []string {
	var problems []string
	walkPairs(flowd, sdk, func(f, s *xnode) {
		if f.name != "MultiPartyCall" || s.name != "MultiPartyCall" {
			return
		}
		mpc := Lookup("MultiPartyCall")
		// plivo-xml.md 5 #1: falsy booleans forced to true.
		for name := range mpcForcedTrue {
			if f.attrs[name] == "false" {
				if s.attrs[name] != "true" {
					problems = append(problems, fmt.Sprintf("MultiPartyCall %s=false: the SDK wrote %q; if Node fixed the falsy-default defect, drop %s from mpcForcedTrue", name, s.attrs[name], name))
				}
				delete(f.attrs, name)
				delete(s.attrs, name)
			}
		}
		// plivo-xml.md 5 #1: every defaulted attribute written; each must
		// be flowd's default.
		for name, v := range s.attrs {
			if _, ok := f.attrs[name]; ok {
				continue
			}
			a := mpc.Attr(name)
			switch {
			case a == nil:
				problems = append(problems, fmt.Sprintf("MultiPartyCall: the SDK wrote %s=%q, not in flowd's table", name, v))
			case mpcDefaultDiffers[name] != "":
				if a.Default == v {
					problems = append(problems, fmt.Sprintf("MultiPartyCall %s: the SDK default %q now matches the table; drop it from mpcDefaultDiffers", name, v))
				}
			case a.Default != v:
				problems = append(problems, fmt.Sprintf("MultiPartyCall %s: the SDK's default %q differs from the table's %q", name, v, a.Default))
			}
			delete(s.attrs, name)
		}
	})
	return problems
}

// noQuotes fails on a double quote in any value: Node's toXML() turns
// every &quot; back into " (plivo-xml.md 5 #9), so such a value would make
// the SDK's document unparseable. Quotes are covered by TestEscaping and
// FuzzValues instead.
func noQuotes(t *testing.T, c *oracleCase, els []*oracleEl) {
	for _, e := range els {
		for _, a := range e.Attrs {
			if s, ok := a.Value.(string); ok && strings.Contains(s, `"`) {
				t.Fatalf("%s: attribute %s holds a double quote, which Node's toXML() breaks", c.name, a.Name)
			}
		}
		noQuotes(t, c, e.Children)
	}
}

// TestOracleNodeSDK builds every case with flowd (Prepare and Append,
// through a Document) and with Plivo's Node SDK in one node process, and
// compares the parsed trees.
func TestOracleNodeSDK(t *testing.T) {
	node := testenv.LookPath(t, "node", "Debian: apt-get install nodejs npm")
	sdk := filepath.Join(testenv.NodeModules(t, "tools/sdk"), "plivo")

	cases := oracleCases()
	docs := make([][]*oracleEl, len(cases))
	for i := range cases {
		noQuotes(t, &cases[i], cases[i].doc)
		docs[i] = cases[i].doc
	}
	in, err := json.Marshal(docs)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "oracle.js"), sdk, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/oracle.js: %v\n%s", err, stderr.Bytes())
	}
	var results []oracleResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("node testdata/oracle.js: %v\n%s", err, out)
	}
	if len(results) != len(cases) {
		t.Fatalf("node built %d cases, want %d", len(results), len(cases))
	}

	counts := map[expectation]int{}
	attrsSeen := map[[2]string]bool{}
	for i, c := range cases {
		r := results[i]
		flowdXML, ferr := flowdDocument(c.el)
		switch c.expect {
		case bothReject:
			if ferr == nil {
				t.Errorf("%s: flowd accepts what it must refuse (%s):\n%s", c.name, c.why, flowdXML)
			}
			if r.Error == "" {
				t.Errorf("%s: the SDK accepts what it should refuse (%s):\n%s", c.name, c.why, r.XML)
			}
			counts[c.expect]++
			continue
		case onlySDKAccept:
			if ferr == nil {
				t.Errorf("%s: flowd accepts what only the SDK should (%s)", c.name, c.why)
			}
			if r.Error != "" {
				t.Errorf("%s: the SDK no longer accepts it (%s): %s", c.name, c.why, r.Error)
			}
			counts[c.expect]++
			continue
		case onlySDKReject:
			if ferr != nil {
				t.Errorf("%s: flowd refuses: %v", c.name, ferr)
			}
			if r.Error == "" {
				t.Errorf("%s: the SDK now accepts it; compare it (drop it from the not-comparable lists): %s", c.name, r.XML)
			}
			counts[c.expect]++
			continue
		}
		if ferr != nil {
			t.Errorf("%s: flowd: %v", c.name, ferr)
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: the SDK refuses what flowd writes: %s\nflowd: %s", c.name, r.Error, flowdXML)
			continue
		}
		ft, err := parseTree(string(flowdXML))
		if err != nil {
			t.Errorf("%s: flowd's document does not parse: %v\n%s", c.name, err, flowdXML)
			continue
		}
		st, err := parseTree(r.XML)
		if err != nil {
			t.Errorf("%s: the SDK's document does not parse: %v\n%s", c.name, err, r.XML)
			continue
		}
		for _, p := range applySDKDefects(ft, st) {
			t.Errorf("%s: %s", c.name, p)
		}
		if fs, ss := ft.String(), st.String(); fs != ss {
			t.Errorf("%s: flowd and the SDK differ\nflowd:\n%s\nSDK:\n%s\nflowd XML: %s\nSDK XML:   %s", c.name, fs, ss, flowdXML, r.XML)
			continue
		}
		counts[bothAccept]++
		walkPairs(ft, ft, func(n, _ *xnode) {
			for a := range n.attrs {
				attrsSeen[[2]string{n.name, a}] = true
			}
		})
	}
	// Every attribute of the table was compared at least once, except the
	// ones the SDK lacks.
	for _, e := range Elements() {
		for _, a := range e.Attrs {
			name := a.Name
			if strings.HasPrefix(name, "xml:") {
				name = "http://www.w3.org/XML/1998/namespace:" + strings.TrimPrefix(name, "xml:")
			}
			if !attrsSeen[[2]string{e.Name, name}] && comparableAttr(e.Name, a.Name) {
				t.Errorf("%s %s was never compared", e.Name, a.Name)
			}
		}
	}
	t.Logf("compared %d cases as trees; %d refused by both; not comparable: %d SDK-only, %d flowd-only (of %d cases)",
		counts[bothAccept], counts[bothReject], counts[onlySDKAccept], counts[onlySDKReject], len(cases))
}

// flowdDocument writes el as a one-element document the way flowd does at
// run time: every value a hole filled by Append. The constants-only
// template must write the same bytes.
func flowdDocument(el *El) ([]byte, error) {
	var vals []string
	holed := holify(el, &vals)
	th, err := Prepare(holed)
	if err != nil {
		return nil, err
	}
	tc, err := Prepare(el)
	if err != nil {
		return nil, fmt.Errorf("the holes template prepares, the constants one does not: %w", err)
	}
	var d, dc Document
	if err := d.Add(th, vals); err != nil {
		return nil, err
	}
	if err := dc.Add(tc, nil); err != nil {
		return nil, err
	}
	b, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	bc, _ := dc.Bytes()
	if !bytes.Equal(b, bc) {
		return nil, fmt.Errorf("holes and constants differ:\n%s\n%s", b, bc)
	}
	return b, nil
}
