package flowtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flowtest"
)

// TestCoverageUntested: a flow that no test file tests is 0% covered and
// named as such, whether or not it compiles; a flow whose test file cannot
// run is not untested (its test file's errors say what is wrong).
func TestCoverageUntested(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"hello.yaml":      "nodes:\n  hi:\n    Speak: Hello.\n    next: bye\n  bye:\n    Hangup: {}\n",
		"hello_test.yaml": "cases:\n  - name: hello\n    steps:\n      - expect: { ended: true }\n",
		// No test file: 0%, with its nodes and edges in the total.
		"billing.yaml": "nodes:\n  menu:\n    GetDigits: { numDigits: 1 }\n    next: bye\n  bye:\n    Hangup: {}\n",
		// No test file and it does not compile: 0%, under its flow: name.
		"sub/draft.yaml": "flow: drafty\nnodes:\n  hi:\n    Speak: Hi\n    next: nowhere\n",
		// A test file with a typo: the suite cannot run, but it tests menu.
		"menu.yaml":      "nodes:\n  bye:\n    Hangup: {}\n",
		"menu_test.yaml": "cases:\n  - name: typo\n    stpes: []\n",
		// A flow that does not compile, with a test file: tested.
		"broken.yaml":      "nodes:\n  hi:\n    Speak: Hi\n    next: nowhere\n",
		"broken_test.yaml": "flow: ./broken.yaml\ncases:\n  - name: a\n    steps:\n      - expect: { ended: true }\n",
	}
	for name, src := range files {
		path := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, []byte(src), 0o644))
	}
	tests, err := flowtest.Find([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	flows := []string{
		filepath.Join(dir, "billing.yaml"), filepath.Join(dir, "broken.yaml"), filepath.Join(dir, "hello.yaml"),
		filepath.Join(dir, "menu.yaml"), filepath.Join(dir, "sub", "draft.yaml"),
	}
	cov := flowtest.NewCoverage()
	results := flowtest.RunFiles(tests, flowtest.Options{Coverage: cov})
	cov.AddUntested(flows, results)

	got := map[string]*flowtest.FlowCoverage{}
	for _, f := range cov.Flows() {
		got[f.Graph.Name] = f
	}
	if len(got) != 3 || got["hello"] == nil || got["billing"] == nil || got["drafty"] == nil {
		t.Fatalf("flows in the coverage: %v; want hello, billing and drafty", got)
	}
	if f := got["hello"]; f.Untested || f.Percent() != 100 {
		t.Errorf("hello: untested %v, %.1f%%", f.Untested, f.Percent())
	}
	for _, name := range []string{"billing", "drafty"} {
		if f := got[name]; !f.Untested || f.Percent() != 0 {
			t.Errorf("%s: untested %v, %.1f%%; want untested, 0%%", name, f.Untested, f.Percent())
		}
	}
	// hello: 2 nodes and 1 edge taken; billing: 2 nodes and 1 edge not.
	if p := cov.Percent(); p != 50 {
		t.Errorf("total %.1f%%, want 50.0%%", p)
	}
	var b bytes.Buffer
	cov.Write(&b)
	want := "coverage: flow billing (" + filepath.Join(dir, "billing.yaml") + "): 0.0% — no test file tests it\n" +
		"coverage: flow hello (" + filepath.Join(dir, "hello.yaml") + "): 100.0% — nodes 2/2, edges 1/1\n" +
		"coverage: flow drafty (" + filepath.Join(dir, "sub", "draft.yaml") + "): 0.0% — no test file tests it\n" +
		"coverage: 50.0% of all nodes and edges\n"
	if b.String() != want {
		t.Errorf("coverage report:\n%s\nwant:\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "never") {
		t.Errorf("an untested flow lists its nodes one by one:\n%s", b.String())
	}
}
