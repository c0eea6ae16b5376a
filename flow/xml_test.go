package flow

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/expr-lang/expr/vm"

	"github.com/flowd-dev/flowd/internal/testenv"
	"github.com/flowd-dev/flowd/xmlgen"
)

// The fixed world example nodes are rendered in: a Monday morning in New
// York, a known caller, and callback URLs that name flow, node and event.
var (
	goldenClock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("EST", -5*3600))
	goldenCall  = map[string]string{
		"CallUUID": "2d1c5a0e-0f3b-4c1e-9c5e-1a2b3c4d5e6f", "From": "+14155550100", "To": "+14155550199",
		"Direction": "inbound", "CallStatus": "in-progress", "Event": "StartApp", "CallerName": "Ada Lovelace",
	}
	// goldenNodeInput is every node's last callback, for templates that
	// read nodes.<id>.
	goldenNodeInput = map[string]string{
		"Digits": "1", "Speech": "sales", "InputType": "dtmf", "DialStatus": "completed",
		"RecordUrl": "https://media.example.com/recordings/r1.mp3", "RecordingDuration": "12",
	}
)

// goldenURL is a deterministic stand-in for the runtime's callback URLs.
func goldenURL(flowName string) func(node, event string) string {
	return func(node, event string) string {
		return "https://flowd.example.com/flows/" + url.PathEscape(flowName) + "/calls/1/" + url.PathEscape(node) + "/" + event
	}
}

// goldenState returns the state a node is rendered in.
func goldenState(g *Graph) *State {
	call := make(map[string]string, len(goldenCall))
	for k, v := range goldenCall {
		call[k] = v
	}
	st := g.NewState(call, nil)
	for _, n := range g.Nodes {
		st.Nodes[n.ID] = goldenNodeInput
	}
	return st
}

// exampleFlows compiles every flow file in examples/flows there is.
func exampleFlows(t testing.TB) map[string]*Graph {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "examples", "flows", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Graph{}
	for _, f := range files {
		if !IsFlowFile(f) {
			continue // flow tests (*_test.yaml)
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		g, ds := CompileInFolder(f, src)
		if g == nil {
			t.Errorf("%s does not compile:\n%v", f, ds)
			continue
		}
		out[strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))] = g
	}
	return out
}

// TestExampleNodesXML renders every node with an element of every example
// flow, as if the call had just arrived there, compares
// testdata/xml/<flow>/<node>.xml, and checks the prepared output against a
// document built from scratch with etree from the same nodes and values.
// Run with -update to rewrite the goldens.
func TestExampleNodesXML(t *testing.T) {
	root := filepath.Join("testdata", "xml")
	flows := exampleFlows(t)
	if len(flows) == 0 {
		t.Skip("no examples/flows/*.yaml")
	}
	want := map[string]bool{}
	rendered := 0
	for name, g := range flows {
		w := &Walker{URL: goldenURL(g.Name), Now: goldenClock}
		for _, n := range g.Nodes {
			if n.el == nil {
				continue
			}
			rel := filepath.Join(name, n.ID+".xml")
			want[rel] = true
			walked := goldenState(g)
			res := w.Render(g, walked, n)
			if res.Err != nil {
				t.Errorf("%s node %s: run-time error: %v", name, n.ID, res.Err)
			}
			got := append([]byte(nil), res.XML...)

			// The same document the straightforward way, for walks that
			// stay in the flow (subflow_test.go checks those that enter one).
			naive, err := got, error(nil)
			if !slices.ContainsFunc(res.Path, func(id string) bool { return strings.Contains(id, NodePathSep) }) {
				naive, err = naiveDocument(g, goldenState(g), w, res.Path, walked)
			}
			if err != nil {
				t.Errorf("%s node %s: naive build: %v", name, n.ID, err)
			} else if !bytes.Equal(naive, got) {
				t.Errorf("%s node %s: prepared and naive documents differ\nprepared: %s\nnaive:    %s", name, n.ID, got, naive)
			}
			rendered++

			path := filepath.Join(root, rel)
			got = append(got, '\n')
			if *testenv.Update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s node %s: %v (run go test ./flow -run TestExampleNodesXML -update)", name, n.ID, err)
				continue
			}
			if !bytes.Equal(old, got) {
				t.Errorf("%s node %s differs from %s (run with -update if intended)\ngot:  %swant: %s", name, n.ID, path, got, old)
			}
		}
	}
	// Goldens of nodes or flows that no longer exist.
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !want[rel] {
			if *testenv.Update {
				os.Remove(p)
				os.Remove(filepath.Dir(p)) // only if empty
				return nil
			}
			t.Errorf("%s: no such example node (run with -update)", p)
		}
		return nil
	})
	t.Logf("rendered %d nodes of %d flows", rendered, len(flows))
}

// noInputEl is the Redirect the walker appends after GetDigits/GetInput.
var noInputEl = &xmlgen.El{Name: "Redirect", Text: func() *xmlgen.Value { v := xmlgen.Hole(0); return &v }()}

// walkedElement is one element of a walked document: the node's element
// description and the values of its holes.
type walkedElement struct {
	el   *xmlgen.El
	tmpl *xmlgen.Template // what the walker appends for it
	vals []string
}

// replay walks path again on st without the walker: set nodes assign,
// each element node's hole values are computed from its fills (templates
// evaluated against the environment, flowd's callback URL for the callback
// hole), and GetDigits/GetInput are followed by the no-input Redirect. A
// REST action's result is taken from walked, the state the walker left
// (replay calls no API). It returns the elements of the document in order.
func replay(g *Graph, st *State, w *Walker, path []string, walked *State) ([]walkedElement, error) {
	var m vm.VM
	env := replayEnv(g, st, w.Now)
	var out []walkedElement
	for _, id := range path {
		n := g.Node(id)
		if n == nil {
			return nil, fmt.Errorf("path names unknown node %q", id)
		}
		if _, ok := n.action.(*restCall); ok {
			st.Nodes[id] = walked.Nodes[id]
		}
		for _, a := range n.Sets {
			v, err := m.Run(a.Value, env)
			if err != nil {
				return nil, fmt.Errorf("node %s: set %s: %w", id, a.Name, err)
			}
			st.Vars[a.Name] = v
		}
		if n.el == nil {
			continue
		}
		vals := make([]string, len(n.fills))
		for i, f := range n.fills {
			if f.parts == nil {
				vals[i] = w.URL(n.ID, f.event)
				continue
			}
			var b strings.Builder
			for _, p := range f.parts {
				if p.Expr == nil {
					b.WriteString(p.Lit)
					continue
				}
				v, err := m.Run(p.Expr.prog, env)
				if err != nil {
					return nil, fmt.Errorf("node %s: {{ %s }}: %w", id, p.Expr.Src, err)
				}
				b.WriteString(Format(v))
			}
			vals[i] = b.String()
		}
		out = append(out, walkedElement{n.el, n.tmpl, vals})
		if n.Kind.Accepts(EventNoInput) {
			out = append(out, walkedElement{noInputEl, noInput, []string{w.URL(n.ID, EventNoInput)}})
		}
	}
	return out, nil
}

// replayEnv is the environment expressions see in replay: what the
// walker builds for a webhook no callback resumed.
func replayEnv(g *Graph, st *State, now time.Time) map[string]any {
	var nodes any = st.Nodes
	if g.hasViews {
		w := &Walker{g: g, nodesView: map[string]any{}}
		for id, res := range st.Nodes {
			w.setNodeView(id, res)
		}
		nodes = w.nodesView
	}
	return map[string]any{
		"call":     st.Call,
		"input":    map[string]string{},
		"nodes":    nodes,
		"urlquery": urlQuery,
		"vars":     st.Vars,
		"params":   st.Params,
		"hours": func(spec, tz string) bool {
			ok, err := hoursAt(spec, tz, now)
			if err != nil {
				panic(err) // expr turns a panic in a function into a run error
			}
			return ok
		},
		"now": func() time.Time { return now },
	}
}

// naiveWriteSettings are the settings xmlgen's escaping follows.
var naiveWriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}

// buildNaive builds the document from scratch with etree.
func buildNaive(els []walkedElement, buf *bytes.Buffer) error {
	resp := etree.NewElement("Response")
	for _, e := range els {
		x, err := xmlgen.Build(e.el, e.vals)
		if err != nil {
			return err
		}
		resp.AddChild(x)
	}
	resp.WriteTo(buf, &naiveWriteSettings)
	return nil
}

// naiveDocument replays path on st and builds the document with etree.
func naiveDocument(g *Graph, st *State, w *Walker, path []string, walked *State) ([]byte, error) {
	els, err := replay(g, st, w, path, walked)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := buildNaive(els, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The comparison must be able to fail: a value the walker did not write
// changes the naive document.
func TestNaiveDocumentDetectsDifferences(t *testing.T) {
	src := []byte(`flow: t
nodes:
  hi:
    Speak: "Hello {{ call.CallerName }}"
    next: ask
  ask:
    GetDigits:
      numDigits: 1
      children:
        - Speak: Press a key
    next: bye
  bye:
    Hangup: {}
`)
	g, ds := Compile("t.yaml", src)
	if g == nil {
		t.Fatal(ds)
	}
	w := &Walker{URL: goldenURL(g.Name), Now: goldenClock}
	walked := goldenState(g)
	res := w.Answer(g, walked)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := `<Response><Speak>Hello Ada Lovelace</Speak><GetDigits action="https://flowd.example.com/flows/t/calls/1/ask/action" numDigits="1"><Speak>Press a key</Speak></GetDigits><Redirect>https://flowd.example.com/flows/t/calls/1/ask/no_input</Redirect></Response>`
	if string(res.XML) != want {
		t.Errorf("Answer:\n got %s\nwant %s", res.XML, want)
	}
	naive, err := naiveDocument(g, goldenState(g), w, res.Path, walked)
	if err != nil || string(naive) != want {
		t.Errorf("naive:\n got %s (%v)\nwant %s", naive, err, want)
	}
	st := goldenState(g)
	st.Call["CallerName"] = "Bob"
	if other, _ := naiveDocument(g, st, w, res.Path, walked); bytes.Equal(other, res.XML) {
		t.Errorf("a different caller name gives the same naive document")
	}
}

// A REST action's result (nodes.<id>) feeds later templates; replay takes
// it from the walked state and must still give the same document.
func TestNaiveDocumentAfterREST(t *testing.T) {
	src := []byte(`flow: t
nodes:
  stop:
    stop_recording: { mpc: "room-{{ call.CallUUID }}" }
    on:
      error: said
    next: said
  said:
    Speak: "Recording: {{ nodes.stop.outcome }}"
    next: bye
  bye:
    Hangup: {}
`)
	g, ds := Compile("t.yaml", src)
	if g == nil {
		t.Fatal(ds)
	}
	w := &Walker{URL: goldenURL(g.Name), Now: goldenClock} // no REST client: the error outcome
	walked := goldenState(g)
	res := w.Answer(g, walked)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if want := "<Response><Speak>Recording: error</Speak><Hangup/></Response>"; string(res.XML) != want {
		t.Errorf("Answer:\n got %s\nwant %s", res.XML, want)
	}
	naive, err := naiveDocument(g, goldenState(g), w, res.Path, walked)
	if err != nil || !bytes.Equal(naive, res.XML) {
		t.Errorf("naive:\n got %s (%v)\nwant %s", naive, err, res.XML)
	}
}
