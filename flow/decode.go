package flow

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/xmlgen"
)

// Decoding turns YAML into the syntax tree, reporting every shape problem
// at its key or value. It never stops at the first problem: whatever can be
// decoded is, so the checker can report the rest in the same run.

var (
	flowNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	nodeIDRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	identRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

type decoder struct {
	path string
	src  []byte
	d    *diags
}

// Decode parses one flow file. It returns the tree (nil when the YAML
// itself is broken) and every problem found.
func Decode(path string, src []byte) (*File, Diagnostics) {
	dc := &decoder{path: path, src: src, d: &diags{}}
	f := dc.file()
	return f, dc.d.list
}

func (dc *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: dc.path, Line: n.Line, Col: n.Column}
}

// parse reads the YAML document, reporting syntax errors at their line.
func (dc *decoder) parse() *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(dc.src, &doc); err != nil {
		msg := err.Error()
		p := Pos{File: dc.path, Line: 1, Col: 1}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		dc.d.errorf(p, CodeYAML, "%s", msg)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		dc.d.errorf(Pos{File: dc.path, Line: 1, Col: 1}, CodeNoNodes, "the file is empty; a flow needs nodes:")
		return nil
	}
	return doc.Content[0]
}

// pair is one key and value of a mapping.
type pair struct {
	key, val *yaml.Node
}

// mapping returns the pairs of a mapping node, reporting duplicate keys.
// A value that is not a mapping is reported as what should be one.
func (dc *decoder) mapping(n *yaml.Node, what string) ([]pair, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		dc.d.errorf(dc.pos(n), CodeShape, "%s must be a mapping (key: value lines), not %s", what, describe(n))
		return nil, false
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			dc.d.errorf(dc.pos(k), CodeShape, "a key in %s must be a plain name, not %s", what, describe(k))
			continue
		}
		if first, ok := seen[k.Value]; ok {
			dc.d.errorf(dc.pos(k), CodeDuplicateKey, "%q is defined twice in %s (first defined at %d:%d)", k.Value, what, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out, true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

// scalar returns the scalar value of n, reporting other shapes.
func (dc *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		dc.d.errorf(dc.pos(n), CodeShape, "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (dc *decoder) unknownKey(k *yaml.Node, where string, known []string) {
	dc.d.errorf(dc.pos(k), CodeUnknownKey, "unknown key %q in %s%s", k.Value, where, didYouMean(k.Value, known))
}

func (dc *decoder) file() *File {
	root := dc.parse()
	if root == nil {
		return nil
	}
	base := strings.TrimSuffix(filepath.Base(dc.path), filepath.Ext(dc.path))
	f := &File{Path: dc.path, Src: dc.src, Name: base, NamePos: Pos{File: dc.path, Line: 1, Col: 1}, nodeByID: map[string]*NodeDecl{}}
	pairs, ok := dc.mapping(root, "a flow file")
	if !ok {
		return f
	}
	var nodes *yaml.Node
	var named bool
	for _, p := range pairs {
		switch p.key.Value {
		case "flow":
			if v, ok := dc.scalar(p.val, "flow"); ok {
				f.Name, f.NamePos, named = v, dc.pos(p.val), true
			}
		case "description":
			f.Description, _ = dc.scalar(p.val, "description")
		case "params":
			f.Params = dc.params(p.val)
		case "vars":
			f.Vars = dc.vars(p.val)
		case "start":
			f.Start = dc.ref(p.val, "start")
		case "on_error":
			f.OnError = dc.ref(p.val, "on_error")
		case "nodes":
			nodes = p.val
		default:
			dc.unknownKey(p.key, "the flow", topKeys)
		}
	}
	if !flowNameRE.MatchString(f.Name) {
		if named {
			dc.d.errorf(f.NamePos, CodeFlowName, "flow name %q must be lowercase letters, digits, '-' and '_', starting with a letter or digit", f.Name)
		} else {
			dc.d.errorf(f.NamePos, CodeFlowName, "the file name gives flow name %q, which must be lowercase letters, digits, '-' and '_'; rename the file or add flow: <name>", f.Name)
		}
	}
	if nodes == nil {
		dc.d.errorf(dc.pos(root), CodeMissingKey, "the flow has no nodes: key")
		return f
	}
	dc.nodes(f, nodes)
	return f
}

func (dc *decoder) ref(n *yaml.Node, what string) *Ref {
	v, ok := dc.scalar(n, what)
	if !ok {
		return nil
	}
	return &Ref{Name: v, Pos: dc.pos(n)}
}

func (dc *decoder) params(n *yaml.Node) []*ParamDecl {
	pairs, _ := dc.mapping(n, "params")
	var out []*ParamDecl
	for _, p := range pairs {
		pd := &ParamDecl{Name: p.key.Value, Pos: dc.pos(p.key)}
		if !identRE.MatchString(pd.Name) {
			dc.d.errorf(pd.Pos, CodeShape, "param name %q must be letters, digits and '_', starting with a letter", pd.Name)
		}
		val := resolve(p.val)
		if val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
			// Shorthand: name: default.
			pd.Default, pd.HasDefault = val.Value, true
			out = append(out, pd)
			continue
		}
		fields, _ := dc.mapping(val, "param "+pd.Name)
		for _, fp := range fields {
			switch fp.key.Value {
			case "default":
				pd.Default, pd.HasDefault = dc.scalar(fp.val, "default")
			case "description":
				pd.Description, _ = dc.scalar(fp.val, "description")
			default:
				dc.unknownKey(fp.key, "param "+pd.Name, []string{"default", "description"})
			}
		}
		out = append(out, pd)
	}
	return out
}

func (dc *decoder) vars(n *yaml.Node) []*VarDecl {
	pairs, _ := dc.mapping(n, "vars")
	var out []*VarDecl
	for _, p := range pairs {
		vd := &VarDecl{Name: p.key.Value, Pos: dc.pos(p.key)}
		if !identRE.MatchString(vd.Name) {
			dc.d.errorf(vd.Pos, CodeShape, "variable name %q must be letters, digits and '_', starting with a letter", vd.Name)
		}
		var v any
		if err := p.val.Decode(&v); err != nil {
			dc.d.errorf(dc.pos(p.val), CodeShape, "vars.%s: %v", vd.Name, err)
		}
		vd.Value = normalize(v)
		out = append(out, vd)
	}
	return out
}

// normalize turns decoded YAML into the plain values expressions see.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int64:
		return int(x)
	}
	return v
}

func (dc *decoder) nodes(f *File, n *yaml.Node) {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode {
		dc.d.errorf(dc.pos(n), CodeShape, "nodes must be a mapping of node ids to nodes (greet: {Speak: Hi}), not a list")
		return
	}
	pairs, ok := dc.mapping(n, "nodes")
	if !ok {
		return
	}
	if len(pairs) == 0 {
		dc.d.errorf(dc.pos(n), CodeNoNodes, "the flow has no nodes")
		return
	}
	for _, p := range pairs {
		nd := dc.node(p.key, p.val)
		f.Nodes = append(f.Nodes, nd)
		f.nodeByID[nd.ID] = nd
	}
}

func (dc *decoder) node(key, val *yaml.Node) *NodeDecl {
	nd := &NodeDecl{ID: key.Value, Pos: dc.pos(key)}
	if !nodeIDRE.MatchString(nd.ID) {
		dc.d.errorf(nd.Pos, CodeNodeID, "node id %q must be letters, digits, '-' and '_', starting with a letter", nd.ID)
	}
	what := "node " + nd.ID
	pairs, ok := dc.mapping(val, what)
	if !ok {
		return nd
	}
	var action *pair
	for i := range pairs {
		p := &pairs[i]
		switch k := p.key.Value; k {
		case "next":
			nd.Next = dc.ref(p.val, "next")
		case "on":
			nd.On = dc.on(p.val, what)
		case "description":
			nd.Description, _ = dc.scalar(p.val, "description")
		default:
			kind := LookupKind(k)
			if kind == nil {
				known := append(actionNames(), nodeKeys...)
				if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
					dc.d.errorf(dc.pos(p.key), CodeUnknownAction, "unknown action %q in %s%s", k, what, didYouMean(k, known))
				} else {
					dc.unknownKey(p.key, what, known)
				}
				continue
			}
			if action != nil {
				dc.d.errorf(dc.pos(p.key), CodeManyActions, "%s has two actions, %s (at %d:%d) and %s; a node does one thing: split it and chain with next", what, action.key.Value, action.key.Line, action.key.Column, k)
				continue
			}
			action = p
			nd.Kind, nd.KindPos = kind, dc.pos(p.key)
		}
	}
	if action == nil {
		dc.d.errorf(nd.Pos, CodeNoAction, "%s has no action; add one of %s", what, strings.Join(actionNames(), ", "))
		return nd
	}
	switch nd.Kind.Walk {
	case WalkBranch:
		nd.Cases = dc.branch(action.val, what)
	case WalkSet:
		nd.Sets = dc.set(action.val, what)
	default:
		nd.Elem = dc.element(nd.Kind.Element, nd.Kind, action.key, action.val)
	}
	return nd
}

func (dc *decoder) on(n *yaml.Node, what string) []*OnDecl {
	pairs, _ := dc.mapping(n, "on: of "+what)
	var out []*OnDecl
	for _, p := range pairs {
		if r := dc.ref(p.val, "on: "+p.key.Value); r != nil {
			out = append(out, &OnDecl{Outcome: p.key.Value, Pos: dc.pos(p.key), Target: *r})
		}
	}
	return out
}

func (dc *decoder) branch(n *yaml.Node, what string) []*CaseDecl {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		dc.d.errorf(dc.pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		dc.d.errorf(dc.pos(n), CodeShape, "branch must be a list of cases (- when: ... next: ...), not %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		dc.d.errorf(dc.pos(n), CodeUnusedOutcomeMap, "the branch of %s has no cases; add - when: ... next: ...", what)
	}
	var out []*CaseDecl
	for _, item := range n.Content {
		c := &CaseDecl{Pos: dc.pos(item)}
		pairs, ok := dc.mapping(item, "a branch case")
		if !ok {
			continue
		}
		for _, p := range pairs {
			switch p.key.Value {
			case "when":
				c.When = dc.expr(p.val, "when")
			case "next":
				c.Next = dc.ref(p.val, "next")
			default:
				dc.unknownKey(p.key, "a branch case", []string{"when", "next"})
			}
		}
		if c.When == nil {
			dc.d.errorf(c.Pos, CodeMissingKey, "a branch case needs when: (a boolean expression)")
		}
		if c.Next == nil {
			dc.d.errorf(c.Pos, CodeMissingKey, "a branch case needs next: (the node to go to)")
		}
		out = append(out, c)
	}
	return out
}

func (dc *decoder) set(n *yaml.Node, what string) []*SetDecl {
	pairs, _ := dc.mapping(n, "set of "+what)
	if len(pairs) == 0 {
		dc.d.errorf(dc.pos(n), CodeMissingKey, "set of %s assigns nothing; write set: {name: expression}", what)
	}
	var out []*SetDecl
	for _, p := range pairs {
		s := &SetDecl{Name: p.key.Value, Pos: dc.pos(p.key)}
		if !identRE.MatchString(s.Name) {
			dc.d.errorf(s.Pos, CodeShape, "variable name %q must be letters, digits and '_', starting with a letter", s.Name)
		}
		s.Value = dc.expr(p.val, "set "+s.Name)
		if s.Value != nil {
			out = append(out, s)
		}
	}
	return out
}

// expr reads a scalar that is an expression; it is compiled by the checker.
func (dc *decoder) expr(n *yaml.Node, what string) *Expr {
	n = resolve(n)
	if _, ok := dc.scalar(n, what); !ok {
		return nil
	}
	if n.Tag == "!!null" {
		dc.d.errorf(dc.pos(n), CodeExpr, "%s needs an expression", what)
		return nil
	}
	return &Expr{Src: n.Value, Pos: dc.pos(n), node: n}
}

// element decodes a Plivo element written as a scalar (its content), as
// null (no content, no attributes) or as a mapping of attributes, its
// content key and children.
func (dc *decoder) element(spec *xmlgen.Element, kind *Kind, key, val *yaml.Node) *ElemDecl {
	e := &ElemDecl{Spec: spec, Pos: dc.pos(key)}
	val = resolve(val)
	contentKey := ContentKey(spec)
	switch val.Kind {
	case yaml.ScalarNode:
		if val.Tag == "!!null" {
			break
		}
		if contentKey == "" {
			dc.d.errorf(dc.pos(val), CodeContent, "%s takes no text; write %s: {} or give attributes", spec.Name, spec.Name)
			break
		}
		e.Text = dc.str(val)
	case yaml.MappingNode:
		pairs, _ := dc.mapping(val, spec.Name)
		for _, p := range pairs {
			k := p.key.Value
			switch {
			case k == contentKey && contentKey != "":
				if _, ok := dc.scalar(p.val, spec.Name+" "+k); ok {
					e.Text = dc.str(resolve(p.val))
				}
			case k == "children":
				e.Children = dc.children(spec, p.val)
			default:
				a := spec.Attr(k)
				if a == nil {
					known := attrNames(spec)
					if contentKey != "" {
						known = append(known, contentKey)
					}
					if len(spec.Children) > 0 {
						known = append(known, "children")
					}
					dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "%s has no attribute %q%s", spec.Name, k, didYouMean(k, known))
					continue
				}
				if kind != nil && kind.Owns(k) {
					dc.d.errorf(dc.pos(p.key), CodeOwned, "%s %s is written by flowd; route with next and on: instead", spec.Name, k)
					continue
				}
				if ad := dc.attr(spec, a, p.key, p.val); ad != nil {
					e.Attrs = append(e.Attrs, ad)
				}
			}
		}
	default:
		dc.d.errorf(dc.pos(val), CodeShape, "%s must be its content or a mapping of attributes, not %s", spec.Name, describe(val))
	}
	return e
}

func attrNames(spec *xmlgen.Element) []string {
	out := make([]string, len(spec.Attrs))
	for i, a := range spec.Attrs {
		out[i] = a.Name
	}
	return out
}

// attr decodes one attribute value, checking its YAML type against the
// attribute's kind. Ranges and allowed values are the checker's.
func (dc *decoder) attr(spec *xmlgen.Element, a *xmlgen.Attr, key, val *yaml.Node) *AttrDecl {
	val = resolve(val)
	if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
		dc.d.errorf(dc.pos(val), CodeShape, "%s %s must be a value, not %s", spec.Name, a.Name, describe(val))
		return nil
	}
	s := dc.str(val)
	if s.Const() {
		switch a.Kind {
		case xmlgen.Int:
			if val.Tag != "!!int" {
				dc.d.errorf(dc.pos(val), CodeType, "%s %s must be an integer, not %s", spec.Name, a.Name, describe(val))
				return nil
			}
			if n, err := strconv.ParseInt(strings.ReplaceAll(val.Value, "_", ""), 0, 64); err == nil {
				s.Value = strconv.FormatInt(n, 10)
			}
		case xmlgen.Bool:
			if val.Tag != "!!bool" {
				dc.d.errorf(dc.pos(val), CodeType, "%s %s must be true or false, not %s", spec.Name, a.Name, describe(val))
				return nil
			}
			s.Value = strings.ToLower(val.Value)
		}
	}
	return &AttrDecl{Spec: a, NamePos: dc.pos(key), Value: s}
}

// children decodes a children: list of one-key mappings.
func (dc *decoder) children(parent *xmlgen.Element, n *yaml.Node) []*ElemDecl {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		dc.d.errorf(dc.pos(n), CodeShape, "children of %s must be a list (- Speak: ...), not %s", parent.Name, describe(n))
		return nil
	}
	var out []*ElemDecl
	for _, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			dc.d.errorf(dc.pos(item), CodeShape, "each child of %s must be one element (- Speak: Hello), not %s", parent.Name, describe(item))
			continue
		}
		k := resolve(item.Content[0])
		spec := xmlgen.Lookup(k.Value)
		if spec == nil || spec.Name == "Response" {
			dc.d.errorf(dc.pos(k), CodeNesting, "%s cannot contain %q; allowed: %s%s", parent.Name, k.Value, strings.Join(parent.Children, ", "), didYouMean(k.Value, parent.Children))
			continue
		}
		if !parent.AllowsChild(spec.Name) {
			if len(parent.Children) == 0 {
				dc.d.errorf(dc.pos(k), CodeNesting, "%s cannot contain other elements", parent.Name)
			} else {
				dc.d.errorf(dc.pos(k), CodeNesting, "%s cannot contain %s; allowed: %s", parent.Name, spec.Name, strings.Join(parent.Children, ", "))
			}
			continue
		}
		out = append(out, dc.element(spec, nil, k, item.Content[1]))
	}
	return out
}

// str reads a scalar that may hold templates; templates are split here and
// compiled by the checker.
func (dc *decoder) str(n *yaml.Node) *Str {
	s := &Str{Value: n.Value, Pos: dc.pos(n), node: n}
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
		if end < 0 {
			dc.d.errorf(scalarPos(dc.src, dc.path, n, off), CodeTemplate, "template {{ is not closed with }}")
			s.Parts = nil
			return s
		}
		src := v[start : start+end]
		trimmed := strings.TrimLeft(src, " \t\n")
		lead := runeCount(src[:len(src)-len(trimmed)])
		trimmed = strings.TrimRight(trimmed, " \t\n")
		if trimmed == "" {
			dc.d.errorf(scalarPos(dc.src, dc.path, n, off), CodeTemplate, "template {{ }} is empty")
			s.Parts = nil
			return s
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
