package flowtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
	"github.com/flowd-dev/flowd/internal/testenv"
)

const testSchemaFile = "../schema/flowtest.schema.json"

func decodeTest(t *testing.T, src string) (*flowtest.File, flow.Diagnostics) {
	t.Helper()
	return flowtest.Decode("t_test.yaml", []byte(src))
}

func diagText(ds flow.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDecode(t *testing.T) {
	tf, ds := decodeTest(t, `flow: support
cases:
  - name: sales in business hours
    call: { From: "+14155550100", To: 14155550199 }
    clock: "2026-11-23T10:00:00-05:00"
    params: { sales_queue: test }
    vars: { attempts: 1, tags: [a, b] }
    steps:
      - expect: { node: menu, contains: ["<GetDigits", 'numDigits="1"'] }
      - press: 1
        params: { Extra: x }
        expect: { node: sales, path: [route, sales], contains: "<MultiPartyCall" }
      - say: yes please
      - no_input: true
      - dial: no-answer
      - record: { RecordUrl: "https://x/r.mp3" }
      - exit: {}
      - exit:
      - params: { DialStatus: cancel }
      - hangup: true
        expect: { ended: true, vars: { attempts: 0 }, xml: "<Response/>" }
`)
	if len(ds) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagText(ds))
	}
	if tf.Flow != "support" || tf.FlowIsPath() || tf.FlowPos.Line != 1 || tf.FlowPos.Col != 7 {
		t.Errorf("flow = %q at %v", tf.Flow, tf.FlowPos)
	}
	if len(tf.Cases) != 1 {
		t.Fatalf("%d cases", len(tf.Cases))
	}
	c := tf.Cases[0]
	if c.Name != "sales in business hours" || c.Pos.Line != 3 || c.Pos.Col != 5 {
		t.Errorf("case %q at %v", c.Name, c.Pos)
	}
	if c.Call["To"] != "14155550199" || c.Call["From"] != "+14155550100" {
		t.Errorf("call = %v", c.Call)
	}
	want := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	if !c.Clock.Equal(want) {
		t.Errorf("clock = %v, want %v", c.Clock, want)
	}
	if c.Params["sales_queue"] != "test" || c.KeyPos["params.sales_queue"].Line != 6 {
		t.Errorf("params = %v at %v", c.Params, c.KeyPos)
	}
	if c.Vars["attempts"] != 1 {
		t.Errorf("vars = %#v", c.Vars)
	}
	kinds := []string{"", "press", "say", "no_input", "dial", "record", "exit", "exit", "params", "hangup"}
	if len(c.Steps) != len(kinds) {
		t.Fatalf("%d steps, want %d", len(c.Steps), len(kinds))
	}
	for i, s := range c.Steps {
		got := ""
		if s.Event != nil {
			got = s.Event.Kind
		}
		if got != kinds[i] {
			t.Errorf("step %d: event %q, want %q", i+1, got, kinds[i])
		}
	}
	if s := c.Steps[0]; s.Pos.Line != 9 || s.Expect.Node != "menu" || len(s.Expect.Contains) != 2 {
		t.Errorf("step 1 = %+v %+v", s, s.Expect)
	}
	if e := c.Steps[1].Event; e.Value != "1" || e.Params["Extra"] != "x" || e.Pos.Line != 10 || e.Pos.Col != 9 {
		t.Errorf("press = %+v", e)
	}
	if x := c.Steps[1].Expect; strings.Join(x.Path, ",") != "route,sales" || x.Contains[0] != "<MultiPartyCall" || x.PathPos[1].Col != 46 {
		t.Errorf("expect = %+v", x)
	}
	if e := c.Steps[4].Event; e.Value != "no-answer" {
		t.Errorf("dial = %+v", e)
	}
	if e := c.Steps[5].Event; e.Params["RecordUrl"] != "https://x/r.mp3" {
		t.Errorf("record = %+v", e)
	}
	if e := c.Steps[8].Event; e.Params["DialStatus"] != "cancel" {
		t.Errorf("raw = %+v", e)
	}
	if x := c.Steps[9].Expect; x.Ended == nil || !*x.Ended || x.Vars["attempts"] != 0 || !x.HasXML || x.XML != "<Response/>" {
		t.Errorf("expect = %+v", x)
	}
}

// TestDefaults: without flow: the flow is named after the file.
func TestDefaults(t *testing.T) {
	tf, ds := flowtest.Decode("dir/business-hours_test.yaml", []byte("cases:\n  - name: a\n    steps:\n      - expect: {ended: true}\n"))
	if len(ds) > 0 {
		t.Fatal(diagText(ds))
	}
	if tf.Flow != "business-hours" {
		t.Errorf("flow = %q", tf.Flow)
	}
	for _, p := range []string{"../flows/ivr.yaml", "ivr.yml", "sub/ivr"} {
		tf.Flow = p
		if !tf.FlowIsPath() {
			t.Errorf("%q is a path", p)
		}
	}
}

// TestDecodeErrors: every mistake is reported at its place, in one run,
// with its code and a "did you mean" where one fits.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"typos", `flow: ivr
casess: []
cases:
  - nme: a
    steps:
      - pres: "1"
        expct: {}
      - press: "1"
        expect: { nodes: menu, contain: [x] }
      - dail: busy
`, `t_test.yaml:2:1: error: unknown key "casess" in a flow test file (did you mean "cases"?) [unknown-key]
t_test.yaml:4:5: error: unknown key "nme" in a case (did you mean "name"?) [unknown-key]
t_test.yaml:6:9: error: unknown key "pres" in step 1 of case (did you mean "press"?) [unknown-key]
t_test.yaml:7:9: error: unknown key "expct" in step 1 of case (did you mean "expect"?) [unknown-key]
t_test.yaml:9:19: error: unknown key "nodes" in expect of step 2 of case (did you mean "node"?) [unknown-key]
t_test.yaml:9:32: error: unknown key "contain" in expect of step 2 of case (did you mean "contains"?) [unknown-key]
t_test.yaml:10:9: error: unknown key "dail" in step 3 of case (did you mean "dial"?) [unknown-key]
`},
		{"values", `cases:
  - name: a
    clock: "2026-11-23 10:00"
    call: { From: [1] }
    steps:
      - press: 12a
      - dial: complete
      - no_input: false
      - hangup: yes
      - expect: { ended: maybe, contains: [{a: 1}] }
`, `t_test.yaml:3:12: error: clock "2026-11-23 10:00" must be an RFC 3339 time with its UTC offset, like 2026-11-23T10:00:00-05:00 [bad-value]
t_test.yaml:4:19: error: call.From must be a single value, not a list [bad-shape]
t_test.yaml:6:16: error: press "12a" must be digits, * and # only [bad-value]
t_test.yaml:7:15: error: dial "complete" is not one of completed, busy, failed, timeout, no-answer (did you mean "completed"?) [bad-value]
t_test.yaml:8:19: error: no_input must be true, not "false" [bad-type]
t_test.yaml:9:17: error: hangup must be true, not "yes" [bad-type]
t_test.yaml:10:9: error: step 5 of case "a" sends no event; only a first step may (it checks the answer): add one of press, say, no_input, dial, record, exit, hangup [missing-key]
t_test.yaml:10:26: error: ended must be true or false, not "maybe" [bad-type]
t_test.yaml:10:44: error: each item of contains must be a single value, not a mapping [bad-shape]
`},
		{"structure", `flow: ivr
cases:
  - name: a
    steps:
      - press: "1"
        no_input: true
      - expect: { node: menu, ended: true }
  - name: a
    steps: []
  - name: b
  - steps
`, `t_test.yaml:6:9: error: step 1 of case "a" sends two events, press (at 5:9) and no_input; a step sends one: split it in two steps [bad-shape]
t_test.yaml:7:9: error: step 2 of case "a" sends no event; only a first step may (it checks the answer): add one of press, say, no_input, dial, record, exit, hangup [missing-key]
t_test.yaml:7:31: error: expect has node: menu and ended: true; a call that waits at a node has not ended [bad-value]
t_test.yaml:8:5: error: case "a" is defined twice (first defined at 3:5); give each case its own name [duplicate-key]
t_test.yaml:9:12: error: steps is empty: it needs at least one item (what happens on the call, in order) [missing-key]
t_test.yaml:10:5: error: a case needs steps: (what happens on the call, in order) [missing-key]
t_test.yaml:11:5: error: a case must be a mapping (key: value lines), not "steps" [bad-shape]
`},
		{"duplicates", `cases:
  - name: a
    name: b
    steps:
      - expect: { node: x, node: y }
`, `t_test.yaml:3:5: error: "name" is defined twice in a case (first defined at 2:5); remove one [duplicate-key]
t_test.yaml:5:28: error: "node" is defined twice in expect of step 1 of case "a" (first defined at 5:19); remove one [duplicate-key]
`},
		{"empty", "# nothing\n", "t_test.yaml:1:1: error: the file is empty; a flow test needs cases: [missing-key]\n"},
		{"no cases", "flow: ivr\n", "t_test.yaml:1:1: error: a flow test file needs cases: (the test cases) [missing-key]\n"},
		{"yaml", "cases:\n  - name: a\n\tsteps: []\n", "t_test.yaml:3:1: error: a tab indents this line; YAML indentation must use spaces (yaml: found a tab character that violates indentation) [yaml-syntax]\n"},
		{"two documents", "cases:\n  - name: a\n    steps: [{hangup: true}]\n---\ncases: []\n", "t_test.yaml:4:1: error: a second YAML document starts here; a test file holds one list of cases, and flowd would ignore this one: move its cases under the first cases: [bad-shape]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := decodeTest(t, tc.src)
			if got := diagText(ds); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestCheck: names the flow does not have are reported at the test
// file's line, with the flow's names as suggestions.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "menu.yaml"), `params:
  queue: { default: sales }
vars:
  tries: 0
nodes:
  menu:
    GetDigits: { numDigits: 1 }
    next: count
  count:
    set: { total: vars.tries + 1 }
    next: bye
  bye:
    Hangup: {}
`)
	path := filepath.Join(dir, "menu_test.yaml")
	writeFile(t, path, `cases:
  - name: a
    params: { queu: x, queue: y }
    vars: { trie: 1, total: 2 }
    steps:
      - expect: { node: men, path: [menu, cont], vars: { tries: 0, totl: 1 } }
`)
	tf, ds := flowtest.Decode(path, testenv.ReadFile(t, path))
	if len(ds) > 0 {
		t.Fatal(diagText(ds))
	}
	g, ds := tf.LoadFlow()
	if g == nil || g.Name != "menu" {
		t.Fatalf("flow not loaded: %v", ds)
	}
	want := strings.ReplaceAll(`F:3:15: error: params.queu is not a param of flow menu (did you mean "queue"?) [undeclared-param]
F:4:13: error: the case sets vars.trie, which flow menu neither declares under vars: nor assigns with set (did you mean "tries"?) [undeclared-var]
F:6:25: error: expect node names node "men", which flow menu does not have (did you mean "menu"?) [unknown-node]
F:6:43: error: expect path names node "cont", which flow menu does not have (did you mean "count"?) [unknown-node]
F:6:68: error: expect vars.totl: flow menu has no such variable (did you mean "total"?) [undeclared-var]
`, "F", path)
	if got := diagText(ds); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadFlow: flow: names a flow beside the test file (in a file of
// any name) or a path; what cannot be found or compiled is reported at
// flow:.
func TestLoadFlow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "flow: alpha\nnodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "beta.yaml"), "nodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "broken.yaml"), "nodes:\n  bye: {Hangup: {}, next: nowhere}\n")
	writeFile(t, filepath.Join(dir, "sub", "gamma.yaml"), "nodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "sub", "note.txt"), "not a flow")
	if err := os.Mkdir(filepath.Join(dir, "sub", "folder.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := "\ncases:\n  - name: a\n    steps: [{expect: {ended: true}}]\n"
	for _, tc := range []struct{ flow, file, graph, diag string }{
		{"alpha", "t_test.yaml", "alpha", ""},
		{"beta", "t_test.yaml", "beta", ""},
		{"sub/gamma.yaml", "t_test.yaml", "gamma", ""},
		{"../beta.yaml", "sub/t_test.yaml", "beta", ""},
		{"alpah", "t_test.yaml", "", `1:7: error: no flow named "alpah" in DIR, beside this file (did you mean "alpha"?) (the flows there: alpha, beta, broken); flow: takes a flow name or a path relative to this file [bad-value]`},
		{"gamma", "t_test.yaml", "", `1:7: error: no flow named "gamma" in DIR, beside this file (the flows there: alpha, beta, broken); flow: takes a flow name or a path relative to this file [bad-value]`},
		{"missing.yaml", "t_test.yaml", "", `1:7: error: flow missing.yaml: no such file or directory [bad-value]`},
		{"sub/folder.yaml", "t_test.yaml", "", `1:7: error: flow sub/folder.yaml: DIR/sub/folder.yaml is a folder, not a file [bad-value]`},
		{"broken", "t_test.yaml", "", `1:7: error: flow broken does not compile (2 error(s) below); flowd validate lists them [bad-value]`},
	} {
		path := filepath.Join(dir, tc.file)
		writeFile(t, path, "flow: "+tc.flow+cases)
		tf, ds := flowtest.Decode(path, testenv.ReadFile(t, path))
		if len(ds) > 0 {
			t.Fatal(diagText(ds))
		}
		g, ds := tf.LoadFlow()
		switch {
		case tc.graph != "" && (g == nil || g.Name != tc.graph || len(ds) > 0):
			t.Errorf("flow: %s: got %v %v, want flow %s", tc.flow, g, ds, tc.graph)
		case tc.graph == "":
			if g != nil || len(ds) == 0 {
				t.Errorf("flow: %s: got %v, want an error", tc.flow, g)
				continue
			}
			in := filepath.Dir(path)
			want := path + ":" + strings.NewReplacer("DIR/", in+string(filepath.Separator), "DIR", in).Replace(tc.diag)
			if ds[0].String() != want {
				t.Errorf("flow: %s:\n got %s\nwant %s", tc.flow, ds[0], want)
			}
		}
	}
}

// TestSchemaCommitted fails when schema/flowtest.schema.json is not what
// flowtest.Schema generates; -update rewrites it.
func TestSchemaCommitted(t *testing.T) {
	testenv.CheckCommitted(t, testSchemaFile, flowtest.Schema, "go test ./flowtest -run TestSchemaCommitted -update")
}

func compiledTestSchema(t *testing.T) *jsonschema.Schema {
	return testenv.CompileSchema(t, flowtest.Schema, flowtest.SchemaID)
}

// testInstance decodes a test file as an editor's YAML language server
// hands it to the schema.
func testInstance(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = conv(e)
			}
		case []any:
			for i, e := range x {
				x[i] = conv(e)
			}
		case time.Time:
			return x.Format(time.RFC3339)
		}
		return v
	}
	return conv(v)
}

// TestSchemaAgrees: the schema accepts the example tests, and rejects
// what the decoder rejects for the shapes it can see.
func TestSchemaAgrees(t *testing.T) {
	s := compiledTestSchema(t)
	files, err := filepath.Glob("../examples/flows/*_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example flow tests")
	}
	for _, f := range files {
		if err := s.Validate(testInstance(t, testenv.ReadFile(t, f))); err != nil {
			t.Errorf("%s: the schema rejects an example test:\n%v", f, err)
		}
	}
	for _, src := range []string{
		"cases: []\n",
		"flow: x\n",
		"cases:\n  - name: a\n    stpes: []\n",
		"cases:\n  - name: a\n    steps: [{press: '1', no_input: true}]\n",
		"cases:\n  - name: a\n    steps: [{dial: complete}]\n",
		"cases:\n  - name: a\n    steps: [{press: '1a'}]\n",
		"cases:\n  - name: a\n    steps: [{no_input: false}]\n",
		"cases:\n  - name: a\n    clock: soon\n    steps: [{hangup: true}]\n",
		"cases:\n  - name: a\n    steps: [{expect: {nod: x}}]\n",
		"cases:\n  - name: a\n    http: {x: {json: 1, body: x}}\n    steps: [{hangup: true}]\n",
		"cases:\n  - name: a\n    http: {x: {status: 700}}\n    steps: [{hangup: true}]\n",
		"cases:\n  - name: a\n    steps: [{hangup: true, http: {x: {error: slow}}}]\n",
		"cases:\n  - name: a\n    steps: [{hangup: true, expect: {requests: [{method: GET}]}}]\n",
	} {
		if _, ds := decodeTest(t, src); len(ds) == 0 {
			t.Errorf("the decoder accepts\n%s", src)
		}
		if err := s.Validate(testInstance(t, []byte(src))); err == nil {
			t.Errorf("the schema accepts\n%s", src)
		}
	}
}
