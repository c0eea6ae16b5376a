package flow_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
)

// TestLoopNamesWholeCycle checks that a loop is reported once, at its first
// node in the file, naming every node on it in order.
func TestLoopNamesWholeCycle(t *testing.T) {
	src := `vars: {n: 0}
nodes:
  menu:
    GetDigits: {numDigits: 1}
    next: count
  count:
    set: {n: vars.n + 1}
    next: speak
  speak:
    Speak: "Attempt {{ vars.n }}"
    next: check
  check:
    branch:
      - when: vars.n > 3
        next: bye
    next: count
  bye:
    Hangup: {}
`
	ds := diagsOf(t, src)
	if len(ds) != 1 {
		t.Fatalf("want one diagnostic, got:\n%s", ds.Error())
	}
	d := ds[0]
	if d.Code != flow.CodeLoop || at(d) != "6:3" || !strings.Contains(d.Message, "nodes count → speak → check → count loop") {
		t.Errorf("got %s", d)
	}
}

// TestLoopPathIsACycle builds a component where following the first edge
// greedily gets stuck, and checks the reported path is a real cycle.
func TestLoopPathIsACycle(t *testing.T) {
	src := `nodes:
  a:
    Speak: a
    next: b
  b:
    branch:
      - when: call.From == "1"
        next: c
      - when: call.From == "2"
        next: d
    next: c
  c:
    Speak: c
    next: b
  d:
    Speak: d
    next: a
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g != nil {
		t.Fatal("compiled a looping flow")
	}
	d := findDiag(t, ds, flow.CodeLoop)
	m := regexp.MustCompile(`nodes (.*?) loop`).FindStringSubmatch(d.Message)
	if m == nil {
		t.Fatalf("no path in %s", d.Message)
	}
	path := strings.Split(m[1], " → ")
	if want := "a → b → d → a"; m[1] != want {
		t.Errorf("path %s, want %s", m[1], want)
	}
	edges := map[string]bool{"a>b": true, "b>c": true, "b>d": true, "c>b": true, "d>a": true}
	for i := 0; i+1 < len(path); i++ {
		if !edges[path[i]+">"+path[i+1]] {
			t.Errorf("%s → %s is not an edge of the flow", path[i], path[i+1])
		}
	}
	if path[0] != path[len(path)-1] {
		t.Errorf("path %v does not come back to its start", path)
	}
	if n := strings.Count(diagLines(ds), "[loop]"); n != 1 {
		t.Errorf("a component is reported %d times", n)
	}
}

// TestLoopBrokenByCallback checks that a cycle through any action that
// waits for Plivo is not a loop, and one through the others is.
func TestLoopBrokenByCallback(t *testing.T) {
	waits := map[string]string{
		"GetDigits":      "GetDigits: {numDigits: 1}",
		"GetInput":       "GetInput: {inputType: speech}",
		"Dial":           "Dial: {children: [Number: '+14155550100']}",
		"Record":         "Record: {maxLength: 30}",
		"Conference":     "Conference: room",
		"MultiPartyCall": "MultiPartyCall: {name: q, role: customer}",
	}
	passes := map[string]string{
		"Speak":     "Speak: hi",
		"Play":      "Play: https://example.com/a.mp3",
		"Wait":      "Wait: {length: 2}",
		"DTMF":      "DTMF: '12'",
		"PreAnswer": "PreAnswer: {children: [Speak: hi]}",
		"Stream":    "Stream: wss://example.com/a",
		"Message":   "Message: {text: hi, dst: '+14155550100'}",
		"set":       "set: {n: 1}",
	}
	flowWith := func(action string) string {
		return "nodes:\n  a:\n    " + action + "\n    next: b\n  b:\n    branch:\n      - when: call.From == '1'\n        next: c\n    next: a\n  c:\n    Hangup: {}\n"
	}
	for name, action := range waits {
		t.Run(name, func(t *testing.T) {
			g, ds := flow.Compile("f.yaml", []byte(flowWith(action)))
			if g == nil || len(ds) != 0 {
				t.Errorf("a cycle through %s was reported:\n%s", name, ds.Error())
			}
		})
	}
	for name, action := range passes {
		t.Run(name, func(t *testing.T) {
			d := findDiag(t, diagsOf(t, flowWith(action)), flow.CodeLoop)
			if !strings.Contains(d.Message, "nodes a → b → a loop") || at(d) != "2:3" {
				t.Errorf("got %s", d)
			}
		})
	}
	// A self loop, and a loop that hangs up on one branch, are both loops.
	d := findDiag(t, diagsOf(t, "nodes:\n  a:\n    Play: https://example.com/hold.mp3\n    next: a\n"), flow.CodeLoop)
	if !strings.Contains(d.Message, "node a goes back to itself") {
		t.Errorf("self loop: %s", d)
	}
}

// TestUnreachableIsAWarning checks that an unreachable node fails only
// strict validation, and that on_error counts as a way in.
func TestUnreachableIsAWarning(t *testing.T) {
	src := "on_error: sorry\nnodes:\n  a:\n    Hangup: {}\n  orphan:\n    Speak: never\n  sorry:\n    Speak: Sorry.\n"
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil {
		t.Fatalf("a warning stopped the compile:\n%s", ds.Error())
	}
	if len(ds) != 1 {
		t.Fatalf("want one warning, got:\n%s", ds.Error())
	}
	d := ds[0]
	if d.Code != flow.CodeUnreachable || d.Severity != flow.Warning || at(d) != "5:3" {
		t.Errorf("got %s", d)
	}
	if ds.HasErrors(false) {
		t.Error("HasErrors(false) is true for a warning")
	}
	if !ds.HasErrors(true) {
		t.Error("HasErrors(true) is false for a warning")
	}
	// start changes where reachability begins.
	_, ds = flow.Compile("f.yaml", []byte("start: b\nnodes:\n  a:\n    Hangup: {}\n  b:\n    Hangup: {}\n"))
	if d := findDiag(t, ds, flow.CodeUnreachable); !strings.Contains(d.Message, "node a is never reached from start (b)") {
		t.Errorf("got %s", d)
	}
}

// TestHoursLiterals checks that hours() with literal arguments is checked
// when the flow loads, at the column of the mistake inside the string.
func TestHoursLiterals(t *testing.T) {
	tests := []struct {
		when, at, want string
	}{
		{`hours("Mon-Fri 09:00-17:00", "America/New_York")`, "", ""},
		{`hours("Mon-Fri 09:00-17:00; Sat 10:00-13:00", "UTC")`, "", ""},
		{`hours("Mon-Fri 9:00-17:00", "UTC")`, "4:30", `bad time "9:00"`},
		{`hours("Mon-Fro 09:00-17:00", "UTC")`, "4:26", `unknown day "Fro"`},
		{`hours("", "UTC")`, "4:22", "empty spec"},
		{`hours("Mon-Fri 09:00-17:00;", "UTC")`, "4:42", "empty part"},
		{`hours("Mon-Fri 09:00-17:00", "Mars/Olympus")`, "4:44", `unknown time zone "Mars/Olympus"`},
		{`input.Digits == "1" && hours("daily 25:00-26:00", "UTC")`, "4:51", "25:00"},
		{`hours("Mon-Fri 09:00-17:00")`, "4:15", "takes a spec and a time zone"},
	}
	for _, tt := range tests {
		src := "nodes:\n  a:\n    branch:\n      - when: '" + tt.when + "'\n        next: b\n    next: b\n  b:\n    Hangup: {}\n"
		src = strings.Replace(src, "when: '", "when: ", 1)
		src = strings.Replace(src, tt.when+"'", tt.when, 1)
		ds := diagsOf(t, src)
		if tt.at == "" && tt.want == "" {
			if len(ds) != 0 {
				t.Errorf("%s: %s", tt.when, ds.Error())
			}
			continue
		}
		d := findDiag(t, ds, flow.CodeExpr)
		if at(d) != tt.at || !strings.Contains(d.Message, tt.want) {
			t.Errorf("%s: got %s, want at %s with %q", tt.when, d, tt.at, tt.want)
		}
	}
	// hours() with computed arguments is checked when the call runs.
	if ds := diagsOf(t, "params: {zone: UTC}\nnodes:\n  a:\n    branch:\n      - when: hours(\"Mon 09:00-10:00\", params.zone)\n        next: b\n  b:\n    Hangup: {}\n"); len(ds) != 0 {
		t.Errorf("computed zone: %s", ds.Error())
	}
}

// TestParams checks that every params.<name> is declared, in templates,
// when: and set:, and that declared ones in either form are accepted.
func TestParams(t *testing.T) {
	src := `params:
  queue: { default: sales }
  agent: "sip:agent@phone.plivo.com"
  region:
nodes:
  a:
    Speak: "{{ params.queue }} {{ params.agent }} {{ params.region }} {{ params.missing }}"
    next: b
  b:
    branch:
      - when: params.queue == "x" || params.agnet == "y"
        next: c
    next: c
  c:
    set: {q: params.quuee}
    next: d
  d:
    Hangup: {}
`
	var got []string
	for _, d := range diagsOf(t, src) {
		if d.Code == flow.CodeUndeclaredParam {
			got = append(got, at(d)+" "+d.Message)
		}
	}
	want := []string{
		`7:81 params.missing is not declared under params:; add it: params: {missing: {default: ...}}`,
		`11:45 params.agnet is not declared under params: (did you mean "agent"?)`,
		`15:21 params.quuee is not declared under params: (did you mean "queue"?)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNodesReferences checks nodes.<id> in expressions.
func TestNodesReferences(t *testing.T) {
	src := `nodes:
  menu:
    GetDigits: {numDigits: 1}
    next: route
  route:
    branch:
      - when: nodes.menu.Digits == "1" && nodes.mneu.Digits == "2"
        next: bye
    next: bye
  bye:
    Speak: "You pressed {{ nodes.menu.Digits }} then {{ nodes.survey.Digits }}"
`
	var got []string
	for _, d := range diagsOf(t, src) {
		got = append(got, at(d)+" "+string(d.Code)+" "+d.Message)
	}
	want := []string{
		`7:49 unknown-node nodes.mneu names a node that does not exist (did you mean "menu"?)`,
		`11:63 unknown-node nodes.survey names a node that does not exist`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestVars checks that vars read but never declared or set are warnings,
// and that set: declares them.
func TestVars(t *testing.T) {
	src := `vars: {tries: 0}
nodes:
  a:
    set: {total: vars.tries + 1}
    next: b
  b:
    Speak: "{{ vars.total }} {{ vars.tries }} {{ vars.tirse }}"
`
	g, ds := flow.Compile("f.yaml", []byte(src))
	if g == nil || len(ds) != 1 {
		t.Fatalf("want a graph and one warning:\n%s", ds.Error())
	}
	if d := ds[0]; d.Severity != flow.Warning || d.Code != flow.CodeUndeclaredVar || at(d) != "7:55" || !strings.Contains(d.Message, `did you mean "tries"?`) {
		t.Errorf("got %s", d)
	}
}

// TestExpressionMessages checks messages that say how to fix common
// mistakes in expressions.
func TestExpressionMessages(t *testing.T) {
	tests := []struct{ when, code, want string }{
		{`input.Digits = "1"`, "bad-expression", `to compare, write ==`},
		{`input.Digits == 1`, "bad-expression", `compare with a quoted value`},
		{`input.Digits`, "not-boolean", `compare the value`},
		{`"{{ input.Digits }}" == "1"`, "bad-expression", `not a {{ template }}`},
		{`Digits == "1"`, "bad-expression", `did you mean "input.Digits"?`},
		{`input.Digits == "1" and`, "bad-expression", `ends too early`},
	}
	for _, tt := range tests {
		src := "nodes:\n  a:\n    branch:\n      - when: '" + strings.ReplaceAll(tt.when, "'", "''") + "'\n        next: b\n    next: b\n  b:\n    Hangup: {}\n"
		ds := diagsOf(t, src)
		if len(ds) == 0 {
			t.Errorf("%s: no diagnostic", tt.when)
			continue
		}
		d := ds[0]
		if string(d.Code) != tt.code || !strings.Contains(d.Message, tt.want) {
			t.Errorf("%s: got %s, want %s with %q", tt.when, d, tt.code, tt.want)
		}
	}
}

// TestTerminalAndOutcomes checks edges on actions that end the flow and
// on: keys that are not outcomes.
func TestTerminalAndOutcomes(t *testing.T) {
	ds := diagsOf(t, `nodes:
  a:
    Dial: {children: [Number: '1']}
    on: {busy: b, no-answer: b, completed: b, failed: b, timeout: b, noanswer: b}
  b:
    Redirect: https://example.com/x
    next: a
`)
	var got []string
	for _, d := range ds {
		got = append(got, at(d)+" "+string(d.Code))
	}
	if want := "4:70 bad-outcome\n7:11 terminal-next"; strings.Join(got, "\n") != want {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

// TestNodeXMLOverPlivosLimit: a node whose literal XML is over the 100 KB
// Plivo takes in a document is a load error, not an apology on every call.
func TestNodeXMLOverPlivosLimit(t *testing.T) {
	ds := diagsOf(t, "nodes:\n  a:\n    Speak: \""+strings.Repeat("x", 110_000)+"\"\n")
	d := findDiag(t, ds, flow.CodeValue)
	if at(d) != "3:5" || !strings.Contains(d.Message, "node a writes 107 KB of XML before any template is filled") {
		t.Errorf("got %s", d)
	}
	if ds := diagsOf(t, "nodes:\n  a:\n    Speak: \""+strings.Repeat("x", 90_000)+"\"\n"); ds.HasErrors(false) {
		t.Errorf("90 KB refused: %v", ds)
	}
}

// TestChainLongerThanAWebhook: a run of nodes that never waits for Plivo
// and is longer than one webhook may walk is a load error at its start.
func TestChainLongerThanAWebhook(t *testing.T) {
	var b strings.Builder
	b.WriteString("nodes:\n  menu:\n    GetDigits: {numDigits: 1}\n    next: n0\n")
	for i := range flow.MaxSteps {
		fmt.Fprintf(&b, "  n%d: { set: { x: %d }, next: n%d }\n", i, i, i+1)
	}
	fmt.Fprintf(&b, "  n%d: { Speak: end }\n", flow.MaxSteps)
	ds := diagsOf(t, b.String())
	d := findDiag(t, ds, flow.CodeLoop)
	if at(d) != "5:3" || !strings.Contains(d.Message, "from node n0 the walk goes through 1001 nodes without waiting for Plivo") {
		t.Errorf("got %s", d)
	}
}

// TestFileTooLarge: a file over the decoder's limits without an alias is
// reported once, saying it is too large (not blaming an alias).
func TestFileTooLarge(t *testing.T) {
	var big strings.Builder
	big.WriteString("nodes:\n")
	for i := range 70_000 {
		fmt.Fprintf(&big, "  n%d: {Speak: {text: s}}\n", i)
	}
	for src, want := range map[string]string{
		big.String(): "the file has more than 200000 mappings and lists here, more than a flow file may",
	} {
		ds := diagsOf(t, src)
		n := 0
		for _, d := range ds {
			if d.Code == flow.CodeShape && strings.Contains(d.Message, want) {
				n++
			}
		}
		if n != 1 {
			msg := ds.Error()
			if len(msg) > 2000 {
				msg = msg[:2000]
			}
			t.Errorf("got:\n%s\nwant one diagnostic saying %q", msg, want)
		}
	}
}
