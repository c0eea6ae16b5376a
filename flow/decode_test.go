package flow_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// diagsOf compiles src as f.yaml and returns its diagnostics.
func diagsOf(t *testing.T, src string) flow.Diagnostics {
	t.Helper()
	_, ds := flow.Compile("f.yaml", []byte(src))
	return ds
}

// findDiag returns the first diagnostic with the code, or fails.
func findDiag(t *testing.T, ds flow.Diagnostics, code flow.Code) flow.Diagnostic {
	t.Helper()
	for _, d := range ds {
		if d.Code == code {
			return d
		}
	}
	t.Fatalf("no %s diagnostic in:\n%s", code, ds.Error())
	return flow.Diagnostic{}
}

func at(d flow.Diagnostic) string { return fmt.Sprintf("%d:%d", d.Pos.Line, d.Pos.Col) }

// TestDuplicateKeys puts a duplicate key at every level of a flow file: the
// diagnostic is at the second key and names where the first one is.
func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, src     string
		second, first string // line:col
	}{
		{"top level", "flow: a\nflow: b\nnodes: {x: {Hangup: {}}}\n", "2:1", "1:1"},
		{"params", "params:\n  q: 1\n  q: 2\nnodes: {x: {Hangup: {}}}\n", "3:3", "2:3"},
		{"param fields", "params:\n  q: {default: 1, default: 2}\nnodes: {x: {Hangup: {}}}\n", "2:19", "2:7"},
		{"vars", "vars:\n  n: 0\n  n: 1\nnodes: {x: {Hangup: {}}}\n", "3:3", "2:3"},
		{"nodes", "nodes:\n  x:\n    Hangup: {}\n  x:\n    Hangup: {}\n", "4:3", "2:3"},
		{"node", "nodes:\n  x:\n    Speak: a\n    next: y\n    next: y\n  y:\n    Hangup: {}\n", "5:5", "4:5"},
		{"on", "nodes:\n  x:\n    GetDigits: {}\n    on: {input: y, input: y}\n  y:\n    Hangup: {}\n", "4:20", "4:10"},
		{"branch case", "nodes:\n  x:\n    branch:\n      - when: true\n        when: false\n        next: y\n  y:\n    Hangup: {}\n", "5:9", "4:9"},
		{"set", "nodes:\n  x:\n    set: {n: 1, n: 2}\n    next: y\n  y:\n    Hangup: {}\n", "3:17", "3:11"},
		{"element", "nodes:\n  x:\n    GetDigits:\n      timeout: 5\n      timeout: 6\n", "5:7", "4:7"},
		{"content key", "nodes:\n  x:\n    Speak: {text: a, text: b}\n", "3:22", "3:13"},
		{"child", "nodes:\n  x:\n    Dial:\n      children:\n        - Number: {number: '1', number: '2'}\n", "5:33", "5:20"},
		{"ssml child", "nodes:\n  x:\n    Speak:\n      voice: Polly.Joanna\n      children:\n        - break: {time: 1s, time: 2s}\n", "6:29", "6:19"},
		{"child item", "nodes:\n  x:\n    GetDigits:\n      children:\n        - Speak: a\n          Speak: b\n", "6:11", "5:11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := findDiag(t, diagsOf(t, tt.src), flow.CodeDuplicateKey)
			if at(d) != tt.second {
				t.Errorf("at %s, want %s: %s", at(d), tt.second, d)
			}
			if !strings.Contains(d.Message, "first defined at "+tt.first) {
				t.Errorf("message does not name the first key at %s: %s", tt.first, d.Message)
			}
		})
	}
}

// TestUnknownKeys checks unknown keys everywhere, each with a suggestion.
func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, src string
		code      flow.Code
		at, want  string
	}{
		{"top level", "flow: a\nstrat: x\nnodes: {x: {Hangup: {}}}\n", flow.CodeUnknownKey, "2:1", `did you mean "start"?`},
		{"top level prefix", "on_err: x\nnodes: {x: {Hangup: {}}}\n", flow.CodeUnknownKey, "1:1", `did you mean "on_error"?`},
		{"param field", "params:\n  q: {defualt: 1}\nnodes: {x: {Hangup: {}}}\n", flow.CodeUnknownKey, "2:7", `did you mean "default"?`},
		{"node", "nodes:\n  x:\n    Speak: a\n    nest: y\n  y:\n    Hangup: {}\n", flow.CodeUnknownKey, "4:5", `did you mean "next"?`},
		{"node description", "nodes:\n  x:\n    Hangup: {}\n    descriptoin: bye\n", flow.CodeUnknownKey, "4:5", `did you mean "description"?`},
		{"action", "nodes:\n  x:\n    Speek: a\n", flow.CodeUnknownAction, "3:5", `did you mean "Speak"?`},
		{"action case", "nodes:\n  x:\n    getdigits: {}\n", flow.CodeUnknownAction, "3:5", `did you mean "GetDigits"?`},
		{"action synonym", "nodes:\n  x:\n    Gather: {}\n", flow.CodeUnknownAction, "3:5", `did you mean "GetDigits"?`},
		{"branch case", "nodes:\n  x:\n    branch:\n      - when: true\n        nxt: x\n", flow.CodeUnknownKey, "5:9", `did you mean "next"?`},
		{"attribute", "nodes:\n  x:\n    Dial:\n      timout: 5\n      children: [Number: '1']\n", flow.CodeUnknownKey, "4:7", `did you mean "timeout"?`},
		{"attribute case", "nodes:\n  x:\n    MultiPartyCall: {name: q, role: agent, maxparticipants: 3}\n", flow.CodeUnknownKey, "3:44", `did you mean "maxParticipants"?`},
		{"child attribute", "nodes:\n  x:\n    Dial:\n      children:\n        - Number: {number: '1', sendDigit: '1'}\n", flow.CodeUnknownKey, "5:33", `did you mean "sendDigits"?`},
		{"child element", "nodes:\n  x:\n    GetDigits:\n      children:\n        - Speek: hi\n", flow.CodeNesting, "5:11", `did you mean "Speak"?`},
		{"outcome", "nodes:\n  x:\n    GetDigits: {}\n    on: {noinput: x}\n", flow.CodeOutcome, "4:10", `did you mean "no_input"?`},
		{"node reference", "nodes:\n  menu:\n    GetDigits: {}\n    next: mneu\n", flow.CodeUnknownNode, "4:11", `did you mean "menu"?`},
		{"expression name", "nodes:\n  x:\n    Speak: '{{ inptu.Digits }}'\n", flow.CodeExpr, "3:16", `did you mean "input"?`},
		{"param name", "params: {queue: a}\nnodes:\n  x:\n    Speak: '{{ params.queu }}'\n", flow.CodeUndeclaredParam, "4:23", `did you mean "queue"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := findDiag(t, diagsOf(t, tt.src), tt.code)
			if at(d) != tt.at {
				t.Errorf("at %s, want %s: %s", at(d), tt.at, d)
			}
			if !strings.Contains(d.Message, tt.want) {
				t.Errorf("message lacks %s: %s", tt.want, d.Message)
			}
		})
	}
}

// TestOneTypoOneDiagnostic checks that recovery keeps a typo from being
// reported again as a missing action or as unreachable nodes.
func TestOneTypoOneDiagnostic(t *testing.T) {
	for name, src := range map[string]string{
		"misspelt next":   "nodes:\n  a:\n    Speak: hi\n    nxt: b\n  b:\n    Hangup: {}\n",
		"misspelt target": "nodes:\n  a:\n    Speak: hi\n    next: bb\n  b:\n    Hangup: {}\n",
		"misspelt action": "nodes:\n  a:\n    Speek: hi\n    next: b\n  b:\n    Hangup: {}\n",
		"next in element": "nodes:\n  a:\n    Speak:\n      text: hi\n      next: b\n  b:\n    Hangup: {}\n",
		"synonym action":  "nodes:\n  a:\n    if:\n      - when: true\n        next: b\n    next: b\n  b:\n    Hangup: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if ds := diagsOf(t, src); len(ds) != 1 {
				t.Errorf("want 1 diagnostic, got %d:\n%s", len(ds), ds.Error())
			}
		})
	}
}

// TestAliases checks anchors, aliases and merge keys, and that an anchor
// that contains itself is reported instead of looping.
func TestAliases(t *testing.T) {
	ok := map[string]string{
		"alias node body":  "nodes:\n  a: &prompt {Speak: hi, next: b}\n  b:\n    Hangup: {}\n  c: *prompt\n",
		"alias attributes": "nodes:\n  a:\n    GetDigits: &g {numDigits: 1, timeout: 5}\n    on: {no_input: b}\n  b:\n    GetDigits: *g\n",
		"alias child":      "nodes:\n  a:\n    GetDigits:\n      children:\n        - &p {Speak: Press 1.}\n    on: {no_input: b}\n  b:\n    GetDigits:\n      children: [*p]\n",
		"merge":            "nodes:\n  a:\n    GetDigits: &g {numDigits: 1, timeout: 5}\n    on: {no_input: b}\n  b:\n    GetDigits:\n      <<: *g\n      timeout: 9\n",
		"merge list":       "nodes:\n  a:\n    GetDigits: &g {numDigits: 1}\n    on: {no_input: b}\n  b:\n    GetDigits:\n      <<: [*g, {timeout: 3}]\n",
	}
	for name, src := range ok {
		t.Run(name, func(t *testing.T) {
			g, ds := flow.Compile("f.yaml", []byte(src))
			if g == nil || ds.HasErrors(false) {
				t.Fatalf("not compiled:\n%s", ds.Error())
			}
		})
	}
	// Merged keys are overridden by the mapping's own, in either order,
	// without a duplicate-key error.
	src := "nodes:\n  a:\n    GetDigits: &g {numDigits: 1, timeout: 5}\n    on: {no_input: b}\n  b:\n    GetDigits:\n      timeout: 9\n      <<: *g\n"
	f, ds := flow.Decode("f.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("decode: %s", ds.Error())
	}
	vals := map[string]string{}
	for _, a := range f.Nodes[1].Elem.Attrs {
		vals[a.Spec.Name] = a.Value.Value
	}
	if vals["timeout"] != "9" || vals["numDigits"] != "1" {
		t.Errorf("merged attributes = %v, want timeout 9 and numDigits 1", vals)
	}
	// Mistakes inside an anchor are reported once, at the anchor, however
	// many aliases repeat it.
	ds = diagsOf(t, "nodes:\n  a:\n    GetDigits: &g {numDigits: 0}\n    next: b\n  b:\n    GetDigits: *g\n    next: c\n  c:\n    GetDigits: *g\n")
	if len(ds) != 1 || at(ds[0]) != "3:31" {
		t.Errorf("want one bad-value at 3:31, got:\n%s", ds.Error())
	}
	// An anchor that contains itself.
	for _, src := range []string{
		"nodes:\n  a:\n    Speak:\n      voice: Polly.Joanna\n      children:\n        - lang: &l\n            xml:lang: en-US\n            children:\n              - lang: *l\n",
		"nodes: &n\n  a:\n    <<: *n\n",
	} {
		ds := diagsOf(t, src)
		if len(ds) == 0 {
			t.Errorf("no diagnostic for a self-referencing anchor:\n%s", src)
		}
	}
}

// TestOneDocument checks that a second YAML document, which flowd would
// otherwise ignore, is reported.
func TestOneDocument(t *testing.T) {
	ds := diagsOf(t, "nodes:\n  a:\n    Hangup: {}\n---\nnodes:\n  b:\n    Hangup: {}\n")
	d := findDiag(t, ds, flow.CodeShape)
	if at(d) != "4:1" || !strings.Contains(d.Message, "second YAML document") {
		t.Errorf("got %s", d)
	}
	// An explicit start marker and an empty trailing document are fine.
	for _, src := range []string{"---\nnodes:\n  a:\n    Hangup: {}\n", "nodes:\n  a:\n    Hangup: {}\n---\n", "nodes:\n  a:\n    Hangup: {}\n...\n"} {
		if ds := diagsOf(t, src); len(ds) != 0 {
			t.Errorf("%q: %s", src, ds.Error())
		}
	}
}

func TestEmptyFiles(t *testing.T) {
	for _, src := range []string{"", "\n", "# nothing yet\n", "---\n", "~\n"} {
		ds := diagsOf(t, src)
		if len(ds) != 1 || ds[0].Code != flow.CodeNoNodes || at(ds[0]) != "1:1" {
			t.Errorf("%q: want one no-nodes at 1:1, got:\n%s", src, ds.Error())
		}
	}
	ds := diagsOf(t, "nodes:\n")
	if d := findDiag(t, ds, flow.CodeNoNodes); at(d) != "1:7" {
		t.Errorf("nodes with no value: %s", d)
	}
}

// TestCanonicalLiterals checks that YAML's spellings of integers and
// booleans reach the XML in canonical form.
func TestCanonicalLiterals(t *testing.T) {
	src := `nodes:
  a:
    GetDigits:
      numDigits: 0x10
      timeout: +5
      digitTimeout: 1_0
      retries: 0o7
      playBeep: True
      log: FALSE
`
	f, ds := flow.Decode("f.yaml", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("decode: %s", ds.Error())
	}
	got := map[string]string{}
	for _, a := range f.Nodes[0].Elem.Attrs {
		got[a.Spec.Name] = a.Value.Value
	}
	want := map[string]string{"numDigits": "16", "timeout": "5", "digitTimeout": "10", "retries": "7", "playBeep": "true", "log": "false"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Ranges apply to the canonical value: 0x0 is 0, below numDigits' minimum.
	d := findDiag(t, diagsOf(t, "nodes:\n  a:\n    GetDigits: {numDigits: 0x0}\n"), flow.CodeValue)
	if !strings.Contains(d.Message, `not "0"`) {
		t.Errorf("got %s", d)
	}
	// What YAML reads as text is a type error, with the reason.
	for src, want := range map[string]string{
		"nodes:\n  a:\n    GetDigits: {numDigits: '5'}\n": "remove the quotes",
		"nodes:\n  a:\n    GetDigits: {log: yes}\n":       "YAML reads as text",
		"nodes:\n  a:\n    GetDigits: {log: 'true'}\n":    "remove the quotes",
		"nodes:\n  a:\n    GetDigits: {timeout: 2.5}\n":   "decimal number 2.5",
		"nodes:\n  a:\n    GetDigits: {log: 1}\n":         "not 1",
	} {
		if d := findDiag(t, diagsOf(t, src), flow.CodeType); !strings.Contains(d.Message, want) {
			t.Errorf("%q: message lacks %q: %s", src, want, d.Message)
		}
	}
}

// TestFlowNames checks names from flow: and from the file name.
func TestFlowNames(t *testing.T) {
	body := "nodes:\n  a:\n    Hangup: {}\n"
	for path, want := range map[string]string{
		"My Flow.yaml":    `file name gives flow name "My Flow"`,
		"dir/Support.yml": `(did you mean "support"?)`,
	} {
		_, ds := flow.Compile(path, []byte(body))
		d := findDiag(t, ds, flow.CodeFlowName)
		if !strings.Contains(d.Message, want) || at(d) != "1:1" {
			t.Errorf("%s: %s", path, d)
		}
	}
	for _, name := range []string{"support", "ivr-2", "a_b", "0day", "true", "123"} {
		g, ds := flow.Compile("f.yaml", []byte("flow: "+name+"\n"+body))
		if g == nil || g.Name != name {
			t.Errorf("flow: %s: %v", name, ds.Error())
		}
	}
	d := findDiag(t, diagsOf(t, "flow: Acme Support!\n"+body), flow.CodeFlowName)
	if at(d) != "1:7" || !strings.Contains(d.Message, `"acme-support"`) {
		t.Errorf("got %s", d)
	}
}

// TestShapes checks values written in the wrong YAML shape.
func TestShapes(t *testing.T) {
	tests := []struct{ src, at, want string }{
		{"- a\n", "1:1", "a flow file must be a mapping"},
		{"nodes:\n  - a: {Hangup: {}}\n", "2:3", "not a list"},
		{"nodes:\n  a: [Hangup]\n", "2:6", "node a must be a mapping"},
		{"nodes:\n  a:\n    Speak: [hi]\n", "3:12", "Speak must be its content or a mapping"},
		{"nodes:\n  a:\n    GetDigits: {timeout: [5]}\n", "3:26", "GetDigits timeout must be a value"},
		{"nodes:\n  a:\n    GetDigits:\n      children: {Speak: hi}\n", "4:17", "must be a list"},
		{"nodes:\n  a:\n    GetDigits:\n      children: [hi]\n", "4:18", "must be one element"},
		{"nodes:\n  a:\n    branch: {when: true}\n", "3:13", "branch must be a list"},
		{"nodes:\n  a:\n    set: [x]\n", "3:10", "set of node a must be a mapping"},
		{"nodes:\n  a:\n    Speak: hi\n    next: [b]\n", "4:11", "next must be a single value"},
		{"vars: {1x: 0}\nnodes:\n  a:\n    Hangup: {}\n", "1:8", "variable name"},
		{"params: {my.queue: a}\nnodes:\n  a:\n    Hangup: {}\n", "1:10", "param name"},
		{"nodes:\n  a:\n    GetDigits:\n      <<: 5\n", "4:11", "must merge a mapping"},
	}
	for _, tt := range tests {
		d := findDiag(t, diagsOf(t, tt.src), flow.CodeShape)
		if at(d) != tt.at || !strings.Contains(d.Message, tt.want) {
			t.Errorf("%q: got %s, want at %s with %q", tt.src, d, tt.at, tt.want)
		}
	}
}

// TestLineBreaks checks positions in files with CR LF and lone CR line
// breaks, which YAML counts as line breaks too.
func TestLineBreaks(t *testing.T) {
	for name, nl := range map[string]string{"LF": "\n", "CRLF": "\r\n", "CR": "\r"} {
		src := strings.ReplaceAll("nodes:\n  a:\n    Speak: \"Hi\n      {{ cal.From }}\"\n    nxt: b\n  b:\n    Hangup: {}\n", "\n", nl)
		var got []string
		for _, d := range diagsOf(t, src) {
			got = append(got, at(d)+" "+string(d.Code))
		}
		if want := "4:10 bad-expression\n5:5 unknown-key"; strings.Join(got, "\n") != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, strings.Join(got, "\n"), want)
		}
		ds := diagsOf(t, strings.ReplaceAll("nodes:\n  a:\n    Speak: hi\n   next: b\n", "\n", nl))
		if len(ds) != 1 || at(ds[0]) != "4:4" {
			t.Errorf("%s: syntax error: %s", name, ds.Error())
		}
	}
}

// TestManyDiagnostics checks that a large file full of mistakes is still
// checked quickly: placing positions and suggesting names must not be
// quadratic in the size of the file.
func TestManyDiagnostics(t *testing.T) {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "  node_with_a_long_name_%d:\n    Speak: \"hello {{ cal.From }}\"\n    next: nod_with_a_long_name_%d\n", i, i+1)
	}
	b.WriteString("  last:\n    Speak: \"" + strings.Repeat("{{ x }}", 5000) + "\"\n")
	start := time.Now()
	_, ds := flow.Compile("f.yaml", []byte(b.String()))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("%d diagnostics took %v", len(ds), d)
	}
	if len(ds) < 8000 {
		t.Errorf("only %d diagnostics", len(ds))
	}
}
