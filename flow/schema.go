package flow

import (
	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// The JSON Schema of flow files is generated from the same tables as the
// decoder and checker, so editors check what `flowd validate` checks.
// What JSON Schema cannot see (references between nodes, expressions,
// loops, duplicate keys, value rules written as code) is left to validate.

// SchemaID is the $id of the flow-file schema.
const SchemaID = "https://flowd.dev/schema/flow.schema.json"

type obj = yamlpos.Obj

var (
	template = obj{"type": "string", "pattern": `\{\{`}
	scalar   = obj{"type": yamlpos.ScalarTypes}
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
		node := yamlpos.ObjectSchema(nodeFieldsOf(k))
		if a := k.traits.goesOnWith; a != "" {
			// next only with the attribute that lets the kind go on.
			node["dependentSchemas"] = obj{"next": obj{"properties": obj{k.Name: obj{"type": "object", "required": []string{a}}}}}
		}
		defs["node."+k.Name] = node
		if k.Element != nil {
			defs["action."+k.Name] = elementSchema(k.Element, k)
		}
		nodeKinds = append(nodeKinds, obj{"$ref": "#/$defs/node." + k.Name})
	}
	defs["node"] = obj{"oneOf": nodeKinds}
	s := yamlpos.ObjectSchema(fileFields)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "flowd flow"
	s["description"] = "A call flow served by flowd as a Plivo answer_url."
	s["$defs"] = defs
	return yamlpos.MarshalSchema(s)
}

// nodeFieldsOf returns the fields of a node of kind k: its action, and
// the node's keys as k allows them.
func nodeFieldsOf(k *Kind) []yamlpos.Field {
	out := []yamlpos.Field{{Name: k.Name, Required: true, Schema: k.behavior.schema(k)}}
	for _, f := range nodeFields {
		switch f.Name {
		case "next":
			if k.traits.control == ends && k.traits.goesOnWith == "" {
				continue
			}
		case "with":
			if k.traits.control != callsFlow {
				continue
			}
		case "on":
			// An empty on: is harmless; any outcome of a kind without
			// outcomes is an error.
			f.Schema = obj{"type": []string{"object", "null"}, "maxProperties": 0}
			if k.traits.openOutcomes {
				f.Schema = obj{"type": []string{"object", "null"}, "additionalProperties": nodeRef}
			} else if len(k.Outcomes) > 0 {
				f.Schema = obj{"type": []string{"object", "null"}, "propertyNames": obj{"enum": k.Outcomes}, "additionalProperties": nodeRef}
			}
		case "events":
			// A kind without Reports has nothing for flowd to receive.
			f.Enum = k.Reports
			if len(k.Reports) == 0 {
				f.Doc = ""
			}
		}
		out = append(out, f)
	}
	return out
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
		f := attrField(a)
		props[a.Name] = yamlpos.FieldSchema(&f)
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
		return obj{"type": "string", "pattern": "(" + yamlpos.URLPattern + `)|\{\{`}
	}
	return scalar
}
