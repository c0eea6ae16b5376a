package yamlpos_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/yamlpos"
)

var table = []yamlpos.Field{
	{Name: "name", Type: yamlpos.String, Required: true, Doc: "The thing's name. Unique."},
	{Name: "count", Type: yamlpos.Int, Required: true, Need: "a number of things"},
	{Name: "tags", Type: yamlpos.Strings},
	{Name: "vars", Type: yamlpos.Map, Keys: regexp.MustCompile(`^[a-z]+$`), KeyName: "variable name", KeyForm: "lowercase letters"},
	{Name: "color", Type: yamlpos.Enum, Enum: []string{"red", "green"}},
}

// decode reads src against table, checking each value found, and returns
// the diagnostics one a line.
func decode(src string) string {
	d := yamlpos.NewDecoder("f.yaml", []byte(src))
	root := d.Parse(yamlpos.CodeMissingKey, "it needs name:", "one document only")
	if root != nil {
		got, _ := d.Object(root, yamlpos.Mapping{What: "a thing", Fields: table})
		for i := range table {
			if p, ok := got[table[i].Name]; ok {
				d.Value(&table[i], p.Val)
			}
		}
	}
	ds := d.Diagnostics()
	ds.Sort()
	var b strings.Builder
	for _, x := range ds {
		b.WriteString(x.String() + "\n")
	}
	return b.String()
}

// TestObject: unknown keys get "did you mean", a missing required key says
// what it needs, unless a typo of it was reported, and each value is
// reported at the value.
func TestObject(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"good", "name: a\ncount: 2\ntags: x\nvars: {ab: 1}\ncolor: red\n", ""},
		{"typos", "nmae: a\ncuont: 1\n", `f.yaml:1:1: error: unknown key "nmae" in a thing (did you mean "name"?) [unknown-key]
f.yaml:2:1: error: unknown key "cuont" in a thing (did you mean "count"?) [unknown-key]
`},
		{"missing", "tags: [a]\n", `f.yaml:1:1: error: a thing needs name: (the thing's name) [missing-key]
f.yaml:1:1: error: a thing needs count: a number of things [missing-key]
`},
		{"values", "name: [a]\ncount: 1\ntags: [{a: 1}]\nvars: {Ab: 1}\ncolor: rde\nname: b\n", `f.yaml:1:7: error: name must be a single value, not a list [bad-shape]
f.yaml:3:8: error: each item of tags must be a single value, not a mapping [bad-shape]
f.yaml:4:8: error: variable name "Ab" must be lowercase letters [bad-shape]
f.yaml:5:8: error: color "rde" is not one of red, green (did you mean "red"?) [bad-value]
f.yaml:6:1: error: "name" is defined twice in a thing (first defined at 1:1); remove one [duplicate-key]
`},
		{"syntax", "name: a\n\tcount: 1\n", "f.yaml:2:1: error: a tab indents this line; YAML indentation must use spaces (yaml: found a tab character that violates indentation) [yaml-syntax]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decode(tc.src); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestObjectSchema: the schema of a table says what the decoder checks.
func TestObjectSchema(t *testing.T) {
	fields := slices.Concat(table, []yamlpos.Field{
		{Name: "a", Type: yamlpos.True, Exclusive: true},
		{Name: "b", Type: yamlpos.True, Exclusive: true},
		{Name: "mode", Type: yamlpos.Enum, Enum: []string{"on"}, Fold: true, Template: true, Default: "on"},
	})
	b, err := json.Marshal(yamlpos.ObjectSchema(fields))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"required":["name","count"]`,
		`"additionalProperties":false`,
		`"name":{"description":"The thing's name. Unique.","type":["string","number","boolean"]}`,
		`"vars":{"propertyNames":{"pattern":"^[a-z]+$"},"type":"object"}`,
		`"not":{"anyOf":[{"required":["a","b"]}]}`,
		`"mode":{"anyOf":[{"pattern":"^([Oo][Nn])$","type":"string"},{"$ref":"#/$defs/template"}],"description":"Default: on."}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("schema lacks %s:\n%s", want, b)
		}
	}
}

// TestExclusiveGiven: the exclusive fields a mapping has, in the table's
// order, whatever the file's.
func TestExclusiveGiven(t *testing.T) {
	fields := []yamlpos.Field{
		{Name: "a", Type: yamlpos.True, Exclusive: true},
		{Name: "n", Type: yamlpos.True},
		{Name: "b", Type: yamlpos.True, Exclusive: true},
		{Name: "c", Type: yamlpos.True, Exclusive: true},
	}
	for src, want := range map[string]string{
		"n: true\n":                   "",
		"n: true\nb: true\n":          "b",
		"c: true\nn: true\na: true\n": "a c",
		"b: true\nc: true\na: true\n": "a b c",
	} {
		d := yamlpos.NewDecoder("f.yaml", []byte(src))
		got, ok := d.Object(d.Parse(yamlpos.CodeMissingKey, "", ""), yamlpos.Mapping{What: "f", Fields: fields})
		if !ok {
			t.Fatalf("%q: %v", src, d.Diagnostics())
		}
		var names []string
		for _, p := range yamlpos.ExclusiveGiven(fields, got) {
			names = append(names, p.Key.Value)
		}
		if strings.Join(names, " ") != want {
			t.Errorf("%q: %v, want %s", src, names, want)
		}
	}
}

// TestScalarPos places runes of quoted and block scalars on the file.
func TestScalarPos(t *testing.T) {
	src := "a: \"x\\ty {{ z }}\"\nb: |\n  one\n  two {{ w }}\n"
	d := yamlpos.NewDecoder("f.yaml", []byte(src))
	root := d.Parse(yamlpos.CodeMissingKey, "", "")
	pairs, _ := d.Mapping(root, "f")
	for _, tc := range []struct {
		pair, off int
		want      string
	}{
		{0, 4, "f.yaml:1:10"},  // {{, after the escape \t
		{1, 11, "f.yaml:4:10"}, // w, on the block's second line
	} {
		if got := d.ScalarPos(pairs[tc.pair].Val, tc.off).String(); got != tc.want {
			t.Errorf("pair %d offset %d at %s, want %s", tc.pair, tc.off, got, tc.want)
		}
	}
}

// TestYAMLSyntaxErrors checks that syntax errors are placed on the line and
// column of the mistake, not where yaml.v3 says its context started.
func TestYAMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, at, want string
	}{
		{"tab", "nodes:\n  a:\n\tSpeak: hi\n", "3:1", "tab"},
		{"tab after spaces", "nodes:\n  a:\n    Speak: hi\n  \tnext: b\n", "4:3", "tab"},
		{"unclosed quote", "nodes:\n  a:\n    Speak: \"hi\n    next: b\n  b:\n    Hangup: {}\n", "3:12", "quote"},
		{"unclosed single quote", "flow: x\nnodes:\n  a:\n    Speak: 'it\n", "4:12", "quote"},
		{"unclosed brace", "nodes:\n  a: {Speak: hi\n  b: {Hangup: {}}\n", "2:6", "{"},
		{"unclosed bracket", "nodes:\n  a:\n    branch: [{when: true, next: a}\n    next: a\n", "3:13", "the [ here"},
		{"colon in value", "nodes:\n  a:\n    Speak: Hours: 9 to 5\n", "3:17", "quoted"},
		{"indent", "nodes:\n  a:\n    Speak: hi\n   next: b\n", "4:4", "indented"},
		{"deeper indent", "nodes:\n  a:\n    Speak: hi\n      next: b\n", "4:11", "indent"},
		{"list in mapping", "nodes:\n  a:\n    Speak: hi\n  - b\n", "4:3", ""},
		{"unknown anchor", "nodes:\n  a: *nope\n", "2:6", "*nope"},
		{"late error", "flow: x\ndescription: a\nparams: {}\nvars: {}\nnodes:\n  a:\n    Speak: hi\n    next: b\n  b:\n    Speak: x: y\n", "10:13", "quoted"},
		{"after a multi-line flow mapping", "nodes:\n  a: {Speak: hi,\n      next: b}\n  b:\n    Hangup: {}\n   c: 1\n", "6:4", "indented"},
		{"control character", "nodes:\n  a:\n    Speak: h\x01i\n", "3:13", "control"},
		{"second document", "nodes:\n  a:\n    Hangup: {}\n---\nnodes:\n  b: [\n", "6:6", "["},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := yamlpos.NewDecoder("f.yaml", []byte(tt.src))
			d.Parse(yamlpos.CodeMissingKey, "", "")
			ds := d.Diagnostics()
			if len(ds) != 1 || ds[0].Code != yamlpos.CodeYAML {
				t.Fatalf("want one yaml-syntax diagnostic, got:\n%s", ds.Error())
			}
			if at := fmt.Sprintf("%d:%d", ds[0].Pos.Line, ds[0].Pos.Col); at != tt.at {
				t.Errorf("at %s, want %s: %s", at, tt.at, ds[0])
			}
			if !strings.Contains(ds[0].Message, tt.want) {
				t.Errorf("message lacks %q: %s", tt.want, ds[0].Message)
			}
		})
	}
}
