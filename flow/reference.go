package flow

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/flowd-dev/flowd/xmlgen"
	"github.com/flowd-dev/flowd/yamlpos"
)

// Reference returns the Markdown reference of every action, element,
// attribute and diagnostic code, generated from the same tables the
// decoder and checker use. It is committed as docs/reference.md.
func Reference() []byte {
	var b bytes.Buffer
	b.WriteString("# flowd language reference\n\n")
	b.WriteString("Generated from flowd's tables by `go test ./flow -run Reference -update`; do not edit by hand.\n")
	b.WriteString("The language itself (files, nodes, edges, expressions) is described in the package documentation of `flow` (`go doc github.com/flowd-dev/flowd/flow`) and the README.\n\n")
	b.WriteString("## Actions\n\n| action | outcomes (`on:`) | what the walk does |\n|---|---|---|\n")
	for _, k := range Kinds() {
		outcomes := "—"
		if len(k.Outcomes) > 0 {
			outcomes = "`" + strings.Join(k.Outcomes, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s %s |\n", k.Name, outcomes, k.Doc, k.traits.walkDoc)
	}
	b.WriteString("\n## Elements\n\nAttribute names are Plivo's, case-sensitive. Values are checked when the flow loads; values from `{{ templates }}` are checked when the call runs.\n")
	for _, e := range xmlgen.Elements() {
		if e.Name == "Response" {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", e.Name, e.Doc)
		if k := LookupKind(e.Name); k != nil && len(k.Owned) > 0 {
			fmt.Fprintf(&b, "flowd writes `%s` itself; route with `next` and `on:`.\n\n", strings.Join(k.Owned, "`, `"))
		}
		if ck := ContentKey(e); ck != "" {
			req := "optional"
			if e.Text == xmlgen.RequiredText {
				req = "required"
			}
			fmt.Fprintf(&b, "Content (%s): `%s`, or the scalar form `%s: ...`.\n\n", req, ck, e.Name)
		}
		if len(e.Children) > 0 {
			fmt.Fprintf(&b, "Children: %s.", strings.Join(e.Children, ", "))
			if e.ChildrenWhy != "" {
				fmt.Fprintf(&b, " %s.", strings.TrimSuffix(e.ChildrenWhy, "."))
			}
			b.WriteString("\n\n")
		}
		if len(e.Attrs) == 0 {
			continue
		}
		b.WriteString("| attribute | type | default | allowed | |\n|---|---|---|---|---|\n")
		k := LookupKind(e.Name)
		for i := range e.Attrs {
			a := &e.Attrs[i]
			if k != nil && k.Owns(a.Name) {
				continue
			}
			def := a.Default
			if def == "" {
				def = "—"
			} else {
				def = "`" + def + "`"
			}
			name := "`" + a.Name + "`"
			if a.Required {
				name += " (required)"
			}
			f := attrField(a)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, f.Type, def, allowed(&f), strings.ReplaceAll(a.Doc, "|", "\\|"))
		}
	}
	// Sections of their own list families of kinds, such as the REST
	// actions with their arguments, in the order of their first kind.
	var sections []string
	for _, k := range Kinds() {
		if s := k.traits.refSection; s != "" && !slices.Contains(sections, s) {
			sections = append(sections, s)
		}
	}
	for _, s := range sections {
		b.WriteString("\n" + s)
		for _, k := range Kinds() {
			if k.traits.refSection == s {
				fmt.Fprintf(&b, "\n### %s\n\n%s\n\n%s", k.Name, k.Doc, k.traits.refEntry)
			}
		}
	}
	b.WriteString("\n## Diagnostic codes\n\n")
	for _, c := range CodeDocs {
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n```yaml\n%s\n```\n\nFix: %s\n\n", c.Code, c.Summary, c.Example, c.Fix)
	}
	return b.Bytes()
}

// allowed says which values a field takes, for the reference's tables.
func allowed(f *yamlpos.Field) string {
	var s string
	switch f.Type {
	case yamlpos.Int:
		switch {
		case f.HasMin && f.HasMax:
			s = fmt.Sprintf("%d–%d", f.Min, f.Max)
		case f.HasMin:
			s = fmt.Sprintf("≥ %d", f.Min)
		case f.HasMax:
			s = fmt.Sprintf("≤ %d", f.Max)
		}
	case yamlpos.Bool:
		s = "`true`, `false`"
	case yamlpos.Method:
		s = "`GET`, `POST`"
	case yamlpos.URL:
		s = "absolute URL"
	case yamlpos.Enum, yamlpos.CommaList:
		s = "`" + strings.Join(f.Enum, "`, `") + "`"
		if f.Type == yamlpos.CommaList {
			s = "comma list of " + s
		}
		if f.OrURL {
			s += ", or a URL"
		}
		if f.Fold {
			s += " (any case)"
		}
	case yamlpos.String:
		if f.MaxLen > 0 {
			s = fmt.Sprintf("≤ %d characters", f.MaxLen)
		}
	}
	if f.Check != nil && s == "" {
		s = "see description"
	}
	return s
}
