package flowtest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// An xml: expectation is compared with the step's document as XML, not
// as text, so that what a person writes in a test file matches what
// flowd writes when the two mean the same: the XML declaration, comments
// and processing instructions are ignored; <Hangup></Hangup> is
// <Hangup/>; attributes are a set (name → value), in any order; text
// that is only whitespace (the indentation of a YAML block scalar) is
// ignored, and other text is compared with the whitespace around it
// trimmed — "Hello" matches "\n  Hello\n  " written on its own lines —
// but exactly inside, since inner spaces are what the flow wrote.
// Entities and CDATA are compared by the text they stand for.

// xmlNode is an element of a parsed document, or a piece of text.
type xmlNode struct {
	name  string            // the element's name; "" for text
	text  string            // the text, trimmed
	attrs map[string]string // by name
	kids  []*xmlNode
}

// parseXML reads one document into its root element.
func parseXML(doc string) (*xmlNode, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	var root *xmlNode
	var stack []*xmlNode
	var text strings.Builder
	// flush ends a run of text: the tokens between two tags, which CDATA
	// sections and entities may split.
	flush := func() {
		t := strings.TrimSpace(text.String())
		text.Reset()
		if t != "" && len(stack) > 0 {
			top := stack[len(stack)-1]
			top.kids = append(top.kids, &xmlNode{text: t})
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			flush()
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("line %d: a second root element <%s>; a document has one", line(dec), t.Name.Local)
			}
			n := &xmlNode{name: xmlName(t.Name), attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[xmlName(a.Name)] = a.Value
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			flush()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, fmt.Errorf("line %d: text outside the root element", line(dec))
				}
				continue
			}
			text.Write(t)
		}
		// Comments, the XML declaration and directives are not content.
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

func line(dec *xml.Decoder) int {
	l, _ := dec.InputPos()
	return l
}

// xmlName writes a name as the document does, with its namespace when it
// has one.
func xmlName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// diffXML returns the first difference between two documents, as the
// path to the element of the answered document (got) and what differs
// there; "" when they are the same. A path names each element by its
// tag, with its place among siblings of that tag when it has any:
// /Response/Speak[2].
func diffXML(want, got *xmlNode) string {
	if want.name != got.name {
		return fmt.Sprintf("/: want root element <%s>, got <%s>", want.name, got.name)
	}
	return diffElement("/"+want.name, want, got)
}

func diffElement(path string, want, got *xmlNode) string {
	var attrs []string
	for _, k := range slices.Sorted(maps.Keys(want.attrs)) {
		g, ok := got.attrs[k]
		switch {
		case !ok:
			attrs = append(attrs, fmt.Sprintf("attribute %s: want %q, but it is missing", k, want.attrs[k]))
		case g != want.attrs[k]:
			attrs = append(attrs, fmt.Sprintf("attribute %s: want %q, got %q", k, want.attrs[k], g))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got.attrs)) {
		if _, ok := want.attrs[k]; !ok {
			attrs = append(attrs, fmt.Sprintf("attribute %s=%q is not expected", k, got.attrs[k]))
		}
	}
	if len(attrs) > 0 {
		return path + ": " + strings.Join(attrs, "; ")
	}
	for i := range max(len(want.kids), len(got.kids)) {
		if i >= len(got.kids) {
			return fmt.Sprintf("%s: want %s next, but the element ends", path, want.kids[i])
		}
		if i >= len(want.kids) {
			return fmt.Sprintf("%s: want the element to end, but it goes on with %s", path, got.kids[i])
		}
		w, g := want.kids[i], got.kids[i]
		switch {
		case w.name == "" && g.name == "":
			if w.text != g.text {
				return fmt.Sprintf("%s: text: want %q, got %q", path, w.text, g.text)
			}
		case w.name != g.name:
			return fmt.Sprintf("%s: want %s, got %s", childPath(path, got.kids, i), w, g)
		default:
			if d := diffElement(childPath(path, got.kids, i), w, g); d != "" {
				return d
			}
		}
	}
	return ""
}

// childPath is the path to the i-th child: its name, with its place
// among its siblings of that name when it has any.
func childPath(path string, kids []*xmlNode, i int) string {
	name := kids[i].name
	if name == "" {
		return path
	}
	nth, same := 0, 0
	for j, k := range kids {
		if k.name == name {
			same++
			if j <= i {
				nth++
			}
		}
	}
	if same == 1 {
		return path + "/" + name
	}
	return fmt.Sprintf("%s/%s[%d]", path, name, nth)
}

// String describes a node in a difference: an element by its tag, text
// quoted.
func (n *xmlNode) String() string {
	if n.name == "" {
		return fmt.Sprintf("text %q", n.text)
	}
	return "<" + n.name + ">"
}

// compareXML compares an expected document, already parsed, with the
// one a step answered. It returns "" when they are the same, else the
// first difference.
func compareXML(want *xmlNode, got string) string {
	if strings.TrimSpace(got) == "" {
		return "the step answered no XML"
	}
	g, err := parseXML(got)
	if err != nil {
		return fmt.Sprintf("the step's XML is not well-formed: %v", err)
	}
	if d := diffXML(want, g); d != "" {
		return "the documents differ at " + d
	}
	return ""
}
