package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

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
	// depth and visits bound the walk: an anchor may contain an alias of
	// itself, and aliases of aliases expand exponentially.
	depth, visits int
	exploded      bool
	// stray holds next: and on: found inside a node's element, where they
	// were reported; the node reads them so its edges are still followed.
	stray []pair
	idx   *srcIndex // places template errors; built on the first one
}

// scalarPos places a rune offset of a scalar's value on the file.
func (dc *decoder) scalarPos(n *yaml.Node, off int) Pos {
	if dc.idx == nil {
		dc.idx = newSrcIndex(dc.src)
	}
	return dc.idx.scalarPos(dc.path, n, off)
}

// Limits of the walk over the YAML tree.
const (
	maxDepth  = 64
	maxVisits = 200000
)

// enter counts a mapping or element entered, reporting once when aliases
// make the tree too deep or too large. It returns false to stop.
func (dc *decoder) enter(n *yaml.Node) bool {
	dc.visits++
	if dc.depth >= maxDepth || dc.visits > maxVisits {
		if !dc.exploded {
			dc.exploded = true
			dc.d.errorf(dc.pos(n), CodeShape, "the file nests too deep or expands to too many values here; an alias (*name) probably repeats the mapping it is in")
		}
		return false
	}
	dc.depth++
	return true
}

func (dc *decoder) leave() { dc.depth-- }

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

// parse reads the YAML document of a flow file or a flow test file,
// reporting syntax errors at their line and column, an empty file (code
// empty; needs says what the file needs) and a second document, which
// would be ignored (second says what the file holds and what to do).
func (dc *decoder) parse(empty Code, needs, second string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(dc.src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err != nil && !errors.Is(err, io.EOF) {
		dc.yamlError(err)
		return nil
	}
	if err != nil || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		dc.d.errorf(Pos{File: dc.path, Line: 1, Col: 1}, empty, "the file is empty; %s", needs)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		dc.yamlError(err)
		return nil
	case len(extra.Content) > 0 && !isNull(extra.Content[0]):
		dc.d.errorf(dc.pos(&extra), CodeShape, "a second YAML document starts here; %s", second)
	}
	return doc.Content[0]
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// yamlError reports a YAML syntax error. yaml.v3 gives only a line, and for
// most parser errors the line before the structure that holds the problem;
// so the problem line is found as the line after the longest prefix of the
// file that still parses, and the column from what the message names.
func (dc *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2]
	}
	starts := lineStarts(dc.src)
	line := problemLine(dc.src, starts)
	text := ""
	if line-1 < len(starts) {
		end := len(dc.src)
		if line < len(starts) {
			end = starts[line]
		}
		b := dc.src[starts[line-1]:end]
		for i := range b {
			if breakLen(b[i:]) > 0 {
				b = b[:i]
				break
			}
		}
		text = string(b)
	}
	col, hint := yamlColumn(msg, text)
	if hint != "" {
		msg = hint + " (yaml: " + msg + ")"
	}
	dc.d.errorf(Pos{File: dc.path, Line: line, Col: col}, CodeYAML, "%s", msg)
}

// lineStarts returns the byte offset where each line starts, with lines
// broken as yaml.v3 breaks them.
func lineStarts(src []byte) []int {
	starts := []int{0}
	for i := 0; i < len(src); {
		if n := breakLen(src[i:]); n > 0 {
			i += n
			if i < len(src) {
				starts = append(starts, i)
			}
			continue
		}
		i++
	}
	return starts
}

// parses reports whether src is valid YAML, every document of it.
func parses(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// problemLine returns the 1-based line after the longest prefix of whole
// lines that parses: the line whose addition breaks the file. It looks back
// from the end, which steps over valid multi-line constructs such as a
// flow mapping, then bisects once a parsing budget is spent (a budget of
// bytes and of parses: deeply nested YAML parses in more than linear time).
func problemLine(src []byte, starts []int) int {
	budget, parsesLeft := 2<<20, 24
	j := len(starts) - 1 // the prefix of j lines; the whole file is known to fail
	for ; j > 0; j-- {
		if budget -= starts[j]; budget < 0 || parsesLeft == 0 {
			break
		}
		parsesLeft--
		if parses(src[:starts[j]]) {
			return j + 1
		}
	}
	if j == 0 {
		return 1
	}
	lo, hi := 0, j // the prefix of lo lines parses, of hi lines does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(src[:starts[mid]]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// yamlColumn finds the column, on the problem line, of what a yaml.v3
// message is about, and a hint in flowd's words.
func yamlColumn(msg, text string) (int, string) {
	col := func(i int) int { return utf8.RuneCountInString(text[:i]) + 1 }
	first := len(text) - len(strings.TrimLeft(text, " \t"))
	if first == len(text) {
		first = 0
	}
	switch {
	case strings.Contains(msg, "tab character") || (strings.Contains(msg, "cannot start any token") && strings.Contains(text[:first], "\t")):
		if i := strings.IndexByte(text, '\t'); i >= 0 {
			return col(i), "a tab indents this line; YAML indentation must use spaces"
		}
	case strings.Contains(msg, "cannot start any token"):
		if i := strings.IndexAny(text, "@`"); i >= 0 {
			return col(i), "a value cannot start with " + text[i:i+1] + " unless it is quoted"
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		colons := valueColons(text)
		switch len(colons) {
		case 0:
		case 1:
			return col(colons[0]), "this key is nested under a value; check the indentation of this line and the one above"
		default:
			return col(colons[1]), `a value that contains ": " must be quoted (Speak: "Note: ..."), or this line is indented wrongly`
		}
	case strings.Contains(msg, "expected node content"):
		if i := unclosed(text, '[', ']'); i >= 0 {
			return col(i), "the [ here is never closed with ]"
		}
		if i := unclosed(text, '{', '}'); i >= 0 {
			return col(i), "the { here is never closed with }"
		}
		return col(first), "a value is missing here"
	case strings.Contains(msg, "did not find expected key"):
		return col(first), "this line is not indented like the keys above it"
	case strings.Contains(msg, "expected ',' or '}'"):
		if i := unclosed(text, '{', '}'); i >= 0 {
			return col(i), "the { here is never closed with }"
		}
		return col(first), "a { ... } mapping is not closed with }"
	case strings.Contains(msg, "expected ',' or ']'"):
		if i := unclosed(text, '[', ']'); i >= 0 {
			return col(i), "the [ here is never closed with ]"
		}
		return col(first), "a [ ... ] list is not closed with ]"
	case strings.Contains(msg, "end of stream"):
		if i := unclosedQuote(text); i >= 0 {
			return col(i), "the quote here is never closed"
		}
	case strings.HasPrefix(msg, "unknown anchor"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		if i := strings.Index(text, "*"+name); i >= 0 {
			return col(i), "the alias *" + name + " names no anchor; define &" + name + " before it"
		}
	case strings.Contains(msg, "block sequence entries are not allowed"):
		if i := strings.Index(text, "- "); i >= 0 {
			return col(i), "a list item is not allowed here; check the indentation"
		}
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8") || strings.Contains(msg, "Unicode"):
		for i, r := range text {
			if r == utf8.RuneError || (r < ' ' && r != '\t') || r == 0x7f {
				return col(i), "the file has a control character or invalid UTF-8 here"
			}
		}
		return col(first), "the file has a control character or invalid UTF-8 here"
	}
	return col(first), ""
}

// valueColons returns the byte offsets of the ':' that end keys on a line,
// outside quotes.
func valueColons(text string) []int {
	var out []int
	quote := byte(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || text[i-1] == ' ' {
				quote = c
			}
		case c == '#' && (i == 0 || text[i-1] == ' '):
			return out
		case c == ':' && (i+1 == len(text) || text[i+1] == ' '):
			out = append(out, i)
		}
	}
	return out
}

// unclosed returns the byte offset of the outermost open bracket on a line
// that is not closed on it, or -1.
func unclosed(text string, open, close byte) int {
	var stack []int
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case open:
			stack = append(stack, i)
		case close:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[0]
}

// unclosedQuote returns the byte offset of a quote that opens a scalar on
// the line and is not closed on it, or -1.
func unclosedQuote(text string) int {
	quote, at := byte(0), -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote == '\'' && c == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			if i == 0 || strings.IndexByte(" [{,:-", text[i-1]) >= 0 {
				quote, at = c, i
			}
		}
	}
	if quote == 0 {
		return -1
	}
	return at
}

// pair is one key and value of a mapping.
type pair struct {
	key, val *yaml.Node
}

// mapping returns the pairs of a mapping node, reporting duplicate keys.
// A value that is not a mapping is reported as what should be one. Merge
// keys (<<: *anchor) bring in the anchor's pairs where they stand, except
// keys the mapping writes itself.
func (dc *decoder) mapping(n *yaml.Node, what string) ([]pair, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		dc.d.errorf(dc.pos(n), CodeShape, "%s must be a mapping (key: value lines), not %s", what, describe(n))
		return nil, false
	}
	if !dc.enter(n) {
		return nil, false
	}
	defer dc.leave()
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = true
		}
	}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			dc.d.errorf(dc.pos(k), CodeShape, "a key in %s must be a plain name, not %s", what, describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			continue
		}
		if first, ok := seen[k.Value]; ok {
			dc.d.errorf(dc.pos(k), CodeDuplicateKey, "%q is defined twice in %s (first defined at %d:%d); remove one", k.Value, what, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
	}
	var own map[string]bool
	if merged {
		own = make(map[string]bool, len(seen))
		for k := range seen {
			own[k] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if merged && k.Tag == "!!merge" {
			dc.merge(v, what, own, &out)
			continue
		}
		if seen[k.Value] == k {
			out = append(out, pair{k, v})
		}
	}
	return out, true
}

// merge adds the pairs of a merge key's value (a mapping or a list of
// them; the first one to give a key wins) that are not in have.
func (dc *decoder) merge(v *yaml.Node, what string, have map[string]bool, out *[]pair) {
	v = resolve(v)
	var sources []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		sources = v.Content
	}
	if len(sources) == 0 {
		dc.d.errorf(dc.pos(v), CodeShape, "<< in %s must merge a mapping (<<: *name), not %s", what, describe(v))
		return
	}
	for _, src := range sources {
		if resolve(src).Kind != yaml.MappingNode {
			dc.d.errorf(dc.pos(src), CodeShape, "<< in %s must merge a mapping (<<: *name), not %s", what, describe(resolve(src)))
			continue
		}
		pairs, _ := dc.mapping(src, what)
		for _, p := range pairs {
			if !have[p.key.Value] {
				have[p.key.Value] = true
				*out = append(*out, p)
			}
		}
	}
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
		return quoteShort(n.Value)
	}
	return "this"
}

// quoteShort quotes a value for a message, cutting a long one short.
func quoteShort(s string) string {
	if r := []rune(s); len(r) > 60 {
		return fmt.Sprintf("%q...", string(r[:57]))
	}
	return fmt.Sprintf("%q", s)
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
	root := dc.parse(CodeNoNodes, "a flow needs nodes:",
		"a flow file holds one flow, and flowd would ignore this one: move it to its own file")
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
			switch {
			case looksLikeNode(p.val):
				dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "unknown key %q in the flow: it looks like a node; nodes go under nodes:", p.key.Value)
			case closest(p.key.Value, topKeys) == "nodes" && nodes == nil:
				// Read it as nodes, so one typo does not hide every other problem.
				dc.unknownKey(p.key, "the flow", topKeys)
				nodes = p.val
			default:
				dc.unknownKey(p.key, "the flow", topKeys)
			}
		}
	}
	if !flowNameRE.MatchString(f.Name) {
		hint := ""
		if s := suggestName(f.Name); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		if named {
			dc.d.errorf(f.NamePos, CodeFlowName, "flow name %q must be lowercase letters, digits, '-' and '_', starting with a letter or digit%s", f.Name, hint)
		} else {
			dc.d.errorf(f.NamePos, CodeFlowName, "the file name gives flow name %q, which must be lowercase letters, digits, '-' and '_'; rename the file or add flow: <name>%s", f.Name, hint)
		}
	}
	if nodes == nil {
		dc.d.errorf(dc.pos(root), CodeMissingKey, "the flow has no nodes: key; add nodes: with at least one node, such as greet: {Speak: Hello}")
		return f
	}
	dc.nodes(f, nodes)
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
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if LookupKind(resolve(n.Content[i]).Value) != nil {
			return true
		}
	}
	return false
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
		dc.d.errorf(dc.pos(n), CodeShape, "nodes must be a mapping of node ids to nodes (greet: {Speak: Hi}), not a list: remove the \"- \" before each node id")
		return
	}
	pairs, ok := dc.mapping(n, "nodes")
	if !ok {
		return
	}
	if len(pairs) == 0 {
		dc.d.errorf(dc.pos(n), CodeNoNodes, "the flow has no nodes; add at least one under nodes:, such as greet: {Speak: Hello}")
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
		hint := ""
		if s := strings.Join(strings.FieldsFunc(nd.ID, func(r rune) bool { return r == ' ' || r == '.' || r == '/' || r == ':' }), "_"); s != nd.ID && nodeIDRE.MatchString(s) {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		dc.d.errorf(nd.Pos, CodeNodeID, "node id %q must be letters, digits, '-' and '_', starting with a letter%s", nd.ID, hint)
	}
	what := "node " + nd.ID
	pairs, ok := dc.mapping(val, what)
	if !ok {
		return nd
	}
	var action *pair
	var unknown []*pair
	for i := range pairs {
		p := &pairs[i]
		switch k := p.key.Value; k {
		case "next":
			nd.Next = dc.ref(p.val, "next")
		case "on":
			nd.On = dc.on(p.val, what)
		case "description":
			nd.Description, _ = dc.scalar(p.val, "description")
		case "events":
			nd.Events, nd.EventsPos = dc.events(p.val), dc.pos(p.key)
		default:
			kind := LookupKind(k)
			if kind == nil {
				unknown = append(unknown, p)
				continue
			}
			if action != nil {
				dc.d.errorf(dc.pos(p.key), CodeManyActions, "%s has two actions, %s (at %d:%d) and %s; a node does one thing: split it in two nodes and chain them with next", what, action.key.Value, action.key.Line, action.key.Column, k)
				continue
			}
			action = p
			nd.Kind, nd.KindPos = kind, dc.pos(p.key)
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
			nd.Kind, nd.KindPos = kind, dc.pos(p.key)
		}
	}
	if action == nil {
		if !triedAction {
			dc.d.errorf(nd.Pos, CodeNoAction, "%s has no action; add one of %s", what, strings.Join(actionNames(), ", "))
		}
		return nd
	}
	nd.Kind.behavior.decode(dc, nd, *action)
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
	k, what := p.key.Value, "node "+nd.ID
	suggest := actionSynonyms[k]
	if suggest == "" {
		suggest = closest(k, append(actionNames(), nodeKeys...))
	}
	if e := xmlgen.Lookup(k); e != nil && LookupKind(k) == nil {
		var parents []string
		for _, pe := range xmlgen.Elements() {
			if pe.AllowsChild(k) && LookupKind(pe.Name) != nil {
				parents = append(parents, pe.Name)
			}
		}
		if len(parents) > 0 {
			dc.d.errorf(dc.pos(p.key), CodeUnknownAction, "%s cannot be the action of %s: it goes under the children: of %s", k, what, strings.Join(parents, " or "))
		} else {
			dc.d.errorf(dc.pos(p.key), CodeUnknownAction, "%s cannot be the action of %s: it goes under the children: of Speak, with a Polly voice", k, what)
		}
		return true, nil
	}
	if action != nil && nd.Kind.Element != nil {
		spec := nd.Kind.Element
		if spec.Attr(k) != nil || (k == ContentKey(spec) && k != "") || (k == "children" && len(spec.Children) > 0) {
			dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "unknown key %q in %s: it belongs to %s; indent it under %s:", k, what, spec.Name, spec.Name)
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
		dc.d.errorf(dc.pos(p.key), CodeUnknownAction, "unknown action %q in %s%s", k, what, hint)
		return true, kind
	}
	dc.d.errorf(dc.pos(p.key), CodeUnknownKey, "unknown key %q in %s%s", k, what, hint)
	if suggest == "next" && nd.Next == nil {
		// Follow it as next, so the nodes after it are not all reported
		// unreachable because of one typo.
		if r := dc.ref(p.val, k); r != nil {
			nd.Next = r
		}
	}
	return LookupKind(suggest) != nil, kind
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
	if !dc.enter(val) {
		return e
	}
	defer dc.leave()
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
					dc.unknownAttr(spec, kind, p.key)
					if kind != nil && (k == "next" || k == "on") {
						dc.stray = append(dc.stray, p)
					}
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

// unknownAttr reports a key of an element that is not one of its
// attributes, saying where the key belongs when it is a node key or a child.
func (dc *decoder) unknownAttr(spec *xmlgen.Element, kind *Kind, key *yaml.Node) {
	k, contentKey := key.Value, ContentKey(spec)
	switch {
	case kind != nil && (k == "next" || k == "on" || k == "description"):
		dc.d.errorf(dc.pos(key), CodeUnknownKey, "%s has no attribute %q: %s belongs to the node; outdent it to line up with %s:", spec.Name, k, k, spec.Name)
		return
	case spec.AllowsChild(k):
		dc.d.errorf(dc.pos(key), CodeUnknownKey, "%s has no attribute %q: %s is a child element; write it under children: (- %s: ...)", spec.Name, k, k, k)
		return
	case contentKey == "" && (k == "text" || k == "url" || k == "name"):
		dc.d.errorf(dc.pos(key), CodeUnknownKey, "%s has no attribute %q: %s takes no text content", spec.Name, k, spec.Name)
		return
	}
	known := attrNames(spec)
	if kind != nil {
		known = slicesDelete(known, kind.Owned)
	}
	if contentKey != "" {
		known = append(known, contentKey)
	}
	if len(spec.Children) > 0 {
		known = append(known, "children")
	}
	hint := didYouMean(k, known)
	if hint == "" {
		hint = sharedPrefix(k, known)
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
	dc.d.errorf(dc.pos(key), CodeUnknownKey, "%s has no attribute %q%s", spec.Name, k, hint)
}

// sharedPrefix suggests the names that start like k (transcribe for
// transcriptionType and transcriptionUrl), or "".
func sharedPrefix(k string, known []string) string {
	const n = 6
	if len(k) < n {
		return ""
	}
	var out []string
	for _, c := range known {
		if len(c) >= n && strings.EqualFold(c[:n], k[:n]) {
			out = append(out, strconv.Quote(c))
		}
	}
	switch len(out) {
	case 0:
		return ""
	case 1:
		return " (did you mean " + out[0] + "?)"
	}
	return " (did you mean one of " + strings.Join(out, ", ") + "?)"
}

// slicesDelete returns list without the strings in drop.
func slicesDelete(list, drop []string) []string {
	out := list[:0]
	for _, s := range list {
		keep := true
		for _, d := range drop {
			keep = keep && s != d
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
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
				dc.d.errorf(dc.pos(val), CodeType, "%s %s must be an integer, not %s", spec.Name, a.Name, describeTyped(val))
				return nil
			}
			if n, err := strconv.ParseInt(strings.ReplaceAll(val.Value, "_", ""), 0, 64); err == nil {
				s.Value = strconv.FormatInt(n, 10)
			}
		case xmlgen.Bool:
			if val.Tag != "!!bool" {
				dc.d.errorf(dc.pos(val), CodeType, "%s %s must be true or false, not %s", spec.Name, a.Name, describeTyped(val))
				return nil
			}
			s.Value = strings.ToLower(val.Value)
		}
	}
	return &AttrDecl{Spec: a, NamePos: dc.pos(key), Value: s}
}

// describeTyped describes a scalar of the wrong type, saying how YAML read
// it when that is the surprise: a quoted number is text, yes is not true.
func describeTyped(n *yaml.Node) string {
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	switch {
	case n.Tag == "!!str" && quoted && (isYAMLInt(n.Value) || n.Value == "true" || n.Value == "false"):
		return "the text " + quoteShort(n.Value) + ": remove the quotes"
	case n.Tag == "!!str" && !quoted && isYAMLWord(n.Value):
		return quoteShort(n.Value) + ", which YAML reads as text: write true or false"
	case n.Tag == "!!float":
		return fmt.Sprintf("the decimal number %s", n.Value)
	case n.Tag == "!!int" || n.Tag == "!!bool":
		return n.Value
	}
	return describe(n)
}

func isYAMLInt(s string) bool {
	_, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	return err == nil
}

// isYAMLWord reports the YAML 1.1 booleans that YAML 1.2 reads as text.
func isYAMLWord(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
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
		if item.Kind != yaml.MappingNode {
			dc.d.errorf(dc.pos(item), CodeShape, "each child of %s must be one element (- Speak: Hello), not %s", parent.Name, describe(item))
			continue
		}
		pairs, _ := dc.mapping(item, "a child of "+parent.Name)
		if len(pairs) == 0 {
			dc.d.errorf(dc.pos(item), CodeShape, "each child of %s must be one element (- Speak: Hello), not an empty mapping", parent.Name)
			continue
		}
		if len(pairs) > 1 {
			dc.manyChildKeys(parent, pairs)
			continue
		}
		k := pairs[0].key
		spec := xmlgen.Lookup(k.Value)
		if spec == nil || spec.Name == "Response" {
			hint := didYouMean(k.Value, parent.Children)
			if s := actionSynonyms[k.Value]; s != "" && parent.AllowsChild(s) {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			dc.d.errorf(dc.pos(k), CodeNesting, "%s cannot contain %q; allowed: %s%s", parent.Name, k.Value, strings.Join(parent.Children, ", "), hint)
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
		out = append(out, dc.element(spec, nil, k, pairs[0].val))
	}
	return out
}

// manyChildKeys reports a children: item with more than one key: an
// element with its attributes beside it, or two elements after one "- ".
func (dc *decoder) manyChildKeys(parent *xmlgen.Element, pairs []pair) {
	first := pairs[0].key
	spec := xmlgen.Lookup(first.Value)
	for _, p := range pairs[1:] {
		k := p.key.Value
		switch {
		case spec != nil && (spec.Attr(k) != nil || k == ContentKey(spec) || k == "children"):
			dc.d.errorf(dc.pos(p.key), CodeShape, "%q sits beside %s in the same child of %s; put it under %s (- %s: {%s: ...})", k, first.Value, parent.Name, first.Value, first.Value, k)
		case xmlgen.Lookup(k) != nil:
			dc.d.errorf(dc.pos(p.key), CodeShape, "%s and %s are in one child of %s; start each child with its own \"- \"", first.Value, k, parent.Name)
		default:
			dc.d.errorf(dc.pos(p.key), CodeShape, "each child of %s must be one element (- Speak: Hello), but this one also has %q", parent.Name, k)
		}
	}
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
			dc.d.errorf(dc.scalarPos(n, off), CodeTemplate, "template {{ is not closed; end it with }}")
			s.Parts = nil
			return s
		}
		src := v[start : start+end]
		trimmed := strings.TrimLeft(src, " \t\n")
		lead := runeCount(src[:len(src)-len(trimmed)])
		trimmed = strings.TrimRight(trimmed, " \t\n")
		if trimmed == "" {
			dc.d.errorf(dc.scalarPos(n, off), CodeTemplate, "template {{ }} is empty; write an expression inside, such as {{ call.From }}, or remove it")
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
