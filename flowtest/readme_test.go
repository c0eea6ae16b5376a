package flowtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/flowtest"
)

// yamlBlock finds the README's YAML code blocks.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestReadmeSnippets keeps the README honest: every complete flow in it
// (a YAML block that starts with the flow schema comment) compiles
// cleanly, and every complete flow test in it passes against the example
// flow it names.
func TestReadmeSnippets(t *testing.T) {
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flows, tests := 0, 0
	for i, m := range yamlBlock.FindAllSubmatch(src, -1) {
		block := m[1]
		switch {
		case bytes.Contains(block, []byte("schema/flow.schema.json")):
			flows++
			name := filepath.Join(dir, "readme-flow.yaml")
			g, ds := flow.Compile(name, block)
			if g == nil || len(ds) > 0 {
				t.Errorf("README YAML block %d does not validate cleanly:\n%v", i+1, ds)
			}
		case bytes.Contains(block, []byte("schema/flowtest.schema.json")):
			tests++
			// The test names a flow; run it beside that example flow.
			flowName := regexp.MustCompile(`(?m)^flow:\s*(\S+)`).FindSubmatch(block)
			if flowName == nil {
				t.Errorf("README test block %d names no flow", i+1)
				continue
			}
			name := string(flowName[1])
			example, err := os.ReadFile(filepath.Join(examples, name+".yaml"))
			if err != nil {
				t.Errorf("README test block %d: no example flow %s: %v", i+1, name, err)
				continue
			}
			sub := filepath.Join(dir, "t"+strings.Repeat("x", i))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			must(t, os.WriteFile(filepath.Join(sub, name+".yaml"), example, 0o644))
			must(t, os.WriteFile(filepath.Join(sub, name+"_test.yaml"), block, 0o644))
			results := flowtest.RunFiles([]string{filepath.Join(sub, name+"_test.yaml")}, flowtest.Options{})
			if sum := flowtest.Summarize(results); !sum.OK() || sum.Passed == 0 {
				var out bytes.Buffer
				flowtest.WriteText(&out, results, true)
				t.Errorf("README test block %d fails:\n%s", i+1, out.String())
			}
		}
	}
	if flows == 0 || tests == 0 {
		t.Fatalf("found %d flows and %d tests in the README; the snippets moved or lost their schema comments", flows, tests)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
