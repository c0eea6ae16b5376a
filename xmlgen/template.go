package xmlgen

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Value is an attribute value or text content: a constant known when the
// flow compiles, or a hole filled on every webhook.
type Value struct {
	Const string
	Hole  int // index into the values passed to Template.Append; -1 for a constant
}

// Const returns a constant value.
func Const(s string) Value { return Value{Const: s, Hole: -1} }

// Hole returns a value filled at run time from vals[i].
func Hole(i int) Value { return Value{Hole: i} }

// IsHole reports whether v is filled at run time.
func (v Value) IsHole() bool { return v.Hole >= 0 }

// El describes one element to write: its name, attributes, optional text
// and children. It is the input of Prepare and Build.
type El struct {
	Name     string
	Attrs    []AttrValue
	Text     *Value
	Children []*El
}

// AttrValue is one attribute of an El.
type AttrValue struct {
	Name  string
	Value Value
}

// writeSettings are the etree settings whose escaping appendEscaped copies.
var writeSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}

// MaxDocument is Plivo's limit on one XML response.
const MaxDocument = 100 * 1024

// holeInfo says what a hole fills, to check run-time values against
// Plivo's rules and name the place in errors.
type holeInfo struct {
	index int
	elem  *Element
	attr  *Attr // nil for text content
}

// Template is an element whose constant parts were written once, when the
// flow compiled; Append only copies bytes and fills the holes.
type Template struct {
	parts []part
	holes int // number of values Append expects
}

type part struct {
	static []byte
	hole   *holeInfo // nil for a static part
}

// sentinel delimiters mark holes in the etree output. They are private-use
// code points; a constant that contains one is turned into a hole of its
// own so the split can never be confused.
const (
	sentinelOpen  = '\uE000'
	sentinelClose = '\uE001'
)

// Prepare checks an element against Plivo's table (names, nesting, the
// constant values) and writes its constant parts once. Holes are checked
// when Append fills them.
func Prepare(e *El) (*Template, error) {
	var infos []holeInfo
	consts := map[int]string{}
	maxHole := -1
	root, err := build(e, nil, func(v Value, el *Element, a *Attr) (string, error) {
		if v.IsHole() {
			infos = append(infos, holeInfo{index: v.Hole, elem: el, attr: a})
			maxHole = max(maxHole, v.Hole)
			return sentinel(len(infos) - 1), nil
		}
		if strings.ContainsRune(v.Const, sentinelOpen) {
			infos = append(infos, holeInfo{index: -1, elem: el, attr: a})
			consts[len(infos)-1] = v.Const
			return sentinel(len(infos) - 1), nil
		}
		return v.Const, nil
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	root.WriteTo(&buf, &writeSettings)
	t := &Template{holes: maxHole + 1}
	out := buf.Bytes()
	open := []byte(string(sentinelOpen))
	for {
		i := bytes.Index(out, open)
		if i < 0 {
			t.parts = append(t.parts, part{static: out})
			break
		}
		t.parts = append(t.parts, part{static: out[:i]})
		rest := out[i+len(open):]
		j := bytes.IndexRune(rest, sentinelClose)
		n, _ := strconv.Atoi(string(rest[:j]))
		info := infos[n]
		if c, ok := consts[n]; ok {
			t.parts = append(t.parts, part{static: appendEscaped(nil, c, info.attr != nil)})
		} else {
			t.parts = append(t.parts, part{hole: &info})
		}
		out = rest[j+len(string(sentinelClose)):]
	}
	t.parts = compact(t.parts)
	return t, nil
}

func sentinel(i int) string {
	return string(sentinelOpen) + strconv.Itoa(i) + string(sentinelClose)
}

// compact drops empty static parts.
func compact(ps []part) []part {
	out := ps[:0]
	for _, p := range ps {
		if p.hole == nil && len(p.static) == 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Holes returns how many values Append expects.
func (t *Template) Holes() int { return t.holes }

// Append writes the element to dst, filling the holes from vals. A value
// that breaks Plivo's rules for its attribute is an error naming the
// element and attribute; nothing invalid is ever written.
func (t *Template) Append(dst []byte, vals []string) ([]byte, error) {
	if len(vals) < t.holes {
		return dst, fmt.Errorf("xmlgen: template needs %d values, got %d", t.holes, len(vals))
	}
	for i := range t.parts {
		p := &t.parts[i]
		if p.hole == nil {
			dst = append(dst, p.static...)
			continue
		}
		v := vals[p.hole.index]
		if err := p.hole.check(v); err != nil {
			return dst, err
		}
		dst = appendEscaped(dst, v, p.hole.attr != nil)
	}
	return dst, nil
}

func (h *holeInfo) check(v string) error {
	if h.attr != nil {
		if msg := h.attr.Validate(v); msg != "" {
			return &ValueError{Element: h.elem.Name, Attr: h.attr.Name, Value: v, Want: msg}
		}
		return nil
	}
	if msg := h.elem.ValidateText(v); msg != "" {
		return &ValueError{Element: h.elem.Name, Value: v, Want: msg}
	}
	return nil
}

// Build builds the element with etree from scratch, filling holes from
// vals. It is the straightforward way Prepare and Append improve on; tests
// compare the two, and benchmarks measure the difference.
func Build(e *El, vals []string) (*etree.Element, error) {
	return build(e, nil, func(v Value, el *Element, a *Attr) (string, error) {
		s := v.Const
		if v.IsHole() {
			if v.Hole >= len(vals) {
				return "", fmt.Errorf("xmlgen: no value for hole %d", v.Hole)
			}
			s = vals[v.Hole]
			h := holeInfo{elem: el, attr: a}
			if err := h.check(s); err != nil {
				return "", err
			}
		}
		return s, nil
	})
}

// fill turns a Value into the string written for it.
type fill func(v Value, el *Element, a *Attr) (string, error)

// build makes the etree element for e, checking it against the table.
// Attributes are written in the table's order whatever order e lists them in.
func build(e *El, parent *Element, f fill) (*etree.Element, error) {
	spec := Lookup(e.Name)
	if spec == nil {
		return nil, fmt.Errorf("xmlgen: Plivo has no element <%s>", e.Name)
	}
	if parent != nil && !parent.AllowsChild(e.Name) {
		return nil, fmt.Errorf("xmlgen: <%s> cannot contain <%s>", parent.Name, e.Name)
	}
	el := etree.NewElement(e.Name)
	for i := range spec.Attrs {
		a := &spec.Attrs[i]
		for _, av := range e.Attrs {
			if av.Name != a.Name {
				continue
			}
			if !av.Value.IsHole() {
				if msg := a.Validate(av.Value.Const); msg != "" {
					return nil, &ValueError{Element: e.Name, Attr: a.Name, Value: av.Value.Const, Want: msg}
				}
			}
			s, err := f(av.Value, spec, a)
			if err != nil {
				return nil, err
			}
			el.CreateAttr(a.Name, s)
		}
	}
	for _, av := range e.Attrs {
		if spec.Attr(av.Name) == nil {
			return nil, fmt.Errorf("xmlgen: <%s> has no attribute %q", e.Name, av.Name)
		}
	}
	for i := range spec.Attrs {
		if a := &spec.Attrs[i]; a.Required && el.SelectAttr(a.Name) == nil {
			return nil, &ValueError{Element: e.Name, Attr: a.Name, Want: "be given"}
		}
	}
	if e.Text != nil {
		if spec.Text == NoText {
			return nil, fmt.Errorf("xmlgen: <%s> takes no text", e.Name)
		}
		if !e.Text.IsHole() {
			if msg := spec.ValidateText(e.Text.Const); msg != "" {
				return nil, &ValueError{Element: e.Name, Value: e.Text.Const, Want: msg}
			}
		}
		s, err := f(*e.Text, spec, nil)
		if err != nil {
			return nil, err
		}
		el.SetText(s)
	} else if spec.Text == RequiredText && len(e.Children) == 0 {
		// Speak may hold only SSML children.
		return nil, &ValueError{Element: e.Name, Want: "have text content"}
	}
	if len(e.Children) < spec.MinChildren {
		return nil, fmt.Errorf("xmlgen: <%s> needs at least %d child element(s)", e.Name, spec.MinChildren)
	}
	for _, c := range e.Children {
		child, err := build(c, spec, f)
		if err != nil {
			return nil, err
		}
		el.AddChild(child)
	}
	return el, nil
}

// Document assembles one <Response>. The zero value is ready; Reset reuses
// its buffer for the next webhook.
type Document struct {
	buf []byte
}

const (
	openResponse  = "<Response>"
	closeResponse = "</Response>"
)

// ErrTooLarge is returned when a document exceeds Plivo's 100 KB limit.
var ErrTooLarge = errors.New("xmlgen: document exceeds Plivo's 100 KB limit")

// Reset empties the document, keeping its memory.
func (d *Document) Reset() { d.buf = d.buf[:0] }

// Add appends a prepared element.
func (d *Document) Add(t *Template, vals []string) error {
	if len(d.buf) == 0 {
		d.buf = append(d.buf, openResponse...)
	}
	var err error
	d.buf, err = t.Append(d.buf, vals)
	return err
}

// Bytes closes the document and returns it. The slice is valid until the
// next Reset or Add.
func (d *Document) Bytes() ([]byte, error) {
	if len(d.buf) == 0 {
		d.buf = append(d.buf, openResponse...)
	}
	out := append(d.buf, closeResponse...)
	if len(out) > MaxDocument {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(out))
	}
	return out, nil
}
