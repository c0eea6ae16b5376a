package flowtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flowtest"
)

// greet answers
//
//	<Response><Speak>Hello</Speak><Speak>World</Speak><GetDigits
//	action="…/menu/action" timeout="5" numDigits="1"/><Redirect>…</Redirect></Response>
const greet = `flow: greet
nodes:
  hi:
    Speak: Hello
    next: world
  world:
    Speak: World
    next: menu
  menu:
    GetDigits: { numDigits: 1, timeout: 5 }
    next: bye
  bye:
    Hangup: {}
`

const greetAction = `http://127.0.0.1:8080/flows/greet/calls/1/menu/action`

// xmlSuite writes greet and a test file of one case per expected
// document, each checking the answer, and runs it.
func xmlSuite(t *testing.T, docs ...string) *flowtest.Result {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "greet.yaml"), greet)
	var b strings.Builder
	b.WriteString("cases:\n")
	for i, doc := range docs {
		b.WriteString("  - name: case " + string(rune('a'+i)) + "\n    steps:\n      - expect:\n          xml: |\n")
		for _, line := range strings.Split(doc, "\n") {
			b.WriteString("            " + line + "\n")
		}
	}
	path := filepath.Join(dir, "greet_test.yaml")
	writeFile(t, path, b.String())
	s := flowtest.Load(path)
	if !s.OK() {
		t.Fatalf("the suite does not load:\n%s\n%s", diagText(s.Diags), b.String())
	}
	return s.Run(flowtest.Options{})
}

// TestXMLSameDocument: an xml: expectation is compared as XML: the XML
// declaration, comments, the indentation of a block scalar, an empty
// element written open and closed, the order of attributes and the
// whitespace around text do not matter.
func TestXMLSameDocument(t *testing.T) {
	r := xmlSuite(t,
		`<?xml version="1.0" encoding="UTF-8"?>
<Response><Speak>Hello</Speak><Speak>World</Speak><GetDigits action="`+greetAction+`" timeout="5" numDigits="1"/><Redirect>http://127.0.0.1:8080/flows/greet/calls/1/menu/no_input</Redirect></Response>`,
		`<?xml version="1.0" encoding="UTF-8"?>
<!-- the answer -->
<Response>
  <Speak>
    Hello
  </Speak>
  <Speak><![CDATA[World]]></Speak>
  <GetDigits numDigits="1" timeout="5" action="`+greetAction+`"></GetDigits>
  <Redirect>
    http://127.0.0.1:8080/flows/greet/calls/1/menu/no_input
  </Redirect>
</Response>`)
	if r.Failed() {
		t.Fatalf("equivalent documents do not match:\n%s", report(r))
	}
}

// TestXMLDifferences: a document that differs fails, showing both and the
// path to the first difference.
func TestXMLDifferences(t *testing.T) {
	redirect := `<Redirect>http://127.0.0.1:8080/flows/greet/calls/1/menu/no_input</Redirect>`
	digits := `<GetDigits action="` + greetAction + `" timeout="5" numDigits="1"/>`
	for _, tc := range []struct{ doc, diff string }{
		{`<Response><Speak>Hi</Speak><Speak>World</Speak>` + digits + redirect + `</Response>`,
			`/Response/Speak[1]: text: want "Hi", got "Hello"`},
		{`<Response><Speak>Hello</Speak><Speak>Wor ld</Speak>` + digits + redirect + `</Response>`,
			`/Response/Speak[2]: text: want "Wor ld", got "World"`},
		{`<Response><Speak>Hello</Speak><Speak>World</Speak><GetDigits action="` + greetAction + `" timeout="5" numDigits="2"/>` + redirect + `</Response>`,
			`/Response/GetDigits: attribute numDigits: want "2", got "1"`},
		{`<Response><Speak>Hello</Speak><Speak>World</Speak><GetDigits action="` + greetAction + `" numDigits="1"/>` + redirect + `</Response>`,
			`/Response/GetDigits: attribute timeout="5" is not expected`},
		{`<Response><Speak>Hello</Speak><Speak>World</Speak><GetDigits action="` + greetAction + `" timeout="5" numDigits="1" finishOnKey="#"/>` + redirect + `</Response>`,
			`/Response/GetDigits: attribute finishOnKey: want "#", but it is missing`},
		{`<Response><Speak>Hello</Speak><Speak>World</Speak>` + digits + `<Hangup/></Response>`,
			`/Response/Redirect: want <Hangup>, got <Redirect>`},
		{`<Response><Speak>Hello</Speak><Speak>World</Speak>` + digits + redirect + `<Hangup/></Response>`,
			`/Response: want <Hangup> next, but the element ends`},
		{`<Response><Speak>Hello</Speak>` + digits + redirect + `</Response>`,
			`/Response/Speak[2]: want <GetDigits>, got <Speak>`},
		{`<Response><Speak>Hello<Break/></Speak><Speak>World</Speak>` + digits + redirect + `</Response>`,
			`/Response/Speak[1]: want <Break> next, but the element ends`},
		{`<Answer/>`, `/: want root element <Answer>, got <Response>`},
	} {
		r := xmlSuite(t, tc.doc)
		if len(r.Cases) != 1 || !r.Cases[0].Failed() {
			t.Errorf("%s: want a failure, got\n%s", tc.doc, report(r))
			continue
		}
		ps := r.Cases[0].Failure.Problems
		want := "xml: the documents differ at " + tc.diff + "\nwant\n" + tc.doc + "\nbut the step answered\n<Response><Speak>Hello</Speak>"
		if len(ps) != 1 || !strings.HasPrefix(ps[0], want) {
			t.Errorf("%s:\n got %q\nwant %q…", tc.doc, ps, want)
		}
	}
}

// TestXMLNotWellFormed: an expected document that is not XML is the test
// file's mistake, reported at its line before any case runs.
func TestXMLNotWellFormed(t *testing.T) {
	for _, tc := range []struct{ xml, want string }{
		{`"<Response><Speak>Hi</Response>"`, `t_test.yaml:5:16: error: xml is not a well-formed XML document: line 1: element <Speak> closed by </Response> [bad-value]`},
		{`"<Response>"`, `t_test.yaml:5:16: error: xml is not a well-formed XML document: line 1: unexpected EOF [bad-value]`},
		{`"<Response/><Response/>"`, `t_test.yaml:5:16: error: xml is not a well-formed XML document: line 1: a second root element <Response>; a document has one [bad-value]`},
		{`"Hangup"`, `t_test.yaml:5:16: error: xml is not a well-formed XML document: line 1: text outside the root element [bad-value]`},
		{`"<Response a=1/>"`, `t_test.yaml:5:16: error: xml is not a well-formed XML document: line 1: unquoted or missing attribute value in element [bad-value]`},
	} {
		_, ds := decodeTest(t, "cases:\n  - name: a\n    steps:\n      - expect:\n          xml: "+tc.xml+"\n")
		if got := strings.TrimSpace(diagText(ds)); got != tc.want {
			t.Errorf("xml: %s:\n got %s\nwant %s", tc.xml, got, tc.want)
		}
	}
}
