package yamlpos

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"unicode"
)

// JSON Schema (draft 2020-12) generated from field tables, so that editors
// check what the decoder checks. What JSON Schema cannot see (references
// between parts of a file, expressions, rules written as code) is left to
// the decoder and the checks after it.

// Obj is a JSON Schema object.
type Obj = map[string]any

// ScalarTypes are the JSON types of a YAML scalar.
var ScalarTypes = []string{"string", "number", "boolean"}

// TemplateRef is the definition a Template field's schema refers to for
// a {{ template }}; the schema that holds the field defines it.
const TemplateRef = "#/$defs/template"

// URLPattern is what an absolute http or https URL starts with: the scheme
// in any case (url.Parse lowers it) and a host.
const URLPattern = `^[Hh][Tt][Tt][Pp][Ss]?://[^/\s]`

// FieldSchema returns the JSON Schema of a field's value, with its
// documentation and default as the description.
func FieldSchema(f *Field) Obj {
	var s Obj
	if f.Schema != nil {
		s = maps.Clone(f.Schema)
	} else {
		s = typeSchema(f)
	}
	if f.Template {
		s = Obj{"anyOf": []any{s, Obj{"$ref": TemplateRef}}}
	}
	doc := f.Doc
	if f.Default != "" {
		doc += " Default: " + f.Default + "."
	}
	if doc = strings.TrimSpace(doc); doc != "" {
		s["description"] = doc
	}
	return s
}

func typeSchema(f *Field) Obj {
	switch f.Type {
	case String:
		if f.Pattern != nil {
			return Obj{"type": []string{"string", "integer"}, "pattern": f.Pattern.String()}
		}
		s := Obj{"type": ScalarTypes}
		if f.MaxLen > 0 {
			s["maxLength"] = f.MaxLen
		}
		if len(f.Examples) > 0 {
			s["examples"] = f.Examples
		}
		return s
	case Text:
		return Obj{"type": []string{"string", "number", "boolean", "null"}}
	case Int:
		s := Obj{"type": "integer"}
		if f.HasMin {
			s["minimum"] = f.Min
		}
		if f.HasMax {
			s["maximum"] = f.Max
		}
		return s
	case Bool:
		return Obj{"type": "boolean"}
	case True:
		return Obj{"const": true}
	case Time:
		return Obj{"type": "string", "format": "date-time"}
	case URL:
		return Obj{"type": "string", "pattern": URLPattern}
	case Method:
		return Obj{"enum": []string{"GET", "POST"}}
	case Enum:
		s := Obj{"enum": f.Enum}
		if f.Fold {
			s = Obj{"type": "string", "pattern": "^(" + Alternation(f.Enum, true) + ")$"}
		}
		if f.OrURL {
			s = Obj{"anyOf": []any{s, Obj{"type": "string", "pattern": URLPattern}}}
		}
		return s
	case CommaList:
		alt := Alternation(f.Enum, f.Fold)
		return Obj{"type": "string", "pattern": "^(" + alt + ")(,(" + alt + "))*$"}
	case Strings:
		return Obj{"anyOf": []any{Obj{"type": ScalarTypes}, Obj{"type": "array", "items": Obj{"type": ScalarTypes}}}}
	case Set:
		if len(f.Enum) == 0 {
			return Obj{"type": "array", "maxItems": 0}
		}
		return Obj{"type": "array", "uniqueItems": true, "items": Obj{"enum": f.Enum}}
	case Map:
		s := Obj{"type": "object"}
		if f.Null {
			s["type"] = []string{"object", "null"}
		}
		if f.Keys != nil {
			s["propertyNames"] = Obj{"pattern": f.Keys.String()}
		}
		if f.Value != nil {
			s["additionalProperties"] = FieldSchema(f.Value)
		}
		if f.MinItems > 0 {
			s["minProperties"] = f.MinItems
		}
		return s
	case Object:
		s := ObjectSchema(f.Fields)
		if f.Short != "" {
			s = Obj{"anyOf": []any{FieldSchema(Lookup(f.Fields, f.Short)), s}}
		}
		return s
	case List:
		s := Obj{"type": "array", "items": ObjectSchema(f.Fields)}
		if f.MinItems > 0 {
			s["minItems"] = f.MinItems
		}
		return s
	}
	panic("yamlpos: no schema for type " + f.Type.String())
}

// ObjectSchema returns the JSON Schema of a mapping of fields: no other
// keys, the required ones, and at most one of the exclusive ones.
func ObjectSchema(fields []Field) Obj {
	props := Obj{}
	var required, exclusive []string
	for i := range fields {
		f := &fields[i]
		props[f.Name] = FieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
		if f.Exclusive {
			exclusive = append(exclusive, f.Name)
		}
	}
	s := Obj{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(exclusive) > 1 {
		var pairs []any
		for i := range exclusive {
			for j := i + 1; j < len(exclusive); j++ {
				pairs = append(pairs, Obj{"required": []string{exclusive[i], exclusive[j]}})
			}
		}
		s["not"] = Obj{"anyOf": pairs}
	}
	return s
}

// MarshalSchema writes a schema indented, with a final newline, keeping <,
// > and & as they are (encoding/json would write \u003c) so a committed
// file reads well.
func MarshalSchema(s any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Alternation writes values as a regular-expression alternation, matching
// any letter case when fold is set (ECMA-262 patterns have no (?i)).
func Alternation(values []string, fold bool) string {
	parts := make([]string, len(values))
	for i, v := range values {
		var b strings.Builder
		for _, r := range v {
			switch {
			case fold && unicode.IsLetter(r):
				b.WriteString("[" + string(unicode.ToUpper(r)) + string(unicode.ToLower(r)) + "]")
			case strings.ContainsRune(`\^$.|?*+()[]{}/`, r):
				b.WriteString(`\` + string(r))
			default:
				b.WriteRune(r)
			}
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, "|")
}
