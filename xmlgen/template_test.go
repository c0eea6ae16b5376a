package xmlgen

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// etreeBytes builds e with etree from scratch and writes it the way
// Prepare writes constants.
func etreeBytes(t testing.TB, e *El, vals []string) []byte {
	t.Helper()
	root, err := Build(e, vals)
	if err != nil {
		t.Fatalf("Build(%s): %v", e.Name, err)
	}
	var buf bytes.Buffer
	root.WriteTo(&buf, &writeSettings)
	return buf.Bytes()
}

func cv(s string) *Value { v := Const(s); return &v }
func hv(i int) *Value    { v := Hole(i); return &v }

func av(name string, v Value) AttrValue { return AttrValue{Name: name, Value: v} }

type templateCase struct {
	name string
	el   *El
	vals []string
}

// templateCases are hand-written elements mixing constants and holes.
func templateCases() []templateCase {
	return []templateCase{
		{"hangup", &El{Name: "Hangup"}, nil},
		{"speak const", &El{Name: "Speak", Text: cv("Hello & welcome <b>")}, nil},
		{"speak hole", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("MAN")), av("loop", Hole(0))}, Text: hv(1)}, []string{"3", `Say "hi" & <bye>`}},
		{"speak polly ssml", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Hole(0)), av("language", Const("en-US"))}, Text: cv("Hi "), Children: []*El{
			{Name: "break", Attrs: []AttrValue{av("time", Hole(1))}},
			{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Const("digits"))}, Text: hv(2)},
			{Name: "lang", Attrs: []AttrValue{av("xml:lang", Const("fr-FR"))}, Text: cv("bonjour")},
			{Name: "prosody", Attrs: []AttrValue{av("rate", Const("80%")), av("pitch", Hole(3))}, Children: []*El{
				{Name: "emphasis", Attrs: []AttrValue{av("level", Const("strong"))}, Text: hv(4)},
			}},
		}}, []string{"Polly.Joanna", "250ms", "4155550100", "+5%", "très bien"}},
		{"getdigits", &El{Name: "GetDigits", Attrs: []AttrValue{
			av("action", Hole(0)), av("method", Const("POST")), av("numDigits", Const("1")), av("redirect", Const("true")),
			av("validDigits", Hole(1)), av("timeout", Const("7")),
		}, Children: []*El{
			{Name: "Speak", Text: hv(2)},
			{Name: "Play", Attrs: []AttrValue{av("loop", Const("2"))}, Text: cv("https://x.example/a.mp3")},
			{Name: "Wait", Attrs: []AttrValue{av("length", Hole(3))}},
		}}, []string{"https://x.example/y?a=1&b=2", "129", "Press 1 & \"quote\" <tag>", "2"}},
		{"dial", &El{Name: "Dial", Attrs: []AttrValue{av("callerId", Hole(0)), av("timeout", Const("20")), av("action", Hole(1)), av("confirmKey", Const("5"))}, Children: []*El{
			{Name: "Number", Attrs: []AttrValue{av("sendDigits", Const("ww123")), av("sendOnPreanswer", Const("true"))}, Text: hv(2)},
			{Name: "User", Attrs: []AttrValue{av("sipHeaders", Const("a=1,b=2"))}, Text: cv("sip:alice@phone.plivo.com")},
		}}, []string{"+14155550100", "https://x.example/dial", "14155550100"}},
		{"mpc", &El{Name: "MultiPartyCall", Attrs: []AttrValue{
			av("role", Const("customer")), av("maxDuration", Hole(0)), av("statusCallbackEvents", Hole(1)), av("enterSound", Hole(2)),
			av("onExitActionUrl", Hole(3)), av("coachMode", Const("false")), av("waitForAgent", Const("true")),
		}, Text: hv(4)}, []string{"28800", "mpc-state-changes,participant-speak-events", "https://x.example/enter.xml", "https://x.example/exit?c=1&d=2", "queue-42"}},
		{"stream", &El{Name: "Stream", Attrs: []AttrValue{av("bidirectional", Const("true")), av("contentType", Hole(0)), av("extraHeaders", Const("a=1"))}, Text: hv(1)},
			[]string{"audio/x-mulaw;rate=8000", "wss://x.example/ws?a=1&b=2"}},
		{"conference empty enterSound", &El{Name: "Conference", Attrs: []AttrValue{av("enterSound", Hole(0)), av("maxMembers", Const("20"))}, Text: cv("room")}, []string{""}},
		{"message", &El{Name: "Message", Attrs: []AttrValue{av("src", Hole(0)), av("dst", Hole(1))}, Text: hv(2)},
			[]string{"14155550100", "14155550101<14155550102", "a\tb\nc\rd"}},
		{"empty optional text hole", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Amy")), av("language", Const("en-GB"))}, Children: []*El{
			{Name: "emphasis", Text: hv(0)}, {Name: "s", Text: hv(1)}, {Name: "p", Text: hv(2), Children: []*El{{Name: "break"}}},
		}}, []string{"", "x", ""}},
		{"hole reused", &El{Name: "Speak", Attrs: []AttrValue{av("language", Hole(0))}, Text: hv(0)}, []string{"en-GB"}},
		{"redirect", &El{Name: "Redirect", Attrs: []AttrValue{av("method", Const("GET"))}, Text: hv(0)}, []string{"https://x.example/r?a=1&b=2"}},
		{"preanswer", &El{Name: "PreAnswer", Children: []*El{{Name: "Speak", Text: hv(0)}, {Name: "Wait", Attrs: []AttrValue{av("beep", Const("true"))}}}}, []string{"early"}},
	}
}

// Prepare+Append writes exactly what etree writes building the same element
// from scratch, for hand-written cases and for every element of the table
// with all its attributes, as constants and as holes.
func TestPrepareMatchesBuild(t *testing.T) {
	cases := templateCases()
	for _, e := range Elements() {
		if e.Name == "Response" {
			continue
		}
		el, vals := fullEl(e, true)
		cases = append(cases, templateCase{"full holes " + e.Name, el, vals})
		el, _ = fullEl(e, false)
		cases = append(cases, templateCase{"full consts " + e.Name, el, nil})
		cases = append(cases, templateCase{"minimal " + e.Name, minimalEl(e), nil})
		for i := range e.Attrs {
			a := &e.Attrs[i]
			for _, v := range sampleValues(e, a) {
				el := minimalEl(e)
				el.Attrs = slices.DeleteFunc(el.Attrs, func(x AttrValue) bool { return x.Name == a.Name })
				el.Attrs = append(el.Attrs, av(a.Name, Hole(0)))
				keepRules(e, el, a.Name, []string{v})
				cases = append(cases, templateCase{e.Name + " " + a.Name + "=" + v, wrap(el), []string{v}})
			}
		}
	}
	for _, c := range cases {
		tm, err := Prepare(c.el)
		if err != nil {
			t.Errorf("%s: Prepare: %v", c.name, err)
			continue
		}
		if tm.Holes() > len(c.vals) {
			t.Errorf("%s: Holes() = %d, have %d values", c.name, tm.Holes(), len(c.vals))
			continue
		}
		prefix := []byte("<Response>")
		got, err := tm.Append(prefix, c.vals)
		if err != nil {
			t.Errorf("%s: Append: %v", c.name, err)
			continue
		}
		want := append([]byte("<Response>"), etreeBytes(t, c.el, c.vals)...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\nAppend: %s\netree:  %s", c.name, got, want)
		}
		// Twice in a row on the same buffer: nothing of the first call leaks.
		again, err := tm.Append(got, c.vals)
		if err != nil || !bytes.Equal(again[len(got):], got[len(prefix):]) {
			t.Errorf("%s: second Append differs: %s (%v)", c.name, again[len(got):], err)
		}
	}
	t.Logf("%d cases", len(cases))
}

// attrNamesOf parses b and returns the attribute names of its first element.
func attrNamesOf(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			t.Fatalf("no element in %s: %v", b, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			var names []string
			for _, a := range se.Attr {
				n := a.Name.Local
				if a.Name.Space != "" {
					n = a.Name.Space + ":" + n
				}
				names = append(names, n)
			}
			return names
		}
	}
}

// Attributes come out in the table's order whatever order El lists them.
func TestAttrOrderFollowsTable(t *testing.T) {
	for _, e := range Elements() {
		if len(e.Attrs) < 2 {
			continue
		}
		var want []string
		for _, a := range e.Attrs {
			want = append(want, a.Name)
		}
		for _, order := range []string{"reversed", "rotated"} {
			el, vals := fullEl(e, true)
			switch order {
			case "reversed":
				slices.Reverse(el.Attrs)
			case "rotated":
				el.Attrs = append(el.Attrs[len(el.Attrs)/2:], el.Attrs[:len(el.Attrs)/2]...)
			}
			out := mustAppend(t, el, vals)
			if got := attrNamesOf(t, out); !slices.Equal(got, want) {
				t.Errorf("%s (%s): attribute order\n got %v\nwant %v", e.Name, order, got, want)
			}
			if b := etreeBytes(t, el, vals); !bytes.Equal(b, out) {
				t.Errorf("%s (%s): Build differs:\n%s\n%s", e.Name, order, b, out)
			}
		}
	}
}

// readBack parses b and returns, for the first element named name, the
// value of attribute attr, or its direct text when attr is "".
func readBack(t testing.TB, b []byte, name, attr string) (string, bool) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, at := 0, -1
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parse %q: %v", b, err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			if at < 0 && x.Name.Local == name {
				if attr == "" {
					at = depth
					continue
				}
				for _, a := range x.Attr {
					n := a.Name.Local
					if a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
						n = "xml:" + n
					}
					if n == attr {
						return a.Value, true
					}
				}
				return "", false
			}
		case xml.EndElement:
			if depth == at {
				return text.String(), true
			}
			depth--
		case xml.CharData:
			if depth == at {
				text.Write(x)
			}
		}
	}
	return "", false
}

// Constants holding the private-use code points Prepare uses to mark holes
// come out as written.
func TestConstantsWithSentinels(t *testing.T) {
	for _, s := range []string{
		"\uE000", "\uE001", "\uE000\uE001", "\uE0000\uE001", "a\uE000b\uE001c", "\uE001\uE000", "x\uE0001\uE001y\uE000",
		"&\uE000<\"\uE001>", "\uE000\uE000\uE000",
	} {
		el := &El{Name: "Dial", Attrs: []AttrValue{
			av("callerName", Const(s)), av("callerId", Hole(0)), av("digitsMatch", Const(s+"2")),
		}, Children: []*El{
			{Name: "Number", Attrs: []AttrValue{av("callerId", Const(s))}, Text: cv("1415" + s)},
			{Name: "User", Attrs: []AttrValue{av("callerName", Hole(1))}, Text: cv("sip:alice@phone.plivo.com")},
			{Name: "Number", Text: hv(2)},
		}}
		// (User's text must be a SIP URI: the text hole is a Number's.)
		vals := []string{"h\uE000" + s, s, "1415" + s}
		out := mustAppend(t, el, vals)
		if want := etreeBytes(t, el, vals); !bytes.Equal(out, want) {
			t.Errorf("%q:\nAppend: %q\netree:  %q", s, out, want)
		}
		doc := append(append([]byte("<Response>"), out...), "</Response>"...)
		for _, c := range []struct{ el, attr, want string }{
			{"Dial", "callerName", s}, {"Dial", "callerId", vals[0]}, {"Dial", "digitsMatch", s + "2"},
			{"Number", "callerId", s}, {"Number", "", "1415" + s}, {"User", "callerName", vals[1]}, {"User", "", "sip:alice@phone.plivo.com"},
		} {
			if got, ok := readBack(t, doc, c.el, c.attr); !ok || got != c.want {
				t.Errorf("%q: %s %s reads back %q, want %q", s, c.el, c.attr, got, c.want)
			}
		}
	}
}

// A hole value that breaks its attribute's rule is a *ValueError naming the
// element and attribute, and Append leaves dst as it was.
func TestHoleValueError(t *testing.T) {
	for _, c := range []struct {
		el         *El
		vals       []string
		elem, attr string
	}{
		{&El{Name: "Speak", Attrs: []AttrValue{av("loop", Hole(0))}, Text: cv("x")}, []string{"-1"}, "Speak", "loop"},
		{&El{Name: "Speak", Attrs: []AttrValue{av("voice", Hole(0))}, Text: hv(1)}, []string{"Robot", "x"}, "Speak", "voice"},
		{&El{Name: "Speak", Text: hv(0)}, []string{"  \n"}, "Speak", ""},
		{&El{Name: "GetDigits", Attrs: []AttrValue{av("numDigits", Const("1")), av("action", Hole(0))}}, []string{"/relative"}, "GetDigits", "action"},
		{&El{Name: "GetDigits", Attrs: []AttrValue{av("action", Hole(0)), av("method", Hole(1))}}, []string{"https://x.example/", "PUT"}, "GetDigits", "method"},
		{&El{Name: "GetInput", Attrs: []AttrValue{av("executionTimeout", Hole(0))}}, []string{"61"}, "GetInput", "executionTimeout"},
		{&El{Name: "Wait", Attrs: []AttrValue{av("silence", Hole(0))}}, []string{"yes"}, "Wait", "silence"},
		{&El{Name: "MultiPartyCall", Attrs: []AttrValue{av("role", Const("Agent")), av("maxParticipants", Hole(0))}, Text: cv("m")}, []string{"11"}, "MultiPartyCall", "maxParticipants"},
		{&El{Name: "MultiPartyCall", Attrs: []AttrValue{av("role", Hole(0))}, Text: cv("m")}, []string{"manager"}, "MultiPartyCall", "role"},
		{&El{Name: "MultiPartyCall", Attrs: []AttrValue{av("role", Const("Agent")), av("statusCallbackEvents", Hole(0))}, Text: cv("m")},
			[]string{"mpc-state-changes,mpc-state-changes"}, "MultiPartyCall", "statusCallbackEvents"},
		{&El{Name: "Dial", Attrs: []AttrValue{av("callerName", Hole(0))}, Children: []*El{{Name: "Number", Text: cv("1")}}}, []string{strings.Repeat("n", 51)}, "Dial", "callerName"},
		{&El{Name: "Dial", Children: []*El{{Name: "User", Attrs: []AttrValue{av("sipHeaders", Hole(0))}, Text: cv("sip:a@b")}}}, []string{"a=1;b=2"}, "User", "sipHeaders"},
		{&El{Name: "Dial", Children: []*El{{Name: "Number", Text: hv(0)}}}, []string{""}, "Number", ""},
		{&El{Name: "Stream", Text: hv(0)}, []string{"https://not-a-websocket"}, "Stream", ""},
		{&El{Name: "Play", Text: hv(0)}, []string{"file.mp3"}, "Play", ""},
		{&El{Name: "DTMF", Text: hv(0)}, []string{"12a"}, "DTMF", ""},
		{&El{Name: "Hangup", Attrs: []AttrValue{av("reason", Hole(0))}}, []string{"Busy"}, "Hangup", "reason"},
		{&El{Name: "Speak", Attrs: []AttrValue{av("voice", Hole(0))}, Children: []*El{{Name: "break"}}}, []string{"WOMAN"}, "Speak", "voice"},
		{&El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Amy")), av("language", Const("en-GB"))}, Children: []*El{{Name: "break", Attrs: []AttrValue{av("time", Hole(0))}}}}, []string{"11s"}, "break", "time"},
	} {
		tm, err := Prepare(c.el)
		if err != nil {
			t.Errorf("%s %s: Prepare: %v", c.elem, c.attr, err)
			continue
		}
		prefix := []byte("<Response><Speak>before</Speak>")
		dst := append(make([]byte, 0, 1024), prefix...)
		out, err := tm.Append(dst, c.vals)
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("%s %s %q: err = %v, want a *ValueError", c.elem, c.attr, c.vals, err)
			continue
		}
		if ve.Element != c.elem || ve.Attr != c.attr {
			t.Errorf("%q: ValueError names %s %s, want %s %s", c.vals, ve.Element, ve.Attr, c.elem, c.attr)
		}
		if !strings.Contains(err.Error(), c.elem) || (c.attr != "" && !strings.Contains(err.Error(), c.attr)) {
			t.Errorf("error %q does not name %s %s", err, c.elem, c.attr)
		}
		if !bytes.Equal(out, prefix) {
			t.Errorf("%s %s: Append wrote %q on error", c.elem, c.attr, out[len(prefix):])
		}
		// Build refuses the same value.
		if _, err := Build(c.el, c.vals); !errors.As(err, &ve) {
			t.Errorf("%s %s: Build err = %v, want a *ValueError", c.elem, c.attr, err)
		}
		// Through a Document: the document stays well-formed.
		var d Document
		if err := d.Add(Lookup("Hangup").prep(t), nil); err != nil {
			t.Fatal(err)
		}
		if err := d.Add(tm, c.vals); err == nil {
			t.Errorf("Document.Add accepted %q", c.vals)
		}
		b, err := d.Bytes()
		if err != nil || string(b) != "<Response><Hangup/></Response>" {
			t.Errorf("document after a refused value: %q, %v", b, err)
		}
	}
}

// prep prepares the minimal element of e.
func (e *Element) prep(t testing.TB) *Template {
	tm, err := Prepare(minimalEl(e))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestAppendTooFewValues(t *testing.T) {
	tm, err := Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("loop", Hole(2))}, Text: hv(0)})
	if err != nil {
		t.Fatal(err)
	}
	if tm.Holes() != 3 {
		t.Errorf("Holes() = %d, want 3", tm.Holes())
	}
	if out, err := tm.Append([]byte("x"), []string{"a", "b"}); err == nil || string(out) != "x" {
		t.Errorf("Append with 2 of 3 values: %q, %v", out, err)
	}
	if _, err := Build(&El{Name: "Speak", Text: hv(1)}, []string{"a"}); err == nil {
		t.Errorf("Build with a missing value succeeded")
	}
}

// Prepare refuses what the table does not allow.
func TestPrepareErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		el   *El
		want string
	}{
		{"unknown element", &El{Name: "Say"}, "no element <Say>"},
		{"case matters", &El{Name: "speak", Text: cv("x")}, "no element <speak>"},
		{"unknown attribute", &El{Name: "Speak", Attrs: []AttrValue{av("volume", Const("1"))}, Text: cv("x")}, `no attribute "volume"`},
		{"sdk-only attribute", &El{Name: "Wait", Attrs: []AttrValue{av("min_silence", Const("1"))}}, `no attribute "min_silence"`},
		{"attribute twice", &El{Name: "Speak", Attrs: []AttrValue{av("loop", Const("1")), av("loop", Hole(0))}, Text: cv("x")}, "given twice"},
		{"bad nesting", &El{Name: "GetDigits", Children: []*El{{Name: "Dial", Children: []*El{{Name: "Number", Text: cv("1")}}}}}, "<GetDigits> cannot contain <Dial>"},
		{"missing required attribute", &El{Name: "MultiPartyCall", Text: cv("m")}, "role"},
		{"missing required ssml attribute", &El{Name: "say-as", Text: cv("1")}, "interpret-as"},
		{"text on empty element", &El{Name: "Hangup", Text: cv("x")}, "takes no text"},
		{"missing text", &El{Name: "Play"}, "have text content"},
		{"blank text", &El{Name: "Speak", Text: cv("  ")}, "not be empty"},
		{"no children", &El{Name: "Dial"}, "at least 1 child"},
		{"bad constant", &El{Name: "Wait", Attrs: []AttrValue{av("length", Const("0"))}}, "length"},
		{"ssml without voice", &El{Name: "Speak", Children: []*El{{Name: "break"}}}, "Polly"},
		{"ssml with plain voice", &El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("MAN"))}, Children: []*El{{Name: "break"}}}, "Polly"},
	} {
		_, err := Prepare(c.el)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Prepare err = %v, want one containing %q", c.name, err, c.want)
		}
		if _, err2 := Build(c.el, []string{"1"}); err2 == nil {
			t.Errorf("%s: Build accepted what Prepare refuses", c.name)
		}
	}
}

func TestDocument(t *testing.T) {
	var d Document
	b, err := d.Bytes()
	if err != nil || string(b) != "<Response></Response>" {
		t.Errorf("empty document = %q, %v", b, err)
	}
	speak, err := Prepare(&El{Name: "Speak", Text: hv(0)})
	if err != nil {
		t.Fatal(err)
	}
	d.Reset()
	if err := d.Add(speak, []string{"Hi & bye"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Add(Lookup("Hangup").prep(t), nil); err != nil {
		t.Fatal(err)
	}
	b, err = d.Bytes()
	if want := "<Response><Speak>Hi &amp; bye</Speak><Hangup/></Response>"; err != nil || string(b) != want {
		t.Errorf("document = %q, %v; want %q", b, err, want)
	}
	// Reset reuses the buffer and starts over.
	d.Reset()
	_ = d.Add(speak, []string{"again"})
	if b, _ := d.Bytes(); string(b) != "<Response><Speak>again</Speak></Response>" {
		t.Errorf("after Reset: %q", b)
	}

	// A document built again after Reset takes no new memory, its closing
	// tag included, whatever room its elements left in the buffer.
	for k := 1; k <= 100; k++ {
		text := strings.Repeat("x", k)
		var d Document
		if n := testing.AllocsPerRun(20, func() {
			d.Reset()
			_ = d.Add(speak, []string{text})
			_, _ = d.Bytes()
		}); n != 0 {
			t.Errorf("a document of %d bytes of text, built again: %v allocations", k, n)
		}
	}

	// The 100 KB limit: exactly MaxDocument bytes pass, one more fails.
	overhead := len("<Response><Speak></Speak></Response>")
	for _, n := range []int{MaxDocument - overhead, MaxDocument - overhead + 1, 3 * MaxDocument} {
		d.Reset()
		if err := d.Add(speak, []string{strings.Repeat("a", n)}); err != nil {
			t.Fatal(err)
		}
		b, err := d.Bytes()
		size := n + overhead
		if size <= MaxDocument {
			if err != nil || len(b) != size {
				t.Errorf("%d bytes: %d, %v", size, len(b), err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) || b != nil {
			t.Errorf("%d bytes: err = %v, want ErrTooLarge", size, err)
		}
	}
	// Escaping counts: 30,000 ampersands are 150,000 bytes.
	d.Reset()
	_ = d.Add(speak, []string{strings.Repeat("&", 30000)})
	if _, err := d.Bytes(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("escaped text over the limit: err = %v", err)
	}
}

// Escaping, byte for byte, in attributes and text.
func TestEscaping(t *testing.T) {
	for _, c := range []struct {
		in, attr, text string
	}{
		{`plain`, `plain`, `plain`},
		{`a"b`, `a&quot;b`, `a"b`},
		{`a'b`, `a'b`, `a'b`},
		{`x&y`, `x&amp;y`, `x&amp;y`},
		{`&amp;`, `&amp;amp;`, `&amp;amp;`},
		{`<tag>`, `&lt;tag>`, `&lt;tag&gt;`},
		{`]]>`, `]]>`, `]]&gt;`},
		{"a\tb", "a&#x9;b", "a\tb"},
		{"a\nb", "a&#xA;b", "a\nb"},
		{"a\rb", "a&#xD;b", "a&#xD;b"},
		{"a\r\nb", "a&#xD;&#xA;b", "a&#xD;\nb"},
		{"héllo wörld — 你好 🎉", "héllo wörld — 你好 🎉", "héllo wörld — 你好 🎉"},
		{"nul\x00x", "nul\uFFFDx", "nul\uFFFDx"},
		{"bell\x07\x1f", "bell\uFFFD\uFFFD", "bell\uFFFD\uFFFD"},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{"\ufffe\uffff", "\uFFFD\uFFFD", "\uFFFD\uFFFD"},
		{"del\x7f", "del\x7f", "del\x7f"},
	} {
		if got := string(appendEscaped(nil, c.in, true)); got != c.attr {
			t.Errorf("attribute %q: %q, want %q", c.in, got, c.attr)
		}
		if got := string(appendEscaped(nil, c.in, false)); got != c.text {
			t.Errorf("text %q: %q, want %q", c.in, got, c.text)
		}
		// The same through a template, checked against etree and read back.
		el := &El{Name: "Dial", Attrs: []AttrValue{av("callerId", Hole(0))}, Children: []*El{{Name: "Number", Text: hv(0)}}}
		out := mustAppend(t, el, []string{c.in})
		if want := etreeBytes(t, el, []string{c.in}); !bytes.Equal(out, want) {
			t.Errorf("%q:\nAppend: %q\netree:  %q", c.in, out, want)
		}
		for _, attr := range []string{"callerId", ""} {
			name := "Dial"
			if attr == "" {
				name = "Number"
			}
			if got, _ := readBack(t, out, name, attr); got != Sanitize(c.in) {
				t.Errorf("%q reads back %q from %s %s, want %q", c.in, got, name, attr, Sanitize(c.in))
			}
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"ok é":         "ok é",
		"\x00":         "\uFFFD",
		"a\xc3":        "a\uFFFD",
		"\xed\xa0\x80": "\uFFFD\uFFFD\uFFFD", // an encoded surrogate
		"\t\n\r":       "\t\n\r",
		"\U0010FFFF":   "\U0010FFFF",
		"\uFFFD":       "\uFFFD",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// scanURL, the allocation-free check of callback URLs, accepts only what
// the table's URL rule accepts.
func TestScanURL(t *testing.T) {
	for _, c := range []struct {
		v         string
		ok, clean bool
	}{
		{"https://example.com", true, true},
		{"http://example.com/", true, true},
		{"https://flowd.example.com:8443/flows/ivr/calls/1/menu/action", true, true},
		{"https://x.example/a?b=1&c=2", true, false},
		{"https://x.example/a#frag?x=<y>", true, false},
		{"https://x.example:/p", true, true},
		{"https://x.example/a%20b", false, false}, // escapes: full check
		{"https://x.example/a b", false, false},
		{"https://x.example/\x7f", false, false},
		{"https://x.example/é", false, false},
		{"HTTPS://x.example/", false, false}, // the full check lowercases the scheme
		{"https:///path", false, false},
		{"https://user@x.example/", false, false},
		{"https://[::1]/", false, false},
		{"https://x.example:80a/", false, false},
		{"https://x_y.example/", false, false},
		{"ftp://x.example/", false, false},
		{"//x.example/", false, false},
		{"", false, false},
	} {
		ok, clean := scanURL(c.v)
		if ok != c.ok || clean != c.clean {
			t.Errorf("scanURL(%q) = %v, %v; want %v, %v", c.v, ok, clean, c.ok, c.clean)
		}
		checkScanURL(t, c.v)
	}
	// What scanURL leaves to the full check still works.
	for _, v := range []string{"https://x.example/a%20b", "HTTPS://x.example/", "https://user@x.example/", "https://[::1]/"} {
		tm, err := Prepare(&El{Name: "Redirect", Text: hv(0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tm.Append(nil, []string{v}); err != nil {
			t.Errorf("Redirect %q: %v", v, err)
		}
	}
}

// TestHoleIntCanonical: an integer a template gives in a form ParseInt
// accepts is written as the SDKs write integers.
func TestHoleIntCanonical(t *testing.T) {
	tm, err := Prepare(&El{Name: "Wait", Attrs: []AttrValue{av("length", Hole(0))}})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"3": "3", "+3": "3", "007": "7", "120": "120"} {
		got, err := tm.Append(nil, []string{in})
		if err != nil || string(got) != `<Wait length="`+want+`"/>` {
			t.Errorf("length %q: %s (%v), want %s", in, got, err, want)
		}
	}
	tm, err = Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("loop", Hole(0))}, Text: cv("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tm.Append(nil, []string{"-0"}); err != nil || string(got) != `<Speak loop="0">hi</Speak>` {
		t.Errorf("loop -0: %s (%v)", got, err)
	}
}

// TestHoleEmptyTextBeforeChildren: Speak's text may come out empty before
// its SSML children, as it may be left out; without children it may not.
func TestHoleEmptyTextBeforeChildren(t *testing.T) {
	tm, err := Prepare(&El{Name: "Speak", Attrs: []AttrValue{av("voice", Const("Polly.Joanna"))}, Text: &[]Value{Hole(0)}[0],
		Children: []*El{{Name: "say-as", Attrs: []AttrValue{av("interpret-as", Const("digits"))}, Text: cv("12")}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Append(nil, []string{""})
	if want := `<Speak voice="Polly.Joanna"><say-as interpret-as="digits">12</say-as></Speak>`; err != nil || string(got) != want {
		t.Errorf("empty text with children: %s (%v), want %s", got, err, want)
	}
	tm, err = Prepare(&El{Name: "Speak", Text: &[]Value{Hole(0)}[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Append(nil, []string{" "}); err == nil {
		t.Error("empty text without children accepted")
	}
}
