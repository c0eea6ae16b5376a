package xmlgen

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the value type of an attribute as Plivo documents it.
type Kind uint8

// The attribute kinds. Every value is written to XML as a string; the kind
// says which strings Plivo accepts.
const (
	String Kind = iota // free text, optionally limited by Check or MaxLen
	Int                // a decimal integer, limited by Min/Max
	Bool               // true or false
	URL                // an absolute http(s) URL
	Method             // GET or POST
	Enum               // one of Values
	List               // a comma-separated list of Values, each at most once
)

var kindNames = [...]string{String: "string", Int: "integer", Bool: "boolean", URL: "URL", Method: "method", Enum: "enum", List: "list"}

func (k Kind) String() string { return kindNames[k] }

// Attr declares one attribute of a Plivo element: its name exactly as Plivo
// spells it, its kind, Plivo's default and the values Plivo accepts.
type Attr struct {
	Name    string
	Kind    Kind
	Default string // Plivo's documented default, as written in XML; "" when none
	Doc     string // one line for the language reference and the JSON Schema
	// Required attributes must be written (MultiPartyCall role, SSML say-as
	// interpret-as).
	Required bool

	// Min and Max bound an Int when HasMin/HasMax are set.
	Min, Max       int64
	HasMin, HasMax bool

	// Values lists the allowed values of an Enum or List. For a String it
	// lists well-known values that are offered to editors but not enforced.
	Values []string
	// Fold makes Values match case-insensitively (MultiPartyCall role).
	Fold bool
	// OrURL lets an Enum also take an absolute URL (enterSound: beep:1 or a URL).
	OrURL bool
	// MaxLen limits the length of a String in characters (Unicode code
	// points, as Plivo counts them and as the plivo package's REST checks
	// do); 0 means no limit.
	MaxLen int
	// Check is an extra rule for values the fields above cannot express
	// (finishOnKey, sipHeaders, SSML times). It returns a message that
	// completes "must ...", or "" when the value is fine.
	Check func(v string) string
	// Needs names the attribute this one only makes sense with; it is a
	// documentation hint, not enforced.
	Needs string
	// MPC marks a MultiPartyCall attribute that sets a property of the MPC
	// rather than of the participant: the participant that creates the MPC
	// sets it, and it is ignored from anyone who joins later.
	MPC bool
}

// ValueError reports a value that Plivo would not accept.
type ValueError struct {
	Element, Attr, Value string
	Want                 string // completes "must ...": "be an integer from 2 to 10"
	// rule is set for a Rule about the element as a whole, which has no
	// value to show.
	rule bool
	// unknown is set for a Rule about an attribute that is written from a
	// template, checked before its value is known (Rule.Presence).
	unknown bool
}

func (e *ValueError) Error() string {
	where := e.Element
	if e.Attr != "" {
		where += " " + e.Attr
	}
	if e.rule && (e.Attr == "" || e.unknown) {
		return fmt.Sprintf("%s must %s", where, e.Want)
	}
	return fmt.Sprintf("%s %q must %s", where, e.Value, e.Want)
}

// Validate checks v against the attribute's rules and returns a message
// that completes "must ...", or "" when Plivo accepts the value.
func (a *Attr) Validate(v string) string {
	switch a.Kind {
	case Int:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "be " + a.rangeText()
		}
		if (a.HasMin && n < a.Min) || (a.HasMax && n > a.Max) {
			return "be " + a.rangeText()
		}
	case Bool:
		if v != "true" && v != "false" {
			return "be true or false"
		}
	case URL:
		if msg := CheckURL(v); msg != "" {
			return msg
		}
	case Method:
		if v != "GET" && v != "POST" {
			return "be GET or POST"
		}
	case Enum:
		if a.match(v) {
			break
		}
		if a.OrURL && CheckURL(v) == "" {
			break
		}
		return "be " + a.valuesText()
	case List:
		seen := map[string]bool{}
		for _, item := range strings.Split(v, ",") {
			if !a.match(item) {
				return "be a comma-separated list of " + orList(a.Values)
			}
			if seen[item] {
				return "not repeat " + strconv.Quote(item)
			}
			seen[item] = true
		}
	case String:
		if a.MaxLen > 0 && len(v) > a.MaxLen && utf8.RuneCountInString(v) > a.MaxLen {
			return fmt.Sprintf("be at most %d characters", a.MaxLen)
		}
	}
	if a.Check != nil {
		return a.Check(v)
	}
	return ""
}

func (a *Attr) match(v string) bool {
	for _, want := range a.Values {
		if v == want || (a.Fold && strings.EqualFold(v, want)) {
			return true
		}
	}
	return false
}

func (a *Attr) rangeText() string {
	switch {
	case a.HasMin && a.HasMax:
		return fmt.Sprintf("an integer from %d to %d", a.Min, a.Max)
	case a.HasMin:
		return fmt.Sprintf("an integer of at least %d", a.Min)
	case a.HasMax:
		return fmt.Sprintf("an integer of at most %d", a.Max)
	}
	return "an integer"
}

func (a *Attr) valuesText() string {
	s := "one of " + orList(a.Values)
	if a.OrURL {
		s += ", or an absolute URL"
	}
	if a.Fold {
		s += " (in any letter case)"
	}
	return s
}

func orList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// CheckURL accepts an absolute http or https URL, as Plivo's URL
// attributes take them; it returns a message completing "must ...", or "".
func CheckURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "be an absolute http or https URL"
	}
	return ""
}

// Text says whether an element carries text content.
type Text uint8

// The text rules.
const (
	NoText       Text = iota // the element is empty (Hangup, Wait)
	OptionalText             // text may be given (SSML elements)
	RequiredText             // text must be given (Speak, Play, Number)
)

// Element declares one element of Plivo's voice XML: its attributes in the
// order flowd writes them, its text rule and the elements it may contain.
type Element struct {
	Name     string
	Doc      string
	Text     Text
	TextKind Kind // URL for Play/Redirect/Stream, String otherwise
	// TextCheck validates text content like Attr.Check (DTMF digits, wss URLs).
	TextCheck func(v string) string
	Attrs     []Attr
	// Children lists the element names allowed inside, in no particular order.
	Children []string
	// MinChildren is the least number of children (Dial needs one Number or User).
	MinChildren int
	// ChildrenNeed names an attribute that must satisfy ChildrenWhen for
	// children to be allowed: Speak takes SSML only with a Polly voice.
	ChildrenNeed string
	ChildrenWhen func(attrValue string) bool
	ChildrenWhy  string
	// Rules are Plivo's documented rules between attributes of the
	// element, which no single attribute's check can state (Stream
	// audioTrack must be inbound when bidirectional is true).
	Rules []Rule
}

// MaxRuleAttrs is the most attributes one Rule reads.
const MaxRuleAttrs = 3

// Rule is a documented rule between attributes of one element.
type Rule struct {
	// Attrs names the attributes the rule reads, at most MaxRuleAttrs.
	Attrs []string
	// About is the attribute the message is about, one of Attrs; "" when
	// it is about the element as a whole (prosody needs an attribute).
	About string
	// Presence names those of Attrs whose value the rule does not read,
	// only whether they are written (User sipAuthUsername needs
	// sipAuthPassword). A template there is known to be written when the
	// flow loads, so the rule is checked then rather than on each call.
	// Check must not read their Value ("" for a template).
	Presence []string
	// Doc states the rule in one line for the language reference.
	Doc string
	// Check gets what is written of Attrs, in order, each value valid on
	// its own, and returns a message that completes "<element> <About>
	// must ...", or "" when the values go together. A message starting
	// with "not " names the offending values itself.
	Check func(a RuleArgs) string
}

// RuleArg is what a Rule sees of one attribute.
type RuleArg struct {
	Value string // the value written; "" when Set is false
	Set   bool   // the attribute is written; when false Plivo's default applies
}

// RuleArgs are the attributes a Rule reads, in the order of its Attrs.
// A fixed array is passed by value, so checking a rule allocates nothing.
type RuleArgs [MaxRuleAttrs]RuleArg

// broken runs r over a and returns the ValueError it reports, or nil.
func (e *Element) broken(r *Rule, a *RuleArgs) *ValueError {
	msg := r.Check(*a)
	if msg == "" {
		return nil
	}
	ve := &ValueError{Element: e.Name, Attr: r.About, Want: msg, rule: true}
	for i, name := range r.Attrs {
		if name == r.About {
			ve.Value = a[i].Value
		}
	}
	return ve
}

// CheckRules checks e's Rules over the attribute values that are known.
// value says what is written of an attribute: its RuleArg, and known
// false when it is written but its value is only known at run time (a
// template). A rule is skipped when an attribute whose value it reads is
// not known (one of its Presence is known to be written), or has a value
// its own Attr.Validate refuses (that is reported on its own). Each
// broken rule comes back as a ValueError naming the rule's About
// attribute and its value.
func (e *Element) CheckRules(value func(attr string) (a RuleArg, known bool)) []*ValueError {
	var out []*ValueError
rules:
	for i := range e.Rules {
		r := &e.Rules[i]
		var args RuleArgs
		unknown := ""
		for j, name := range r.Attrs {
			a, known := value(name)
			switch {
			case !known && !r.presence(name):
				continue rules
			case !known:
				a, unknown = RuleArg{Set: true}, name
			case a.Set:
				if spec := e.Attr(name); spec == nil || spec.Validate(a.Value) != "" {
					continue rules
				}
			}
			args[j] = a
		}
		if ve := e.broken(r, &args); ve != nil {
			ve.unknown = ve.Attr != "" && ve.Attr == unknown
			out = append(out, ve)
		}
	}
	return out
}

// presence reports whether r reads only whether attr is written.
func (r *Rule) presence(attr string) bool {
	for _, p := range r.Presence {
		if p == attr {
			return true
		}
	}
	return false
}

// Attr returns the attribute named name, or nil.
func (e *Element) Attr(name string) *Attr {
	for i := range e.Attrs {
		if e.Attrs[i].Name == name {
			return &e.Attrs[i]
		}
	}
	return nil
}

// AllowsChild reports whether an element named child may appear inside e.
func (e *Element) AllowsChild(child string) bool {
	for _, c := range e.Children {
		if c == child {
			return true
		}
	}
	return false
}

// ValidateText checks text content and returns a message completing
// "must ...", or "".
func (e *Element) ValidateText(v string) string {
	if e.Text == RequiredText && strings.TrimSpace(v) == "" {
		return "not be empty"
	}
	if e.TextKind == URL && v != "" {
		if msg := CheckURL(v); msg != "" && e.TextCheck == nil {
			return msg
		}
	}
	if e.TextCheck != nil && v != "" {
		return e.TextCheck(v)
	}
	return ""
}

// Lookup returns the element named name, or nil when Plivo has no such
// element. Names are case-sensitive, as in Plivo's XML.
func Lookup(name string) *Element {
	return byName[name]
}

// Elements returns every element in the table, in declaration order.
func Elements() []*Element {
	out := make([]*Element, len(elements))
	for i := range elements {
		out[i] = &elements[i]
	}
	return out
}

var byName = func() map[string]*Element {
	m := make(map[string]*Element, len(elements))
	for i := range elements {
		m[elements[i].Name] = &elements[i]
	}
	return m
}()
