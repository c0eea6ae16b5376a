package flow

import (
	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/xmlgen"
)

// The syntax tree of a flow file, as decoded from YAML with every position
// kept. The checker reads it; the compiler turns it into a Graph. Nothing
// at request time sees it.

// File is one decoded flow file.
type File struct {
	Path        string
	Src         []byte
	Name        string
	NamePos     Pos
	Description string
	Params      []*ParamDecl
	Vars        []*VarDecl
	Start       *Ref
	OnError     *Ref
	Nodes       []*NodeDecl
	nodeByID    map[string]*NodeDecl
}

// Ref names a node from somewhere in the file.
type Ref struct {
	Name string
	Pos  Pos
}

// ParamDecl is one entry under params:.
type ParamDecl struct {
	Name        string
	Pos         Pos
	Default     string // as written
	HasDefault  bool
	Type        ParamType // the default's YAML type
	Secret      bool      // secret: true
	Description string
	value       any // Default as Type
}

// VarDecl is one entry under vars:.
type VarDecl struct {
	Name  string
	Pos   Pos
	Value any
}

// NodeDecl is one node under nodes:.
type NodeDecl struct {
	ID      string
	Pos     Pos
	Kind    *Kind
	KindPos Pos
	Elem    *ElemDecl   // Plivo elements
	Cases   []*CaseDecl // branch: edges taken by condition
	Sets    []*SetDecl  // set: assignments to vars
	// writesInput is set by the checker when an expression of the node
	// reads input where it would be written (a template, set:, a return
	// value): after a log: false input, in the same flow or through a
	// subflow, that writes what the caller entered.
	writesInput bool
	Next        *Ref
	On          []*OnDecl
	Description string
	// Events asks flowd to receive a MultiPartyCall's status and
	// recording callbacks into the call's trace.
	Events    []string
	EventsPos Pos
	// action is what a kind decoded that only its behavior reads (a REST
	// action's arguments).
	action any
	// with is a subflow node's with: (the subflow kind reads it).
	with *pair
	// stray marks a node named like a node key (next, on, ...): most
	// likely that key, mis-indented, which decoding reported.
	stray bool
}

// OnDecl is one outcome edge under on:.
type OnDecl struct {
	Outcome string
	Pos     Pos
	Target  Ref
}

// CaseDecl is one case of a branch.
type CaseDecl struct {
	Pos  Pos
	When *Expr
	Next *Ref
}

// SetDecl is one assignment of a set node.
type SetDecl struct {
	Name  string
	Pos   Pos
	Value *Expr
}

// ElemDecl is a Plivo element with its attributes, text and children.
type ElemDecl struct {
	Spec     *xmlgen.Element
	Pos      Pos
	Text     *Str
	Attrs    []*AttrDecl
	Children []*ElemDecl
}

// AttrDecl is one attribute of an element.
type AttrDecl struct {
	Spec    *xmlgen.Attr
	NamePos Pos
	Value   *Str
}

// Str is a scalar that may contain {{ templates }}.
type Str struct {
	Value string // the scalar as YAML decoded it (canonical for ints and bools)
	Pos   Pos
	Parts []TmplPart // nil when the value is constant
	node  *yaml.Node
}

// Const reports whether the value has no templates.
func (s *Str) Const() bool { return s.Parts == nil }

// TmplPart is a literal run or an expression of a template.
type TmplPart struct {
	Lit  string
	Expr *Expr
}

// Expr is an expression with its place in the file.
type Expr struct {
	Src  string
	Pos  Pos // where Src starts
	prog program
	// The scalar the expression sits in and the rune offset of Src inside
	// its decoded value, to place errors on the exact column.
	node   *yaml.Node
	offset int
	// readsSecret and readsInput are set when the expression is checked: it
	// reads a secret param (or params as a whole while a param is secret),
	// or input, which after a log: false input is what the caller entered.
	// An http node's URL hides what such parts write in the trace.
	readsSecret, readsInput bool
}

// hasAttr reports whether the node's element writes the attribute name.
func (nd *NodeDecl) hasAttr(name string) bool {
	if nd.Elem == nil || name == "" {
		return false
	}
	for _, a := range nd.Elem.Attrs {
		if a.Spec.Name == name {
			return true
		}
	}
	return false
}
