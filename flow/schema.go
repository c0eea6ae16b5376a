package flow

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/flowd-dev/flowd/xmlgen"
)

// The JSON Schema of flow files is generated from the same tables as the
// decoder and checker, so editors check what `flowd validate` checks.
// What JSON Schema cannot see (references between nodes, expressions,
// loops, duplicate keys, value rules written as code) is left to validate.

// SchemaID is the $id of the flow-file schema.
const SchemaID = "https://flowd.dev/schema/flow.schema.json"

type obj = map[string]any

var (
	scalarTypes = []string{"string", "number", "boolean"}
	template    = obj{"type": "string", "pattern": `\{\{`}
	scalar      = obj{"type": scalarTypes}
	// orNull is a scalar or nothing: flowd reads an empty value as "".
	orNull = obj{"type": []string{"string", "number", "boolean", "null"}}
	// nodeRef names a node. Node ids start with a letter, so the YAML scalars
	// that can name one are strings and the booleans true and false.
	nodeRef = obj{"type": []string{"string", "boolean"}}
	// urlPattern is what checkURL accepts at the start: an http or https
	// scheme in any case (url.Parse lowers it) and a host.
	urlPattern = `^[Hh][Tt][Tt][Pp][Ss]?://[^/\s]`
)

// Schema returns the JSON Schema of flow files, indented, with a final newline.
func Schema() ([]byte, error) {
	defs := obj{"template": template}
	for _, e := range xmlgen.Elements() {
		if e.Name == "Response" {
			continue
		}
		defs["element."+e.Name] = elementSchema(e, nil)
	}
	var nodeKinds []any
	for _, k := range Kinds() {
		defs["node."+k.Name] = nodeSchema(k)
		if k.Element != nil {
			defs["action."+k.Name] = elementSchema(k.Element, k)
		}
		nodeKinds = append(nodeKinds, obj{"$ref": "#/$defs/node." + k.Name})
	}
	defs["node"] = obj{"oneOf": nodeKinds}
	s := obj{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "flowd flow",
		"description":          "A call flow served by flowd as a Plivo answer_url.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"nodes"},
		"properties": obj{
			"flow": obj{
				// A number or boolean is read as its text (flow: 411).
				"anyOf":       []any{obj{"type": "string", "pattern": flowNameRE.String()}, obj{"type": []string{"number", "boolean"}}},
				"description": "The flow's name; default: the file name without .yaml.",
			},
			"description": orNull,
			"params": obj{
				"type":          []string{"object", "null"},
				"propertyNames": obj{"pattern": identRE.String()},
				"additionalProperties": obj{"anyOf": []any{
					orNull,
					obj{"type": "object", "additionalProperties": false, "properties": obj{
						"default": orNull, "description": orNull,
					}},
				}},
				"description": "Deployment values, read as params.<name>; overridable with --param.",
			},
			"vars": obj{
				"type":          []string{"object", "null"},
				"propertyNames": obj{"pattern": identRE.String()},
				"description":   "Initial per-call variables, read as vars.<name> and changed by set.",
			},
			"start":    withDoc(nodeRef, "The first node; default: the first node listed."),
			"on_error": withDoc(nodeRef, "The node entered when a run-time error occurs."),
			"nodes": obj{
				"type":                 "object",
				"minProperties":        1,
				"propertyNames":        obj{"pattern": nodeIDRE.String()},
				"additionalProperties": obj{"$ref": "#/$defs/node"},
			},
		},
		"$defs": defs,
	}
	return marshalSchema(s)
}

// marshalSchema writes a schema indented, keeping <, > and & as they are
// (encoding/json would write \u003c) so the committed file reads well.
func marshalSchema(s any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// withDoc returns a copy of s with a description.
func withDoc(s obj, doc string) obj {
	out := obj{"description": doc}
	for k, v := range s {
		out[k] = v
	}
	return out
}

func nodeSchema(k *Kind) obj {
	props := obj{"description": orNull}
	props[k.Name] = k.behavior.schema(k)
	if k.traits.control != ends {
		props["next"] = nodeRef
	}
	if len(k.Outcomes) > 0 {
		props["on"] = obj{
			"type":                 []string{"object", "null"},
			"propertyNames":        obj{"enum": k.Outcomes},
			"additionalProperties": nodeRef,
		}
	} else {
		// An empty on: is harmless; any outcome is an error.
		props["on"] = obj{"type": []string{"object", "null"}, "maxProperties": 0}
	}
	if len(k.Reports) > 0 {
		props["events"] = obj{
			"type": "array", "uniqueItems": true,
			"items":       obj{"enum": k.Reports},
			"description": "Callbacks flowd receives and keeps in the call's trace: status (statusCallbackUrl) and recording (recordingCallbackUrl).",
		}
	} else {
		// A kind without Reports has nothing for flowd to receive.
		props["events"] = obj{"type": "array", "maxItems": 0}
	}
	return obj{
		"type": "object", "additionalProperties": false,
		"required":   []string{k.Name},
		"properties": props,
	}
}

// elementSchema describes an element written as a node's action (kind set)
// or as a child (kind nil).
func elementSchema(e *xmlgen.Element, k *Kind) obj {
	props := obj{}
	var required []string
	for i := range e.Attrs {
		a := &e.Attrs[i]
		if k != nil && k.Owns(a.Name) {
			continue
		}
		props[a.Name] = attrSchema(a)
		if a.Required {
			required = append(required, a.Name)
		}
	}
	ck := ContentKey(e)
	if ck != "" {
		props[ck] = textSchema(e)
		if e.Text == xmlgen.OptionalText {
			props[ck] = obj{"anyOf": []any{textSchema(e), obj{"type": "null"}}}
		}
	}
	if len(e.Children) > 0 {
		items := obj{}
		for _, c := range e.Children {
			items[c] = obj{"$ref": "#/$defs/element." + c}
		}
		children := obj{"type": "array", "items": obj{
			"type": "object", "minProperties": 1, "maxProperties": 1,
			"additionalProperties": false, "properties": items,
		}}
		if e.MinChildren > 0 {
			children["minItems"] = e.MinChildren
		}
		props["children"] = children
	}
	form := obj{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		form["required"] = required
	}
	switch {
	case e.MinChildren > 0:
		form["required"] = append(required, "children")
	case e.Text == xmlgen.RequiredText && len(e.Children) > 0:
		form["anyOf"] = []any{obj{"required": []string{ck}}, obj{"required": []string{"children"}}}
	case e.Text == xmlgen.RequiredText:
		form["required"] = append(required, ck)
	}
	alts := []any{form}
	if len(required) == 0 && e.MinChildren == 0 {
		if e.Text == xmlgen.NoText || e.Text == xmlgen.OptionalText {
			alts = append(alts, obj{"type": "null"})
		}
		if ck != "" {
			alts = append(alts, textSchema(e))
		}
	}
	out := obj{"anyOf": alts}
	if e.Doc != "" {
		out["description"] = e.Doc
	}
	return out
}

func textSchema(e *xmlgen.Element) obj {
	if e.TextKind == xmlgen.URL {
		return obj{"type": "string", "pattern": "(" + urlPattern + `)|\{\{`}
	}
	return scalar
}

// attrSchema describes the values of one attribute: its constant forms,
// or a {{ template }} checked when the call runs.
func attrSchema(a *xmlgen.Attr) obj {
	var c obj
	switch a.Kind {
	case xmlgen.Int:
		c = obj{"type": "integer"}
		if a.HasMin {
			c["minimum"] = a.Min
		}
		if a.HasMax {
			c["maximum"] = a.Max
		}
	case xmlgen.Bool:
		c = obj{"type": "boolean"}
	case xmlgen.URL:
		c = obj{"type": "string", "pattern": urlPattern}
	case xmlgen.Method:
		c = obj{"enum": []string{"GET", "POST"}}
	case xmlgen.Enum:
		c = obj{"type": "string", "pattern": "^(" + alternation(a.Values, a.Fold) + ")$"}
		if !a.Fold {
			c = obj{"enum": a.Values}
		}
		if a.OrURL {
			c = obj{"anyOf": []any{c, obj{"type": "string", "pattern": urlPattern}}}
		}
	case xmlgen.List:
		alt := alternation(a.Values, a.Fold)
		c = obj{"type": "string", "pattern": "^(" + alt + ")(,(" + alt + "))*$"}
	default:
		c = obj{"type": scalarTypes}
		if a.MaxLen > 0 {
			c["maxLength"] = a.MaxLen
		}
		if len(a.Values) > 0 {
			c["examples"] = a.Values
		}
	}
	out := obj{"anyOf": []any{c, obj{"$ref": "#/$defs/template"}}}
	doc := a.Doc
	if a.Default != "" {
		doc += " Default: " + a.Default + "."
	}
	if doc != "" {
		out["description"] = strings.TrimSpace(doc)
	}
	return out
}

// alternation writes values as a regular-expression alternation, matching
// any letter case when fold is set (ECMA-262 patterns have no (?i)).
func alternation(values []string, fold bool) string {
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
