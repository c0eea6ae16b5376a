package flowtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
)

const examples = "../examples/flows"

// TestExamples runs every example flow's tests, so `go test ./...` runs
// them, and holds them to full coverage: every node and every outcome
// edge of every example flow is taken by some case.
func TestExamples(t *testing.T) {
	files, err := flowtest.Find([]string{examples})
	if err != nil {
		t.Fatal(err)
	}
	cov := flowtest.NewCoverage()
	results := flowtest.RunFiles(files, flowtest.Options{Coverage: cov})
	var out bytes.Buffer
	flowtest.WriteText(&out, results, true)
	if sum := flowtest.Summarize(results); !sum.OK() || sum.Passed == 0 {
		t.Fatalf("the example tests fail:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())

	flows, err := flow.FindFiles([]string{examples}, flow.IsFlowFile)
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]*flowtest.FlowCoverage{}
	for _, fc := range cov.Flows() {
		tested[filepath.Clean(fc.Graph.Path)] = fc
	}
	for _, path := range flows {
		fc, ok := tested[filepath.Clean(path)]
		if !ok {
			t.Errorf("%s has no test: add %s", path, strings.TrimSuffix(path, filepath.Ext(path))+"_test.yaml")
			continue
		}
		if fc.Percent() != 100 {
			var b bytes.Buffer
			cov.Write(&b)
			t.Errorf("%s: coverage %.1f%%, want 100%%:\n%s", path, fc.Percent(), b.String())
		}
	}
}

// TestExamplesCatchChanges: the example tests are not vacuous — a flow
// that routes a key to the wrong node, or says something else, fails
// them.
func TestExamplesCatchChanges(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(examples, "ivr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(examples, "ivr_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ name, old, new, want string }{
		{"route", "- when: input.Digits == \"1\"\n        next: sales", "- when: input.Digits == \"1\"\n        next: support", "node: want the call waiting at sales, but it waits at support"},
		{"words", "Thank you for calling Acme. Goodbye.", "Bye.", `contains: the XML does not contain "Thank you for calling Acme. Goodbye."`},
		{"count", "attempts: vars.attempts + 1", "attempts: vars.attempts + 2", "vars.attempts: want 1, got 2"},
	} {
		t.Run(m.name, func(t *testing.T) {
			if !strings.Contains(string(src), m.old) {
				t.Fatalf("ivr.yaml has no %q any more: update this test", m.old)
			}
			dir := t.TempDir()
			mutated := strings.Replace(string(src), m.old, m.new, 1)
			if err := os.WriteFile(filepath.Join(dir, "ivr.yaml"), []byte(mutated), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ivr_test.yaml"), tests, 0o644); err != nil {
				t.Fatal(err)
			}
			r := flowtest.Load(filepath.Join(dir, "ivr_test.yaml")).Run(flowtest.Options{})
			var out bytes.Buffer
			flowtest.WriteText(&out, []*flowtest.Result{r}, false)
			if !r.Failed() || !strings.Contains(out.String(), m.want) {
				t.Errorf("the mutated flow does not fail with %q:\n%s", m.want, out.String())
			}
		})
	}
}

// BenchmarkExamples measures loading and running every example test, the
// work of `flowd test examples/flows` without process start-up.
func BenchmarkExamples(b *testing.B) {
	files, err := flowtest.Find([]string{examples})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, r := range flowtest.RunFiles(files, flowtest.Options{Coverage: flowtest.NewCoverage()}) {
			if r.Failed() {
				b.Fatalf("%s fails", r.Suite.Path)
			}
		}
	}
}
