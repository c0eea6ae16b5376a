package flowtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flowtest"
	"github.com/flowd-dev/flowd/internal/testenv"
)

// TestHTTPBodyTooLarge: a mock answers with every reason a real request
// fails for, body too large among them, which keeps the status the
// oversized answer came with (200 unless status: says otherwise).
func TestHTTPBodyTooLarge(t *testing.T) {
	s := crmSuite(t, `cases:
  - name: too large
    http:
      lookup: { error: body too large }
    steps:
      - expect: { node: menu, contains: ["Lookup failed: body too large."], requests: [{ node: lookup, status: 200 }] }
  - name: too large, with its status
    http:
      lookup: { status: 503, error: body too large }
    steps:
      - expect: { node: menu, contains: ["Lookup failed: body too large."], requests: [{ node: lookup, status: 503 }] }
  - name: canceled
    http:
      lookup: { error: canceled }
    steps:
      - expect: { node: menu, contains: ["Lookup failed: canceled."], requests: [{ node: lookup, status: 0 }] }
  - name: a wrong expectation still fails
    http:
      lookup: { error: body too large }
    steps:
      - expect: { contains: ["Lookup failed: status 200."], requests: [{ node: lookup, status: 0 }] }
`)
	r := s.Run(flowtest.Options{})
	for _, c := range r.Cases[:3] {
		if c.Failed() {
			t.Errorf("case %q fails:\n%s", c.Case.Name, report(r))
		}
	}
	if c := r.Cases[3]; !c.Failed() || len(c.Failure.Problems) != 2 {
		t.Errorf("the wrong expectation does not fail twice:\n%s", report(r))
	}
	if got := r.Cases[0].Session.Trace[0].Requests; len(got) != 1 || got[0].Status != 200 || got[0].Error != "body too large" {
		t.Errorf("trace requests = %+v", got)
	}
}

// TestLoadFlowBesideWithoutFlowKey: x_test.yaml without flow: tests the
// flow in x.yaml beside it, whatever that flow's name; without x.yaml,
// the flow named x among the folder's flows.
func TestLoadFlowBesideWithoutFlowKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "support.yaml"), "flow: acme\nnodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "other.yaml"), "flow: sales\nnodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "x.yml"), "flow: yml\nnodes:\n  bye: {Hangup: {}}\n")
	cases := "cases:\n  - name: a\n    steps: [{expect: {ended: true}}]\n"
	for _, tc := range []struct{ file, head, graph, diag string }{
		{"support_test.yaml", "", "acme", ""},
		{"x_test.yaml", "", "yml", ""},
		{"sales_test.yaml", "", "sales", ""},
		// flow: names a flow, never a file: support.yaml holds acme.
		{"t_test.yaml", "flow: support\n", "", `no flow named "support" in DIR, beside this file (the flows there: acme, sales, yml)`},
		{"nothing_test.yaml", "", "", `no flow named "nothing" in DIR, beside this file (the flows there: acme, sales, yml)`},
	} {
		path := filepath.Join(dir, tc.file)
		writeFile(t, path, tc.head+cases)
		tf, ds := flowtest.Decode(path, testenv.ReadFile(t, path))
		if len(ds) > 0 {
			t.Fatal(diagText(ds))
		}
		g, ds := tf.LoadFlow()
		switch {
		case tc.graph != "":
			if g == nil || g.Name != tc.graph || len(ds) > 0 {
				t.Errorf("%s: got %v %v, want flow %s", tc.file, g, diagText(ds), tc.graph)
			}
		case g != nil || len(ds) == 0 || !strings.Contains(ds[0].Message, strings.ReplaceAll(tc.diag, "DIR", dir)):
			t.Errorf("%s: got %v %s, want %s", tc.file, g, diagText(ds), tc.diag)
		}
	}
}

// TestFindFlow: the one look-up of a flow by name that test files and
// flowd render and graph share.
func TestFindFlow(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "flow: beta\nnodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "beta.yaml"), "flow: gamma\nnodes:\n  bye: {Hangup: {}}\n")
	writeFile(t, filepath.Join(dir, "broken.yaml"), "nodes: [\n")
	writeFile(t, filepath.Join(dir, "b_test.yaml"), "flow: a\ncases: []\n")
	for _, tc := range []struct{ name, path string }{
		{"beta", "a.yaml"},
		{"gamma", "beta.yaml"},
		// A file of that name that is no flow is the one: its errors are
		// what the user needs.
		{"broken", "broken.yaml"},
		{"a", ""},
	} {
		path, names := flowtest.FindFlow(dir, tc.name)
		want := ""
		if tc.path != "" {
			want = filepath.Join(dir, tc.path)
		}
		if path != want {
			t.Errorf("FindFlow(%q) = %q, want %q", tc.name, path, want)
		}
		if want == "" && strings.Join(names, ",") != "beta,gamma" {
			t.Errorf("FindFlow(%q) names %v", tc.name, names)
		}
	}
}
