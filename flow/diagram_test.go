package flow_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/internal/testenv"
)

const diagramDir = "testdata/diagram"

// diagramFlows compiles the flows the diagram goldens are drawn from:
// every example flow, and the flows in testdata/diagram.
func diagramFlows(t *testing.T) map[string]*flow.Graph {
	t.Helper()
	examples, err := flow.FindFiles([]string{"../examples/flows"}, flow.IsFlowFile)
	if err != nil {
		t.Fatal(err)
	}
	own, err := filepath.Glob(filepath.Join(diagramDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*flow.Graph{}
	for _, path := range append(examples, own...) {
		g, ds := flow.CompileInFolder(path, testenv.ReadFile(t, path))
		if g == nil {
			t.Fatalf("%s does not compile:\n%s", path, diagText(ds))
		}
		out[strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))] = g
	}
	if len(out) < 2 {
		t.Fatal("no flows to draw")
	}
	return out
}

var diagramExt = map[string]string{flow.DiagramMermaid: ".mmd", flow.DiagramDOT: ".dot"}

// TestDiagramGolden compares each flow's diagrams with the goldens in
// testdata/diagram; go test ./flow -run Diagram -update rewrites them.
func TestDiagramGolden(t *testing.T) {
	for name, g := range diagramFlows(t) {
		for _, format := range flow.DiagramFormats {
			got, err := flow.Diagram(g, format)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := flow.Diagram(g, format)
			if !bytes.Equal(got, again) {
				t.Errorf("%s %s: two drawings of the same graph differ", name, format)
			}
			golden := filepath.Join(diagramDir, name+diagramExt[format])
			if updating() {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Errorf("%s: %v (go test ./flow -run Diagram -update writes it)", golden, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: go test ./flow -run Diagram -update rewrites it; got\n%s", golden, got)
			}
		}
	}
	if _, err := flow.Diagram(nil, "svg"); err == nil {
		t.Error("an unknown format is accepted")
	}
}

// TestDiagramContent: every edge of every node is drawn with the label
// coverage and traces use, and the kinds of node are told apart.
func TestDiagramContent(t *testing.T) {
	g := diagramFlows(t)["labels"]
	mmd := string(flow.Mermaid(g))
	dot := string(flow.DOT(g))
	for _, n := range g.Nodes {
		for _, e := range n.Edges() {
			if !strings.Contains(mmd, `"`+e.Label) && !strings.Contains(mmd, ", "+e.Label) {
				t.Errorf("mermaid: no label %q for %s", e.Label, n.ID)
			}
			if !strings.Contains(dot, `"`+e.Label) && !strings.Contains(dot, `\n`+e.Label) {
				t.Errorf("dot: no label %q for %s", e.Label, n.ID)
			}
		}
	}
	for _, want := range []string{
		`n0[["start<br/>GetInput"]]`,          // a callback verb: subroutine shape
		`n1{"check<br/>branch"}`,              // logic: a diamond
		`n2[/"count<br/>set"/]`,               // logic: a parallelogram
		`n4(["end<br/>Hangup"])`,              // the end of the flow: a stadium
		`class n0,n3 callback`,                // and colours by class
		`error -.-> n4`,                       // on_error, dashed
		`#quot;a \#quot;quoted\#quot; | pipe`, // quotes escaped as entities
		`params.x != '#lt;#amp;#gt;'`,         // and HTML as entities
	} {
		if !strings.Contains(mmd, want) && !strings.Contains(strings.ReplaceAll(mmd, "…", ""), want) {
			t.Errorf("mermaid lacks %s", want)
		}
	}
	for _, want := range []string{
		`"node:start" [label="start\nGetInput", peripheries=2`,
		`"node:check" [label="check\nbranch", shape=diamond`,
		`"node:end" [label="end\nHangup", shape=octagon`,
		`"start" -> "node:start";`, // the start marker apart from a node named start
		`"node:call" -> "node:count" [label="busy\nfailed"];`,
		`\"a \\\"quoted\\\" | piped [word]\"`,
		`[label="case 3: {'a': 1}['a'] > 0 && params.x != '<&>'"]`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %s", want)
		}
	}
}

// TestDOTRendersWithGraphviz renders every DOT golden with Graphviz.
func TestDOTRendersWithGraphviz(t *testing.T) {
	dot := testenv.LookPath(t, "dot", "Debian: apt-get install graphviz; the DOT output is not rendered")
	for name, g := range diagramFlows(t) {
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = bytes.NewReader(flow.DOT(g))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("%s: dot -Tsvg: %v\n%s", name, err, stderr.String())
			continue
		}
		if !bytes.Contains(out, []byte("<svg")) {
			t.Errorf("%s: dot -Tsvg wrote no SVG", name)
		}
		for _, n := range g.Nodes {
			if !bytes.Contains(out, []byte(">"+n.ID+"</text>")) {
				t.Errorf("%s: node %s is not in the SVG", name, n.ID)
			}
		}
	}
}

// TestMermaidParses runs Mermaid's own parser (tools/mermaid) on every
// Mermaid golden.
func TestMermaidParses(t *testing.T) {
	testenv.NodeModules(t, "tools/mermaid")
	dir := t.TempDir()
	var files []string
	for name, g := range diagramFlows(t) {
		f := filepath.Join(dir, name+".mmd")
		if err := os.WriteFile(f, flow.Mermaid(g), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// A diagram that is not valid Mermaid, to see the parser refuse it.
	bad := filepath.Join(dir, "zz-broken.mmd")
	if err := os.WriteFile(bad, []byte("flowchart TD\n  a[[\"x\"] --> b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(testenv.Root(), "tools", "mermaid", "parse.mjs")
	out, err := exec.Command("node", append([]string{script}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("Mermaid refuses a diagram: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "ok "); n != len(files) {
		t.Fatalf("parsed %d of %d diagrams:\n%s", n, len(files), out)
	}
	out, err = exec.Command("node", script, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FAIL") {
		t.Fatalf("Mermaid's parser accepts a broken diagram: %v\n%s", err, out)
	}
}

// TestDiagramScheduledHangup: a Hangup with a schedule goes on to next,
// so it is drawn as an element the walk passes, not as the flow's end.
func TestDiagramScheduledHangup(t *testing.T) {
	g, ds := flow.Compile("f.yaml", []byte("nodes:\n  limit:\n    Hangup: { schedule: 60 }\n    next: talk\n  talk:\n    Speak: Hello.\n    next: bye\n  bye:\n    Hangup: {}\n"))
	if g == nil || ds.HasErrors(false) {
		t.Fatalf("refused: %v", ds)
	}
	mmd, dot := string(flow.Mermaid(g)), string(flow.DOT(g))
	if strings.Contains(mmd, `(["limit<br/>Hangup"])`) || !strings.Contains(mmd, `(["bye<br/>Hangup"])`) {
		t.Errorf("mermaid draws the scheduled Hangup as the end:\n%s", mmd)
	}
	if strings.Contains(dot, `[label="limit\nHangup", shape=octagon`) || !strings.Contains(dot, `[label="bye\nHangup", shape=octagon`) {
		t.Errorf("dot draws the scheduled Hangup as the end:\n%s", dot)
	}
}
