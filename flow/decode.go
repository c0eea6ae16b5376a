package flow

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// Decoding turns YAML into the syntax tree, reporting every shape problem
// at its key or value. It never stops at the first problem: whatever can be
// decoded is, so the checker can report the rest in the same run.

type decoder struct {
	*yamlpos.Decoder
	// stray holds next: and on: found inside a node's element, where they
	// were reported; the node reads them so its edges are still followed.
	stray []pair
}

// pair is one key and value of a mapping.
type pair = yamlpos.Pair

// Decode parses one flow file. It returns the tree (nil when the YAML
// itself is broken) and every problem found.
func Decode(path string, src []byte) (*File, Diagnostics) {
	dc := &decoder{Decoder: yamlpos.NewDecoder(path, src)}
	f := dc.file()
	return f, dc.Diagnostics()
}

func (dc *decoder) file() *File {
	root := dc.Parse(CodeNoNodes, "a flow needs nodes:",
		"a flow file holds one flow, and flowd would ignore this one: move it to its own file")
	if root == nil {
		return nil
	}
	base := strings.TrimSuffix(filepath.Base(dc.Path), filepath.Ext(dc.Path))
	f := &File{Path: dc.Path, Src: dc.Src, Name: base, NamePos: Pos{File: dc.Path, Line: 1, Col: 1}, nodeByID: map[string]*NodeDecl{}}
	names := yamlpos.Names(fileFields)
	m := yamlpos.Mapping{What: "a flow file", Fields: fileFields}
	m.Unknown = func(p pair, got map[string]pair) {
		_, hasNodes := got["nodes"]
		switch {
		case looksLikeNode(p.Val):
			dc.Errorf(dc.Pos(p.Key), CodeUnknownKey, "unknown key %q in the flow: it looks like a node; nodes go under nodes:", p.Key.Value)
		case yamlpos.Closest(p.Key.Value, names) == "nodes" && !hasNodes:
			// Read it as nodes, so one typo does not hide every other problem.
			dc.UnknownKey(p.Key, "the flow", names)
			got["nodes"] = p
		default:
			dc.UnknownKey(p.Key, "the flow", names)
		}
	}
	m.Missing = func(fd *yamlpos.Field, _ bool) {
		if fd.Name == "nodes" {
			dc.Errorf(dc.Pos(root), CodeMissingKey, "the flow has no nodes: key; add nodes: with at least one node, such as greet: {Speak: Hello}")
		} else {
			dc.Errorf(dc.Pos(root), CodeMissingKey, "%s", m.Needs(fd))
		}
	}
	got, ok := dc.Object(root, m)
	if !ok {
		return f
	}
	named := false
	if p, ok := got["flow"]; ok {
		if v, ok := dc.Scalar(p.Val, "flow"); ok {
			f.Name, f.NamePos, named = v, dc.Pos(p.Val), true
		}
	}
	if p, ok := got["description"]; ok {
		f.Description, _ = dc.Scalar(p.Val, "description")
	}
	if p, ok := got["params"]; ok {
		f.Params = dc.params(p.Val)
	}
	if p, ok := got["vars"]; ok {
		f.Vars = dc.vars(p.Val)
	}
	if p, ok := got["start"]; ok {
		f.Start = dc.ref(p.Val, "start")
	}
	if p, ok := got["on_error"]; ok {
		f.OnError = dc.ref(p.Val, "on_error")
	}
	if !flowNameRE.MatchString(f.Name) {
		hint := ""
		if s := suggestName(f.Name); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		if named {
			dc.Errorf(f.NamePos, CodeFlowName, "flow name %q must be lowercase letters, digits, '-' and '_', starting with a letter or digit%s", f.Name, hint)
		} else {
			dc.Errorf(f.NamePos, CodeFlowName, "the file name gives flow name %q, which must be lowercase letters, digits, '-' and '_'; rename the file or add flow: <name>%s", f.Name, hint)
		}
	}
	if p, ok := got["nodes"]; ok {
		dc.nodes(f, p.Val)
	}
	return f
}

// suggestName turns a name into a valid flow name: lowercase, with runs of
// other characters as '-'. It returns "" when nothing is left.
func suggestName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if s := b.String(); flowNameRE.MatchString(s) {
		return s
	}
	return ""
}

// looksLikeNode reports whether a value is a mapping with an action key.
func looksLikeNode(n *yaml.Node) bool {
	n = yamlpos.Resolve(n)
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if LookupKind(yamlpos.Resolve(n.Content[i]).Value) != nil {
			return true
		}
	}
	return false
}

func (dc *decoder) ref(n *yaml.Node, what string) *Ref {
	v, ok := dc.Scalar(n, what)
	if !ok {
		return nil
	}
	return &Ref{Name: v, Pos: dc.Pos(n)}
}

func (dc *decoder) params(n *yaml.Node) []*ParamDecl {
	entries, _ := dc.Entries(yamlpos.Lookup(fileFields, "params"), n, "params")
	var out []*ParamDecl
	for _, p := range entries {
		pd := &ParamDecl{Name: p.Key.Value, Pos: dc.Pos(p.Key)}
		out = append(out, pd)
		if val := yamlpos.Resolve(p.Val); val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
			// Shorthand: name: default.
			dc.paramDefault(pd, val)
			continue
		}
		got, _ := dc.Object(p.Val, yamlpos.Mapping{What: "param " + pd.Name, Fields: paramField.Fields})
		if fp, ok := got["default"]; ok {
			dc.paramDefault(pd, fp.Val)
		}
		if fp, ok := got["description"]; ok {
			pd.Description, _ = dc.Scalar(fp.Val, "description")
		}
		if fp, ok := got["secret"]; ok {
			if v := yamlpos.Resolve(fp.Val); v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
				pd.Secret = v.Value == "true"
			} else {
				dc.Errorf(dc.Pos(fp.Val), CodeType, "param %s secret must be true or false, not %s", pd.Name, yamlpos.Describe(fp.Val))
			}
		}
	}
	return out
}

// paramDefault reads a param's default; its YAML type is the param's.
func (dc *decoder) paramDefault(pd *ParamDecl, n *yaml.Node) {
	v := yamlpos.Resolve(n)
	s, ok := dc.Scalar(n, "default")
	if !ok {
		return
	}
	pd.Default, pd.HasDefault = s, true
	pd.Type = paramType(v.Tag)
	val, err := pd.Convert(s)
	if err != nil {
		// A YAML integer too large for an int, say.
		dc.Errorf(dc.Pos(n), CodeType, "param %s default: %v", pd.Name, err)
		pd.Type, val = ParamString, s
	}
	pd.value = val
}

func (dc *decoder) vars(n *yaml.Node) []*VarDecl {
	entries, _ := dc.Entries(yamlpos.Lookup(fileFields, "vars"), n, "vars")
	var out []*VarDecl
	for _, p := range entries {
		vd := &VarDecl{Name: p.Key.Value, Pos: dc.Pos(p.Key)}
		var v any
		if err := p.Val.Decode(&v); err != nil {
			dc.Errorf(dc.Pos(p.Val), CodeShape, "vars.%s: %v", vd.Name, err)
		}
		vd.Value = yamlpos.Normalize(v)
		out = append(out, vd)
	}
	return out
}

func (dc *decoder) nodes(f *File, n *yaml.Node) {
	n = yamlpos.Resolve(n)
	if n.Kind == yaml.SequenceNode {
		dc.Errorf(dc.Pos(n), CodeShape, "nodes must be a mapping of node ids to nodes (greet: {Speak: Hi}), not a list: remove the \"- \" before each node id")
		return
	}
	pairs, ok := dc.Mapping(n, "nodes")
	if !ok {
		return
	}
	if len(pairs) == 0 {
		dc.Errorf(dc.Pos(n), CodeNoNodes, "the flow has no nodes; add at least one under nodes:, such as greet: {Speak: Hello}")
		return
	}
	for i, p := range pairs {
		nd := dc.node(p.Key, p.Val)
		if i > 0 && slices.ContainsFunc(nodeFields, func(fl yamlpos.Field) bool { return fl.Name == nd.ID }) {
			// A node key written at the indentation of node ids.
			prev := f.Nodes[i-1].ID
			dc.Warnf(nd.Pos, CodeMisindented, "%s: is read as a node named %s, because it is indented as a node id; if it is node %s's %s:, indent it under %s", nd.ID, nd.ID, prev, nd.ID, prev)
			nd.stray = true
		}
		f.Nodes = append(f.Nodes, nd)
		f.nodeByID[nd.ID] = nd
	}
}

func (dc *decoder) node(key, val *yaml.Node) *NodeDecl {
	nd := &NodeDecl{ID: key.Value, Pos: dc.Pos(key)}
	if !nodeIDRE.MatchString(nd.ID) {
		hint := ""
		if s := strings.Join(strings.FieldsFunc(nd.ID, func(r rune) bool { return r == ' ' || r == '.' || r == '/' || r == ':' }), "_"); s != nd.ID && nodeIDRE.MatchString(s) {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		dc.Errorf(nd.Pos, CodeNodeID, "node id %q must be letters, digits, '-' and '_', starting with a letter%s", nd.ID, hint)
	}
	what := "node " + nd.ID
	pairs, ok := dc.Mapping(val, what)
	if !ok {
		return nd
	}
	var action *pair
	var unknown []*pair
	for i := range pairs {
		p := &pairs[i]
		switch k := p.Key.Value; k {
		case "next":
			nd.Next = dc.ref(p.Val, "next")
		case "on":
			nd.On = dc.on(p.Val, what)
		case "description":
			nd.Description, _ = dc.Scalar(p.Val, "description")
		case "events":
			nd.Events, nd.EventsPos = dc.events(p.Val), dc.Pos(p.Key)
		case "with":
			nd.with = p
		default:
			kind := LookupKind(k)
			if kind == nil {
				unknown = append(unknown, p)
				continue
			}
			if action != nil {
				dc.Errorf(dc.Pos(p.Key), CodeManyActions, "%s has two actions, %s (at %d:%d) and %s; a node does one thing: split it in two nodes and chain them with next", what, action.Key.Value, action.Key.Line, action.Key.Column, k)
				continue
			}
			action = p
			nd.Kind, nd.KindPos = kind, dc.Pos(p.Key)
		}
	}
	triedAction := false
	for _, p := range unknown {
		tried, kind := dc.unknownNodeKey(nd, action, p)
		triedAction = triedAction || tried
		if kind != nil && action == nil {
			// Read the misnamed action as the one it most likely is, so the
			// rest of the node is checked in the same run.
			action = p
			nd.Kind, nd.KindPos = kind, dc.Pos(p.Key)
		}
	}
	if action == nil {
		if !triedAction {
			dc.Errorf(nd.Pos, CodeNoAction, "%s has no action; add one of %s", what, strings.Join(actionNames(), ", "))
		}
		return nd
	}
	nd.Kind.behavior.decode(dc, nd, *action)
	dc.strayWith(nd)
	return nd
}

// recoverable lists the misnamed actions that are read as the action they
// suggest: a spelling that differs only in case, and synonyms whose value
// has the same shape.
var recoverable = map[string]bool{
	"Say": true, "Pause": true, "if": true, "switch": true, "case": true, "cases": true,
	"condition": true, "choose": true, "assign": true, "let": true, "vars": true,
}

// actionSynonyms maps what newcomers write, often from other voice
// platforms, to flowd's action or node key.
var actionSynonyms = map[string]string{
	"Say": "Speak", "TTS": "Speak", "Tts": "Speak",
	"Gather": "GetDigits", "Input": "GetInput", "Menu": "GetDigits",
	"Pause": "Wait", "Sleep": "Wait",
	"Reject": "Hangup", "HangUp": "Hangup", "End": "Hangup",
	"Sms": "Message", "SMS": "Message",
	"Call": "Dial", "Transfer": "Dial", "Forward": "Dial",
	"Enqueue": "MultiPartyCall", "Queue": "MultiPartyCall",
	"if": "branch", "switch": "branch", "case": "branch", "cases": "branch", "condition": "branch", "choose": "branch",
	"assign": "set", "let": "set", "vars": "set",
	"goto": "next", "go": "next", "then": "next", "to": "next", "jump": "next", "next_node": "next", "nextNode": "next",
	"outcomes": "on", "desc": "description", "comment": "description",
}

// unknownNodeKey reports a key of a node that is neither an action nor
// next, on, description. It reports whether the key was an attempt at an
// action, which then stands for the node's missing action, and the action
// to read it as when that is certain enough.
func (dc *decoder) unknownNodeKey(nd *NodeDecl, action *pair, p *pair) (bool, *Kind) {
	k, what := p.Key.Value, "node "+nd.ID
	suggest := actionSynonyms[k]
	if suggest == "" {
		suggest = yamlpos.Closest(k, append(actionNames(), yamlpos.Names(nodeFields)...))
	}
	if e := xmlgen.Lookup(k); e != nil && LookupKind(k) == nil {
		var parents []string
		for _, pe := range xmlgen.Elements() {
			if pe.AllowsChild(k) && LookupKind(pe.Name) != nil {
				parents = append(parents, pe.Name)
			}
		}
		if len(parents) > 0 {
			dc.Errorf(dc.Pos(p.Key), CodeUnknownAction, "%s cannot be the action of %s: it goes under the children: of %s", k, what, strings.Join(parents, " or "))
		} else {
			dc.Errorf(dc.Pos(p.Key), CodeUnknownAction, "%s cannot be the action of %s: it goes under the children: of Speak, with a Polly voice", k, what)
		}
		return true, nil
	}
	if action != nil && nd.Kind.Element != nil {
		spec := nd.Kind.Element
		if spec.Attr(k) != nil || (k == ContentKey(spec) && k != "") || (k == "children" && len(spec.Children) > 0) {
			dc.Errorf(dc.Pos(p.Key), CodeUnknownKey, "unknown key %q in %s: it belongs to %s; indent it under %s:", k, what, spec.Name, spec.Name)
			return false, nil
		}
	}
	hint := ""
	if suggest != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", suggest)
	}
	kind := LookupKind(suggest)
	if kind != nil && !strings.EqualFold(suggest, k) && !recoverable[k] {
		kind = nil
	}
	if (k != "" && 'A' <= k[0] && k[0] <= 'Z') || strings.EqualFold(suggest, k) {
		if suggest == "" {
			hint = "; actions are " + strings.Join(actionNames(), ", ")
		}
		dc.Errorf(dc.Pos(p.Key), CodeUnknownAction, "unknown action %q in %s%s", k, what, hint)
		return true, kind
	}
	dc.Errorf(dc.Pos(p.Key), CodeUnknownKey, "unknown key %q in %s%s", k, what, hint)
	if suggest == "next" && nd.Next == nil {
		// Follow it as next, so the nodes after it are not all reported
		// unreachable because of one typo.
		if r := dc.ref(p.Val, k); r != nil {
			nd.Next = r
		}
	}
	return LookupKind(suggest) != nil, kind
}

func (dc *decoder) on(n *yaml.Node, what string) []*OnDecl {
	pairs, _ := dc.Mapping(n, "on: of "+what)
	var out []*OnDecl
	for _, p := range pairs {
		if r := dc.ref(p.Val, "on: "+p.Key.Value); r != nil {
			out = append(out, &OnDecl{Outcome: p.Key.Value, Pos: dc.Pos(p.Key), Target: *r})
		}
	}
	return out
}

// expr reads a scalar that is an expression; it is compiled by the checker.
func (dc *decoder) expr(n *yaml.Node, what string) *Expr {
	n = yamlpos.Resolve(n)
	if _, ok := dc.Scalar(n, what); !ok {
		return nil
	}
	if n.Tag == "!!null" {
		dc.Errorf(dc.Pos(n), CodeExpr, "%s needs an expression", what)
		return nil
	}
	return &Expr{Src: n.Value, Pos: dc.Pos(n), node: n}
}

// element decodes a Plivo element written as a scalar (its content), as
// null (no content, no attributes) or as a mapping of attributes, its
// content key and children.
func (dc *decoder) element(spec *xmlgen.Element, kind *Kind, key, val *yaml.Node) *ElemDecl {
	e := &ElemDecl{Spec: spec, Pos: dc.Pos(key)}
	val = yamlpos.Resolve(val)
	if !dc.Enter(val) {
		return e
	}
	defer dc.Leave()
	contentKey := ContentKey(spec)
	switch val.Kind {
	case yaml.ScalarNode:
		if val.Tag == "!!null" {
			break
		}
		if contentKey == "" {
			dc.Errorf(dc.Pos(val), CodeContent, "%s takes no text; write %s: {} or give attributes", spec.Name, spec.Name)
			break
		}
		e.Text = dc.str(val)
	case yaml.MappingNode:
		pairs, _ := dc.Mapping(val, spec.Name)
		for _, p := range pairs {
			k := p.Key.Value
			switch {
			case k == contentKey && contentKey != "":
				if _, ok := dc.Scalar(p.Val, spec.Name+" "+k); ok {
					e.Text = dc.str(yamlpos.Resolve(p.Val))
				}
			case k == "children":
				e.Children = dc.children(spec, p.Val)
			default:
				a := spec.Attr(k)
				if a == nil {
					dc.unknownAttr(spec, kind, p.Key)
					if kind != nil && (k == "next" || k == "on") {
						dc.stray = append(dc.stray, p)
					}
					continue
				}
				if kind != nil && kind.Owns(k) {
					dc.Errorf(dc.Pos(p.Key), CodeOwned, "%s %s is written by flowd; route with next and on: instead", spec.Name, k)
					continue
				}
				if ad := dc.attr(spec, a, p.Key, p.Val); ad != nil {
					e.Attrs = append(e.Attrs, ad)
				}
			}
		}
	default:
		dc.Errorf(dc.Pos(val), CodeShape, "%s must be its content or a mapping of attributes, not %s", spec.Name, yamlpos.Describe(val))
	}
	return e
}

// unknownAttr reports a key of an element that is not one of its
// attributes, saying where the key belongs when it is a node key or a child.
func (dc *decoder) unknownAttr(spec *xmlgen.Element, kind *Kind, key *yaml.Node) {
	k, contentKey := key.Value, ContentKey(spec)
	switch {
	case kind != nil && (k == "next" || k == "on" || k == "description"):
		dc.Errorf(dc.Pos(key), CodeUnknownKey, "%s has no attribute %q: %s belongs to the node; outdent it to line up with %s:", spec.Name, k, k, spec.Name)
		return
	case spec.AllowsChild(k):
		dc.Errorf(dc.Pos(key), CodeUnknownKey, "%s has no attribute %q: %s is a child element; write it under children: (- %s: ...)", spec.Name, k, k, k)
		return
	case contentKey == "" && (k == "text" || k == "url" || k == "name"):
		dc.Errorf(dc.Pos(key), CodeUnknownKey, "%s has no attribute %q: %s takes no text content", spec.Name, k, spec.Name)
		return
	}
	var known []string
	for _, a := range spec.Attrs {
		if kind == nil || !kind.Owns(a.Name) {
			known = append(known, a.Name)
		}
	}
	if contentKey != "" {
		known = append(known, contentKey)
	}
	if len(spec.Children) > 0 {
		known = append(known, "children")
	}
	hint := yamlpos.DidYouMean(k, known)
	if hint == "" {
		hint = yamlpos.DidYouMeanPrefix(k, known)
	}
	switch {
	case hint != "":
	case len(known) == 0:
		hint = fmt.Sprintf("; write %s: {}", spec.Name)
	case len(known) <= 12:
		hint = "; it has " + strings.Join(known, ", ")
	default:
		hint = "; attribute names are Plivo's, case-sensitive"
	}
	dc.Errorf(dc.Pos(key), CodeUnknownKey, "%s has no attribute %q%s", spec.Name, k, hint)
}

// attr decodes one attribute value.
func (dc *decoder) attr(spec *xmlgen.Element, a *xmlgen.Attr, key, val *yaml.Node) *AttrDecl {
	f := attrField(a)
	s := dc.value(spec.Name+" "+a.Name, &f, val)
	if s == nil {
		return nil
	}
	return &AttrDecl{Spec: a, NamePos: dc.Pos(key), Value: s}
}

// value decodes the value of a field that a {{ template }} may stand for
// (an attribute, a REST argument; what names it): a constant must have
// the field's YAML type and is written canonically. Ranges and allowed
// values are the checker's.
func (dc *decoder) value(what string, f *yamlpos.Field, val *yaml.Node) *Str {
	val = yamlpos.Resolve(val)
	if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
		dc.Errorf(dc.Pos(val), CodeShape, "%s must be a value, not %s", what, yamlpos.Describe(val))
		return nil
	}
	s := dc.str(val)
	if s.Const() {
		switch f.Type {
		case yamlpos.Int:
			if val.Tag != "!!int" {
				dc.Errorf(dc.Pos(val), CodeType, "%s must be an integer, not %s", what, yamlpos.DescribeTyped(val))
				return nil
			}
			if n, err := strconv.ParseInt(strings.ReplaceAll(val.Value, "_", ""), 0, 64); err == nil {
				s.Value = strconv.FormatInt(n, 10)
			}
		case yamlpos.Bool:
			if val.Tag != "!!bool" {
				dc.Errorf(dc.Pos(val), CodeType, "%s must be true or false, not %s", what, yamlpos.DescribeTyped(val))
				return nil
			}
			s.Value = strings.ToLower(val.Value)
		}
	}
	return s
}

// children decodes a children: list of one-key mappings.
func (dc *decoder) children(parent *xmlgen.Element, n *yaml.Node) []*ElemDecl {
	n = yamlpos.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		dc.Errorf(dc.Pos(n), CodeShape, "children of %s must be a list (- Speak: ...), not %s", parent.Name, yamlpos.Describe(n))
		return nil
	}
	var out []*ElemDecl
	for _, item := range n.Content {
		item = yamlpos.Resolve(item)
		if item.Kind != yaml.MappingNode {
			dc.Errorf(dc.Pos(item), CodeShape, "each child of %s must be one element (- Speak: Hello), not %s", parent.Name, yamlpos.Describe(item))
			continue
		}
		pairs, _ := dc.Mapping(item, "a child of "+parent.Name)
		if len(pairs) == 0 {
			dc.Errorf(dc.Pos(item), CodeShape, "each child of %s must be one element (- Speak: Hello), not an empty mapping", parent.Name)
			continue
		}
		if len(pairs) > 1 {
			dc.manyChildKeys(parent, pairs)
			continue
		}
		k := pairs[0].Key
		spec := xmlgen.Lookup(k.Value)
		if spec == nil || spec.Name == "Response" {
			hint := yamlpos.DidYouMean(k.Value, parent.Children)
			if s := actionSynonyms[k.Value]; s != "" && parent.AllowsChild(s) {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			dc.Errorf(dc.Pos(k), CodeNesting, "%s cannot contain %q; allowed: %s%s", parent.Name, k.Value, strings.Join(parent.Children, ", "), hint)
			continue
		}
		if !parent.AllowsChild(spec.Name) {
			if len(parent.Children) == 0 {
				dc.Errorf(dc.Pos(k), CodeNesting, "%s cannot contain other elements", parent.Name)
			} else {
				dc.Errorf(dc.Pos(k), CodeNesting, "%s cannot contain %s; allowed: %s", parent.Name, spec.Name, strings.Join(parent.Children, ", "))
			}
			continue
		}
		out = append(out, dc.element(spec, nil, k, pairs[0].Val))
	}
	return out
}

// manyChildKeys reports a children: item with more than one key: an
// element with its attributes beside it, or two elements after one "- ".
func (dc *decoder) manyChildKeys(parent *xmlgen.Element, pairs []pair) {
	first := pairs[0].Key
	spec := xmlgen.Lookup(first.Value)
	for _, p := range pairs[1:] {
		k := p.Key.Value
		switch {
		case spec != nil && (spec.Attr(k) != nil || k == ContentKey(spec) || k == "children"):
			dc.Errorf(dc.Pos(p.Key), CodeShape, "%q sits beside %s in the same child of %s; put it under %s (- %s: {%s: ...})", k, first.Value, parent.Name, first.Value, first.Value, k)
		case xmlgen.Lookup(k) != nil:
			dc.Errorf(dc.Pos(p.Key), CodeShape, "%s and %s are in one child of %s; start each child with its own \"- \"", first.Value, k, parent.Name)
		default:
			dc.Errorf(dc.Pos(p.Key), CodeShape, "each child of %s must be one element (- Speak: Hello), but this one also has %q", parent.Name, k)
		}
	}
}

// str reads a scalar that may hold templates; templates are split here and
// compiled by the checker.
func (dc *decoder) str(n *yaml.Node) *Str {
	s := &Str{Value: n.Value, Pos: dc.Pos(n), node: n}
	if n.Tag != "!!str" || !strings.Contains(n.Value, "{{") {
		return s
	}
	v := n.Value
	off := 0 // rune offset of v[i] in the value
	for i := 0; i < len(v); {
		j := strings.Index(v[i:], "{{")
		if j < 0 {
			s.Parts = append(s.Parts, TmplPart{Lit: v[i:]})
			break
		}
		if j > 0 {
			s.Parts = append(s.Parts, TmplPart{Lit: v[i : i+j]})
		}
		off += runeCount(v[i : i+j])
		start := i + j + 2
		end := strings.Index(v[start:], "}}")
		// A broken template is reported and the scan goes on, so that it
		// hides no other template's error in the same string; the string
		// stays a template (its parts are not checked as a constant).
		if end < 0 {
			dc.Errorf(dc.ScalarPos(n, off), CodeTemplate, "template {{ is not closed; end it with }}")
			s.Parts = append(s.Parts, TmplPart{Lit: v[i+j:]})
			break
		}
		src := v[start : start+end]
		trimmed := strings.TrimLeft(src, " \t\n")
		lead := runeCount(src[:len(src)-len(trimmed)])
		trimmed = strings.TrimRight(trimmed, " \t\n")
		if trimmed == "" {
			dc.Errorf(dc.ScalarPos(n, off), CodeTemplate, "template {{ }} is empty; write an expression inside, such as {{ call.From }}, or remove it")
			off += 2 + runeCount(src) + 2
			i = start + end + 2
			continue
		}
		// Pos is the scalar's; the checker places errors inside it.
		e := &Expr{Src: trimmed, Pos: s.Pos, node: n, offset: off + 2 + lead}
		s.Parts = append(s.Parts, TmplPart{Expr: e})
		off += 2 + runeCount(src) + 2
		i = start + end + 2
	}
	if s.Parts == nil {
		s.Parts = []TmplPart{}
	}
	return s
}

func runeCount(s string) int {
	return len([]rune(s))
}
