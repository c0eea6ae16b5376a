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
	// children is set on the attribute the element's children depend on
	// (Speak voice with SSML children): the value must also satisfy
	// elem.ChildrenWhen.
	children bool
	// selfClose is set on the text of an element without children: an
	// empty value closes the element as <name/>, the way etree writes it.
	selfClose bool
	// url is set when the whole rule is "an absolute http(s) URL" (a URL
	// attribute or Play/Redirect text without an extra check): a value
	// scanURL accepts needs no further checking.
	url bool
}

// setURL sets h.url from the table.
func (h *holeInfo) setURL() {
	if h.attr != nil {
		h.url = h.attr.Kind == URL && h.attr.Check == nil && !h.children
		return
	}
	h.url = h.elem.TextKind == URL && h.elem.TextCheck == nil
}

// Template is an element whose constant parts were written once, when the
// flow compiled; Append only copies bytes and fills the holes.
type Template struct {
	parts []part
	holes int // number of values Append expects
	// rules are the element rules that read a hole, checked once Append
	// has filled the holes; nil for most templates.
	rules []ruleCheck
}

// ruleCheck is one Rule of one element of a template that reads a hole.
type ruleCheck struct {
	elem *Element
	rule *Rule
	args RuleArgs          // the constants; Set for every hole
	hole [MaxRuleAttrs]int // the hole filling args[i], or -1 for a constant
}

// check fills the rule's holes from vals and runs it.
func (rc *ruleCheck) check(vals []string) error {
	args := rc.args
	for i, h := range rc.hole {
		if h >= 0 {
			args[i].Value = vals[h]
		}
	}
	if ve := rc.elem.broken(rc.rule, &args); ve != nil {
		return ve
	}
	return nil
}

// part is a run of constant bytes or a hole. A text hole with selfClose is
// followed by the element's close tag as a static part of its own.
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
	var rules []ruleCheck
	consts := map[int]string{}
	maxHole := -1
	root, err := build(e, nil, &rules, func(v Value, h holeInfo) (string, error) {
		if v.IsHole() {
			h.index = v.Hole
			h.setURL()
			infos = append(infos, h)
			maxHole = max(maxHole, v.Hole)
			return sentinel(len(infos) - 1), nil
		}
		if strings.ContainsRune(v.Const, sentinelOpen) {
			h.index = -1
			infos = append(infos, h)
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
	t := &Template{holes: maxHole + 1, rules: rules}
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
		out = rest[j+len(string(sentinelClose)):]
		if c, ok := consts[n]; ok {
			t.parts = append(t.parts, part{static: appendEscaped(nil, c, info.attr != nil)})
			continue
		}
		t.parts = append(t.parts, part{hole: &info})
		if info.selfClose {
			// The close tag follows the text at once: keep it as a part
			// of its own, for Append to replace by "/>" when the text
			// is empty.
			end := "</" + info.elem.Name + ">"
			if !bytes.HasPrefix(out, []byte(end)) {
				return nil, fmt.Errorf("xmlgen: internal error: no %s after the text of <%s>", end, info.elem.Name)
			}
			t.parts = append(t.parts, part{static: out[:len(end)]})
			out = out[len(end):]
		}
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
//
// On error dst is returned as it was passed: the part of the element
// written before the bad value is cut off again.
func (t *Template) Append(dst []byte, vals []string) ([]byte, error) {
	if len(vals) < t.holes {
		return dst, fmt.Errorf("xmlgen: template needs %d values, got %d", t.holes, len(vals))
	}
	start := len(dst)
	for i := 0; i < len(t.parts); i++ {
		p := &t.parts[i]
		if p.hole == nil {
			dst = append(dst, p.static...)
			continue
		}
		v := vals[p.hole.index]
		if p.hole.url {
			// The common callback URL: accepted without net/url's
			// allocations, and copied as is when nothing needs escaping.
			if ok, clean := scanURL(v); ok {
				if clean {
					dst = append(dst, v...)
				} else {
					dst = appendEscaped(dst, v, p.hole.attr != nil)
				}
				continue
			}
		}
		if err := p.hole.check(v); err != nil {
			return dst[:start], err
		}
		if p.hole.attr != nil && p.hole.attr.Kind == Int {
			v = canonicalInt(v)
		}
		if v == "" && p.hole.selfClose {
			// <name></name> is written <name/>, as etree writes an
			// element without text or children.
			dst = append(dst[:len(dst)-1], "/>"...)
			i++ // the close tag
			continue
		}
		dst = appendEscaped(dst, v, p.hole.attr != nil)
	}
	// Rules between attributes, once every value passed its own check.
	for i := range t.rules {
		if err := t.rules[i].check(vals); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

func (h *holeInfo) check(v string) error {
	if h.attr != nil {
		if msg := h.attr.Validate(v); msg != "" {
			return &ValueError{Element: h.elem.Name, Attr: h.attr.Name, Value: v, Want: msg}
		}
		if h.children && !h.elem.ChildrenWhen(v) {
			return &ValueError{Element: h.elem.Name, Attr: h.attr.Name, Value: v, Want: childrenWant(h.elem)}
		}
		return nil
	}
	if msg := h.elem.ValidateText(v); msg != "" {
		if !h.selfClose && strings.TrimSpace(v) == "" {
			// Text before children (Speak's before its SSML) may come out
			// empty: the element still has content, as without text.
			return nil
		}
		return &ValueError{Element: h.elem.Name, Value: v, Want: msg}
	}
	return nil
}

// canonicalInt writes an integer a template gave, which Attr.Validate
// accepted (strconv.ParseInt's forms: "+3", "007", "-0"), as the SDKs
// write integers: "3", "7", "0".
func canonicalInt(v string) string {
	if v != "" && v[0] != '+' && v[0] != '-' && (v[0] != '0' || len(v) == 1) {
		return v // the common case, without parsing
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return v
	}
	return strconv.FormatInt(n, 10)
}

// scanURL reports, without allocating, that v is certainly an absolute
// http or https URL that the table's URL rule (CheckURL) accepts: a
// lowercase scheme, a host of letters, digits, dots and hyphens with an
// optional numeric port, then only printable ASCII other than '%'. ok
// false means "not sure": the caller runs the full check. clean reports
// that v holds none of & < > ", so it is written as is.
func scanURL(v string) (ok, clean bool) {
	rest, ok := strings.CutPrefix(v, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(v, "http://"); !ok {
			return false, false
		}
	}
	i := 0
	for i < len(rest) && hostByte[rest[i]] {
		i++
	}
	if i == 0 {
		return false, false
	}
	if i < len(rest) && rest[i] == ':' {
		i++
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
	}
	if i < len(rest) && rest[i] != '/' && rest[i] != '?' && rest[i] != '#' {
		return false, false
	}
	var class uint8
	for ; i < len(rest); i++ {
		class |= urlByte[rest[i]]
	}
	return class&urlUnsure == 0, class == 0
}

// hostByte marks the bytes scanURL takes in a host name.
var hostByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-'
	}
	return t
}()

// urlByte classes the bytes after a URL's host for scanURL.
const (
	urlEscaped = 1 << iota // & < > ": written escaped
	urlUnsure              // controls, space, non-ASCII, %: left to the full check
)

var urlByte = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c <= ' ' || c >= 0x7f || c == '%':
			t[c] = urlUnsure
		case c == '&' || c == '<' || c == '>' || c == '"':
			t[c] = urlEscaped
		}
	}
	return t
}()

// childrenWant completes "must ..." for a value its element's children
// rule refuses.
func childrenWant(e *Element) string {
	return "allow the children of <" + e.Name + "> (" + e.ChildrenWhy + ")"
}

// Build builds the element with etree from scratch, filling holes from
// vals. It is the straightforward way Prepare and Append improve on; tests
// compare the two, and benchmarks measure the difference.
func Build(e *El, vals []string) (*etree.Element, error) {
	return build(e, nil, nil, func(v Value, h holeInfo) (string, error) {
		s := v.Const
		if v.IsHole() {
			if v.Hole < 0 || v.Hole >= len(vals) {
				return "", fmt.Errorf("xmlgen: no value for hole %d", v.Hole)
			}
			s = vals[v.Hole]
			if err := h.check(s); err != nil {
				return "", err
			}
		}
		return s, nil
	})
}

// fill turns a Value into the string written for it; h says where it
// goes (its index is not set).
type fill func(v Value, h holeInfo) (string, error)

// build makes the etree element for e, checking it against the table.
// Attributes are written in the table's order whatever order e lists them in.
//
// Rules between attributes are checked once the attributes are written.
// With later nil (Build), holes are filled, and every rule is checked;
// otherwise (Prepare) a rule that reads a hole is added to *later, for
// Append to check.
func build(e *El, parent *Element, later *[]ruleCheck, f fill) (*etree.Element, error) {
	spec := Lookup(e.Name)
	if spec == nil {
		return nil, fmt.Errorf("xmlgen: Plivo has no element <%s>", e.Name)
	}
	if parent != nil && !parent.AllowsChild(e.Name) {
		return nil, fmt.Errorf("xmlgen: <%s> cannot contain <%s>", parent.Name, e.Name)
	}
	for i, av := range e.Attrs {
		if spec.Attr(av.Name) == nil {
			return nil, fmt.Errorf("xmlgen: <%s> has no attribute %q", e.Name, av.Name)
		}
		for _, prev := range e.Attrs[:i] {
			if prev.Name == av.Name {
				return nil, fmt.Errorf("xmlgen: <%s> attribute %q is given twice", e.Name, av.Name)
			}
		}
	}
	// Children that depend on an attribute (Speak's SSML on a Polly
	// voice): a constant is checked here, a hole when it is filled.
	needs := spec.ChildrenNeed != "" && len(e.Children) > 0
	if needs {
		found := false
		for _, av := range e.Attrs {
			found = found || av.Name == spec.ChildrenNeed
		}
		if !found {
			return nil, fmt.Errorf("xmlgen: <%s> children need %s: %s", e.Name, spec.ChildrenNeed, spec.ChildrenWhy)
		}
	}
	el := etree.NewElement(e.Name)
	for i := range spec.Attrs {
		a := &spec.Attrs[i]
		for _, av := range e.Attrs {
			if av.Name != a.Name {
				continue
			}
			children := needs && a.Name == spec.ChildrenNeed
			if !av.Value.IsHole() {
				if msg := a.Validate(av.Value.Const); msg != "" {
					return nil, &ValueError{Element: e.Name, Attr: a.Name, Value: av.Value.Const, Want: msg}
				}
				if children && !spec.ChildrenWhen(av.Value.Const) {
					return nil, &ValueError{Element: e.Name, Attr: a.Name, Value: av.Value.Const, Want: childrenWant(spec)}
				}
			}
			s, err := f(av.Value, holeInfo{elem: spec, attr: a, children: children})
			if err != nil {
				return nil, err
			}
			el.CreateAttr(a.Name, s)
		}
	}
	for i := range spec.Attrs {
		if a := &spec.Attrs[i]; a.Required && el.SelectAttr(a.Name) == nil {
			return nil, &ValueError{Element: e.Name, Attr: a.Name, Want: "be given"}
		}
	}
	for i := range spec.Rules {
		if err := buildRule(e, spec, &spec.Rules[i], el, later); err != nil {
			return nil, err
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
		s, err := f(*e.Text, holeInfo{elem: spec, selfClose: len(e.Children) == 0})
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
		child, err := build(c, spec, later, f)
		if err != nil {
			return nil, err
		}
		el.AddChild(child)
	}
	return el, nil
}

// buildRule checks rule r of e, whose attributes el holds as written, or
// adds it to *later when it reads a hole and later is set.
func buildRule(e *El, spec *Element, r *Rule, el *etree.Element, later *[]ruleCheck) error {
	rc := ruleCheck{elem: spec, rule: r}
	for i := range rc.hole {
		rc.hole[i] = -1
	}
	holes := false
	unknown := ""
	for i, name := range r.Attrs {
		for _, av := range e.Attrs {
			if av.Name != name {
				continue
			}
			switch {
			case !av.Value.IsHole():
				rc.args[i] = RuleArg{Value: av.Value.Const, Set: true}
			case later != nil && r.presence(name):
				// Written, whatever the hole will hold: checked now,
				// unless another hole waits for Append, which fills it
				// for the message.
				rc.args[i] = RuleArg{Set: true}
				rc.hole[i] = av.Value.Hole
				unknown = name
			case later != nil:
				rc.args[i] = RuleArg{Set: true}
				rc.hole[i] = av.Value.Hole
				holes = true
			default:
				// Build: the hole was filled (and checked) when written.
				rc.args[i] = RuleArg{Value: el.SelectAttrValue(name, ""), Set: true}
			}
		}
	}
	if holes {
		*later = append(*later, rc)
		return nil
	}
	if ve := spec.broken(r, &rc.args); ve != nil {
		ve.unknown = ve.Attr != "" && ve.Attr == unknown
		return ve
	}
	return nil
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
	// Closed in d.buf itself, so that what it grows to stays for the next
	// document (Reset keeps it): append(d.buf, closeResponse...) alone
	// made a new array for every document that filled d.buf to its
	// capacity, each time, about 700 bytes a webhook.
	n := len(d.buf)
	d.buf = append(d.buf, closeResponse...)
	out := d.buf
	d.buf = d.buf[:n]
	if len(out) > MaxDocument {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(out))
	}
	return out, nil
}
