package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decoder reads one YAML file into a format's syntax tree, reporting
// every problem at its key or value. It never stops at the first problem:
// whatever can be decoded is, so the rest can be checked in the same run.
type Decoder struct {
	Path string
	Src  []byte
	list Collector
	// depth and visits bound the walk: an anchor may contain an alias of
	// itself, and aliases of aliases expand exponentially.
	depth, visits int
	exploded      bool
	idx           *SrcIndex // places errors inside scalars; built on the first one
}

// NewDecoder returns a decoder of the file at path with source src.
func NewDecoder(path string, src []byte) *Decoder {
	return &Decoder{Path: path, Src: src}
}

// Diagnostics returns the problems reported so far, in the order they were.
func (d *Decoder) Diagnostics() Diagnostics { return d.list.Diagnostics() }

// Errorf reports an error.
func (d *Decoder) Errorf(p Pos, code Code, format string, args ...any) {
	d.list.Errorf(p, code, format, args...)
}

// Warnf reports a warning.
func (d *Decoder) Warnf(p Pos, code Code, format string, args ...any) {
	d.list.Warnf(p, code, format, args...)
}

// Pos returns where n is in the file.
func (d *Decoder) Pos(n *yaml.Node) Pos {
	return Pos{File: d.Path, Line: n.Line, Col: n.Column}
}

// ScalarPos places a rune offset of a scalar's value on the file.
func (d *Decoder) ScalarPos(n *yaml.Node, off int) Pos {
	if d.idx == nil {
		d.idx = NewSrcIndex(d.Src)
	}
	return d.idx.ScalarPos(d.Path, n, off)
}

// Limits of the walk over the YAML tree.
const (
	maxDepth  = 64
	maxVisits = 200000
)

// Enter counts a mapping or element entered, reporting once when aliases
// make the tree too deep or too large. It returns false to stop; when it
// returns true, Leave must follow.
func (d *Decoder) Enter(n *yaml.Node) bool {
	d.visits++
	if d.depth >= maxDepth || d.visits > maxVisits {
		if !d.exploded {
			d.exploded = true
			switch {
			case !bytes.ContainsRune(d.Src, '*'):
				// No alias: the file is that large or that deep itself.
				what := fmt.Sprintf("has more than %d mappings and lists", maxVisits)
				if d.depth >= maxDepth {
					what = fmt.Sprintf("nests mappings and lists more than %d deep", maxDepth)
				}
				d.Errorf(d.Pos(n), CodeShape, "the file %s here, more than a flow file may; split it into flows run as subflows", what)
			default:
				d.Errorf(d.Pos(n), CodeShape, "the file nests too deep or expands to too many values here (more than %d deep, or %d mappings and lists); an alias (*name) probably repeats the mapping it is in", maxDepth, maxVisits)
			}
		}
		return false
	}
	d.depth++
	return true
}

// Leave leaves what Enter entered.
func (d *Decoder) Leave() { d.depth-- }

// Parse reads the file's YAML document, reporting syntax errors at their
// line and column, an empty file (code empty; needs says what the file
// needs) and a second document, which would be ignored (second says what
// the file holds and what to do). It returns nil when there is nothing
// to decode.
func (d *Decoder) Parse(empty Code, needs, second string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(d.Src))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err != nil && !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	if err != nil || len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		d.Errorf(Pos{File: d.Path, Line: 1, Col: 1}, empty, "the file is empty; %s", needs)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
		return nil
	case len(extra.Content) > 0 && !IsNull(extra.Content[0]):
		d.Errorf(d.Pos(&extra), CodeShape, "a second YAML document starts here; %s", second)
	}
	d.tags(doc.Content[0])
	return doc.Content[0]
}

// plainTags are the tags a decoder reads by: YAML's own for the kinds of
// value flowd knows. Any other (!!binary, !!timestamp, a custom !tag) is
// not honoured, which a file that writes one should be told.
var plainTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true, "!!merge": true}

// tags warns of each tag written in the file that is not honoured: the
// value is read as written (Speak: !!binary aGk= speaks "aGk=").
func (d *Decoder) tags(root *yaml.Node) {
	stack := []*yaml.Node{root}
	for seen := 0; len(stack) > 0 && seen < maxVisits; seen++ {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			continue // its anchor is walked where it is written
		}
		if n.Style&yaml.TaggedStyle != 0 && !plainTags[n.Tag] {
			d.Warnf(d.Pos(n), CodeTag, "the tag %s is not honoured: the value is read as written; remove it", n.Tag)
		}
		stack = append(stack, n.Content...)
	}
}

// Pair is one key and value of a mapping.
type Pair struct {
	Key, Val *yaml.Node
}

// Mapping returns the pairs of a mapping node, reporting duplicate keys
// (what names the mapping in messages). A value that is not a mapping is
// reported as what should be one; null is an empty mapping. Merge keys
// (<<: *anchor) bring in the anchor's pairs where they stand, except keys
// the mapping writes itself.
func (d *Decoder) Mapping(n *yaml.Node, what string) ([]Pair, bool) {
	n = Resolve(n)
	if IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(d.Pos(n), CodeShape, "%s must be a mapping (key: value lines), not %s", what, Describe(n))
		return nil, false
	}
	if !d.Enter(n) {
		return nil, false
	}
	defer d.Leave()
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := Resolve(n.Content[i])
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = true
		}
	}
	out := make([]Pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := Resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.Errorf(d.Pos(k), CodeShape, "a key in %s must be a plain name, not %s", what, Describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			continue
		}
		if first, ok := seen[k.Value]; ok {
			d.Errorf(d.Pos(k), CodeDuplicateKey, "%q is defined twice in %s (first defined at %d:%d); remove one", k.Value, what, first.Line, first.Column)
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
		k, v := Resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if merged && k.Tag == "!!merge" {
			d.merge(v, what, own, &out)
			continue
		}
		if seen[k.Value] == k {
			out = append(out, Pair{k, v})
		}
	}
	return out, true
}

// merge adds the pairs of a merge key's value (a mapping or a list of
// them; the first one to give a key wins) that are not in have.
func (d *Decoder) merge(v *yaml.Node, what string, have map[string]bool, out *[]Pair) {
	v = Resolve(v)
	var sources []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		sources = v.Content
	}
	if len(sources) == 0 {
		d.Errorf(d.Pos(v), CodeShape, "<< in %s must merge a mapping (<<: *name), not %s", what, Describe(v))
		return
	}
	for _, src := range sources {
		if Resolve(src).Kind != yaml.MappingNode {
			d.Errorf(d.Pos(src), CodeShape, "<< in %s must merge a mapping (<<: *name), not %s", what, Describe(Resolve(src)))
			continue
		}
		pairs, _ := d.Mapping(src, what)
		for _, p := range pairs {
			if !have[p.Key.Value] {
				have[p.Key.Value] = true
				*out = append(*out, p)
			}
		}
	}
}

// Scalar returns the scalar value of n, reporting other shapes. An empty
// value (null) is "".
func (d *Decoder) Scalar(n *yaml.Node, what string) (string, bool) {
	n = Resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.Errorf(d.Pos(n), CodeShape, "%s must be a single value, not %s", what, Describe(n))
		return "", false
	}
	return n.Value, true
}

// UnknownKey reports a key that is none of known, in where, with the
// known key it most likely means.
func (d *Decoder) UnknownKey(k *yaml.Node, where string, known []string) {
	d.Errorf(d.Pos(k), CodeUnknownKey, "unknown key %q in %s%s", k.Value, where, DidYouMean(k.Value, known))
}

// Resolve follows aliases to the node they repeat.
func Resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is an empty value.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Describe names a node's shape, or quotes a scalar, for a message.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return QuoteShort(n.Value)
	}
	return "this"
}

// DescribeTyped describes a scalar of the wrong type, saying how YAML read
// it when that is the surprise: a quoted number is text, yes is not true.
func DescribeTyped(n *yaml.Node) string {
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	switch {
	case n.Tag == "!!str" && quoted && (isYAMLInt(n.Value) || n.Value == "true" || n.Value == "false"):
		return "the text " + QuoteShort(n.Value) + ": remove the quotes"
	case n.Tag == "!!str" && !quoted && isYAMLWord(n.Value):
		return QuoteShort(n.Value) + ", which YAML reads as text: write true or false"
	case n.Tag == "!!float":
		return fmt.Sprintf("the decimal number %s", n.Value)
	case n.Tag == "!!int" || n.Tag == "!!bool":
		return n.Value
	}
	return Describe(n)
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

// QuoteShort quotes a value for a message, cutting a long one short.
func QuoteShort(s string) string {
	if r := []rune(s); len(r) > 60 {
		return fmt.Sprintf("%q...", string(r[:57]))
	}
	return fmt.Sprintf("%q", s)
}

// Normalize turns decoded YAML into plain values: maps and lists of
// strings, ints, floats and booleans, integers as int.
func Normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = Normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = Normalize(e)
		}
	case int64:
		return int(x)
	}
	return v
}
