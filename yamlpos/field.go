package yamlpos

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Field declares one key of a mapping: its name, the type and rules of its
// value, and one line of documentation. A format declares each of its
// mappings as a table of fields, in the order its reference lists them;
// Decoder.Object decodes against the table and FieldSchema generates the
// JSON Schema from it, so the two agree. Modelled on Benthos's FieldSpec
// (redpanda-data/benthos internal/docs/field.go).
type Field struct {
	Name     string
	Type     Type
	Doc      string // one line for the reference and the schema's description
	Required bool
	// Need completes "<mapping> needs <name>: " when a required key is
	// missing; "" says the Doc's first clause, in parentheses.
	Need    string
	Default string // the documented default, as written; "" when none

	// Enum lists the allowed values of an Enum, CommaList or Set. Fold
	// makes them match in any case; OrURL lets an Enum take a URL too.
	Enum  []string
	Fold  bool
	OrURL bool
	// Examples are well-known values of a String, offered to editors but
	// not enforced.
	Examples []string
	// Min and Max bound an Int when HasMin and HasMax are set; MaxLen
	// bounds the length of a String.
	Min, Max       int64
	HasMin, HasMax bool
	MaxLen         int
	// Pattern is the form of a String (a text or an integer); Form says it
	// in words, for messages and the reference.
	Pattern *regexp.Regexp
	Form    string
	// Check is a rule the fields above cannot state. It returns what
	// completes "must ...", or "" when the value is fine.
	Check func(v string) string

	// Keys is the form of a Map's keys; KeyName is what messages call a
	// key ("variable name") and KeyForm says the form in words.
	Keys             *regexp.Regexp
	KeyName, KeyForm string
	// Value is the field of each value of a Map; nil admits any value.
	Value *Field
	// Fields are the keys of an Object, or of each item of a List.
	Fields []Field
	// Short names the field of an Object that a single value stands for
	// (a param written name: value is its default).
	Short string
	// MinItems is the fewest items of a List or entries of a Map.
	MinItems int
	// Null lets a Map be empty (null).
	Null bool
	// Exclusive fields of one mapping exclude each other: a mapping may
	// have at most one of them (the event of a flow-test step).
	Exclusive bool
	// Template says a {{ template }} may stand for the value; its result
	// is checked when it is known.
	Template bool
	// Schema is the value's JSON Schema when its type cannot say it (a
	// reference to a named definition, a node id); the decoder reads the
	// value as Type says.
	Schema Obj
}

// Type is the shape of a field's value.
type Type uint8

// The types of values.
const (
	String    Type = iota // a single value, read as text; not empty
	Text                  // a single value, or empty ("")
	Int                   // an integer
	Bool                  // true or false
	True                  // true: a flag
	Time                  // an RFC 3339 time
	URL                   // an absolute http or https URL
	Method                // GET or POST
	Enum                  // one of Enum
	CommaList             // a comma-separated list of Enum, each at most once
	Strings               // a list of single values, or one
	Set                   // a list of distinct values of Enum
	Map                   // names (Keys) to values (Value)
	Object                // a mapping of Fields
	List                  // a list of mappings of Fields
)

var typeNames = [...]string{
	String: "string", Text: "text", Int: "integer", Bool: "boolean", True: "true", Time: "time",
	URL: "URL", Method: "method", Enum: "enum", CommaList: "list", Strings: "strings", Set: "set",
	Map: "mapping", Object: "mapping", List: "list of mappings",
}

func (t Type) String() string { return typeNames[t] }

// Names returns the names of fields, in order.
func Names(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the field named name, or nil.
func Lookup(fields []Field, name string) *Field {
	if i := slices.IndexFunc(fields, func(f Field) bool { return f.Name == name }); i >= 0 {
		return &fields[i]
	}
	return nil
}

// Summary is a doc up to its first full stop or semicolon, lowercased:
// short enough for a message.
func Summary(doc string) string {
	if i := strings.Index(doc, ". "); i >= 0 {
		doc = doc[:i]
	}
	doc = strings.TrimSuffix(doc, ".")
	if i := strings.Index(doc, "; "); i >= 0 {
		doc = doc[:i]
	}
	if doc == "" {
		return doc
	}
	return strings.ToLower(doc[:1]) + doc[1:]
}

// Mapping is a mapping that a table of fields declares, as Decoder.Object
// reads it.
type Mapping struct {
	What   string // names the mapping in messages: "a case", "a branch case"
	Fields []Field
	// Unknown reports a key that is no field. got holds the fields found;
	// Unknown may add the field it reads the key as. Nil reports an
	// unknown key with the field it most likely means.
	Unknown func(p Pair, got map[string]Pair)
	// Missing reports a required field that is not there; misspelt says
	// an unknown key most likely meant it, and was reported. Nil reports
	// Needs at the mapping, unless misspelt.
	Missing func(f *Field, misspelt bool)
}

// Needs is the message for a required field that is missing.
func (m *Mapping) Needs(f *Field) string {
	need := f.Need
	if need == "" {
		need = "(" + Summary(f.Doc) + ")"
	}
	return m.What + " needs " + f.Name + ": " + need
}

// Object reads a mapping that m declares: duplicate and unknown keys (with
// the field a typo most likely means) and missing required fields are
// reported; the fields found are returned by name. Their values are the
// caller's to read, or to check with Value. Null is an empty mapping.
func (d *Decoder) Object(n *yaml.Node, m Mapping) (map[string]Pair, bool) {
	at := d.Pos(n)
	if r := Resolve(n); IsNull(r) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: r.Line, Column: r.Column}
	}
	pairs, ok := d.Mapping(n, m.What)
	if !ok {
		return nil, false
	}
	names := Names(m.Fields)
	got := make(map[string]Pair, len(pairs))
	for _, p := range pairs {
		if slices.Contains(names, p.Key.Value) {
			got[p.Key.Value] = p
		}
	}
	misspelt := map[string]bool{}
	for _, p := range pairs {
		if slices.Contains(names, p.Key.Value) {
			continue
		}
		misspelt[Closest(p.Key.Value, names)] = true
		if m.Unknown != nil {
			m.Unknown(p, got)
		} else {
			d.UnknownKey(p.Key, m.What, names)
		}
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if _, ok := got[f.Name]; ok || !f.Required {
			continue
		}
		switch {
		case m.Missing != nil:
			m.Missing(f, misspelt[f.Name])
		case !misspelt[f.Name]:
			d.Errorf(at, CodeMissingKey, "%s", m.Needs(f))
		}
	}
	return got, true
}

// ExclusiveGiven returns the pairs of got (what Object read) whose fields
// are Exclusive, in the fields' order: more than one is the caller's
// error to report, in the words of its format.
func ExclusiveGiven(fields []Field, got map[string]Pair) []Pair {
	var out []Pair
	for i := range fields {
		if p, ok := got[fields[i].Name]; ok && fields[i].Exclusive {
			out = append(out, p)
		}
	}
	return out
}

// Value checks a value's shape against its field, reporting what is wrong
// at the value. The fields of an Object or of a List's items are the
// caller's to read with Object; the values of the types a format checks
// with rules of its own (Int, URL, Method, CommaList, Set) pass.
func (d *Decoder) Value(f *Field, v *yaml.Node) bool {
	v = Resolve(v)
	what := f.Name
	single := func() bool {
		if v.Kind != yaml.ScalarNode || IsNull(v) {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a single value, not %s", what, Describe(v))
			return false
		}
		return true
	}
	switch f.Type {
	case String:
		if !single() {
			return false
		}
		if f.Pattern != nil && !f.Pattern.MatchString(v.Value) {
			d.Errorf(d.Pos(v), CodeValue, "%s %q must be %s", what, v.Value, f.Form)
			return false
		}
	case Enum:
		if !single() {
			return false
		}
		if !slices.Contains(f.Enum, v.Value) {
			d.Errorf(d.Pos(v), CodeValue, "%s %q is not one of %s%s", what, v.Value, strings.Join(f.Enum, ", "), DidYouMean(v.Value, f.Enum))
			return false
		}
	case Text:
		if v.Kind != yaml.ScalarNode {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a single value, not %s", what, Describe(v))
			return false
		}
	case Strings:
		if v.Kind == yaml.ScalarNode && !IsNull(v) {
			return true
		}
		if v.Kind != yaml.SequenceNode {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a list of values, not %s", what, Describe(v))
			return false
		}
		ok := true
		for _, item := range v.Content {
			if item = Resolve(item); item.Kind != yaml.ScalarNode || IsNull(item) {
				d.Errorf(d.Pos(item), CodeShape, "each item of %s must be a single value, not %s", what, Describe(item))
				ok = false
			}
		}
		return ok
	case Map:
		_, ok := d.Entries(f, v, what)
		return ok
	case True:
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || strings.ToLower(v.Value) != "true" {
			d.Errorf(d.Pos(v), CodeType, "%s must be true, not %s", what, Describe(v))
			return false
		}
	case Bool:
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			d.Errorf(d.Pos(v), CodeType, "%s must be true or false, not %s", what, Describe(v))
			return false
		}
	case Time:
		if v.Kind != yaml.ScalarNode || IsNull(v) {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a time, not %s", what, Describe(v))
			return false
		}
		if _, err := time.Parse(time.RFC3339, v.Value); err != nil {
			d.Errorf(d.Pos(v), CodeValue, "%s %q must be an RFC 3339 time with its UTC offset, like 2026-11-23T10:00:00-05:00", what, v.Value)
			return false
		}
	case Object:
		if v.Kind != yaml.MappingNode && !IsNull(v) {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a mapping (key: value lines), not %s", what, Describe(v))
			return false
		}
	case List:
		if v.Kind != yaml.SequenceNode {
			d.Errorf(d.Pos(v), CodeShape, "%s must be a list (- ...), not %s", what, Describe(v))
			return false
		}
		if len(v.Content) < f.MinItems {
			d.Errorf(d.Pos(v), CodeMissingKey, "%s is empty: it needs at least one item (%s)", what, Summary(f.Doc))
			return false
		}
	}
	return true
}

// Entries reads a Map (what names it in messages), reporting keys that
// do not have the form of Keys and, when Value is a single value, values
// that are not. Entries with a bad key are left out.
func (d *Decoder) Entries(f *Field, v *yaml.Node, what string) ([]Pair, bool) {
	pairs, ok := d.Mapping(v, what)
	if !ok {
		return nil, false
	}
	for _, p := range pairs {
		if f.Keys != nil && !f.Keys.MatchString(p.Key.Value) {
			d.Errorf(d.Pos(p.Key), CodeShape, "%s %q must be %s", f.KeyName, p.Key.Value, f.KeyForm)
		}
		if f.Value != nil && f.Value.Type == Text && Resolve(p.Val).Kind != yaml.ScalarNode {
			d.Errorf(d.Pos(p.Val), CodeShape, "%s.%s must be a single value, not %s", what, p.Key.Value, Describe(Resolve(p.Val)))
			ok = false
		}
	}
	return pairs, ok
}
